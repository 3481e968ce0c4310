"""Learning curves (`--curve`): each split's accuracy per epoch, as a table and as an SVG with CI bands.

The SVG is self-contained (no script, no external style), so the run folder, the Markdown report and the
leaderboard's model page all show the same drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from instructeval.knowledge.types import SPLITS, set_slug
from instructeval.results import CurvePoint, KnowledgeResult

COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 520, 300, 48, 140, 28, 40


def curve_splits(curve: Sequence[CurvePoint], scorer: str) -> list[str]:
    """The splits scored by `scorer` at some epoch, memorisation first."""
    present = {split for point in curve for split, cells in point.splits.items() if scorer in cells}
    return [s for s in SPLITS if s in present] + sorted(present - set(SPLITS))


def curve_scorer(result: KnowledgeResult) -> str | None:
    """The scorer a curve is drawn with: the first one the final epoch reports."""
    for cells in result.splits.values():
        return next(iter(cells), None)
    return None


def curve_svg(curve: Sequence[CurvePoint], scorer: str, title: str) -> str:
    """One line per split (accuracy against epoch) with its 95 % CI as a shaded band."""
    epochs = [point.epoch for point in curve]
    low_epoch, high_epoch = min(epochs), max(epochs)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(epoch: int) -> float:
        span = high_epoch - low_epoch
        return LEFT + (plot_w * (epoch - low_epoch) / span if span else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'font-family="sans-serif" font-size="11" role="img" aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" font-size="12" font-weight="bold">{escape(title)}</text>',
    ]
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        parts.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" stroke="#ddd"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.2f}</text>')
    for epoch in epochs:
        parts.append(f'<text x="{x(epoch):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{epoch}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">epoch</text>')
    parts.append(
        f'<text x="12" y="{TOP + plot_h / 2}" text-anchor="middle" transform="rotate(-90 12 {TOP + plot_h / 2})">'
        f"accuracy ({escape(scorer)})</text>"
    )
    for index, split in enumerate(curve_splits(curve, scorer)):
        colour = COLOURS[index % len(COLOURS)]
        scores = [(p.epoch, p.splits[split][scorer].score) for p in curve if scorer in p.splits.get(split, {})]
        points = [(e, s) for e, s in scores if s.value is not None]
        banded = [(e, s) for e, s in points if s.ci_low is not None and s.ci_high is not None]
        if len(banded) > 1:
            upper = [f"{x(e):.1f},{y(s.ci_high or 0):.1f}" for e, s in banded]
            lower = [f"{x(e):.1f},{y(s.ci_low or 0):.1f}" for e, s in reversed(banded)]
            parts.append(f'<polygon points="{" ".join(upper + lower)}" fill="{colour}" fill-opacity="0.15"/>')
        line = " ".join(f"{x(e):.1f},{y(s.value or 0):.1f}" for e, s in points)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts += [f'<circle cx="{x(e):.1f}" cy="{y(s.value or 0):.1f}" r="3" fill="{colour}"/>' for e, s in points]
        legend_y = TOP + 14 * index + 6
        parts.append(
            f'<line x1="{WIDTH - RIGHT + 12}" x2="{WIDTH - RIGHT + 28}" y1="{legend_y}" y2="{legend_y}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(f'<text x="{WIDTH - RIGHT + 32}" y="{legend_y + 4}">{escape(split)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def curve_file_name(result: KnowledgeResult) -> str:
    """Where a run folder keeps a result's curve drawing: curves/<set>_<method>.svg."""
    return f"curves/{set_slug(result.knowledge_set)}_{result.method}.svg"


def save_curve(run_dir: Path, result: KnowledgeResult) -> Path | None:
    """Draw a result's curve into its run folder (None when it has no curve)."""
    scorer = curve_scorer(result)
    if not result.curve or scorer is None:
        return None
    path = run_dir / curve_file_name(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".svg.tmp")
    tmp.write_text(curve_svg(result.curve, scorer, f"{result.knowledge_set} · {result.method}"), encoding="utf-8")
    tmp.replace(path)
    return path
