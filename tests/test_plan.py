"""`instructeval plan`: pairs needed against statsmodels' power, the --limit that gives them, baselines."""

from __future__ import annotations

import contextlib
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.power import TTestPower
from test_compare import BASE_ACC, BASE_GRADE, BASE_HHH, TUNED_ACC, TUNED_GRADE, TUNED_HHH, make_run

from instructeval.cli import main
from instructeval.compare import CompareOptions, compare_runs, limit_for, plan_task
from instructeval.compare._plan import WORST_CASE_SD
from instructeval.errors import InstructEvalError
from instructeval.registry import all_tasks
from instructeval.results import load_results
from instructeval.run import save_results
from instructeval.score import Score


def _needed(sd: float, effect: float, design_effect: float = 1.0) -> int:
    return math.ceil(
        math.ceil(TTestPower().solve_power(effect_size=effect / sd, alpha=0.05, power=0.8)) * design_effect
    )


def test_limit_is_the_smallest_per_subtask_cap_that_reaches_the_count() -> None:
    sizes = {"a": 10, "b": 100, "c": 40}
    assert limit_for(sizes, 30) == 10  # 10 + 10 + 10
    assert limit_for(sizes, 31) == 11  # 10 + 11 + 11 (a has only 10)
    assert limit_for(sizes, 150) == 100 and limit_for(sizes, 151) is None


def test_plan_cli_on_the_task_sizes(data_dir: Path) -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(
            ["plan", "--tasks", "gsm8k,bbh", "--effect", "0.1", "--data-dir", str(data_dir), "--format", "json"]
        )
    assert code == 0
    plans = {plan["task"]: plan for plan in json.loads(printed.getvalue())}
    needed = _needed(WORST_CASE_SD, 0.1)
    assert plans["gsm8k"]["available"] == 1319 and plans["gsm8k"]["needed"] == needed
    assert plans["gsm8k"]["limit"] == needed and plans["gsm8k"]["sd_source"] == "worst case"
    assert plans["bbh"]["available"] == 6511  # 27 tasks, three of them smaller than 250
    assert plans["bbh"]["limit"] == math.ceil(needed / 27)
    mde = plans["gsm8k"]["mde_at_full_size"]
    assert mde == pytest.approx(TTestPower().solve_power(nobs=1319, alpha=0.05, power=0.8) * WORST_CASE_SD)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--effect", "0"], "--effect 0.0 is not a difference to detect"),
        (["--effect", "0.02", "--power", "80"], "--power 80.0 must lie between 0 and 1"),
        (["--effect", "0.02", "--baseline", "nowhere"], "nowhere is not a run folder"),
    ],
)
def test_plan_refuses_bad_input_in_one_line(args: list[str], message: str, data_dir: Path) -> None:
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = main(["plan", "--tasks", "crass", "--data-dir", str(data_dir), *args])
    assert code == 2 and message in printed.getvalue() and printed.getvalue().count("\n") == 1


def test_baseline_gives_the_spread_and_its_comparison_the_observed_differences(tmp_path: Path) -> None:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    info = all_tasks()["mmlu"]
    results = load_results(base)
    score = Score.model_validate(
        {"value": float(BASE_ACC.mean()), "stderr": float(np.std(BASE_ACC, ddof=1) / math.sqrt(40)), "n": 40}
    )
    results.tasks["mmlu"].metrics["acc,none"] = score
    save_results(base, results)
    own = plan_task(info, {"mmlu_anatomy": 300, "mmlu_astronomy": 300}, 0.1, baseline=base)
    sd = math.sqrt(2.0) * float(np.std(BASE_ACC, ddof=1))
    assert own.sd_source == "baseline" and own.sd == pytest.approx(sd)
    assert own.needed == _needed(sd, 0.1) and own.limit == math.ceil(own.needed / 2)
    small = plan_task(info, {"mmlu_anatomy": 135, "mmlu_astronomy": 152}, 0.1, baseline=base)
    assert small.limit is None and not small.reachable and small.mde_at_full_size is not None
    assert small.mde_at_full_size > 0.1  # 287 examples cannot see a 0.1 difference with 80 % power

    tuned = make_run(tmp_path, "tuned", TUNED_ACC, TUNED_GRADE, TUNED_HHH)
    compare_runs(CompareOptions(runs=(tuned, base), resamples=200))  # written into base's folder
    observed = plan_task(info, {"mmlu_anatomy": 135}, 0.1, baseline=base)
    differences = BASE_ACC - TUNED_ACC
    assert observed.sd_source == "comparison"
    assert observed.sd == pytest.approx(float(np.std(differences, ddof=1)))
    assert observed.needed == _needed(observed.sd, 0.1)


def test_clustered_baseline_scales_by_its_design_effect(tmp_path: Path) -> None:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    results = load_results(base)
    naive = Score(value=0.4, stderr=0.05, n=100)
    results.tasks["mmlu"].metrics["acc,none"] = Score(value=0.4, stderr=0.075, n=100, clusters=20, naive=naive)
    save_results(base, results)
    plan = plan_task(all_tasks()["mmlu"], {"mmlu_anatomy": 10_000}, 0.05, baseline=base)
    assert plan.design_effect == pytest.approx(2.25)
    assert plan.needed == _needed(math.sqrt(2.0) * 0.05 * 10.0, 0.05, 2.25)


def test_judged_tasks_need_a_baseline() -> None:
    with pytest.raises(InstructEvalError, match="pass --baseline RUN"):
        plan_task(all_tasks()["writing"], {"writing": 200}, 0.1)
