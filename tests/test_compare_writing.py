"""`compare` on writing runs: the judge's grades and pairwise win rates, never answer length.

The runs are real: `instructeval run --tasks writing` on the tiny random Llama, graded by the scripted judge
server on 127.0.0.1 (a real HTTP server; the verdicts are a hash of the rendered prompt, so they differ from
answer to answer). Every expected figure is recomputed here from the judgment records stored in the samples.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from judge_server import ChatRequest, JudgeServer, Reply
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from instructeval.cli import main
from instructeval.compare import CompareOptions, compare_runs, comparison_path
from instructeval.compare._writing import HEAD_TO_HEAD, WIN_RATE
from instructeval.errors import InstructEvalError
from instructeval.results import Comparison, PairedTaskComparison, load_results, read_samples, results_path
from instructeval.stats import paired_permutation_test

RESAMPLES = 2000
PROMPTS = [("informative", f"Explain topic {i} to a child.") for i in range(3)] + [
    ("creative", f"Write a two-line poem about object {i}.") for i in range(3)
]


def _digest(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest(), 16)


def verdict(request: ChatRequest) -> Reply:
    """Grades 1-5 and pairwise winners drawn from a hash of the rendered prompt: deterministic, varied."""
    text = request.prompt_text
    if "<answer_a>" in text:
        return Reply(json.dumps({"winner": ("A", "B", "tie")[_digest(text) % 3], "reason": "scripted"}))
    score = 1 + _digest(text) % 5
    return Reply(json.dumps({"score": score, "reason": "scripted"}) if "how RELEVANT" in text else f"[[{score}]]")


def cli(*args: str) -> int:
    with contextlib.redirect_stdout(io.StringIO()):
        return main(list(args))


@pytest.fixture(scope="module")
def judge() -> Iterator[JudgeServer]:
    with JudgeServer(verdict) as server:
        yield server


@pytest.fixture(scope="module")
def made(tiny_llama: Path, judge: JudgeServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Runs a (8 tokens), b (12) and ref (16), each graded pointwise during `instructeval run`."""
    root = tmp_path_factory.mktemp("writing-runs")
    prompts = root / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"category": c, "prompt": p}) + "\n" for c, p in PROMPTS))
    runs = {}
    for name, tokens in (("a", "8"), ("b", "12"), ("ref", "16")):
        code = cli(
            "run", "--model", f"hf:{tiny_llama}", "--tasks", "writing", "--writing-set", str(prompts),
            "--max-gen-toks", tokens, "--device", "cpu", "--output", str(root / "runs"), "--run-name", name,
            "--judge", judge.judge_spec(), "--judge-cache", str(root / "judge.sqlite"),
        )  # fmt: skip
        assert code == 0
        runs[name] = next((root / "runs").glob(f"*/{name}"))
    return runs


def copy_run(run: Path, name: str) -> Path:
    target = run.parent / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(run, target, ignore=shutil.ignore_patterns("comparison*.json"))
    return target


def grade(run: Path, judge: JudgeServer, *extra: str, model: str = "judge") -> None:
    cache = run.parent.parent.parent / "judge.sqlite"
    assert cli("judge", str(run), "--judge", judge.judge_spec(model), "--judge-cache", str(cache), *extra) == 0


def stored_grades(run: Path, rubric: str, category: str | None = None) -> dict[str, float]:
    """doc_hash -> mean over judges of each judge's mean over its scored repeats, from the stored records."""
    grades = {}
    for sample in read_samples(run, "writing"):
        if category not in (None, sample["category"]):
            continue
        by_judge: dict[str, list[float]] = {}
        for record in sample["judgments"]:
            if record["rubric"] == rubric and record["status"] == "scored":
                by_judge.setdefault(record["judge"], []).append(float(record["score"]))
        if by_judge:
            grades[sample["doc_hash"]] = statistics.fmean(statistics.fmean(v) for v in by_judge.values())
    return grades


def stored_outcomes(run: Path, outcome: str) -> dict[str, float]:
    """doc_hash -> share of (judge, repeat) pairs with this outcome, a win only when both orders prefer the run."""
    preferred = {("model_first", "A"): "model", ("model_first", "B"): "reference"}
    preferred |= {("reference_first", "A"): "reference", ("reference_first", "B"): "model"}
    shares = {}
    for sample in read_samples(run, "writing"):
        orders: dict[tuple[str, int], dict[str, str]] = {}
        for r in sample["pairwise_judgments"]:
            assert r["status"] == "scored"
            orders.setdefault((r["judge"], r["repeat"]), {})[r["order"]] = preferred.get(
                (r["order"], r["winner"]), "tie"
            )
        results = []
        for pair in orders.values():
            first, second = pair["model_first"], pair["reference_first"]
            results.append(("win" if first == "model" else "loss") if first == second != "tie" else "tie")
        shares[sample["doc_hash"]] = statistics.fmean(o == outcome for o in results)
    return shares


