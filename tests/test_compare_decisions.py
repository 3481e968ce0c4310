"""Decisions from a comparison: TOST and power against statsmodels, verdicts, flipped examples, the CI gate."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired
from test_compare import BASE_ACC, BASE_GRADE, BASE_HHH, TUNED_ACC, TUNED_GRADE, TUNED_HHH, make_run

from instructeval.cli import main
from instructeval.cli.compare import REGRESSION_EXIT
from instructeval.compare import CompareOptions, compare_runs
from instructeval.results import Comparison, read_samples
from instructeval.stats import equivalence_test, minimum_detectable_effect, pairs_needed, t_test_power

RNG = np.random.default_rng(5)


@pytest.mark.parametrize(("n", "shift", "margin"), [(30, 0.01, 0.05), (200, 0.0, 0.02), (50, 0.3, 0.1)])
def test_tost_matches_statsmodels(n: int, shift: float, margin: float) -> None:
    base = RNG.normal(size=n)
    other = base + shift + RNG.normal(scale=0.1, size=n)
    differences = other - base
    se = float(np.std(differences, ddof=1) / math.sqrt(n))
    result = equivalence_test(float(differences.mean()), se, n - 1, margin)
    p_value, lower, upper = ttost_paired(other, base, -margin, margin)
    assert result.p_value == pytest.approx(float(p_value))
    assert (result.p_lower, result.p_upper) == pytest.approx((float(lower[1]), float(upper[1])))


@pytest.mark.parametrize(("n", "alpha"), [(10, 0.05), (164, 0.05), (1319, 0.01)])
def test_mde_matches_statsmodels_power(n: int, alpha: float) -> None:
    sd = 0.37
    standardized = TTestPower().solve_power(nobs=n, alpha=alpha, power=0.8)
    assert minimum_detectable_effect(sd / math.sqrt(n), n - 1, alpha) == pytest.approx(standardized * sd, rel=1e-6)
    assert t_test_power(standardized * sd, sd / math.sqrt(n), n - 1, alpha) == pytest.approx(0.8, abs=1e-6)
    effect = 0.5 * standardized * sd
    assert t_test_power(effect, sd / math.sqrt(n), n - 1, alpha) == pytest.approx(
        TTestPower().power(effect_size=effect / sd, nobs=n, alpha=alpha)
    )


@pytest.mark.parametrize(("sd", "effect"), [(0.3, 0.02), (0.5, 0.1), (1.2, 0.5)])
def test_pairs_needed_matches_statsmodels(sd: float, effect: float) -> None:
    expected = math.ceil(TTestPower().solve_power(effect_size=effect / sd, alpha=0.05, power=0.8))
    assert pairs_needed(sd, effect) == expected
    assert pairs_needed(sd, effect, design_effect=2.0) == math.ceil(expected * 2.0)


def test_no_variance_has_no_mde() -> None:
    assert minimum_detectable_effect(0.0, 10) is None
    with pytest.raises(ValueError, match="margin"):
        equivalence_test(0.0, 0.1, 10, 0.0)


def _cli(*args: str) -> tuple[int, str]:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = main(list(args))
    return code, printed.getvalue()


@pytest.fixture
def regressed(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A base, a run clearly better on mmlu, and one clearly worse (the two swapped)."""
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    better = make_run(tmp_path, "better", TUNED_ACC, TUNED_GRADE, TUNED_HHH)
    worse_root = tmp_path / "worse-root"
    worse_base = make_run(worse_root, "base", TUNED_ACC, BASE_GRADE, BASE_HHH)
    worse = make_run(worse_root, "worse", BASE_ACC, BASE_GRADE, BASE_HHH)
    assert base and worse_base
    return base, better, worse


