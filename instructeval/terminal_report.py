"""The end-of-run summary table, read from results.json like every other consumer."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from instructeval.results import load_results
from instructeval.table_fit import SCORE_HEADER, fitted, metric_cell, new_table, score_cell
from instructeval.writing.report import WritingSection


def print_summary(run_dir: Path, console: Console | None = None) -> None:
    """Task, metric, value ± stderr [95 % CI], n, wall time; fitted to the console's width."""
    results = load_results(run_dir)
    console = console or Console()

    def build(narrow: bool) -> Table:
        columns = {"task": "left", "metric": "left", SCORE_HEADER: "right", "n": "right", "time": "right"}
        table = new_table(f"{results.model.spec} — {run_dir}", columns, narrow)
        for name, task in results.tasks.items():
            score = task.metrics.get(task.primary_metric)
            table.add_row(
                name,
                metric_cell(task.primary_metric, narrow),
                score_cell(score, narrow),
                str(score.n if score else 0),
                f"{task.wall_seconds:.1f}s",
            )
        return table

    console.print(fitted(build, console))
    for table in writing_tables(results.writing):
        console.print(table)


def writing_tables(section: WritingSection | None) -> list[Table]:
    """The judge's tables for the writing section (pointwise and/or pairwise), when the run was graded."""
    if section is None:
        return []
    from instructeval.judge.report import format_table

    return [format_table(report) for report in (section.pointwise, section.pairwise) if report is not None]
