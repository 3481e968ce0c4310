"""Pairwise grading against a reference run: each pair is judged in both orders to cancel position bias.

Answers are aligned by `doc_id` (and must share `doc_hash`). For each judge and repeat the pair is shown
as (A=model, B=reference) and as (A=reference, B=model); it is a win only when both orders prefer the
model, a loss only when both prefer the reference, and a tie otherwise. Rates are taken over answers.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from instructeval.errors import DataError
from instructeval.judge.answers import attach_judgments, judged_prompt, load_answers
from instructeval.judge.length import answer_length, length_unit
from instructeval.judge.length_control import length_controlled
from instructeval.judge.options import JudgeOptions
from instructeval.judge.parsing import parse_preference
from instructeval.judge.report import budget_report, rubric_info, usage_report
from instructeval.judge.rubric import load_rubric
from instructeval.judge.runner import Job, Progress, run_jobs
from instructeval.judge.self_preference import self_preference
from instructeval.results import SAMPLES_DIR, load_results
from instructeval.stats import Kind, summarize
from instructeval.writing.report import OVERALL, GroupScore, LengthControlledWinRate, PairwiseReport

PAIRWISE_RUBRIC = "pairwise"
JUDGMENTS_FIELD = "pairwise_judgments"
ORDERS = ("model_first", "reference_first")
OUTCOMES = ("win", "loss", "tie")
_OUTCOME_VALUE = {"win": 1.0, "tie": 0.5, "loss": 0.0}
_PREFERRED = {
    ("model_first", "A"): "model",
    ("model_first", "B"): "reference",
    ("reference_first", "A"): "reference",
    ("reference_first", "B"): "model",
}


def grade_pairwise(
    run_dir: Path,
    reference_dir: Path,
    options: JudgeOptions,
    *,
    task: str = "writing",
    reference_task: str = "writing",
    progress: Progress | None = None,
) -> PairwiseReport:
    """Judge every answer of `run_dir` against the same prompt's answer in `reference_dir`, both orders."""
    answers = load_answers(run_dir, task)
    reference = {str(s["doc_id"]): s for s in load_answers(reference_dir, reference_task)}
    pairs, unaligned = align(answers, reference)
    if not pairs:
        raise DataError(f"no answer in {run_dir} matches one in {reference_dir} by doc_id and doc_hash: same prompts?")
    rubric = load_rubric(PAIRWISE_RUBRIC)
    jobs = []
    for sample, ref in pairs:
        shown = {
            "model_first": (sample["response"], ref["response"]),
            "reference_first": (ref["response"], sample["response"]),
        }
        for spec in options.judge_specs():
            for repeat in range(options.repeats):
                for order in ORDERS:
                    first, second = shown[order]
                    jobs.append(
                        Job.create(
                            options,
                            judge=str(spec),
                            rubric=rubric,
                            messages=rubric.messages(
                                prompt=judged_prompt(sample), answer_a=str(first), answer_b=str(second)
                            ),
                            repeat=repeat,
                            parse=parse_preference,
                            value_field="winner",
                            fields={
                                "doc_id": str(sample["doc_id"]),
                                "doc_hash": sample["doc_hash"],
                                "category": sample["category"],
                                "order": order,
                            },
                        )
                    )
    journal = run_dir / SAMPLES_DIR / f"{task}_pairwise_judgments.jsonl"
    outcome = run_jobs(jobs, options, journal, progress)
    attach_judgments(run_dir, task, JUDGMENTS_FIELD, outcome.records)
    rates, consistency = pairwise_rates([s for s, _ in pairs], outcome.records)
    return PairwiseReport(
        task=task,
        reference_run=str(reference_dir),
        judges=[str(spec) for spec in options.judge_specs()],
        rubric=rubric_info(rubric),
        repeats=options.repeats,
        temperature=options.temperature,
        max_tokens=options.max_tokens,
        n_pairs=len(pairs),
        unaligned=unaligned,
        complete=not outcome.not_graded and all(r["status"] != "failed" for r in outcome.records),
        rates=rates,
        order_consistency=consistency,
        length_controlled=length_controlled_rate(pairs, outcome.records),
        self_preference=self_preference(
            options.judges,
            {"model": load_results(run_dir).model.name, "reference": load_results(reference_dir).model.name},
        ),
        usage=usage_report(outcome),
        budget=budget_report(outcome),
        judgments_file=str(journal.relative_to(run_dir)),
    )


