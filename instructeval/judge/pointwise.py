"""Pointwise grading: every answer x judge x rubric x repeat gets a 1-5 score or is recorded as missing.

An answer's score for a rubric is the mean over judges of each judge's mean over its valid repeats; category
and overall means, stderrs and CIs are taken over answers (`instructeval.stats.summarize`, bounded).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from instructeval.judge.agreement import agreement
from instructeval.judge.answers import attach_judgments, judged_prompt, load_answers
from instructeval.judge.calibration import calibrate
from instructeval.judge.length import answer_length, length_correlation, length_unit
from instructeval.judge.options import JudgeOptions
from instructeval.judge.parsing import parse_score
from instructeval.judge.report import budget_report, rubric_info, usage_report
from instructeval.judge.rubric import Rubric, load_rubric
from instructeval.judge.runner import Job, Progress, run_jobs
from instructeval.judge.self_preference import self_preference
from instructeval.results import SAMPLES_DIR, load_results
from instructeval.stats import summarize
from instructeval.writing.report import (
    OVERALL,
    AgreementReport,
    CalibrationReport,
    GroupScore,
    LengthCorrelation,
    WritingReport,
)

JUDGMENTS_FIELD = "judgments"

# (judge, rubric, doc_id) -> valid scores in repeat order, and the count of judgments without one
Scores = dict[tuple[str, str, str], list[float]]


def grade_run(
    run_dir: Path, options: JudgeOptions, *, task: str = "writing", progress: Progress | None = None
) -> WritingReport:
    """Grade every stored answer of `task` in `run_dir`; write judgments to the samples; return the report.

    Judgments are journalled to `samples/<task>_judgments.jsonl` as they complete, so a killed run loses
    nothing and a rerun asks nothing twice. Save the report with `save_writing_report`.
    """
    samples = load_answers(run_dir, task)
    rubrics = [load_rubric(name) for name in options.rubrics]
    jobs = build_jobs(samples, rubrics, options)
    journal = run_dir / SAMPLES_DIR / f"{task}_judgments.jsonl"
    outcome = run_jobs(jobs, options, journal, progress)
    attach_judgments(run_dir, task, JUDGMENTS_FIELD, outcome.records)
    not_graded = [job.fields | {"judge": job.judge, "rubric": job.rubric.name} for job in outcome.not_graded]
    return WritingReport(
        task=task,
        judges=[str(spec) for spec in options.judge_specs()],
        rubrics={rubric.name: rubric_info(rubric) for rubric in rubrics},
        repeats=options.repeats,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        n_answers=len(samples),
        complete=not not_graded and all(r["status"] != "failed" for r in outcome.records),
        **summarize_judgments(samples, outcome.records, not_graded, rubrics, options.repeats),
        self_preference=self_preference(options.judges, {"model": load_results(run_dir).model.name}),
        calibration=_calibration(run_dir, rubrics, options, task, outcome.budget.spent_usd),
        usage=usage_report(outcome),
        budget=budget_report(outcome),
        judgments_file=str(journal.relative_to(run_dir)),
    )


def _calibration(
    run_dir: Path, rubrics: Sequence[Rubric], options: JudgeOptions, task: str, spent_usd: float
) -> CalibrationReport | None:
    """The calibration report when asked for, within what the run's budget leaves (None once it is spent)."""
    left = None if options.budget_usd is None else options.budget_usd - spent_usd
    if not options.calibration or (left is not None and left <= 0):
        return None
    return calibrate(run_dir, rubrics, options, task=task, budget_usd=left)


def build_jobs(samples: Sequence[dict[str, Any]], rubrics: Sequence[Rubric], options: JudgeOptions) -> list[Job]:
    """One job per answer x judge x rubric x repeat, in answer order."""
    jobs = []
    for sample in samples:
        inputs = {"prompt": judged_prompt(sample), "answer": str(sample["response"])}
        fields = {"doc_id": str(sample["doc_id"]), "doc_hash": sample["doc_hash"], "category": sample["category"]}
        for spec in options.judge_specs():
            for rubric in rubrics:
                messages = rubric.messages(**{name: inputs[name] for name in rubric.inputs})
                for repeat in range(options.repeats):
                    jobs.append(
                        Job.create(
                            options,
                            judge=str(spec),
                            rubric=rubric,
                            messages=messages,
                            repeat=repeat,
                            parse=parse_score,
                            value_field="score",
                            fields=fields,
                        )
                    )
    return jobs