def check_row(row: PairedTaskComparison, base: dict[str, float], other: dict[str, float]) -> None:
    """The row's figures against the pairs recomputed from the samples."""
    keys = [k for k in base if k in other]
    first, second = np.array([base[k] for k in keys]), np.array([other[k] for k in keys])
    assert row.n_paired == len(keys) > 0
    assert row.base.value == pytest.approx(first.mean()) and row.other.value == pytest.approx(second.mean())
    assert row.difference.value == pytest.approx((second - first).mean())
    assert (row.wins, row.losses, row.ties) == (
        int((second > first).sum()),
        int((second < first).sum()),
        int((second == first).sum()),
    )
    if set(first) | set(second) <= {0.0, 1.0}:  # one verdict per pair: 0/1 outcomes, McNemar's exact test
        b01, b10 = int(((first == 0) & (second == 1)).sum()), int(((first == 1) & (second == 0)).sum())
        table = [[int(((first == 1) & (second == 1)).sum()), b10], [b01, int(((first == 0) & (second == 0)).sum())]]
        expected, test = (mcnemar(table, exact=True).pvalue if b01 + b10 else 1.0), "mcnemar_exact"
    else:
        expected = paired_permutation_test(first, second, seed=1234, resamples=RESAMPLES).p_value
        test = "paired_permutation"
    assert row.test == test and row.p_value == pytest.approx(expected)


def check_holm(comparison: Comparison) -> None:
    p_values = [row.p_value for row in comparison.tasks]
    assert all(p is not None for p in p_values)
    adjusted = multipletests(p_values, alpha=comparison.alpha, method="holm")[1]
    assert [row.p_adjusted for row in comparison.tasks] == pytest.approx(list(adjusted))


def rows_of(comparison: Comparison) -> dict[tuple[str, str | None], PairedTaskComparison]:
    return {(row.metric, row.group): row for row in comparison.tasks}


def test_grades_per_rubric_and_category_not_answer_length(made: dict[str, Path]) -> None:
    [outcome] = compare_runs(CompareOptions(runs=(made["a"], made["b"]), resamples=RESAMPLES))
    comparison = outcome.comparison
    rows = rows_of(comparison)
    groups = [None, "informative", "creative"]
    assert list(rows) == [(rubric, group) for rubric in ("relevance", "coherence") for group in groups]
    assert all(row.task == "writing" for row in comparison.tasks)
    for (rubric, group), row in rows.items():
        check_row(row, stored_grades(made["a"], rubric, group), stored_grades(made["b"], rubric, group))
    check_holm(comparison)
    # Every answer was paired, so each side's overall grade and interval are the run's own writing report's.
    for side, run in (("base", made["a"]), ("other", made["b"])):
        report = load_results(run).writing.pointwise.scores
        for rubric in ("relevance", "coherence"):
            score = getattr(rows[(rubric, None)], side)
            overall = report[rubric]["overall"].score
            assert (score.value, score.ci_low, score.ci_high) == pytest.approx(
                (overall.value, overall.ci_low, overall.ci_high)
            )
    written = Comparison.model_validate_json(comparison_path(made["a"], made["b"]).read_text())
    assert written.tasks == comparison.tasks and not written.forced


def test_answer_length_only_when_asked(made: dict[str, Path]) -> None:
    [outcome] = compare_runs(CompareOptions(runs=(made["a"], made["b"]), metric="answer_words", resamples=RESAMPLES))
    [row] = outcome.comparison.tasks
    assert (row.task, row.metric, row.group) == ("writing", "answer_words,none", None)
    words = [
        {s["doc_hash"]: s["scores"]["answer_words,none"] for s in read_samples(run, "writing")}
        for run in (made["a"], made["b"])
    ]
    assert row.difference.value == pytest.approx(statistics.fmean(words[1][k] - words[0][k] for k in words[0]))


