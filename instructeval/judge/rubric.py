"""Rubrics: versioned YAML files under `rubrics/`, each identified in results by its sha256.

A rubric file holds the judge's system message and a user-message template whose `${...}` fields are the
inputs the judge may see (the relevance rubric sees the prompt and the answer, coherence the answer only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

import yaml

from instructeval.errors import InstructEvalError
from instructeval.hashing import sha256_bytes

RUBRIC_DIR = Path(__file__).resolve().parent / "rubrics"
_FILE_NAME = re.compile(r"^(?P<name>[a-z_]+)-v(?P<version>\d+)\.yaml$")


@dataclass(frozen=True)
class Rubric:
    """One rubric version: what the judge is told, which inputs it sees, and the file's hash."""

    name: str
    version: int
    inputs: tuple[str, ...]
    system: str
    user_template: str
    sha256: str

    @property
    def label(self) -> str:
        """`name@version`, as shown in reports."""
        return f"{self.name}@v{self.version}"

    def messages(self, **fields: str) -> list[dict[str, str]]:
        """The chat messages for one judgment; only the rubric's declared inputs are accepted."""
        if set(fields) != set(self.inputs):
            raise ValueError(f"rubric {self.label} takes {sorted(self.inputs)}, got {sorted(fields)}")
        user = Template(self.user_template).substitute(fields)
        return [{"role": "system", "content": self.system.strip()}, {"role": "user", "content": user.strip()}]


def rubric_versions(name: str, directory: Path = RUBRIC_DIR) -> dict[int, Path]:
    """All version files of one rubric, by version number."""
    found: dict[int, Path] = {}
    for path in directory.glob(f"{name}-v*.yaml"):
        match = _FILE_NAME.match(path.name)
        if match and match["name"] == name:
            found[int(match["version"])] = path
    return found


def load_rubric(name: str, version: int | None = None, directory: Path = RUBRIC_DIR) -> Rubric:
    """Load a rubric by name, the newest version unless one is pinned."""
    versions = rubric_versions(name, directory)
    if not versions:
        known = sorted({m["name"] for p in directory.glob("*.yaml") if (m := _FILE_NAME.match(p.name))})
        raise InstructEvalError(f"no rubric named {name!r} in {directory}: use one of {', '.join(known)}")
    chosen = max(versions) if version is None else version
    if chosen not in versions:
        raise InstructEvalError(
            f"rubric {name!r} has no version {chosen}: use one of {', '.join(map(str, sorted(versions)))}"
        )
    return _parse(versions[chosen])


def _parse(path: Path) -> Rubric:
    raw = path.read_bytes()
    data = yaml.safe_load(raw.decode("utf-8"))
    template = str(data["user"])
    declared = tuple(str(field) for field in data["inputs"])
    used = {m.group("named") or m.group("braced") for m in Template.pattern.finditer(template)} - {None}
    if used != set(declared):
        raise InstructEvalError(f"{path} declares inputs {sorted(declared)} but its template uses {sorted(used)}")
    return Rubric(
        name=str(data["name"]),
        version=int(data["version"]),
        inputs=declared,
        system=str(data["system"]),
        user_template=template,
        sha256=sha256_bytes(raw),
    )
