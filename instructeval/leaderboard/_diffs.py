"""A page per comparison listing its flipped examples: what was asked, both answers, scores and judge reasons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instructeval.leaderboard._views import Model, comparison_cell, comparison_key, comparison_label, model_index
from instructeval.results import Comparison

DIFFS_FOLDER = "diffs"


def diff_page_path(index: int) -> str:
    """Where the diff page of the index-th comparison goes, relative to the site's root."""
    return f"{DIFFS_FOLDER}/comparison-{index}.html"


def diff_page_data(comparison: Comparison, label: str, models: Sequence[Model]) -> dict[str, Any]:
    """The comparison's verdicts per row and every flipped example, JSON-ready (strings stay data, never markup)."""
    base, other = model_index(models, comparison.base), model_index(models, comparison.other)
    return {
        "base": comparison.base_model,
        "other": comparison.other_model,
        "base_page": models[base].page if base is not None else None,
        "other_page": models[other].page if other is not None else None,
        "file": label,
        "created_at": comparison.created_at,
        "alpha": comparison.alpha,
        "margin": comparison.margin,
        "rows": [
            {
                "label": comparison_label(comparison_key(row, comparison)),
                "metric": row.metric,
                "verdict": row.verdict,
                "mde": row.mde,
                "cell": comparison_cell(row),
                "flipped": len(row.flipped),
            }
            for row in comparison.tasks
        ],
        "flips": [
            {"task": row.task, "metric": row.metric, **flip.model_dump(mode="json")}
            for row in comparison.tasks
            for flip in row.flipped
        ],
    }
