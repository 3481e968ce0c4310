"""The published JSON Schema matches the typed models, and results.json round-trips through them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repo_module import REPO, load_repo_module

from instructeval.errors import InstructEvalError
from instructeval.results import ModelInfo, RunInfo, RunResults, Score, load_results
from instructeval.run import save_results


def test_published_schema_is_current() -> None:
    module = load_repo_module("scripts/write_results_schema.py")
    published = (REPO / "docs" / "results.schema.json").read_text(encoding="utf-8")
    assert published == module.render(), "run: python scripts/write_results_schema.py"


def _results() -> RunResults:
    run = RunInfo(
        status="complete",
        started_at="2026-01-01T00:00:00+00:00",
        command=["instructeval"],
        seed=1,
        limit=None,
        batch_size="auto",
        config_hash="abc",
        instructeval_version="0",
        packages={},
        device="cpu",
    )
    return RunResults(run=run, model=ModelInfo(spec="demo", backend="demo", name="m"))


def test_round_trip_keeps_lm_eval_keys(tmp_path: Path) -> None:
    results = _results()
    results.n_shot["mmlu"] = 5
    results.results["mmlu"] = {"acc,none": 0.5}
    save_results(tmp_path, results)
    raw = json.loads((tmp_path / "results.json").read_text())
    assert raw["n-shot"] == {"mmlu": 5} and raw["results"]["mmlu"]["acc,none"] == 0.5
    assert load_results(tmp_path) == results


def test_missing_value_stays_missing() -> None:
    assert Score(value=None, n=0).value is None


def test_corrupt_results_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text('{"run": 3}')
    with pytest.raises(InstructEvalError, match="does not match the results schema"):
        load_results(tmp_path)
