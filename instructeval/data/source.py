"""Data sources a task can read from, and the small readers every task hook shares."""

from __future__ import annotations

import csv
import gzip
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from instructeval.errors import DataError
from instructeval.paths import PACKAGE_DIR

if TYPE_CHECKING:  # `datasets` takes seconds to import: only task hooks need it
    import datasets

DEMO_DATA_DIR = PACKAGE_DIR / "demo_data"
SourceKind = Literal["hub", "local", "embedded"]


@dataclass(frozen=True)
class DataSource:
    """Where a run reads benchmark data: the hub, a local folder, or the embedded demo subset."""

    kind: SourceKind
    root: Path | None = None

    @classmethod
    def from_metadata(cls, metadata: dict[str, Any]) -> DataSource:
        """Rebuild the source a run passed to lm-eval through task metadata."""
        kind = metadata.get("data_source", "hub")
        root = metadata.get("data_dir")
        if kind == "embedded":
            return cls("embedded", DEMO_DATA_DIR)
        return cls(kind, Path(root) if root else None)

    def describe(self, hub_id: str, relative: str) -> str:
        """A one-line provenance string for results.json."""
        if self.kind == "hub":
            return f"hub:{hub_id}"
        label = "embedded demo subset" if self.kind == "embedded" else "local"
        return f"{label}:{relative}"

    def file(self, relative: str, *, layout_hint: str) -> Path:
        """A file under the local root, or a DataError naming the expected layout."""
        assert self.root is not None
        path = self.root / relative
        if not path.exists():
            raise DataError(
                f"missing {path}: the data folder must follow the layout of shared/data ({layout_hint}); "
                "fix --data-dir or INSTRUCTEVAL_DATA_DIR"
            )
        return path


def configured_source(data_dir: Path | None, *, demo: bool = False) -> DataSource:
    """--data-dir (or INSTRUCTEVAL_DATA_DIR) > the embedded subset when `demo` > the hub."""
    from instructeval.paths import DATA_DIR_ENV

    configured = data_dir or (Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else None)
    if configured is not None:
        if not configured.is_dir():
            raise DataError(f"data folder {configured} does not exist: fix --data-dir or {DATA_DIR_ENV}")
        return DataSource("local", configured.resolve())
    if demo:
        return DataSource.from_metadata({"data_source": "embedded"})
    return DataSource("hub")


def to_dataset_dict(splits: dict[str, list[dict[str, Any]]]) -> datasets.DatasetDict:
    """Turn plain rows into the DatasetDict lm-eval expects from a task's custom_dataset hook."""
    import datasets

    return datasets.DatasetDict({name: datasets.Dataset.from_list(rows) for name, rows in splits.items()})


def load_hub(hub_id: str, name: str | None = None, **kwargs: Any) -> datasets.DatasetDict:
    """Load from the Hugging Face hub, turning network failures into one actionable line."""
    import datasets

    try:
        return datasets.load_dataset(hub_id, name, **kwargs)
    except Exception as exc:  # the hub raises many types (ConnectionError, OfflineModeIsEnabled...)
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(
            f"could not load {hub_id}{'/' + name if name else ''} from the hub ({reason}); "
            "pass --data-dir with a local copy in the layout of shared/data"
        ) from exc


@lru_cache(maxsize=16)
def read_jsonl(path: Path) -> tuple[dict[str, Any], ...]:
    """Read a .jsonl or .jsonl.gz file (cached: MMLU's 57 subjects read the same file)."""
    opener: Callable[..., Any] = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return tuple(json.loads(line) for line in handle if line.strip())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(
            f"{path} is not valid JSON Lines ({exc}); replace it with a copy in the shared/data format"
        ) from exc


def read_tsv(path: Path) -> Iterator[list[str]]:
    """Read a header-less TSV with quoting disabled (MGSM questions contain quotes)."""
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)


def read_json(path: Path) -> Any:
    """Read a JSON file with a DataError on malformed content."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path} is not valid JSON ({exc}); replace it with a copy in the shared/data format") from exc


def bigbench_multiple_choice(task: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten a BIG-bench JSON task's examples into {input, choices, label} rows."""
    rows = []
    for example in task["examples"]:
        choices = list(example["target_scores"])
        rows.append(
            {
                "input": example["input"],
                "choices": choices,
                "label": [example["target_scores"][c] for c in choices].index(1),
            }
        )
    return rows
