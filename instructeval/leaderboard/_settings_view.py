"""Prompt settings on the leaderboard: a model's grid (task x setting, and the swing across settings against the
widest 95 % CI, as `run --grid` prints it) and the settings view (one column per task and setting, rows = models).

A result's setting is the n-shot, reasoning mode and self-consistency K it records (`setting_id`), whatever key
it is filed under; a column holds one setting only, and a result that records none is in no column."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instructeval.grid import swing_vs_noise
from instructeval.leaderboard._collect import Picked
from instructeval.leaderboard._views import (
    Model,
    cell,
    model_columns,
    model_row,
    primary_score,
    problem_solving_tasks,
    round6,
    scale_of,
    setting_label,
    task_label,
)
from instructeval.settings import REASONINGS, Setting, base_name, setting_key

SETTINGS_VIEW = "settings"


def _order(picked: Picked) -> tuple[int, int, int]:
    """Direct before chain of thought (then English chains), fewer shots first, greedy before a vote."""
    result = picked.result
    reasoning = REASONINGS.index(result.reasoning) if result.reasoning in REASONINGS else len(REASONINGS)
    return (reasoning, result.num_fewshot, result.self_consistency or 0)


def _task_order(task: str) -> tuple[int, str]:
    core = problem_solving_tasks()
    return (core.index(task), task) if task in core else (len(core), task)


def setting_id(picked: Picked) -> str | None:
    """A result's task and setting, the same whichever key it is filed under (`gsm8k@8shot-cot`,
    `gsm8k@8shot-cot+maj8`); None for a task with one fixed protocol (or a run that predates settings)."""
    result = picked.result
    if result.reasoning is None:
        return None
    found = setting_key(base_name(result.task), Setting(result.num_fewshot, result.reasoning))
    return f"{found}+maj{result.self_consistency}" if result.self_consistency else found


def by_setting(model: Model) -> dict[str, Picked]:
    """A model's results measured in a prompt setting, by setting id (the newest run's where two keys hold one)."""
    found: dict[str, Picked] = {}
    for picked in sorted(model.runs.tasks.values(), key=lambda p: p.run.started, reverse=True):
        if (sid := setting_id(picked)) is not None:
            found.setdefault(sid, picked)
    return found


def settings_of(tables: Sequence[dict[str, Picked]]) -> dict[str, list[tuple[str, Picked]]]:
    """Every task measured in a prompt setting -> its settings (id, an example result), in grid order."""
    found: dict[str, dict[str, Picked]] = {}
    for table in tables:
        for sid, picked in table.items():
            found.setdefault(base_name(picked.result.task), {}).setdefault(sid, picked)
    return {
        task: sorted(found[task].items(), key=lambda item: _order(item[1])) for task in sorted(found, key=_task_order)
    }


def model_grid(model: Model) -> list[dict[str, Any]]:
    """A model's grid: per task measured in a setting, each setting's headline value with its CI and n, then the
    swing across the settings (best minus worst) against the widest CI's width (None below two settings)."""
    grid = []
    for task, settings in settings_of([by_setting(model)]).items():
        scores = [primary_score(picked) for _sid, picked in settings]
        cells = [cell(score) for score in scores]
        found = swing_vs_noise(scores) if len(settings) > 1 else None
        grid.append(
            {
                "task": task,
                "label": task_label(task),
                **scale_of(cells),
                "settings": [
                    {
                        "id": sid,
                        "setting": setting_label(picked.result),
                        "metric": picked.result.primary_metric,
                        "cell": c,
                    }
                    for (sid, picked), c in zip(settings, cells, strict=True)
                ],
                "swing": [round6(found[0]), round6(found[1])] if found else None,
            }
        )
    return grid


def settings_view(models: Sequence[Model]) -> dict[str, Any]:
    """One column per task and prompt setting, rows = models: the same setting across models, never two settings
    in one column. The page shows one task's settings at a time (`task` of each column)."""
    tables = [by_setting(model) for model in models]
    settings = [(task, sid, picked) for task, found in settings_of(tables).items() for sid, picked in found]
    about = model_columns(models)
    rows = []
    for i, (model, table) in enumerate(zip(models, tables, strict=True)):
        cells = [cell(primary_score(table.get(sid))) for _t, sid, _p in settings]
        if any(c is not None for c in cells):
            rows.append(model_row(i, model, cells, about))
    columns = []
    for j, (task, sid, picked) in enumerate(settings):
        label = setting_label(picked.result)
        columns.append(
            {
                "id": sid,
                "label": label,
                "title": f"{task_label(task)} · {label}: {picked.result.primary_metric}",
                "hidden": task != settings[0][0],
                "task": task,
                "task_label": task_label(task),
                **scale_of(r["cells"][j] for r in rows),
            }
        )
    return {
        "id": SETTINGS_VIEW,
        "label": "Prompt settings",
        "note": "Each task in every prompt setting it was run in (n-shot, direct answer or chain of thought, maj@K "
        "self-consistency), one column per setting: a column never mixes settings. Pick a task to see its "
        "settings side by side, and a setting to sort and chart the models by it.",
        "text_columns": about,
        "columns": columns,
        "rows": rows,
        "chart": columns[0]["id"] if columns else None,
        "by_size": True,
    }
