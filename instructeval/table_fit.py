"""Tables that fit the terminal: one line per row where the console is wide enough, otherwise each cell broken
at its own seams (a score above its interval, a metric above its filter), so that an 80-column terminal never
splits a number or cuts a name short."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from instructeval.score import MISSING, Score

UNBOUNDED = 10_000
SCORE_HEADER = "value ± stderr [95% CI]"


def fitted(build: Callable[[bool], Table], console: Console) -> Table:
    """`build(narrow)`'s table: the one-line-per-row form when it fits the console's width, else the narrow one."""
    wide = build(False)
    unbounded = console.options.update_width(UNBOUNDED)  # rich clamps a measurement to the width it is given
    return wide if console.measure(wide, options=unbounded).maximum <= console.width else build(True)


def score_cell(score: Score | None, narrow: bool) -> str:
    """'value ± stderr [low, high]'; narrow: the interval on a line of its own."""
    if score is None:
        return MISSING
    text = score.text()
    point, seam, interval = text.partition(" [")
    return f"{point}\n[{interval}" if narrow and seam else text


def metric_cell(metric: str, narrow: bool) -> str:
    """lm-eval's 'metric,filter' key; narrow: the filter on a line of its own."""
    return metric.replace(",", ",\n") if narrow else metric


def new_table(title: str, columns: dict[str, str], narrow: bool) -> Table:
    """A table with these columns (name -> justify); in the narrow form the score's header takes two lines like
    its cells, and a name longer than its column folds instead of being cut."""
    table = Table(title=title)
    for name, justify in columns.items():
        header = name.replace(" [", "\n[") if narrow and name == SCORE_HEADER else name
        table.add_column(header, justify=justify, overflow="fold" if narrow else "ellipsis")  # type: ignore[arg-type]
    return table