@pytest.mark.parametrize(
    ("name", "regrade", "named"),
    [
        ("repeats", ("--judge-repeats", "2"), "writing judge repeats 1 != 2"),
        ("temperature", ("--judge-temperature", "0.7"), "writing judge temperature 0.0 != 0.7"),
        ("judge", (), "writing judges "),
    ],
)
def test_judging_must_match_or_be_forced(
    made: dict[str, Path],
    judge: JudgeServer,
    capsys: pytest.CaptureFixture[str],
    name: str,
    regrade: tuple[str, ...],
    named: str,
) -> None:
    other = copy_run(made["b"], f"b-{name}")
    grade(other, judge, *regrade, model="judge" if regrade else "another-judge")
    code = main(["compare", str(made["a"]), str(other)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and named in err and "--force" in err
    assert not comparison_path(made["a"], other).exists()
    [outcome] = compare_runs(CompareOptions(runs=(made["a"], other), force=True, resamples=RESAMPLES))
    assert outcome.comparison.forced and any(named in m for m in outcome.comparison.mismatches)


def test_edited_rubric_file_is_refused(made: dict[str, Path]) -> None:
    """A run graded with another version of the rubric: its recorded sha256 differs (edited in a copy)."""
    other = copy_run(made["b"], "b-rubric")
    payload = json.loads(results_path(other).read_text())
    payload["writing"]["pointwise"]["rubrics"]["coherence"]["sha256"] = "0" * 64
    results_path(other).write_text(json.dumps(payload))
    with pytest.raises(InstructEvalError, match=r"writing rubric coherence sha256 7ea85eb31ffd != 000000000000"):
        compare_runs(CompareOptions(runs=(made["a"], other)))


def test_head_to_head_when_judged_against_the_base(made: dict[str, Path], judge: JudgeServer) -> None:
    other = copy_run(made["b"], "b-vs-a")
    grade(other, judge, "--reference", str(made["a"]))
    [outcome] = compare_runs(CompareOptions(runs=(made["a"], other), resamples=RESAMPLES))
    rows = rows_of(outcome.comparison)
    for group in (None, "informative", "creative"):
        # base: how often a's answer was preferred (b lost), other: how often b's was (b won)
        losses, wins = (stored_outcomes(other, outcome_) for outcome_ in ("loss", "win"))
        if group:
            keep = {s["doc_hash"] for s in read_samples(other, "writing") if s["category"] == group}
            losses, wins = ({k: v for k, v in d.items() if k in keep} for d in (losses, wins))
        check_row(rows[(HEAD_TO_HEAD, group)], losses, wins)
    overall = load_results(other).writing.pairwise.rates
    assert rows[(HEAD_TO_HEAD, None)].other.value == pytest.approx(overall["win"]["overall"].score.value)
    assert rows[(HEAD_TO_HEAD, None)].base.value == pytest.approx(overall["loss"]["overall"].score.value)
    assert ("relevance", None) in rows  # the grades are still compared beside it
    check_holm(outcome.comparison)


def test_win_rates_against_the_same_reference(made: dict[str, Path], judge: JudgeServer) -> None:
    base, other = copy_run(made["a"], "a-vs-ref"), copy_run(made["b"], "b-vs-ref")
    for run in (base, other):
        grade(run, judge, "--reference", str(made["ref"]))
    [outcome] = compare_runs(CompareOptions(runs=(base, other), resamples=RESAMPLES))
    check_row(
        rows_of(outcome.comparison)[(WIN_RATE, None)], stored_outcomes(base, "win"), stored_outcomes(other, "win")
    )
    elsewhere = copy_run(made["b"], "b-vs-a-not-ref")
    grade(elsewhere, judge, "--reference", str(made["a"]))
    with pytest.raises(InstructEvalError, match=r"writing pairwise reference run \S+/ref != \S+/a\b"):
        compare_runs(CompareOptions(runs=(base, elsewhere)))


def test_ungraded_runs(made: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    ungraded = copy_run(made["b"], "b-ungraded")
    payload: dict[str, Any] = json.loads(results_path(ungraded).read_text())
    payload["writing"] = None  # as `instructeval run` leaves it without --judge
    results_path(ungraded).write_text(json.dumps(payload))
    code = main(["compare", str(made["a"]), str(ungraded)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "only one of" in err and "instructeval judge" in err
    also = copy_run(ungraded, "a-ungraded")
    with pytest.raises(InstructEvalError, match=r"nothing to compare: writing \(neither run was graded"):
        compare_runs(CompareOptions(runs=(also, ungraded)))
