"""Checks the end-to-end tests make on a finished run folder: every figure recomputed from what the run wrote.

A task's headline scores are recomputed from its samples file (the mean of per-sample values, or for macro tasks
the mean of the subtasks' means), each breakdown group likewise, each interval must hold its value, and the
log-likelihoods in the samples must be the answers stored in requests.sqlite.
"""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from statistics import mean
from typing import Any

import pytest
from judge_server import ChatRequest, JudgeServer, Reply
from lm_eval.api.model import hash_args
from rich.console import Console

from instructeval.cache import RequestCache
from instructeval.cli import main
from instructeval.registry import resolve_tasks
from instructeval.results import RunResults, Score, load_results, read_samples
from instructeval.settings import base_name
from instructeval.writing.report import OVERALL

Record = dict[str, Any]


LIMIT = 2
MAX_GEN_TOKS = 8
CHOICE_TASKS = ("mmlu", "crass", "hhh_mc")
GENERATION_TASKS = ("mmlu_gen", "bbh", "gsm8k", "mgsm", "humaneval", "drop")
"""The matrix's task families: scored by choice log-likelihoods, or by generated text."""


def run_args(model: Path, output: Path, name: str, tasks: str, *extra: str) -> list[str]:
    """`instructeval run` of a tiny model on `tasks`, matrix-sized (LIMIT examples, MAX_GEN_TOKS tokens)."""
    return [
        "run", "--model", f"hf:{model}", "--tasks", tasks, "--limit", str(LIMIT), "--max-gen-toks",
        str(MAX_GEN_TOKS), "--output", str(output), "--run-name", name, *extra,
    ]  # fmt: skip


def run_cli(args: list[str]) -> str:
    """`instructeval <args>` in-process; asserts exit 0 and returns what it printed (stdout and stderr)."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = main(args)
    assert code == 0, printed.getvalue()[-3000:]
    return printed.getvalue()


def refusal(args: list[str]) -> str:
    """`instructeval <args>` in-process, expected to refuse: asserts exit 2 and one line; returns that line."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        code = main(args)
    errors = [line for line in printed.getvalue().splitlines() if line.startswith("instructeval: ")]
    assert code == 2 and len(errors) == 1, printed.getvalue()[-3000:]
    assert "Traceback" not in printed.getvalue()
    return errors[0]


def headline(run_dir: Path) -> dict[str, dict[str, float | None]]:
    """Every task's metric values from results.json (the run must be complete)."""
    results = load_results(run_dir)
    assert results.run.status == "complete"
    return {name: {m: s.value for m, s in task.metrics.items()} for name, task in results.tasks.items()}


def _values(records: list[Record], metric: str) -> list[float]:
    return [float(r["scores"][metric]) for r in records if r["scores"].get(metric) is not None]


def _check_score(score: Score, expected: float, n: int, spread: bool = True) -> None:
    """`spread`: False where each subtask holds one value, which has no spread to estimate a stderr from."""
    assert score.value == pytest.approx(expected, abs=1e-9)
    assert score.n == n
    assert score.ci_low is not None and score.ci_high is not None
    assert score.stderr is not None or not spread
    assert score.ci_low - 1e-9 <= score.value <= score.ci_high + 1e-9


def check_task(results: RunResults, run_dir: Path, task: str, subtasks: int, n_samples: int) -> list[Record]:
    """The task's scores, breakdown and counts recomputed from samples/<task>.jsonl; returns the records."""
    info = resolve_tasks(base_name(task), None)[0]  # a task under a non-default setting: `<task>@<setting>`
    records = read_samples(run_dir, task)
    result = results.tasks[task]
    assert result.samples_file == f"samples/{task}.jsonl"
    assert len(records) == result.n_samples == n_samples
    by_subtask: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_subtask[record["subtask"]].append(record)
    assert len(by_subtask) == subtasks
    assert result.metrics and result.primary_metric in result.metrics
    for metric, score in result.metrics.items():
        if info.aggregation == "macro" and subtasks > 1:
            expected = mean(mean(_values(group, metric)) for group in by_subtask.values())
        else:
            expected = mean(_values(records, metric))
        _check_score(score, expected, len(_values(records, metric)), _spread(records))
    for kind, groups in result.breakdown.items():
        for group, metrics in groups.items():
            members = [r for r in records if r["groups"].get(kind) == group]
            assert members, (kind, group)
            for metric, score in metrics.items():
                _check_score(score, mean(_values(members, metric)), len(members), _spread(members))
    return records