def summarize_judgments(
    samples: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    not_graded: Sequence[dict[str, Any]],
    rubrics: Sequence[Rubric],
    repeats: int,
) -> dict[str, Any]:
    """Scores per rubric and group (panel and per judge), agreement, repeat spread and length correlation."""
    judges = list(dict.fromkeys(r["judge"] for r in [*records, *not_graded]))
    scores = _valid_scores(records)
    names = [rubric.name for rubric in rubrics]
    unit = length_unit(samples)
    summary: dict[str, Any] = {
        "scores": {name: _group_scores(samples, records, not_graded, scores, judges, name) for name in names},
        "by_judge": {
            judge: {name: _group_scores(samples, records, not_graded, scores, [judge], name) for name in names}
            for judge in judges
        },
        "agreement": {},
        "self_agreement": {},
        "repeat_spread": {},
        "length_correlation": {name: _length_correlations(samples, scores, judges, name, unit) for name in names},
    }
    if len(judges) > 1:
        summary["agreement"] = {name: _inter_judge(records, judges, name) for name in names}
    if repeats > 1:
        for judge in judges:
            summary["self_agreement"][judge] = {name: _self_agreement(records, judge, name, repeats) for name in names}
            summary["repeat_spread"][judge] = {name: _repeat_spread(samples, scores, judge, name) for name in names}
    return summary


def answer_grades(records: Sequence[dict[str, Any]], judges: Sequence[str], rubric: str) -> dict[str, float]:
    """Each graded answer's score for one rubric, by doc_id, computed as the report computes it."""
    scores = _valid_scores(records)
    docs = dict.fromkeys(str(r["doc_id"]) for r in records)
    return {doc: value for doc in docs if (value := _answer_score(scores, judges, rubric, doc)) is not None}


def _valid_scores(records: Sequence[dict[str, Any]]) -> Scores:
    scores: Scores = defaultdict(list)
    for record in records:
        if record["status"] == "scored":
            scores[(record["judge"], record["rubric"], record["doc_id"])].append(float(record["score"]))
    return scores


def _answer_score(scores: Scores, judges: Sequence[str], rubric: str, doc_id: str) -> float | None:
    means = [statistics.fmean(s) for judge in judges if (s := scores.get((judge, rubric, doc_id)))]
    return statistics.fmean(means) if means else None


def _by_group(samples: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sample in samples:
        groups[str(sample["category"])].append(sample)
    return {**groups, OVERALL: list(samples)}


def _group_scores(
    samples: Sequence[dict[str, Any]],
    records: Sequence[dict[str, Any]],
    not_graded: Sequence[dict[str, Any]],
    scores: Scores,
    judges: Sequence[str],
    rubric: str,
) -> dict[str, GroupScore]:
    mine = [r for r in records if r["rubric"] == rubric and r["judge"] in judges]
    skipped = [r for r in not_graded if r["rubric"] == rubric and r["judge"] in judges]
    out = {}
    for group, members in _by_group(samples).items():
        ids = [str(s["doc_id"]) for s in members]
        judged = [r for r in mine if r["doc_id"] in set(ids)]
        values = [v for doc in ids if (v := _answer_score(scores, judges, rubric, doc)) is not None]
        out[group] = GroupScore(
            score=summarize(values, kind="bounded"),
            missing_answers=len({r["doc_id"] for r in judged}) - len(values),
            missing_judgments=sum(r["status"] != "scored" for r in judged),
            judgments=len(judged),
            not_graded=sum(r["doc_id"] in set(ids) for r in skipped),
        )
    return out


def _inter_judge(records: Sequence[dict[str, Any]], judges: Sequence[str], rubric: str) -> AgreementReport:
    """Judges agree on a judgment unit (answer, repeat) when both scored it."""
    ratings: dict[str, dict[tuple[str, int], int]] = {judge: {} for judge in judges}
    for r in records:
        if r["rubric"] == rubric and r["status"] == "scored" and r["judge"] in ratings:
            ratings[r["judge"]][(r["doc_id"], int(r["repeat"]))] = int(r["score"])
    return agreement(ratings)


def _self_agreement(records: Sequence[dict[str, Any]], judge: str, rubric: str, repeats: int) -> AgreementReport:
    """One judge's repeats as raters of the same answers."""
    ratings: dict[str, dict[str, int]] = {f"repeat {i}": {} for i in range(repeats)}
    for r in records:
        if r["judge"] == judge and r["rubric"] == rubric and r["status"] == "scored":
            ratings[f"repeat {r['repeat']}"][r["doc_id"]] = int(r["score"])
    return agreement(ratings)


def _repeat_spread(samples: Sequence[dict[str, Any]], scores: Scores, judge: str, rubric: str) -> float | None:
    """Mean over answers of the standard deviation of one judge's repeated scores (answers with 2+ scores)."""
    spreads = [statistics.stdev(s) for x in samples if len(s := scores.get((judge, rubric, str(x["doc_id"])), [])) > 1]
    return statistics.fmean(spreads) if spreads else None


def _length_correlations(
    samples: Sequence[dict[str, Any]], scores: Scores, judges: Sequence[str], rubric: str, unit: str
) -> dict[str, LengthCorrelation]:
    out = {}
    for group, members in _by_group(samples).items():
        pairs = [
            (value, answer_length(s, unit))
            for s in members
            if (value := _answer_score(scores, judges, rubric, str(s["doc_id"]))) is not None
        ]
        out[group] = length_correlation([p[0] for p in pairs], [p[1] for p in pairs], unit)
    return out
