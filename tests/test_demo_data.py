"""The shipped demo subset leaves every split `--suite demo` needs non-empty once a task takes its shots; data
that cannot is a one-line DataError."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from types import ModuleType

import pytest
from repo_module import load_repo_module

from instructeval.errors import DataError
from instructeval.registry import DEMO_LIMIT


@pytest.fixture(scope="module")
def hooks() -> ModuleType:
    return load_repo_module("tasks/drop/hooks.py")


def test_demo_drop_keeps_test_rows_after_its_exemplars(hooks: ModuleType) -> None:
    splits = hooks.load(data_source="embedded")
    assert len(splits["exemplars"]) == hooks.N_EXEMPLARS
    assert len(splits["test"]) >= DEMO_LIMIT
    assert not {r["passage"] for r in splits["test"]} & {e["passage"] for e in splits["exemplars"]}


def test_drop_with_only_exemplar_passages_is_a_data_error(hooks: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "drop").mkdir()
    with gzip.open(tmp_path / "drop" / "drop_v0_dev.jsonl.gz", "wt", encoding="utf-8") as out:
        for i in range(hooks.N_EXEMPLARS):
            context = f"Passage: passage {i}\nQuestion: question {i}?\nAnswer:"
            out.write(json.dumps({"context": context, "completion": " 1", "ref_text": "1"}) + "\n")
    with pytest.raises(DataError, match="distinct passages"):
        hooks.load(data_source="local", data_dir=str(tmp_path))