def _spread(records: list[Record]) -> bool:
    """True when some subtask holds more than one of the records."""
    return len({r["subtask"] for r in records}) < len(records)


def check_choice_accuracy(records: list[Record]) -> None:
    """acc (and acc_norm where scored) of log-likelihood tasks: the best choice is the target's index."""
    for record in records:
        lls = record["choice_loglikelihoods"]
        choices = record["details"]["choices"]
        assert lls and len(lls) == len(choices)
        gold = int(record["target"])
        assert record["scores"]["acc,none"] == float(max(range(len(lls)), key=lls.__getitem__) == gold)
        if "acc_norm,none" in record["scores"]:
            normed = [ll / len(choice) for ll, choice in zip(lls, choices, strict=True)]
            assert record["scores"]["acc_norm,none"] == float(max(range(len(lls)), key=normed.__getitem__) == gold)


def check_cached_loglikelihoods(run_dir: Path, records: list[Record]) -> None:
    """Each choice's log-likelihood in the samples is the answer stored for (prompt, choice) in requests.sqlite."""
    cache = RequestCache(run_dir / "requests.sqlite")
    try:
        for record in records:
            for choice, ll in zip(record["details"]["choices"], record["choice_loglikelihoods"], strict=True):
                stored = cache.get("loglikelihood", hash_args("loglikelihood", (record["prompt"], choice)))
                assert stored and all(answer[0] == ll for answer in stored)
    finally:
        cache.close()


def stored_answers(run_dir: Path) -> dict[str, int]:
    """How many answers requests.sqlite holds, per request method."""
    import sqlite3

    with contextlib.closing(sqlite3.connect(run_dir / "requests.sqlite")) as db:
        return dict(db.execute("SELECT method, COUNT(*) FROM answers GROUP BY method").fetchall())


def position_biased_verdict(request: ChatRequest) -> Reply:
    """The scripted judge: relevance 4 and coherence 2 for every answer; pairwise, always the answer shown first."""
    prompt = request.prompt_text
    if "Which answer better serves" in prompt:
        return Reply('{"winner": "A", "reason": "first"}')
    return Reply('{"score": 4, "reason": "on topic"}' if "how RELEVANT" in prompt else "[[2]]")


