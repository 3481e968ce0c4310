"""A task's declared data block, and the one generic loader that reads it from the hub, a local folder or the
shipped demo subset."""

from __future__ import annotations

import csv
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from instructeval.data.source import DataSource, load_hub, read_json, read_jsonl, to_dataset_dict
from instructeval.errors import DataError

if TYPE_CHECKING:
    import datasets

LocalFormat = Literal["jsonl", "json", "csv", "bigbench"]


class DataBlock(BaseModel):
    """Where a task's examples come from (`metadata.data` in its YAML).

    Paths may hold `{field}` placeholders filled from the subtask's `dataset_kwargs` (e.g. `{language}`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    hub: str | None = Field(None, description="Hugging Face hub dataset id, read when no data folder is given")
    hub_config: str | None = Field(None, description="the hub dataset's config (name)")
    hub_splits: dict[str, list[str]] = Field(
        default_factory=dict, description="split -> the hub splits joined into it (default: the hub's splits)"
    )
    local: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="split -> file under --data-dir in the layout of shared/data (a list: the first that exists)",
    )
    format: LocalFormat | None = Field(
        None, description="how the generic loader reads the local files; none: the task's hooks.py reads them"
    )
    note: str = Field("", description="anything else a user should know (shipped prompts, options)")

    def local_patterns(self) -> list[str]:
        """Every local file the task can read, placeholders as globs: one must exist (the layout check)."""
        paths = [path for entry in self.local.values() for path in _alternatives(entry)]
        return [_as_glob(path) for path in paths]

    def sources(self) -> list[str]:
        """One line per place the data can come from, for `instructeval tasks NAME`."""
        lines = []
        if self.hub:
            lines.append(f"hub {self.hub}" + (f" ({self.hub_config})" if self.hub_config else ""))
        for split, entry in self.local.items():
            lines.append(f"local {' or '.join(_alternatives(entry))} ({split})")
        if self.note:
            lines.append(self.note)
        return lines

    def provenance(self, source: DataSource, task: str) -> str:
        """The one-line `data_source` results.json records (a task without a hub dataset reads its shipped data)."""
        if source.kind == "hub" and self.hub is None:
            return f"shipped:{task}"
        return source.describe(self.hub or "", task)


def load_declared(block: DataBlock, source: DataSource, fields: dict[str, Any]) -> datasets.DatasetDict:
    """The declared splits, from the hub or as rows read from the local files in `block.format`."""
    if source.kind == "hub":
        return _from_hub(block, fields)
    if block.format is None:
        raise DataError("this task declares no local format: its hooks.py reads the data; fix the task's YAML")
    return to_dataset_dict(
        {split: read_rows(_local_file(source, entry, fields), block.format) for split, entry in block.local.items()}
    )


def load_task_data(**metadata: Any) -> datasets.DatasetDict:
    """lm-eval's `custom_dataset` hook: the task's metadata (with the run's data source) and dataset_kwargs."""
    block = DataBlock.model_validate(metadata.pop("data", {}))
    return load_declared(block, DataSource.from_metadata(metadata), metadata)


def read_rows(path: Path, file_format: LocalFormat) -> list[dict[str, Any]]:
    """A local file as rows; BIG-bench tasks get the hub's field names (inputs, multiple_choice_targets...)."""
    if file_format == "jsonl":
        return list(read_jsonl(path))
    if file_format == "csv":
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return list(csv.DictReader(handle))
    content = read_json(path)
    if file_format == "bigbench":
        return [_bigbench_row(example) for example in content["examples"]]
    if not isinstance(content, list):
        raise DataError(f"{path} is not a JSON list of examples; replace it with a copy in the shared/data format")
    return content


def _bigbench_row(example: dict[str, Any]) -> dict[str, Any]:
    scores = example["target_scores"]
    return {
        "inputs": example["input"],
        "targets": [choice for choice, score in scores.items() if score == 1],
        "multiple_choice_targets": list(scores),
        "multiple_choice_scores": [int(score) for score in scores.values()],
    }


def _from_hub(block: DataBlock, fields: dict[str, Any]) -> datasets.DatasetDict:
    import datasets

    if block.hub is None:
        raise DataError("this task has no hub dataset: pass --data-dir with a local copy in the layout of shared/data")
    hub = load_hub(block.hub, block.hub_config.format_map(fields) if block.hub_config else None)
    if not block.hub_splits:
        return hub
    return datasets.DatasetDict(
        {ours: datasets.concatenate_datasets([hub[s] for s in theirs]) for ours, theirs in block.hub_splits.items()}
    )


def _local_file(source: DataSource, entry: str | list[str], fields: dict[str, Any]) -> Path:
    candidates = [path.format_map(fields) for path in _alternatives(entry)]
    assert source.root is not None
    found = next((path for path in candidates if (source.root / path).is_file()), candidates[0])
    return source.file(found, layout_hint=" or ".join(candidates))


def _alternatives(entry: str | list[str]) -> list[str]:
    return [entry] if isinstance(entry, str) else list(entry)


def _as_glob(path: str) -> str:
    return re.sub(r"\{[^}]*\}", "*", path)