def align(
    answers: Sequence[dict[str, Any]], reference: dict[str, dict[str, Any]]
) -> tuple[list[tuple[dict[str, Any], dict[str, Any]]], dict[str, int]]:
    """Pairs of (answer, reference answer) by doc_id, and counts of what could not be paired and why."""
    pairs, mismatched = [], 0
    for sample in answers:
        ref = reference.get(str(sample["doc_id"]))
        if ref is None:
            continue
        if ref["doc_hash"] != sample["doc_hash"]:
            mismatched += 1
            continue
        pairs.append((sample, ref))
    ids = {str(s["doc_id"]) for s in answers}
    return pairs, {
        "only_in_run": sum(str(s["doc_id"]) not in reference for s in answers),
        "only_in_reference": sum(doc not in ids for doc in reference),
        "doc_hash_mismatch": mismatched,
    }


def combine_orders(first: str | None, second: str | None) -> str | None:
    """One (judge, repeat) outcome from the two orders' preferences ('model', 'reference', 'tie' or None)."""
    if first is None or second is None:
        return None
    if first == second and first != "tie":
        return "win" if first == "model" else "loss"
    return "tie"


def judged_pairs(records: Sequence[dict[str, Any]]) -> dict[tuple[str, str, int], dict[str, str | None]]:
    """(doc_id, judge, repeat) -> the answer each order preferred ('model', 'reference', 'tie', None if unscored).

    Only pairs judged in both orders are kept: one order never graded (budget) is not a judged pair.
    """
    preferences: dict[tuple[str, str, int], dict[str, str | None]] = defaultdict(dict)
    for r in records:
        preferred = _PREFERRED.get((r["order"], r["winner"]), "tie") if r["status"] == "scored" else None
        preferences[(str(r["doc_id"]), r["judge"], int(r["repeat"]))][r["order"]] = preferred
    return {key: by_order for key, by_order in preferences.items() if set(by_order) == set(ORDERS)}


def length_controlled_rate(
    pairs: Sequence[tuple[dict[str, Any], dict[str, Any]]], records: Sequence[dict[str, Any]]
) -> LengthControlledWinRate | None:
    """Raw and length-controlled win rate over every judged (answer, judge, repeat); None when none is judged."""
    unit = length_unit([sample for pair in pairs for sample in pair])
    difference = {str(s["doc_id"]): answer_length(s, unit) - answer_length(r, unit) for s, r in pairs}
    rows = [
        (_OUTCOME_VALUE[result], difference[doc])
        for (doc, _, _), by_order in judged_pairs(records).items()
        if (result := combine_orders(by_order["model_first"], by_order["reference_first"])) is not None
    ]
    if not rows:
        return None
    outcomes, differences = [row[0] for row in rows], [row[1] for row in rows]
    controlled, slope = length_controlled(outcomes, differences)
    return LengthControlledWinRate(
        raw=statistics.fmean(outcomes), controlled=controlled, slope=slope, n=len(rows), unit=unit
    )


def pairwise_rates(
    answers: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]]
) -> tuple[dict[str, dict[str, GroupScore]], dict[str, GroupScore]]:
    """Win/loss/tie rates per group, and how often the two orders agreed, over answers."""
    outcomes: dict[str, list[str | None]] = defaultdict(list)
    agreed: dict[str, list[bool]] = defaultdict(list)
    for (doc, _, _), by_order in judged_pairs(records).items():
        first, second = by_order["model_first"], by_order["reference_first"]
        outcomes[doc].append(combine_orders(first, second))
        if first is not None and second is not None:
            agreed[doc].append(first == second)
    groups: dict[str, list[str]] = defaultdict(list)
    for sample in answers:
        groups[str(sample["category"])].append(str(sample["doc_id"]))
    groups[OVERALL] = [str(s["doc_id"]) for s in answers]
    rates: dict[str, dict[str, GroupScore]] = {outcome: {} for outcome in OUTCOMES}
    consistency: dict[str, GroupScore] = {}
    for group, ids in groups.items():
        judged = [doc for doc in ids if outcomes.get(doc)]
        valid = {doc: [o for o in outcomes[doc] if o is not None] for doc in judged}
        scored = [doc for doc in judged if valid[doc]]
        counts = {
            "missing_answers": len(judged) - len(scored),
            "missing_judgments": sum(o is None for doc in judged for o in outcomes[doc]),
            "judgments": sum(len(outcomes[doc]) for doc in judged),
        }
        for outcome in OUTCOMES:
            fractions = [statistics.fmean(o == outcome for o in valid[doc]) for doc in scored]
            kind: Kind = "binary" if all(f in (0.0, 1.0) for f in fractions) else "bounded"
            rates[outcome][group] = GroupScore(score=summarize(fractions, kind=kind), **counts)
        agreement = [statistics.fmean(agreed[doc]) for doc in scored if agreed.get(doc)]
        kind = "binary" if all(f in (0.0, 1.0) for f in agreement) else "bounded"
        consistency[group] = GroupScore(score=summarize(agreement, kind=kind))
    return rates, consistency