def run_judged_writing(
    model: Path, output: Path, limit: int, max_gen_toks: int, writer: Path | None = None, backend: str = "hf:"
) -> Record:
    """A writing run (of `writer`, default `model`) and a writing_pairwise run of `model` judged against it with
    half as many tokens (so each pair differs), both graded by `position_biased_verdict`: their folders
    ("writing", "pairwise") and the keys of the requests the judge was paid for ("billed"). `backend` is the
    model spec before the folder (`openai-compatible:<url>@` serves the folder's model from a server)."""
    with JudgeServer(position_biased_verdict) as server:
        common = ["--limit", str(limit), "--output", str(output), "--judge", server.judge_spec()]
        common += ["--judge-cache", str(output / "judge.sqlite")]
        common += ["--no-judge-calibration"]  # "billed" is the run's judgments (calibration: test_judge_calibration)
        run_cli(["run", "--model", f"{backend}{writer or model}", "--tasks", "writing", "--run-name", "writing",
                 *common, "--max-gen-toks", str(max_gen_toks)])  # fmt: skip
        (reference,) = output.glob("*/writing")
        run_cli(["run", "--model", f"{backend}{model}", "--tasks", "writing_pairwise", "--run-name", "pairwise",
                 *common, "--max-gen-toks", str(max_gen_toks // 2), "--reference", str(reference)])  # fmt: skip
        billed = [entry.key for entry in server.billed()]
    (pairwise,) = output.glob("*/pairwise")
    return {"writing": reference, "pairwise": pairwise, "billed": billed}


def check_position_biased_pairwise(run_dir: Path, reference: Path, billed: list[str], limit: int) -> None:
    """A writing_pairwise run judged by `position_biased_verdict` against the writing run `reference` (both judged
    pointwise too, with `billed` every request the judge was paid for): every pair is a tie, nothing asked twice."""
    results = load_results(run_dir)
    pairs = limit * len(results.tasks["writing_pairwise"].breakdown["category"])
    check_task(results, run_dir, "writing_pairwise", 1, pairs)
    ours = {r["doc_hash"]: r["response"] for r in read_samples(run_dir, "writing_pairwise")}
    theirs = {r["doc_hash"]: r["response"] for r in read_samples(reference, "writing")}
    assert ours.keys() == theirs.keys() and all(ours[k] != theirs[k] for k in ours)
    assert len(read_samples(run_dir, "writing_pairwise_pairwise_judgments")) == pairs * 2  # both orders
    # nothing asked twice: equal answers share one coherence judgment (that rubric shows the answer only)
    assert len(set(billed)) == len(billed) == pairs + len(set(theirs.values())) + pairs * 2
    pairwise = results.writing.pairwise
    assert pairwise.n_pairs == pairs and pairwise.reference_run == str(reference)
    rates = {outcome: cells[OVERALL].score.value for outcome, cells in pairwise.rates.items()}
    assert rates == {"win": 0.0, "loss": 0.0, "tie": 1.0}  # A in both orders: each side wins once, a tie
    assert pairwise.order_consistency[OVERALL].score.value == 0.0


def check_pointwise_grades(run_dir: Path) -> None:
    """writing's pointwise report (one judge, one repeat) recomputed from its judgment journal: each rubric's mean
    grade per category and overall, over every answer."""
    answers = read_samples(run_dir, "writing")
    grades: dict[tuple[str, str], float] = {}
    for record in read_samples(run_dir, "writing_judgments"):
        assert record["status"] == "scored"
        grades[(record["rubric"], str(record["doc_id"]))] = float(record["score"])
    report = load_results(run_dir).writing.pointwise
    assert report.n_answers == len(answers) and report.complete is True
    assert len(grades) == len(answers) * len(report.scores)
    for rubric, cells in report.scores.items():
        groups: dict[str, list[float]] = defaultdict(list)
        for answer in answers:
            grade = grades[(rubric, str(answer["doc_id"]))]
            groups[str(answer["category"])].append(grade)
            groups[OVERALL].append(grade)
        assert cells.keys() == groups.keys()
        for group, values in groups.items():
            assert cells[group].score.value == pytest.approx(mean(values)) and cells[group].score.n == len(values)


def render(show: Callable[[Path, Console], None], run_dir: Path, width: int) -> list[str]:
    """What `show(run_dir, console)` prints on a terminal `width` columns wide, line by line."""
    console = Console(file=io.StringIO(), width=width, record=True)
    show(run_dir, console)
    return console.export_text().splitlines()


def check_cells_intact(lines: list[str], width: int, results: RunResults, keys: Iterable[str]) -> None:
    """Every line fits `width`, nothing is cut short with an ellipsis, and each task's headline score (the value
    with its stderr, and its interval) and metric (name and filter) are each whole on one line."""
    assert all(len(line) <= width for line in lines), max(lines, key=len)
    assert not any("…" in line for line in lines)
    for key in keys:
        task = results.tasks[key]
        point, _, interval = task.metrics[task.primary_metric].text().partition(" [")
        for piece in (point, f"[{interval}", *task.primary_metric.split(",")):
            assert any(piece in line for line in lines), (key, piece)
