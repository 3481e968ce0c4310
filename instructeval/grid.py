"""`--grid`: each task in zero-shot and few-shot, each with direct answers and chains of thought (Flan's prompt
settings), in one run; then one table, task x setting, and under it per task the swing across settings against
the widest 95 % CI (is the setting's effect larger than sampling noise?)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.table import Table

from instructeval.errors import InstructEvalError
from instructeval.registry import TaskInfo
from instructeval.results import load_results
from instructeval.score import MISSING, ScoreLike
from instructeval.settings import base_name, setting_space, with_setting
from instructeval.table_fit import SCORE_HEADER, fitted, metric_cell, new_table, score_cell


def expand_grid(infos: list[TaskInfo]) -> list[TaskInfo]:
    """Every task with settings, once per grid setting (each under its own key); the others once, as they are."""
    expanded: list[TaskInfo] = []
    for info in infos:
        space = setting_space(info)
        expanded += [with_setting(info, setting) for setting in space.grid()] if space else [info]
    if len(expanded) == len(infos):
        raise InstructEvalError(
            f"--grid varies shots and reasoning, which {', '.join(i.name for i in infos)} do not have: drop --grid"
        )
    return expanded


def swing_vs_noise(scores: Sequence[ScoreLike | None]) -> tuple[float, float] | None:
    """A task's setting swing (best minus worst value across its settings) and its widest 95 % CI's width; None
    without a value and an interval to compare."""
    values = [s.value for s in scores if s is not None and s.value is not None]
    widths = [s.ci_high - s.ci_low for s in scores if s and s.ci_low is not None and s.ci_high is not None]
    if not values or not widths:
        return None
    return max(values) - min(values), max(widths)


def grid_table(run_dir: Path, narrow: bool = False) -> Table:
    """Task x setting, for the tasks run in more than one setting: headline value ± stderr [95 % CI] and n; under
    it, per task, the swing across settings (max - min) against the widest CI's width."""
    results = load_results(run_dir)
    by_task: dict[str, list[tuple[str, str]]] = {}
    for key, result in results.tasks.items():
        if result.reasoning is not None:
            by_task.setdefault(base_name(key), []).append((f"{result.num_fewshot}shot-{result.reasoning}", key))
    columns = {"task": "left", "setting": "left", "metric": "left", SCORE_HEADER: "right", "n": "right"}
    table = new_table("prompt settings", columns, narrow)
    swings = []
    for task, settings in ((t, s) for t, s in by_task.items() if len(s) > 1):
        scores = [results.tasks[key].metrics.get(results.tasks[key].primary_metric) for _, key in settings]
        swings.append(f"{task}: {_verdict(swing_vs_noise(scores))}")
        for index, ((setting, key), score) in enumerate(zip(settings, scores, strict=True)):
            table.add_row(
                task if index == 0 else "",
                setting,
                metric_cell(results.tasks[key].primary_metric, narrow),
                score_cell(score, narrow),
                str(score.n if score else 0),
            )
    table.caption = "\n".join(["setting swing vs sampling noise (best - worst vs the widest 95% CI):", *swings])
    table.caption_justify = "left"
    return table


def _verdict(found: tuple[float, float] | None) -> str:
    if found is None:
        return MISSING
    swing, widest = found
    return f"{swing:.3f} vs {widest:.3f} ({'above' if swing > widest else 'within'} noise)"


def print_grid(run_dir: Path, console: Console | None = None) -> None:
    """Print the grid table of a run made with --grid, fitted to the console's width."""
    console = console or Console()
    console.print(fitted(lambda narrow: grid_table(run_dir, narrow), console))
