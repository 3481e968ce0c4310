"""The writing reports' builders, their merge into results.json's `writing` section, and their tables."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from instructeval.judge.rubric import Rubric
from instructeval.judge.runner import Outcome
from instructeval.run import amend_run
from instructeval.score import MISSING
from instructeval.writing.report import (
    OVERALL,
    BudgetReport,
    GroupScore,
    JudgeUsage,
    PairwiseReport,
    RubricInfo,
    UsageReport,
    WritingReport,
    with_report,
)


def rubric_info(rubric: Rubric) -> RubricInfo:
    """What results record of the rubric that graded."""
    return RubricInfo(name=rubric.name, version=rubric.version, sha256=rubric.sha256)


def usage_report(outcome: Outcome) -> UsageReport:
    """What this invocation sent and paid, summed over the judges."""
    usages = list(outcome.usage.values())
    costs = [usage.cost_usd for usage in usages]
    return UsageReport(
        requests=sum(u.requests for u in usages),
        replies_paid=sum(u.replies_paid for u in usages),
        cache_hits=sum(u.cache_hits for u in usages),
        reused_judgments=outcome.reused,
        prompt_tokens=sum(u.prompt_tokens for u in usages),
        completion_tokens=sum(u.completion_tokens for u in usages),
        usage_estimated=sum(u.usage_estimated for u in usages),
        cost_usd=None if any(cost is None for cost in costs) else sum(c for c in costs if c is not None),
        by_judge={judge: JudgeUsage(**vars(usage)) for judge, usage in outcome.usage.items()},
    )


def budget_report(outcome: Outcome) -> BudgetReport:
    """The spending cap and whether grading stopped on it."""
    state = outcome.budget
    return BudgetReport(limit_usd=state.limit_usd, spent_usd=state.spent_usd, stopped=state.stopped)


def save_writing_report(run_dir: Path, report: WritingReport | PairwiseReport) -> None:
    """Merge the report into a finished run's `writing` section (pointwise or pairwise), under the run's lock."""
    with amend_run(run_dir) as run:
        run.results.writing = with_report(run.results.writing, report)


def format_table(report: WritingReport | PairwiseReport) -> Table:
    """The end-of-run table: per category and overall, with usage and budget in the caption."""
    if isinstance(report, PairwiseReport):
        return _pairwise_table(report)
    table = Table(title=f"Writing, judged by {', '.join(report.judges)} (1-5, mean ± stderr)")
    table.add_column("category")
    for rubric in report.scores:
        table.add_column(rubric, justify="right")
        table.add_column("n / missing", justify="right")
    for group in _groups(report.scores):
        row = [group]
        for scores in report.scores.values():
            cell = scores.get(group)
            row += [_cell(cell), f"{cell.score.n} / {cell.missing_answers}" if cell else ""]
        table.add_row(*row, end_section=group == OVERALL)
    notes = [report.usage.text()]
    if report.calibration is not None:
        notes.append(f"calibration ({report.calibration.n_items} answers with reference grades, quadratic kappa):")
        notes += [f"  {judge.text()}" for judge in report.calibration.judges]
        notes += [f"WARNING: {line}" for line in report.calibration.warnings()]
    for rubric, agreement in report.agreement.items():
        if agreement.mean_kappa is not None:
            alpha = agreement.krippendorff_alpha
            notes.append(
                f"{rubric}: inter-judge weighted kappa {agreement.mean_kappa:.2f}"
                + ("" if alpha is None else f", Krippendorff's ordinal alpha {alpha:.2f}")
            )
    notes += [f"WARNING: {found.text()}" for found in report.self_preference]
    notes += _budget_notes(report.budget, report.complete)
    table.caption = "\n".join(notes)
    return table


def _pairwise_table(report: PairwiseReport) -> Table:
    table = Table(title=f"Writing vs {report.reference_run}, judged by {', '.join(report.judges)} (both orders)")
    table.add_column("category")
    for outcome in report.rates:
        table.add_column(f"{outcome} rate", justify="right")
    table.add_column("n / missing", justify="right")
    for group in _groups(report.rates):
        cells = [report.rates[outcome].get(group) for outcome in report.rates]
        first = cells[0]
        counts = f"{first.score.n} / {first.missing_answers}" if first else ""
        table.add_row(group, *[_cell(c) for c in cells], counts, end_section=group == OVERALL)
    notes = [report.usage.text()]
    consistency = report.order_consistency.get(OVERALL)
    if consistency and consistency.score.value is not None:
        notes.append(f"both orders agreed on {consistency.score.value:.0%} of pairs")
    if report.length_controlled is not None:
        rate = report.length_controlled
        notes.append(f"win rate (ties half) {rate.raw:.1%}, length-controlled {rate.controlled:.1%} ({rate.unit})")
    notes += [f"WARNING: {found.text()}" for found in report.self_preference]
    notes += _budget_notes(report.budget, report.complete)
    table.caption = "\n".join(notes)
    return table


def _cell(group: GroupScore | None) -> str:
    """A judged score as a table cell: 2 digits, no interval (the captions carry the context)."""
    return group.score.text(2, interval=False) if group else MISSING


def _groups(by_name: dict[str, dict[str, GroupScore]]) -> list[str]:
    names: list[str] = []
    for groups in by_name.values():
        names += [group for group in groups if group not in names and group != OVERALL]
    return [*names, OVERALL]


def _budget_notes(budget: BudgetReport, complete: bool) -> list[str]:
    notes = []
    if budget.stopped:
        notes.append(f"STOPPED on the ${budget.limit_usd:g} budget: graded answers are kept; rerun to continue")
    elif not complete:
        notes.append("some judgments failed (see samples); rerun to retry them, replies already paid are cached")
    return notes
