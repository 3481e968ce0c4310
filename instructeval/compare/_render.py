"""A comparison as a rich terminal table, a markdown table (papers, PRs) or JSON (the leaderboard)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from instructeval.results import Comparison, PairedTaskComparison
from instructeval.score import Score

COLUMNS = (
    "task",
    "metric",
    "n",
    "base",
    "other",
    "Δ other - base [95% CI]",
    "test",
    "p",
    "p Holm",
    "W/L/T",
    "verdict",
    "MDE",
    "",
)
UP, DOWN = "▲", "▼"


def difference_text(score: Score, digits: int = 3) -> str:
    """'+0.050 [-0.010, +0.110]', or '—'."""
    return score.text(digits, stderr=False, signed=True)


def p_text(p: float | None) -> str:
    """Three significant digits, or '—' when the task had no test."""
    return "—" if p is None else f"{p:.3g}"


def marker(row: PairedTaskComparison) -> str:
    """▲ significantly better, ▼ significantly worse (Holm-adjusted), '' otherwise."""
    if not row.significant or row.difference.value is None:
        return ""
    return UP if row.difference.value > 0 else DOWN


def row_label(row: PairedTaskComparison) -> str:
    """The task, and the breakdown group when the row covers one: 'writing · creative'."""
    return f"{row.task} · {row.group}" if row.group else row.task


def _cells(row: PairedTaskComparison) -> list[str]:
    return [
        row_label(row),
        row.metric,
        str(row.n_paired),
        row.base.text(),
        row.other.text(),
        difference_text(row.difference),
        row.test,
        p_text(row.p_value),
        p_text(row.p_adjusted),
        f"{row.wins}/{row.losses}/{row.ties}",
        row.verdict or "—",
        "—" if row.mde is None else f"{row.mde:.3f}",
        marker(row),
    ]


def footer(comparison: Comparison) -> str:
    """What the marks mean, and whether mismatches were overridden."""
    text = (
        f"{UP}/{DOWN}: significant at alpha={comparison.alpha} after Holm-Bonferroni across the "
        f"{len(comparison.tasks)} rows; W/L/T: examples where other scored higher / lower / the same; "
        "scores ± stderr [95% CI]; verdict: better/worse (significant after Holm), equivalent within "
        f"±{comparison.margin} (two one-sided tests at alpha), or inconclusive; MDE: the smallest difference "
        "these pairs detect with 80% power."
    )
    if comparison.forced:
        text += f" FORCED despite: {'; '.join(comparison.mismatches)}."
    return text


def comparison_table(comparison: Comparison) -> Table:
    """The terminal table; significant rows are green (better) or red (worse)."""
    table = Table(
        title=f"{comparison.other_model} vs {comparison.base_model} (base)",
        caption=footer(comparison),
        caption_justify="left",
    )
    for column in COLUMNS:
        table.add_column(column, justify="left" if column in ("task", "metric", "test", "verdict") else "right")
    for row in comparison.tasks:
        style = {UP: "bold green", DOWN: "bold red"}.get(marker(row), "")
        table.add_row(*(Text(cell, style=style) for cell in _cells(row)))
    return table


def comparison_markdown(comparison: Comparison) -> str:
    """A GitHub-flavoured markdown table; significant differences in bold with their arrow."""
    lines = [
        f"**{comparison.other_model}** vs **{comparison.base_model}** (base): `{comparison.other_run}` vs "
        f"`{comparison.base_run}`",
        "",
        "| " + " | ".join(column or "sig." for column in COLUMNS) + " |",
        "|" + "|".join(":---" if c in ("task", "metric", "test", "verdict") else "---:" for c in COLUMNS) + "|",
    ]
    for row in comparison.tasks:
        cells = [cell.replace("|", "\\|") for cell in _cells(row)]
        if marker(row):
            cells[5] = f"**{cells[5]}**"
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join([*lines, "", footer(comparison)]) + "\n"


def regressions(comparison: Comparison) -> list[str]:
    """The rows whose verdict is worse, as 'task (metric)'."""
    return [f"{row_label(row)} ({row.metric})" for row in comparison.tasks if row.verdict == "worse"]


def comparisons_json(comparisons: Sequence[Comparison]) -> str:
    """A JSON array with one comparison object per run compared against the base."""
    return json.dumps([c.model_dump(mode="json") for c in comparisons], indent=2, ensure_ascii=False) + "\n"
