"""`instructeval compare` on hand-built run folders: pairing, statistics against SciPy/statsmodels, refusals, output."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from instructeval.cli import main
from instructeval.compare import (
    CompareOptions,
    compare_runs,
    comparison_markdown,
    comparison_path,
    stratified_paired_bootstrap_ci,
)
from instructeval.errors import InstructEvalError
from instructeval.results import (
    Comparison,
    ModelInfo,
    PairedTaskComparison,
    RunInfo,
    RunResults,
    SampleRecord,
    Score,
    TaskResult,
    load_results,
    samples_path,
)
from instructeval.run import save_results, write_samples
from instructeval.stats import paired_bootstrap_ci, paired_permutation_test

RNG = np.random.default_rng(7)
# 40 MMLU-like 0/1 outcomes where the tuned model is clearly better, 30 graded scores (1-10) barely changed.
BASE_ACC = (RNG.random(40) < 0.35).astype(float)
TUNED_ACC = np.where(RNG.random(40) < 0.6, 1.0, BASE_ACC)
BASE_GRADE = RNG.integers(1, 11, 30).astype(float)
TUNED_GRADE = np.clip(BASE_GRADE + RNG.integers(-1, 2, 30), 1, 10)
# HHH-like macro task: two subtasks of unequal size.
HHH_SUBTASKS = ["hhh_harmless"] * 6 + ["hhh_other"] * 4
BASE_HHH = np.array([1, 0, 1, 0, 1, 1, 0, 0, 1, 0], dtype=float)
TUNED_HHH = np.array([1, 1, 1, 0, 1, 1, 1, 0, 1, 1], dtype=float)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _task(name: str, metric: str, values: np.ndarray, *, protocol: str = "p", prompt: str = "prompt") -> TaskResult:
    return TaskResult(
        task=name,
        protocol=protocol,
        protocol_version="1.0",
        output_type="multiple_choice",
        num_fewshot=0,
        primary_metric=metric,
        metrics={metric: Score(value=float(values.mean()), n=int(values.size))},
        data_source="local",
        data_hash=_hash(f"{name}-data"),
        prompt_hash=_hash(prompt),
        chat_template_applied=False,
        wall_seconds=1.0,
        n_samples=int(values.size),
        samples_file=f"samples/{name}.jsonl",
    )


def _records(task: str, metric: str, values: np.ndarray, subtasks: list[str] | None = None) -> list[SampleRecord]:
    subtasks = subtasks or [task] * values.size
    return [
        SampleRecord(
            task=task,
            subtask=subtask,
            response=None,
            doc_id=i,
            doc_hash=_hash(f"{task}-{i}"),
            prompt=f"q{i}",
            target="A",
            scores={metric: float(value), "other_metric,none": 0.0},
        )
        for i, (subtask, value) in enumerate(zip(subtasks, values, strict=True))
    ]


def make_run(
    root: Path,
    name: str,
    acc: np.ndarray,
    grade: np.ndarray,
    hhh: np.ndarray,
    *,
    adapter: str | None = None,
    prompt: str = "prompt",
    shuffle: bool = False,
) -> Path:
    """A run folder with tasks mmlu (binary acc), rated (graded, 1-10) and hhh (binary, two subtasks)."""
    run = root / "demo" / name
    results = RunResults(
        run=RunInfo(
            status="complete",
            started_at="2026-01-01T00:00:00+00:00",
            command=["instructeval"],
            seed=1,
            limit=None,
            batch_size="1",
            config_hash="abc",
            instructeval_version="0",
            packages={},
            device="cpu",
        ),
        model=ModelInfo(spec="demo", backend="demo", name="demo", revision=None, adapter=adapter),
        writing=None,
    )
    tasks = {
        "mmlu": ("acc,none", acc, None),
        "rated": ("score,none", grade, None),
        "hhh": ("acc,none", hhh, HHH_SUBTASKS),
    }
    for task, (metric, values, subtasks) in tasks.items():
        results.tasks[task] = _task(task, metric, values, prompt=prompt if task == "mmlu" else "prompt")
        records = _records(task, metric, values, subtasks)
        write_samples(samples_path(run, task), records[::-1] if shuffle else records)
    save_results(run, results)
    return run


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    tuned = make_run(tmp_path, "tuned", TUNED_ACC, TUNED_GRADE, TUNED_HHH, adapter="/x/lora-1", shuffle=True)
    return base, tuned


def _by_task(comparison: Comparison) -> dict[str, PairedTaskComparison]:
    return {row.task: row for row in comparison.tasks}


def test_scores_tests_and_holm_match_statsmodels(runs: tuple[Path, Path]) -> None:
    base, tuned = runs
    (outcome,) = compare_runs(CompareOptions(runs=runs, resamples=2000))
    rows = _by_task(outcome.comparison)
    mmlu = rows["mmlu"]
    assert mmlu.n_paired == 40 and mmlu.metric == "acc,none" and mmlu.test == "mcnemar_exact"
    assert mmlu.base.value == pytest.approx(BASE_ACC.mean()) and mmlu.other.value == pytest.approx(TUNED_ACC.mean())
    both, b10 = int(np.sum((BASE_ACC == 1) & (TUNED_ACC == 1))), int(np.sum((BASE_ACC == 1) & (TUNED_ACC == 0)))
    b01 = int(np.sum((BASE_ACC == 0) & (TUNED_ACC == 1)))
    expected = mcnemar([[both, b10], [b01, 40 - both - b10 - b01]], exact=True).pvalue
    assert mmlu.p_value == pytest.approx(expected)
    assert (mmlu.wins, mmlu.losses, mmlu.ties) == (b01, b10, 40 - b01 - b10)
    reference = paired_bootstrap_ci(BASE_ACC, TUNED_ACC, seed=1234, resamples=2000)
    assert mmlu.difference.value == pytest.approx(TUNED_ACC.mean() - BASE_ACC.mean())
    assert (mmlu.difference.ci_low, mmlu.difference.ci_high) == pytest.approx((reference.ci_low, reference.ci_high))
    assert mmlu.difference.resamples == 2000 and mmlu.difference.seed == 1234

    writing = rows["rated"]
    assert writing.test == "paired_permutation"
    permutation = paired_permutation_test(BASE_GRADE, TUNED_GRADE, seed=1234, resamples=2000)
    assert writing.p_value == pytest.approx(permutation.p_value)

    ordered = outcome.comparison.tasks
    reject, adjusted, _, _ = multipletests([row.p_value for row in ordered], alpha=0.05, method="holm")
    assert [row.p_adjusted for row in ordered] == pytest.approx(list(adjusted))
    assert [row.significant for row in ordered] == list(reject)
    assert mmlu.significant and not writing.significant

    assert outcome.path == comparison_path(base, tuned) == tuned / "comparison-vs-demo-base.json"
    saved = Comparison.model_validate_json(outcome.path.read_text())
    assert saved == outcome.comparison and saved.other_model == "demo + adapter lora-1" and not saved.forced


def test_macro_task_averages_subtasks_like_its_headline(runs: tuple[Path, Path]) -> None:
    (outcome,) = compare_runs(CompareOptions(runs=runs, resamples=2000))
    hhh = _by_task(outcome.comparison)["hhh"]
    labels = np.array(HHH_SUBTASKS)

    def macro(values: np.ndarray) -> float:
        return float(np.mean([values[labels == s].mean() for s in ("hhh_harmless", "hhh_other")]))

    assert hhh.base.value == pytest.approx(macro(BASE_HHH)) and hhh.other.value == pytest.approx(macro(TUNED_HHH))
    assert hhh.difference.value == pytest.approx(macro(TUNED_HHH) - macro(BASE_HHH))
    assert hhh.n_paired == 10 and hhh.difference.ci_method == "stratified-bootstrap-percentile"
    assert (hhh.difference.resamples, hhh.difference.seed) == (2000, 1234)
    low, value, high = hhh.difference.ci_low, hhh.difference.value, hhh.difference.ci_high
    assert low is not None and value is not None and high is not None and low <= value <= high


def test_stratified_bootstrap_covers_a_known_macro_difference() -> None:
    """Three subtasks of 20, 60 and 120 binary outcomes whose accuracies rise by 0.1, 0.2 and 0.0: the macro
    difference is 0.1 while the pooled one is 0.07, so an interval around the pooled mean would miss it."""
    sizes, base_rates, gains = (20, 60, 120), (0.5, 0.4, 0.7), (0.1, 0.2, 0.0)
    covered = 0
    for trial in range(200):
        rng = np.random.default_rng(trial)
        groups = []
        for size, rate, gain in zip(sizes, base_rates, gains, strict=True):
            u = rng.random(size)
            groups.append(((u < rate).astype(float), (u < rate + gain).astype(float)))
        estimate = stratified_paired_bootstrap_ci(groups, seed=trial, resamples=1000)
        assert estimate.ci_low is not None and estimate.ci_high is not None
        covered += estimate.ci_low <= 0.1 <= estimate.ci_high
    assert 0.90 <= covered / 200 <= 0.99
    one = [(np.array([1.0, 0.0, 1.0]), np.array([1.0, 1.0, 1.0])), (np.array([0.0]), np.array([1.0]))]
    assert stratified_paired_bootstrap_ci(one, seed=1, resamples=100).stderr is None


def test_pairs_by_doc_hash_and_drops_unpaired_examples(tmp_path: Path) -> None:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    tuned = make_run(tmp_path, "tuned", TUNED_ACC, TUNED_GRADE, TUNED_HHH)
    path = samples_path(tuned, "mmlu")
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[5:][::-1]) + "\n")  # five examples missing, the rest reordered
    (outcome,) = compare_runs(CompareOptions(runs=(base, tuned), force=True, resamples=500))
    mmlu = _by_task(outcome.comparison)["mmlu"]
    assert mmlu.n_paired == 35
    assert mmlu.base.value == pytest.approx(BASE_ACC[5:].mean())
    assert mmlu.other.value == pytest.approx(TUNED_ACC[5:].mean())


def test_mismatched_prompts_are_refused_then_forced_and_recorded(tmp_path: Path) -> None:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    tuned = make_run(tmp_path, "tuned", TUNED_ACC, TUNED_GRADE, TUNED_HHH, prompt="edited prompt")
    with pytest.raises(InstructEvalError, match=r"mmlu prompt_hash [0-9a-f]{12} != [0-9a-f]{12}.*--force"):
        compare_runs(CompareOptions(runs=(base, tuned)))
    assert not comparison_path(base, tuned).exists()
    (outcome,) = compare_runs(CompareOptions(runs=(base, tuned), force=True, resamples=500))
    assert outcome.comparison.forced and len(outcome.comparison.mismatches) == 1
    assert "FORCED" in comparison_markdown(outcome.comparison)


def test_a_vote_and_greedy_answers_are_not_paired_as_one_setting(tmp_path: Path) -> None:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    tuned = make_run(tmp_path, "tuned", TUNED_ACC, TUNED_GRADE, TUNED_HHH)
    voted = load_results(tuned)
    voted.tasks["mmlu"] = voted.tasks["mmlu"].model_copy(update={"self_consistency": 8})
    save_results(tuned, voted)
    with pytest.raises(InstructEvalError, match=r"mmlu self_consistency greedy != maj@8.*--force"):
        compare_runs(CompareOptions(runs=(base, tuned)))


def test_metric_by_bare_name_and_tasks_without_it_are_skipped(runs: tuple[Path, Path]) -> None:
    (outcome,) = compare_runs(CompareOptions(runs=runs, metric="acc", resamples=500))
    assert [row.task for row in outcome.comparison.tasks] == ["mmlu", "hhh"]
    assert outcome.skipped == ("rated (no metric acc)",)
    with pytest.raises(InstructEvalError, match="no shared task has the metric nope"):
        compare_runs(CompareOptions(runs=runs, metric="nope"))


def test_each_run_is_compared_with_the_first(tmp_path: Path) -> None:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    first = make_run(tmp_path, "first", TUNED_ACC, TUNED_GRADE, TUNED_HHH)
    second = make_run(tmp_path, "second", BASE_ACC, BASE_GRADE, BASE_HHH)
    outcomes = compare_runs(CompareOptions(runs=(base, first, second), resamples=500))
    assert [o.comparison.other_run for o in outcomes] == [str(first), str(second)]
    identical = outcomes[1].comparison.tasks[0]
    assert identical.difference.value == 0.0 and identical.p_value == 1.0 and identical.ties == 40
    assert all(o.path.is_file() for o in outcomes)


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["compare", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_cli_formats(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, runs: tuple[Path, Path]
) -> None:
    base, tuned = runs
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps the table to the terminal width (80 under capture)
    code, out, err = _cli(capsys, str(base), str(tuned), "--format", "json", "--resamples", "500")
    assert code == 0, err
    (parsed,) = [Comparison.model_validate(item) for item in json.loads(out)]
    assert parsed == Comparison.model_validate_json(comparison_path(base, tuned).read_text())
    assert f"comparison written to {comparison_path(base, tuned)}" in err

    code, out, _ = _cli(capsys, str(base), str(tuned), "--format", "markdown", "--resamples", "500")
    header = next(line for line in out.splitlines() if line.startswith("| task"))
    assert code == 0 and header.count("|") == 14 and "| mmlu | acc,none | 40 |" in out and "▲" in out

    code, out, _ = _cli(capsys, str(base), str(tuned), "--resamples", "500", "--alpha", "0.01")
    assert code == 0 and "demo + adapter lora-1 vs demo (base)" in out and "mcnemar_exact" in out
    assert "alpha=0.01" in out


def test_cli_user_errors_are_one_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    for args, message in (
        ([str(base), str(tmp_path)], "is not a run folder"),
        ([str(base)], "at least two run folders"),
        ([str(base), str(base), "--alpha", "5"], "--alpha 5.0 is not a level"),
        ([str(base), str(base), "--resamples", "0"], "--resamples 0 is not valid"),
    ):
        code, out, err = _cli(capsys, *args)
        assert code == 2 and out == "" and err.count("\n") == 1 and message in err, (args, err)


def test_refusal_across_the_process_boundary(tmp_path: Path) -> None:
    """The installed entry point exits 2 with one line naming each mismatch, and writes nothing."""
    base = make_run(tmp_path, "base", BASE_ACC, BASE_GRADE, BASE_HHH)
    edited = make_run(tmp_path, "edited", TUNED_ACC, TUNED_GRADE, TUNED_HHH, prompt="edited")
    refused = subprocess.run(
        [sys.executable, "-m", "instructeval", "compare", str(base), str(edited)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and "mmlu prompt_hash" in refused.stderr and "--force" in refused.stderr
    assert not comparison_path(base, edited).exists()
