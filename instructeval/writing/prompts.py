"""Writing prompt sets: our own embedded 200 prompts, or the published IMPACT set (local copy or hub)."""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from instructeval.errors import DataError, InstructEvalError
from instructeval.hashing import sha256_text
from instructeval.paths import DATA_DIR_ENV, WRITING_PROMPTS_DIR

CATEGORIES = ("informative", "professional", "argumentative", "creative")
IMPACT_HUB_ID = "declare-lab/InstructEvalImpact"
LOCAL_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")

# Column names seen in the wild, normalised (lower case, "_" for spaces and dashes). The published IMPACT
# set uses Category / Definition / Prompt (declare-lab/instruct-eval, subjective.py) and has no id column.
_FIELD_ALIASES = {
    "id": ("id", "prompt_id", "idx", "uid"),
    "category": ("category", "type"),
    "task_definition": ("task_definition", "definition", "task", "task_description"),
    "prompt": ("prompt", "instruction", "input", "question"),
}
_DOWNLOAD_HINT = (
    f"download it on a networked machine with `hf download {IMPACT_HUB_ID} --repo-type dataset "
    "--local-dir impact` and pass --writing-set <that folder> (or put it at $INSTRUCTEVAL_DATA_DIR/impact)"
)


@dataclass(frozen=True)
class WritingPrompt:
    """One writing task: the model sees `task_definition` followed by `prompt`."""

    id: str
    category: str
    task_definition: str
    prompt: str


def load_writing_prompts(
    source: str = "embedded", *, data_dir: Path | None = None, limit_per_category: int | None = None
) -> list[WritingPrompt]:
    """Load a writing set in category order (informative, professional, argumentative, creative).

    `source` is "embedded" (the set shipped in writing_prompts/), "impact" (a local copy under
    `<data_dir>/impact/`, else the hub), or the path of a local copy (a folder or .jsonl/.json/.csv/.parquet).
    `data_dir` defaults to $INSTRUCTEVAL_DATA_DIR. `limit_per_category` keeps the first N of each category.
    """
    if limit_per_category is not None and limit_per_category < 1:
        raise InstructEvalError(f"limit_per_category must be at least 1, got {limit_per_category}")
    if source == "embedded":
        prompts = _read_local([WRITING_PROMPTS_DIR / f"{category}.jsonl" for category in CATEGORIES])
    elif source == "impact":
        prompts = _load_impact(data_dir)
    else:
        prompts = _read_local(_local_files(Path(source).expanduser()))
    return _first_per_category(_in_category_order(prompts), limit_per_category)


