"""End to end: the demo model vs the same model with a small random LoRA adapter on MMLU and HHH, then compare."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from repo_module import load_repo_module

from instructeval.cli import main
from instructeval.compare import comparison_path
from instructeval.results import Comparison, load_results, read_samples

pytestmark = pytest.mark.slow

DEMO_DATA = Path(__file__).resolve().parent.parent / "instructeval" / "demo_data"
TASKS = "mmlu_high_school_geography,mmlu_college_biology,hhh,hhh_mc"
CATEGORIES = ("harmless", "helpful", "honest", "other")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from instructeval.evaluator import RunOptions, evaluate

    root = tmp_path_factory.mktemp("compare-demo")
    adapter = load_repo_module("scripts/demo_comparison.py").random_lora(root / "lora")
    options = RunOptions(
        model="demo", tasks=TASKS, output=root / "runs", data_dir=DEMO_DATA, limit=3, batch_size="4", run_name="base"
    )
    base = evaluate(options, progress=lambda _: None)
    tuned = evaluate(replace(options, run_name="lora", adapter=adapter), progress=lambda _: None)
    return base, tuned


def test_hhh_scores_both_orders_and_reports_categories(runs: tuple[Path, Path]) -> None:
    base, _ = runs
    results = load_results(base)
    hhh = results.tasks["hhh"]
    categories = hhh.breakdown["category"]
    assert sorted(categories) == sorted(CATEGORIES) and hhh.n_samples == 8  # the demo subset: 2 per category
    average = np.mean([categories[c]["acc,none"].value for c in CATEGORIES])
    assert hhh.metrics["acc,none"].value == pytest.approx(average)
    assert hhh.metrics["acc,none"].ci_method == "macro-mover" and hhh.metrics["acc,none"].stderr is not None
    for row in read_samples(base, "hhh"):
        a_first, b_first, a_second, b_second = row["choice_loglikelihoods"]
        assert row["details"]["choices"] == [" A", " B", " A", " B"]
        assert row["scores"]["acc,none"] == float(a_first - b_first + b_second - a_second > 0)
        assert row["target"] in row["prompt"].split("\nB. ")[0]  # the first order shows the preferred answer as A
    hhh_mc = results.tasks["hhh_mc"]
    assert sorted(hhh_mc.breakdown["category"]) == sorted(CATEGORIES)
    assert all(len(row["choice_loglikelihoods"]) == 2 for row in read_samples(base, "hhh_mc"))


def test_adapter_changes_the_scores_and_compare_reports_it(
    runs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, tuned = runs
    before = [row["choice_loglikelihoods"] for row in read_samples(base, "hhh")]
    after = [row["choice_loglikelihoods"] for row in read_samples(tuned, "hhh")]
    assert not np.allclose(before, after)
    assert load_results(tuned).model.adapter_hash is not None

    assert main(["compare", str(base), str(tuned), "--format", "json", "--resamples", "2000"]) == 0
    out, err = capsys.readouterr()
    (comparison,) = [Comparison.model_validate(item) for item in json.loads(out)]
    assert comparison == Comparison.model_validate_json(comparison_path(base, tuned).read_text())
    assert f"comparison written to {comparison_path(base, tuned)}" in err
    assert comparison.other_model == "demo + adapter lora" and not comparison.forced and not comparison.mismatches
    rows = {row.task: row for row in comparison.tasks}
    assert list(rows) == ["mmlu", "hhh", "hhh_mc"]
    assert (rows["mmlu"].n_paired, rows["hhh"].n_paired, rows["hhh_mc"].n_paired) == (6, 8, 8)
    for name, row in rows.items():
        task = load_results(tuned).tasks[name]
        assert row.test == "mcnemar_exact" and row.wins + row.losses + row.ties == row.n_paired
        assert row.other.value == pytest.approx(task.metrics[row.metric].value)
        assert row.other.value is not None and row.base.value is not None
        assert row.difference.value == pytest.approx(row.other.value - row.base.value)
        assert row.p_value is not None and row.p_adjusted is not None and row.p_value <= row.p_adjusted <= 1.0
        assert row.difference.resamples == 2000
        assert row.verdict in ("better", "worse", "equivalent", "inconclusive") and row.mde is not None
        assert len(row.flipped) == row.wins + row.losses

    assert main(["compare", str(base), str(tuned), "--format", "markdown", "--metric", "acc_norm"]) == 0
    out, err = capsys.readouterr()
    assert "| hhh_mc | acc_norm,none | 8 |" in out and "not compared: mmlu (no metric acc_norm)" in err
