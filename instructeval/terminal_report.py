"""The end-of-run summary table, read from results.json like every other consumer."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from instructeval.results import load_results
from instructeval.score import MISSING
from instructeval.writing.report import WritingSection


def print_summary(run_dir: Path, console: Console | None = None) -> None:
    """Task, metric, value ± stderr [95 % CI], n, wall time."""
    results = load_results(run_dir)
    table = Table(title=f"{results.model.spec} — {run_dir}")
    for column, justify in (
        ("task", "left"),
        ("metric", "left"),
        ("value ± stderr [95% CI]", "right"),
        ("n", "right"),
        ("time", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for name, task in results.tasks.items():
        score = task.metrics.get(task.primary_metric)
        table.add_row(
            name,
            task.primary_metric,
            score.text() if score else MISSING,
            str(score.n if score else 0),
            f"{task.wall_seconds:.1f}s",
        )
    console = console or Console()
    console.print(table)
    for table in writing_tables(results.writing):
        console.print(table)


def writing_tables(section: WritingSection | None) -> list[Table]:
    """The judge's tables for the writing section (pointwise and/or pairwise), when the run was graded."""
    if section is None:
        return []
    from instructeval.judge.report import format_table

    return [format_table(report) for report in (section.pointwise, section.pairwise) if report is not None]
