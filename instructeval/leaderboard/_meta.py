"""Model family and size: parsed from the model name when it says them, overridden by a --models-meta file, which
also gives what no name says: the pretrained base, the instruction data and the training method (INSTRUCTEVAL's
three factors)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from instructeval.errors import InstructEvalError

# A size token between separators: 135M, 1.7B, 8b, 8x7B (mixture of experts). K is left out: it is context length.
_SIZE = re.compile(r"(?:^|(?<=[-_. ]))(?:(\d+)x)?(\d+(?:\.\d+)?)([mbt])(?=$|[-_. ])", re.IGNORECASE)
_UNITS = {"m": 1e6, "b": 1e9, "t": 1e12}
MAX_TEXT = 120
FIELDS = ("family", "size", "url", "base", "instruction_data", "method")


class ModelMeta(BaseModel):
    """One entry of a --models-meta file: what the name does not say, or says wrongly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: str | None = None
    size: str | None = None
    url: str | None = None
    base: str | None = None
    instruction_data: str | None = None
    method: str | None = None

    @field_validator("family", "base", "instruction_data", "method")
    @classmethod
    def _one_line(cls, text: str | None) -> str | None:
        if text is not None and (not text.strip() or len(text) > MAX_TEXT or any(c in text for c in "\r\n\t")):
            raise ValueError(f"{text[:MAX_TEXT]!r} is not a name: one line of 1 to {MAX_TEXT} characters")
        return text

    @field_validator("size")
    @classmethod
    def _size_parses(cls, size: str | None) -> str | None:
        if size is not None and parse_size(size) is None:
            raise ValueError(f"size {size!r} is not like 135M, 1.7B or 8x7B")
        return size

    @field_validator("url")
    @classmethod
    def _web_url(cls, url: str | None) -> str | None:
        if url is not None and not re.match(r"https?://[^\s\"'<>]+$", url):
            raise ValueError(f"url {url!r} is not an http(s) address")
        return url


@dataclass(frozen=True)
class Identity:
    """How the leaderboard files a model: family, size label and parameter count (None when unknown)."""

    family: str | None
    size: str | None
    params: float | None
    url: str | None = None
    base: str | None = None
    instruction_data: str | None = None
    method: str | None = None


def parse_size(label: str) -> float | None:
    """Parameters in a size label ('1.7B' -> 1.7e9, '8x7B' -> 5.6e10), None when it is not one."""
    match = _SIZE.fullmatch(label.strip())
    return _params(match) if match else None


def _params(match: re.Match[str]) -> float:
    experts = int(match.group(1)) if match.group(1) else 1
    return experts * float(match.group(2)) * _UNITS[match.group(3).lower()]


def name_stem(name: str) -> str:
    """The last part of a hub id or folder path: 'HuggingFaceTB/SmolLM2-135M-Instruct' -> 'SmolLM2-135M-Instruct'."""
    parts = [p for p in re.split(r"[/\\]+", name) if p not in ("", ".", "..")]
    return parts[-1] if parts else name


def identify(name: str) -> Identity:
    """Family and size from a model name: 'Llama-3.1-8B-Instruct' -> Llama-3.1, 8B; unknown when it says neither."""
    stem = name_stem(name)
    match = _SIZE.search(stem)
    if match is None:
        return Identity(family=None, size=None, params=None)
    family = stem[: match.start()].rstrip("-_. ") or None
    size = match.group(0)[:-1] + match.group(3).upper()
    return Identity(family=family, size=size, params=_params(match))


def with_meta(found: Identity, meta: ModelMeta | None) -> Identity:
    """The parsed identity with a meta entry's fields taking precedence."""
    if meta is None:
        return found
    size = meta.size or found.size
    return Identity(
        family=meta.family or found.family,
        size=size,
        params=parse_size(size) if size else None,
        url=meta.url,
        base=meta.base,
        instruction_data=meta.instruction_data,
        method=meta.method,
    )


def load_models_meta(path: Path) -> dict[str, ModelMeta]:
    """Read a JSON or YAML file mapping model name (or spec) -> {family, size, url, base, instruction_data, method}."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InstructEvalError(f"cannot read --models-meta {path} ({exc.strerror}): pass an existing file") from exc
    try:
        raw = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise InstructEvalError(f"{path} is not valid JSON/YAML ({str(exc).splitlines()[0]}): fix its syntax") from exc
    if not isinstance(raw, dict):
        raise InstructEvalError(f"{path} must map model names to {{{', '.join(FIELDS)}}}: found {type(raw).__name__}")
    entries: dict[str, ModelMeta] = {}
    for name, fields in raw.items():
        try:
            entries[str(name)] = ModelMeta.model_validate(fields or {})
        except ValidationError as exc:
            error = exc.errors()[0]
            where = f", {'.'.join(map(str, error['loc']))}" if error["loc"] else ""
            problem = error["msg"].removeprefix("Value error, ")
            raise InstructEvalError(
                f"{path}: entry {name!r}{where}: {problem}; the keys are {', '.join(FIELDS)}, each a string"
            ) from exc
    return entries
