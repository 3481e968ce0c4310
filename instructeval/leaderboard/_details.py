"""A model's page data: every task's metrics with CIs, breakdowns and provenance; writing, knowledge, comparisons."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import orjson

from instructeval.leaderboard._breakdowns import EncodedBreakdowns
from instructeval.leaderboard._collect import Picked
from instructeval.leaderboard._settings_view import model_grid
from instructeval.leaderboard._views import (
    AVERAGE,
    Model,
    average,
    cell,
    comparison_cell,
    comparison_key,
    comparison_label,
    contamination_mark,
    curve_data,
    is_alignment,
    judge_warnings,
    primary_score,
    problem_solving_tasks,
    result_label,
    scale_of,
    setting_label,
    task_label,
)
from instructeval.results import Comparison
from instructeval.run import LoadedRun


def run_provenance(run: LoadedRun) -> dict[str, Any]:
    """Where a number came from: the run folder, when, with which suite version, on what, with which model files."""
    info, model = run.results.run, run.results.model
    return {
        "run": run.shown,
        "status": info.status,
        "started_at": info.started_at,
        "finished_at": info.finished_at,
        "suite_version": info.instructeval_version,
        "seed": info.seed,
        "limit": info.limit,
        "device": info.device,
        "config_hash": info.config_hash,
        "revision": model.revision,
        "adapter_hash": model.adapter_hash,
    }


RunIndex = dict[int, int]
"""Position of each run (by object identity) in the page's `runs` list, which holds each run's provenance once."""


def _task(task: str, picked: Picked, breakdowns: bytes, run_index: RunIndex) -> dict[str, Any]:
    result = picked.result
    primary = result.primary_metric
    cells = {name: cell(score) for name, score in result.metrics.items()}
    metrics = [{"metric": name, "cell": c, **scale_of([c])} for name, c in cells.items()]
    return {
        "task": task,
        "label": result_label(task, picked),
        "metric": primary,
        "cell": cells.get(primary),
        **scale_of([cells.get(primary)]),
        "metrics": metrics,
        "breakdowns": orjson.Fragment(breakdowns),
        "contamination": contamination_mark(picked),
        "provenance": {
            "run_index": run_index[id(picked.run)],
            "protocol": f"{result.protocol} v{result.protocol_version}",
            "num_fewshot": result.num_fewshot,
            "setting": setting_label(result),
            "data_source": result.data_source,
            "data_hash": result.data_hash,
            "prompt_hash": result.prompt_hash,
            "chat_template": result.chat_template_applied,
            "chat_template_hash": result.chat_template_hash,
            "n_samples": result.n_samples,
        },
    }


@cache
def _core_positions() -> dict[str, int]:
    return {task: i for i, task in enumerate(problem_solving_tasks())}


def _task_order(task: str) -> tuple[int, int, str]:
    position = _core_positions().get(task)
    if position is not None:
        return (0, position, task)
    return (2 if is_alignment(task) else 1, 0, task)


def _writing(model: Model, run_index: RunIndex) -> dict[str, Any] | None:
    if model.runs.writing is None:
        return None
    report, run = model.runs.writing
    return {
        "judges": report.judges,
        "warnings": judge_warnings(report),
        "rubrics": [
            {"name": name, "version": str(info.version), "sha256": info.sha256} for name, info in report.rubrics.items()
        ],
        "scores": [
            {
                "rubric": rubric,
                "groups": [
                    {"group": group, "cell": cell(judged.score), "missing": judged.missing_answers}
                    for group, judged in groups.items()
                ],
            }
            for rubric, groups in report.scores.items()
        ],
        "provenance": {"run_index": run_index[id(run)]},
    }


def _knowledge(model: Model, run_index: RunIndex) -> list[dict[str, Any]]:
    return [
        {
            "set": result.knowledge_set,
            "method": result.method,
            "tuned_model": result.tuned_model,
            "cells": [
                {"split": split, "scorer": scorer, "cell": cell(c.score)}
                for split, cells in result.splits.items()
                for scorer, c in cells.items()
            ],
            "curve": curve_data(result),
            "provenance": {"run_index": run_index[id(run)]},
        }
        for result, run in model.runs.knowledge
    ]


def _comparisons(
    model: Model, comparisons: Sequence[tuple[Comparison, str]], diff_pages: Sequence[str]
) -> list[dict[str, Any]]:
    mine = []
    for (comparison, label), diff_page in zip(comparisons, diff_pages, strict=True):
        if model.runs.key in (comparison.base.model, comparison.other.model):
            mine.append(
                {
                    "base": comparison.base_model,
                    "other": comparison.other_model,
                    "file": label,
                    "created_at": comparison.created_at,
                    "alpha": comparison.alpha,
                    "forced": comparison.forced,
                    "mismatches": comparison.mismatches,
                    "diff_page": diff_page,
                    "flipped": sum(len(t.flipped) for t in comparison.tasks),
                    "tasks": [
                        {
                            "task": t.task,
                            "label": comparison_label(comparison_key(t, comparison)),
                            "test": t.test,
                            "verdict": t.verdict,
                            "cell": comparison_cell(t),
                            **scale_of([[c[6], c[7]]] if (c := comparison_cell(t)) else []),
                        }
                        for t in comparison.tasks
                    ],
                }
            )
    return mine


def model_details(
    model: Model,
    breakdowns: Mapping[int, EncodedBreakdowns],
    comparisons: Sequence[tuple[Comparison, str]],
    diff_pages: Sequence[str],
) -> dict[str, Any]:
    """Everything the model's page shows, ready for orjson; sections point into `runs` for their run's provenance.
    `breakdowns` holds the encoded breakdowns of each run (by object identity) the model's tasks come from."""
    tasks = sorted(model.runs.tasks.items(), key=lambda item: _task_order(item[0]))
    runs = sorted(model.runs.runs, key=lambda r: r.started, reverse=True)
    run_index = {id(run): i for i, run in enumerate(runs)}
    info = model.info
    return {
        **model.summary(),
        "backend": info.backend,
        "model_name": info.name,
        "adapter": info.adapter,
        "revision": info.revision,
        "average": {
            "id": AVERAGE,
            "tasks": [task_label(t) for t in problem_solving_tasks()],
            "cell": average([primary_score(model.runs.tasks.get(t)) for t in problem_solving_tasks()]),
        },
        "tasks": [
            _task(name, picked, breakdowns[id(picked.run)].get(picked.name, b"[]"), run_index) for name, picked in tasks
        ],
        "settings": model_grid(model),
        "writing": _writing(model, run_index),
        "knowledge": _knowledge(model, run_index),
        "comparisons": _comparisons(model, comparisons, diff_pages),
        "runs": [run_provenance(r) for r in runs],
    }
