"""`inject report`: every knowledge result under some run folders, in FineTuneBench's layout, then the curves.

Markdown keeps the paper's orientation (a row per model); the terminal turns the same cells a quarter turn
(a column per model) so a dozen splits stay readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from instructeval.errors import InstructEvalError
from instructeval.knowledge.curves import curve_file_name, curve_splits
from instructeval.knowledge.paper_table import PaperTable, markdown_table, paper_table, table_cells
from instructeval.knowledge.report import score_text
from instructeval.results import KnowledgeResult, RunResults, load_results

Curve = tuple[Path, str, KnowledgeResult]


def print_run_report(
    paths: Sequence[Path], *, markdown: bool, scorer: str | None, console: Console | None = None
) -> None:
    """Print the paper's table from every knowledge result at or under `paths`, then each learning curve."""
    found = knowledge_runs(paths)
    entries = [(results.model.name, result) for _run, results in found for result in results.knowledge or []]
    if not entries:
        raise InstructEvalError(
            f"no knowledge results under {', '.join(map(str, paths))}: pass runs made by inject or inject score"
        )
    chosen = scorer or default_scorer(entries)
    table = paper_table(entries, chosen)
    curves = [(run, results.model.name, r) for run, results in found for r in results.knowledge or [] if r.curve]
    if markdown:
        print(markdown_table(table))
        for curve in curves:
            print(curve_markdown(curve, chosen))
        return
    console = console or Console()
    console.print(terminal_table(table))
    for run, model, result in curves:
        header, rows = curve_cells(result, chosen)
        grid = Table(title=f"learning curve: {model}, {result.knowledge_set}, {result.method} ({chosen})")
        for column in header:
            grid.add_column(column, justify="right")
        for row in rows:
            grid.add_row(*row)
        console.print(grid)
        console.print(f"drawn in {run / curve_file_name(result)}")


def knowledge_runs(paths: Sequence[Path]) -> list[tuple[Path, RunResults]]:
    """Every run folder (results.json holding a knowledge section) at or under the paths, in path order."""
    found = []
    for path in paths:
        if not path.exists():
            raise InstructEvalError(f"{path} does not exist: pass a run folder such as runs/<model>/<run>")
        folders = [path] if (path / "results.json").is_file() else sorted(p.parent for p in path.rglob("results.json"))
        for folder in folders:
            results = load_results(folder)
            if results.knowledge:
                found.append((folder, results))
    return found


def default_scorer(entries: Sequence[tuple[str, KnowledgeResult]]) -> str:
    """The paper's own `strict` where it was scored, else `exact`, else the first scorer present."""
    scored = {scorer for _m, r in entries for cells in r.splits.values() for scorer in cells}
    return next((s for s in ("strict", "exact") if s in scored), min(scored, default="exact"))


def terminal_table(table: PaperTable) -> Table:
    """The paper's cells with one row per split and one column per model."""
    header, rows = table_cells(table)
    grid = Table(title=f"FineTuneBench layout (one column per model): {table.scorer}", title_justify="left")
    grid.add_column("split")
    for row in rows:
        grid.add_column(row[0], justify="right")
    for index, label in enumerate(header[1:], start=1):
        grid.add_row(label, *(row[index] for row in rows))
    grid.caption = "\n".join(table.notes)
    return grid


def curve_markdown(curve: Curve, scorer: str) -> str:
    """A learning curve as a Markdown table (epoch x split) and a link to its drawing."""
    run, model, result = curve
    header, rows = curve_cells(result, scorer)
    lines = [
        f"### Learning curve: {model}, {result.knowledge_set}, {result.method} ({scorer})",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
        "",
        f"![learning curve]({run / curve_file_name(result)})",
    ]
    return "\n".join(lines) + "\n"


def curve_cells(result: KnowledgeResult, scorer: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of a curve table: one row per epoch, one column per split, '0.50 [0.2, 0.8] (8)' cells."""
    curve = result.curve or []
    splits = curve_splits(curve, scorer)
    rows = [
        [
            str(p.epoch),
            *(score_text(p.splits[s][scorer].score if scorer in p.splits.get(s, {}) else None) for s in splits),
        ]
        for p in curve
    ]
    return ["epoch", *splits], rows