def test_regression_gate_exit_codes(regressed: tuple[Path, Path, Path]) -> None:
    base, better, worse = regressed
    worse_base = worse.parent / "base"
    assert _cli("compare", str(base), str(better), "--fail-on-regression", "--resamples", "500")[0] == 0
    code, printed = _cli("compare", str(worse_base), str(worse), "--fail-on-regression", "--resamples", "500")
    assert code == REGRESSION_EXIT
    assert "regression: demo: mmlu (acc,none) significantly worse than the base" in printed
    assert _cli("compare", str(worse_base), str(worse), "--resamples", "500")[0] == 0  # no gate: report only
    code, printed = _cli("compare", str(worse_base), str(worse), "--margin", "-1")
    assert code == 2 and "--margin -1.0 is not a margin" in printed


def test_verdicts_equivalence_and_mde(regressed: tuple[Path, Path, Path], tmp_path: Path) -> None:
    base, better, _ = regressed
    (outcome,) = compare_runs(CompareOptions(runs=(base, better), resamples=500))
    rows = {row.task: row for row in outcome.comparison.tasks}
    assert rows["mmlu"].verdict == "better" and outcome.comparison.margin == 0.02
    differences = TUNED_ACC - BASE_ACC
    se = float(np.std(differences, ddof=1) / math.sqrt(differences.size))
    assert rows["mmlu"].mde == pytest.approx(minimum_detectable_effect(se, differences.size - 1))
    # rated: grades barely change, so with a margin of 1 grade point TOST shows equivalence, with 0.02 it cannot
    assert rows["rated"].verdict == "inconclusive"
    (wide,) = compare_runs(CompareOptions(runs=(base, better), resamples=500, margin=1.0))
    rated = {row.task: row for row in wide.comparison.tasks}["rated"]
    grade_differences = TUNED_GRADE - BASE_GRADE
    expected = ttost_paired(TUNED_GRADE, BASE_GRADE, -1.0, 1.0)[0]
    assert rated.verdict == "equivalent" and rated.equivalence_p == pytest.approx(float(expected))
    assert rated.mde is not None and rated.mde > abs(float(grade_differences.mean()))
    (same,) = compare_runs(CompareOptions(runs=(base, make_run(tmp_path, "copy", BASE_ACC, BASE_GRADE, BASE_HHH))))
    assert {row.verdict for row in same.comparison.tasks} == {"inconclusive"}  # no spread: nothing to test with


def test_comparison_file_lists_flipped_examples_both_ways(regressed: tuple[Path, Path, Path]) -> None:
    base, better, _ = regressed
    (outcome,) = compare_runs(CompareOptions(runs=(base, better), resamples=500))
    saved = Comparison.model_validate_json(outcome.path.read_text())
    mmlu = next(row for row in saved.tasks if row.task == "mmlu")
    improved = {f.doc_id for f in mmlu.flipped if f.direction == "improved"}
    regressed_ids = {f.doc_id for f in mmlu.flipped if f.direction == "regressed"}
    assert improved == set(np.flatnonzero((BASE_ACC == 0) & (TUNED_ACC == 1)).tolist())
    assert regressed_ids == set(np.flatnonzero((BASE_ACC == 1) & (TUNED_ACC == 0)).tolist())
    assert len(mmlu.flipped) == mmlu.wins + mmlu.losses
    by_id = {row["doc_id"]: row for row in read_samples(base, "mmlu")}
    for flip in mmlu.flipped:
        assert (flip.prompt, flip.target, flip.doc_hash) == (
            by_id[flip.doc_id]["prompt"],
            by_id[flip.doc_id]["target"],
            by_id[flip.doc_id]["doc_hash"],
        )
        assert (flip.base_score, flip.other_score) == (BASE_ACC[flip.doc_id], TUNED_ACC[flip.doc_id])
    rated = next(row for row in saved.tasks if row.task == "rated")
    assert len(rated.flipped) == rated.wins + rated.losses
    assert json.loads(outcome.path.read_text())["tasks"][0]["flipped"]  # written to the file, not only in memory