def prompt_set_hash(prompts: Sequence[WritingPrompt]) -> str:
    """sha256 of the canonical JSON of the records, for results provenance (order matters)."""
    canonical = json.dumps([asdict(p) for p in prompts], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return sha256_text(canonical)


def _load_impact(data_dir: Path | None) -> list[WritingPrompt]:
    """A local copy if one exists, else the hub; one DataError naming both attempts when neither works."""
    root = data_dir if data_dir is not None else _env_data_dir()
    local = root / "impact" if root is not None else None
    if local is not None and local.exists():
        return _read_local(_local_files(local))
    try:
        import datasets

        rows = datasets.load_dataset(IMPACT_HUB_ID, split="train")
    except Exception as exc:  # the hub raises many types (ConnectionError, OfflineModeIsEnabled, ...)
        reason = str(exc).splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        tried = f"no local copy at {local}" if local is not None else f"no local copy (${DATA_DIR_ENV} unset)"
        raise DataError(
            f"IMPACT writing set unavailable: {tried}, and the hub dataset {IMPACT_HUB_ID} failed "
            f"({reason}); {_DOWNLOAD_HINT}"
        ) from exc
    return _records(((f"hub {IMPACT_HUB_ID} row {n}", row) for n, row in enumerate(rows, 1)))


def _env_data_dir() -> Path | None:
    configured = os.environ.get(DATA_DIR_ENV)
    return Path(configured).expanduser() if configured else None


def _local_files(path: Path) -> list[Path]:
    """The data files of a local copy: the file itself, or every supported file under a folder."""
    if path.is_file():
        if path.suffix not in LOCAL_SUFFIXES:
            raise DataError(f"{path} is not a writing set; pass a folder or a {'/'.join(LOCAL_SUFFIXES)} file")
        return [path]
    if not path.is_dir():
        raise DataError(
            f"writing set {path} does not exist; use --writing-set embedded, impact, or an existing folder or file"
        )
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix in LOCAL_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise DataError(f"no {'/'.join(LOCAL_SUFFIXES)} files in {path}; {_DOWNLOAD_HINT}")
    return files


def _read_local(files: Iterable[Path]) -> list[WritingPrompt]:
    return _records(row for path in files for row in _rows(path))


def _rows(path: Path) -> Iterator[tuple[str, Any]]:
    """(location, raw record) pairs from one file; the location names file and line for error messages."""
    try:
        if path.suffix == ".parquet":
            import pyarrow.parquet

            for n, row in enumerate(pyarrow.parquet.read_table(path).to_pylist(), 1):
                yield f"{path} row {n}", row
        elif path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as handle:
                reader = csv.DictReader(handle)
                for row in reader:
                    yield f"{path} line {reader.line_num}", row
        else:
            yield from _json_rows(path)
    except (OSError, UnicodeDecodeError, csv.Error, ValueError) as exc:
        raise DataError(f"cannot read {path} ({exc}); replace it with a copy of the writing set") from exc


def _json_rows(path: Path) -> Iterator[tuple[str, Any]]:
    """JSON Lines, or (for .json) a single JSON array of records."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json" and text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {exc.lineno}: invalid JSON ({exc.msg}); fix or replace the file") from exc
        yield from ((f"{path} record {n}", r) for n, r in enumerate(records, 1))
        return
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{path} line {n}", json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path} line {n}: invalid JSON ({exc.msg}); fix or replace the file") from exc


def _records(rows: Iterable[tuple[str, Any]]) -> list[WritingPrompt]:
    """Validate and map raw records; ids missing from the source become `<category>-NNN` in file order."""
    prompts: list[WritingPrompt] = []
    counts = dict.fromkeys(CATEGORIES, 0)
    seen: dict[str, str] = {}
    for where, raw in rows:
        if not isinstance(raw, Mapping):
            raise DataError(f"{where}: expected an object with category and prompt fields, got {type(raw).__name__}")
        fields = _mapped_fields(raw)
        category = _category(fields.get("category", ""))
        if category not in CATEGORIES:
            raise DataError(
                f"{where}: unknown category {fields.get('category', '')!r}; expected one of {', '.join(CATEGORIES)}"
            )
        prompt = fields.get("prompt", "").strip()
        if not prompt:
            raise DataError(
                f"{where}: empty or missing prompt (accepted fields: {', '.join(_FIELD_ALIASES['prompt'])})"
            )
        counts[category] += 1
        prompt_id = fields.get("id", "").strip() or f"{category}-{counts[category]:03d}"
        if prompt_id in seen:
            raise DataError(f"{where}: duplicate id {prompt_id!r} (first at {seen[prompt_id]}); ids must be unique")
        seen[prompt_id] = where
        prompts.append(WritingPrompt(prompt_id, category, fields.get("task_definition", "").strip(), prompt))
    return prompts


def _mapped_fields(raw: Mapping[str, Any]) -> dict[str, str]:
    """Our field names -> string values, taking the first alias present in the record."""
    normalised = {str(key).strip().lower().replace(" ", "_").replace("-", "_"): value for key, value in raw.items()}
    fields: dict[str, str] = {}
    for field, aliases in _FIELD_ALIASES.items():
        for alias in aliases:
            value = normalised.get(alias)
            if value is not None and str(value).strip():
                fields[field] = str(value)
                break
    return fields


def _category(label: str) -> str:
    """'Informative Writing', 'informative' and ' Informative ' all name the same category."""
    words = label.strip().lower().split()
    return words[0] if len(words) == 2 and words[1] == "writing" else " ".join(words)


def _in_category_order(prompts: list[WritingPrompt]) -> list[WritingPrompt]:
    return sorted(prompts, key=lambda p: CATEGORIES.index(p.category))


def _first_per_category(prompts: list[WritingPrompt], limit: int | None) -> list[WritingPrompt]:
    if limit is None:
        return prompts
    taken = dict.fromkeys(CATEGORIES, 0)
    kept = []
    for p in prompts:
        if taken[p.category] < limit:
            taken[p.category] += 1
            kept.append(p)
    return kept
