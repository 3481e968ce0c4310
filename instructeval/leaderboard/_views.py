"""The site's data: the leaderboard views (rows x columns of scores with CIs) and one detail record per model.

Pure functions from collected runs to JSON-ready dicts; the JavaScript only displays what is here. A cell is
`[value, ci_low, ci_high, n]` or None for missing: a missing score is never turned into 0.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from math import isfinite
from typing import Any, get_args

from instructeval.hashing import sha256_text
from instructeval.knowledge.curves import curve_scorer, curve_splits
from instructeval.leaderboard._collect import ModelRuns, Picked
from instructeval.leaderboard._index_schema import IndexScore, IndexTaskResult
from instructeval.leaderboard._meta import Identity, ModelMeta, identify, name_stem, with_meta
from instructeval.registry import all_tasks, suites
from instructeval.results import (
    Comparison,
    KnowledgeResult,
    ModelInfo,
    ModelKey,
    PairedTaskComparison,
)
from instructeval.score import ScoreLike
from instructeval.settings import Setting, base_name
from instructeval.writing.report import WritingReport

Cell = list[Any] | None
AVERAGE = "average"
OVERALL = "overall"
METHODS: tuple[str, ...] = get_args(KnowledgeResult.model_fields["method"].annotation)
MODEL_COLUMNS = [
    {"id": "model", "label": "Model", "kind": "model"},
    {"id": "family", "label": "Family", "kind": "text"},
    {"id": "size", "label": "Size", "kind": "size"},
]
FACTORS = {"base": "Base model", "instruction_data": "Instruction data", "method": "Method"}
"""INSTRUCTEVAL's factors, which --models-meta gives beside family and size: a column where a model has one."""


@dataclass(frozen=True)
class Model:
    """A leaderboard row's model: its runs, the name the site shows, its identity and its page."""

    runs: ModelRuns
    name: str
    identity: Identity
    page: str

    @property
    def info(self) -> ModelInfo:
        return self.runs.latest.results.model

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.info.spec,
            "family": self.identity.family,
            "size": self.identity.size,
            "params": self.identity.params,
            "url": self.identity.url,
            **{key: getattr(self.identity, key) for key in FACTORS},
            "page": self.page,
        }


def task_label(task: str) -> str:
    """The label a task declares (`metadata.label`); a task this version does not know keeps its name."""
    info = all_tasks().get(task)
    return info.label if info else task


def setting_label(result: IndexTaskResult) -> str | None:
    """The prompt setting a result was measured in (`0-shot cot`, `8-shot cot · maj@8`); None for a task with one
    fixed protocol."""
    if result.reasoning is None:
        return None
    label = Setting(result.num_fewshot, result.reasoning).label
    return f"{label} · maj@{result.self_consistency}" if result.self_consistency else label


def result_label(key: str, picked: Picked) -> str:
    """A column's name for the results filed under `key`: the task's label, with the setting when the key names
    one other than the task's default (`GSM8K · 0-shot cot`)."""
    task = base_name(picked.result.task)
    setting = setting_label(picked.result)
    return f"{task_label(task)} · {setting}" if key != task and setting else task_label(key)


def problem_solving_tasks() -> tuple[str, ...]:
    """The `problem-solving` suite: the leaderboard's core columns and its average."""
    return suites()["problem-solving"]


def is_alignment(task: str) -> bool:
    return task == "hhh" or task.startswith("hhh_")


def is_problem_solving(task: str) -> bool:
    return not is_alignment(task) and not task.startswith("writing")


def round6(value: float) -> float:
    """`round(value, 6)`, bit for bit, in about half the time (a site rounds millions of numbers).

    For |value| < 1000, y = value * 1e6 as a float is within 1.2e-7 of the exact product (|y| < 2**30). With r
    the integer nearest y, |y - r| < 0.49 puts the exact product within 0.5 of r: r is the integer round()
    picks, with no tie to break, and round() returns the float nearest to r / 10**6, as r / 1e6 does (both
    exact, the division correctly rounded). r = 0 is left to round(), which keeps the sign of a zero; so is
    anything else (large, a near-tie, nan or infinite).
    """
    if -1e3 < value < 1e3:
        scaled = value * 1e6
        nearest = round(scaled)
        if nearest and -0.49 < scaled - nearest < 0.49:
            return nearest / 1e6
    return round(value, 6)


def _round(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return round6(value)


def cell(score: ScoreLike | None) -> Cell:
    """A score as the site stores it; None (missing) when there is no finite value."""
    return None if score is None else cell_of(score.value, score.ci_low, score.ci_high, score.n)


def cell_of(value: float | None, low: float | None, high: float | None, n: int) -> Cell:
    """`cell` of a score given by its parts."""
    if value is None or not isfinite(value):
        return None
    return [
        round6(value),
        None if low is None or not isfinite(low) else round6(low),
        None if high is None or not isfinite(high) else round6(high),
        n,
    ]


def display_name(info: ModelInfo) -> str:
    """A hub id as is, a local folder by its last part, plus the adapter's folder name when there is one."""
    name = info.name
    if name.startswith(("/", "./", "../", "~")) or "\\" in name:
        name = name_stem(name)
    return f"{name} + {name_stem(info.adapter)}" if info.adapter else name


def page_path(name: str, key: tuple[str, str | None]) -> str:
    """A file name that is safe anywhere, unique per model even when display names collide."""
    digest = sha256_text(repr(key))[:10]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name)[:60].strip("-._") or "model"
    return f"models/{stem}-{digest}.html"


def disambiguate(infos: Sequence[ModelInfo]) -> list[str]:
    """Display names, a repeated one suffixed with its backend, then its spec, until each is unique (in order:
    the last of a repeated name keeps it)."""
    names = [display_name(info) for info in infos]
    for attempt in ("backend", "spec"):
        counts = Counter(names)  # kept current as names change
        for i, info in enumerate(infos):
            if counts[names[i]] > 1:
                counts[names[i]] -= 1
                names[i] = f"{names[i]} ({getattr(info, attempt)})"
                counts[names[i]] += 1
    return names


def name_models(entries: Sequence[ModelRuns], meta: dict[str, ModelMeta]) -> list[Model]:
    """Site names (made unique by backend, then spec), identities (meta overriding the name) and pages."""
    names = disambiguate([e.latest.results.model for e in entries])
    models = []
    for entry, name in zip(entries, names, strict=True):
        info = entry.latest.results.model
        found = next((meta[k] for k in (name, info.name, info.spec, name_stem(info.name)) if k in meta), None)
        identity = with_meta(identify(info.name), found)
        models.append(
            Model(runs=entry, name=name, identity=identity, page=page_path(name, (entry.key.spec, entry.key.adapter)))
        )
    return sorted(models, key=lambda m: m.name.lower())


RAW_SCALE = {"scale": 1, "digits": 2, "unit": ""}
"""How numbers that are not proportions are shown (judge grades 1-5, whatever their values)."""
PERCENT_SCALE = {"scale": 100, "digits": 1, "unit": "%"}
"""How proportions are shown."""


def scale_of(cells: Iterable[Cell]) -> dict[str, Any]:
    """Proportions are shown as percentages (1 decimal), anything else as is (2 decimals)."""
    seen = False
    for c in cells:
        if c is not None:
            for v in c[:3]:
                if v is not None:
                    if not 0.0 <= v <= 1.0:
                        return RAW_SCALE
                    seen = True
    return PERCENT_SCALE if seen else RAW_SCALE


def _column(
    column_id: str, label: str, title: str, cells: Iterable[Cell], hidden: bool = False, raw: bool = False
) -> dict[str, Any]:
    scale = RAW_SCALE if raw else scale_of(cells)
    return {"id": column_id, "label": label, "title": title, "hidden": hidden, **scale}


def model_columns(models: Sequence[Model]) -> list[dict[str, Any]]:
    """A view's columns about the model: name, family, size, and each factor some model has."""
    factors = [key for key in FACTORS if any(getattr(m.identity, key) is not None for m in models)]
    return [*MODEL_COLUMNS, *({"id": key, "label": FACTORS[key], "kind": "text"} for key in factors)]


def model_row(index: int, model: Model, cells: list[Cell], columns: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A view's row of a model: the text of its `model_columns`, a link to its page, its score cells."""
    text = [model.name if c["id"] == "model" else getattr(model.identity, c["id"]) for c in columns]
    return {
        "model": index,
        "text": text,
        "links": [index, *(None for _c in text[1:])],
        "params": model.identity.params,
        "cells": cells,
    }


def contamination_mark(picked: Picked | None) -> dict[str, Any] | None:
    """A task's contaminated share and clean-subset score, where `instructeval contamination --run` found overlap."""
    section = picked.run.results.contamination if picked else None
    checked = section.tasks.get(picked.result.task) if section and picked else None
    if section is None or checked is None or not checked.contaminated:
        return None
    clean = checked.clean_subset
    return {
        "share": cell(checked.contaminated_share),
        "contaminated": len(checked.contaminated),
        "checkable": checked.checkable,
        "ngram": section.ngram,
        "corpus": ", ".join(section.corpus),
        "clean": cell(clean.clean) if clean else None,
        "dirty_minus_clean": cell(clean.dirty_minus_clean) if clean else None,
    }


def primary_score(picked: Picked | None) -> IndexScore | None:
    return picked.result.metrics.get(picked.result.primary_metric) if picked else None


def average(scores: Sequence[ScoreLike | None]) -> Cell:
    """Mean of the tasks' primary scores, missing unless every task has one; CI from the stderrs when all known."""
    if not scores or any(s is None or _round(s.value) is None for s in scores):
        return None
    present = [s for s in scores if s is not None]
    k = len(present)
    mean = sum(s.value or 0.0 for s in present) / k
    errors = [s.stderr for s in present]
    if any(e is None for e in errors):
        return [_round(mean), None, None, None]
    half = 1.96 * math.sqrt(sum((e or 0.0) ** 2 for e in errors)) / k
    return [_round(mean), _round(mean - half), _round(mean + half), None]


def problem_solving_view(models: Sequence[Model]) -> dict[str, Any]:
    """MMLU, BBH, GSM8K, MGSM, HumanEval, DROP, CRASS and their average; other tasks found are hidden columns."""
    core_tasks = problem_solving_tasks()
    found = {t for m in models for t in m.runs.tasks if is_problem_solving(t)}
    extra = sorted(found - set(core_tasks))
    tasks = [*core_tasks, *extra]
    about = model_columns(models)
    first: dict[str, Picked] = {}  # per task: the first model's result, and every result's metric and setting
    metrics: dict[str, set[str]] = {task: set() for task in tasks}
    settings: dict[str, set[str]] = {task: set() for task in tasks}
    rows = []
    for i, model in enumerate(models):  # one pass over each model's results: a large board is read once
        picks = [model.runs.tasks.get(t) for t in tasks]
        for task, pick in zip(tasks, picks, strict=True):
            if pick is not None:
                first.setdefault(task, pick)
                metrics[task].add(pick.result.primary_metric)
                if setting := setting_label(pick.result):
                    settings[task].add(setting)
        scores = [primary_score(p) for p in picks]
        if any(s is not None for s in scores):
            core = scores[: len(core_tasks)]
            row = model_row(i, model, [*(cell(s) for s in scores), average(core)], about)
            marks = {str(j): mark for j, p in enumerate(picks) if (mark := contamination_mark(p))}
            rows.append({**row, "contamination": marks} if marks else row)
    columns = []
    for j, task in enumerate(tasks):
        label = result_label(task, first[task]) if task in first else task_label(task)
        title = f"{label}: {', '.join(sorted(metrics[task])) or 'primary metric'}"
        if settings[task] and label == task_label(task):  # a plain key: say which setting(s) its results were run in
            title += f" ({', '.join(sorted(settings[task]))})"
        column_cells = (r["cells"][j] for r in rows)
        columns.append(_column(task, label, title, column_cells, hidden=task in extra))
    names = ", ".join(task_label(t) for t in core_tasks)
    columns.append(
        _column(AVERAGE, "Average", f"mean of {names}; missing unless all are present", (r["cells"][-1] for r in rows))
    )
    return {
        "id": "problem-solving",
        "label": "Problem solving",
        "note": "Primary metric of each task in its default prompt setting, latest complete run; the average needs "
        "every task. Other settings are columns of their own (hidden until ticked) and fill the prompt-settings view.",
        "text_columns": about,
        "columns": columns,
        "rows": rows,
        "chart": AVERAGE,
        "by_size": True,
    }


def _groups_of(names: Iterable[str]) -> list[str]:
    return [*sorted(set(names) - {OVERALL}), OVERALL]


def alignment_view(models: Sequence[Model]) -> dict[str, Any]:
    """HHH accuracy per category (harmless, helpful, honest, other) and overall, per alignment task."""
    tasks = sorted({t for m in models for t in m.runs.tasks if is_alignment(t)}, key=lambda t: (t != "hhh", t))
    keys: list[tuple[str, str]] = []
    for task in tasks:
        groups = [g for m in models if (p := m.runs.tasks.get(task)) for g in p.result.breakdown.get("category", {})]
        keys += [(task, g) for g in _groups_of(groups)]

    def score(model: Model, task: str, group: str) -> IndexScore | None:
        picked = model.runs.tasks.get(task)
        if picked is None or group == OVERALL:
            return primary_score(picked)
        return picked.result.breakdown.get("category", {}).get(group, {}).get(picked.result.primary_metric)

    about = model_columns(models)
    rows = []
    for i, model in enumerate(models):
        cells = [cell(score(model, t, g)) for t, g in keys]
        if any(c is not None for c in cells):
            rows.append(model_row(i, model, cells, about))
    columns = [
        _column(
            f"{t}:{g}",
            g if len(tasks) == 1 else f"{task_label(t)} · {g}",
            f"{task_label(t)}, {g}",
            (r["cells"][j] for r in rows),
            hidden=t != tasks[0],
        )
        for j, (t, g) in enumerate(keys)
    ]
    return {
        "id": "alignment",
        "label": "Alignment",
        "note": "HHH: how often the model prefers the helpful, honest, harmless answer, per category.",
        "text_columns": about,
        "columns": columns,
        "rows": rows,
        "chart": f"{tasks[0]}:{OVERALL}" if tasks else None,
        "by_size": True,
    }


JUDGE_WARNINGS = {"id": "judge_warnings", "label": "Judge warnings", "kind": "text"}


def judge_warnings(report: WritingReport) -> list[str]:
    """What makes a model's judged scores suspect (self-preference, a judge failing calibration), one line each."""
    calibration = report.calibration.warnings() if report.calibration else []
    return [*(found.text() for found in report.self_preference), *calibration]


def writing_view(models: Sequence[Model]) -> dict[str, Any]:
    """Judge scores (1-5) for relevance and coherence per writing category and overall, and judge warnings."""
    sections = [m.runs.writing[0].scores if m.runs.writing else {} for m in models]
    rubrics = list(dict.fromkeys(r for s in sections for r in s))
    keys = [(r, g) for r in rubrics for g in _groups_of(g for s in sections for g in s.get(r, {}))]
    about = model_columns(models)
    rows = []
    for i, (model, section) in enumerate(zip(models, sections, strict=True)):
        cells = [cell(judged.score if (judged := section.get(r, {}).get(g)) else None) for r, g in keys]
        if any(c is not None for c in cells) and model.runs.writing:
            row = model_row(i, model, cells, about)
            warning = "; ".join(judge_warnings(model.runs.writing[0]))
            row["text"].append(f"⚠ {warning}" if warning else None)
            row["links"].append(None)
            rows.append(row)
    columns = [
        _column(f"{r}:{g}", f"{g} · {r}", f"{r}, {g} (judge score 1-5)", (row["cells"][j] for row in rows), raw=True)
        for j, (r, g) in enumerate(keys)
    ]
    return {
        "id": "writing",
        "label": "Writing",
        "note": "LLM-judge scores from 1 to 5 (pointwise), mean over the answers with a valid verdict; "
        "a judge warning marks scores a judge of the model's own family gave (self-preference) or a judge "
        "that failed calibration.",
        "text_columns": [*about, JUDGE_WARNINGS],
        "columns": columns,
        "rows": rows,
        "chart": f"{rubrics[0]}:{OVERALL}" if rubrics else None,
        "by_size": True,
    }


def curve_data(result: KnowledgeResult) -> dict[str, Any] | None:
    """A learning curve (--curve) as one line per split: [epoch, value, ci_low, ci_high, n] per point."""
    scorer = curve_scorer(result)
    if not result.curve or scorer is None:
        return None
    lines = [
        {
            "split": split,
            "points": [
                [p.epoch, *(cell(p.splits[split][scorer].score) or [None, None, None, None])]
                for p in result.curve
                if scorer in p.splits.get(split, {})
            ],
        }
        for split in curve_splits(result.curve, scorer)
    ]
    return {"scorer": scorer, "epochs": [p.epoch for p in result.curve], "lines": lines}


def knowledge_view(models: Sequence[Model]) -> dict[str, Any]:
    """Knowledge injection: a row per model, knowledge set and scorer; a column per method x split."""
    found: list[tuple[int, KnowledgeResult, str]] = []
    for i, model in enumerate(models):
        for result, _run in model.runs.knowledge:
            found += [(i, result, s) for cells in result.splits.values() for s in cells]
    split_order = list(dict.fromkeys(split for _i, r, _s in found for split in r.splits))
    methods = {r.method for _i, r, _s in found}
    keys = [(m, s) for m in METHODS if m in methods for s in split_order]
    grouped: dict[tuple[int, str, str], dict[tuple[str, str], Cell]] = {}
    for i, result, scorer in found:
        by_cell = grouped.setdefault((i, result.knowledge_set, scorer), {})
        for split, cells in result.splits.items():
            if scorer in cells:
                by_cell[(result.method, split)] = cell(cells[scorer].score)
    about = model_columns(models)
    rows: list[dict[str, Any]] = []
    for (i, kset, scorer), values in grouped.items():
        row = model_row(i, models[i], [values.get(key) for key in keys], about)
        row["text"] += [kset, scorer]
        row["links"] += [None, None]
        rows.append(row)
    columns = [
        _column(f"{m}:{s}", f"{m} · {s}", f"method {m}, split {s}", (r["cells"][j] for r in rows))
        for j, (m, s) in enumerate(keys)
    ]
    return {
        "id": "knowledge",
        "label": "Knowledge injection",
        "note": "Accuracy on probes of injected facts, per method and split; each row names its scorer.",
        "text_columns": [
            *about,
            {"id": "set", "label": "Knowledge set", "kind": "text"},
            {"id": "scorer", "label": "Scorer", "kind": "text"},
        ],
        "columns": columns,
        "rows": rows,
        "chart": columns[0]["id"] if columns else None,
        "curves": [
            {"model": i, "label": f"{models[i].name} · {result.knowledge_set} · {result.method}", "curve": drawn}
            for i, model in enumerate(models)
            for result, _run in model.runs.knowledge
            if (drawn := curve_data(result)) is not None
        ],
    }


def comparison_cell(task: PairedTaskComparison) -> Cell:
    """The paired difference with its CI, the adjusted p-value, the verdict, both scores and wins/losses/ties."""
    diff = cell(task.difference)
    if diff is None:
        return None
    base, other = cell(task.base), cell(task.other)
    return [
        *diff[:3],
        task.n_paired,
        _round(task.p_adjusted),
        bool(task.significant),
        base[0] if base else None,
        other[0] if other else None,
        task.wins,
        task.losses,
        task.ties,
        task.metric,
    ]


def model_index(models: Sequence[Model], key: ModelKey) -> int | None:
    """The row of the model a comparison names (a compared method's run is its model's row)."""
    return next((i for i, model in enumerate(models) if model.runs.key == key.model), None)


ColumnKey = tuple[str, str | None, str | None]
"""(task, metric, group) of a base -> tuned column; metric and group are None for a task's single headline row."""


def comparison_key(row: PairedTaskComparison, comparison: Comparison) -> ColumnKey:
    """A task compared on one metric is one column; a task with several rows (judge rubrics, knowledge scorers,
    categories, splits) gets a column per metric and group."""
    rows_of_task = sum(t.task == row.task for t in comparison.tasks)
    if rows_of_task == 1 and row.group is None:
        return (row.task, None, None)
    return (row.task, row.metric, row.group)


def comparison_label(key: ColumnKey) -> str:
    """'GSM8K', 'Writing · relevance', 'Writing · relevance · creative'."""
    return " · ".join(part for part in (task_label(key[0]), key[1], key[2]) if part)


def comparison_view(
    models: Sequence[Model], comparisons: Sequence[tuple[Comparison, str]], diff_pages: Sequence[str]
) -> dict[str, Any]:
    """Base -> tuned: per task (per rubric, scorer and group where there are several) the paired difference
    (tuned - base) with its CI; significant ones are marked. Each row links to its comparison's diff page."""
    keys = list(dict.fromkeys(comparison_key(t, c) for c, _l in comparisons for t in c.tasks))
    rows: list[dict[str, Any]] = []
    for (comparison, _label), diff_page in zip(comparisons, diff_pages, strict=True):
        by_key = {comparison_key(t, comparison): t for t in comparison.tasks}
        flipped = sum(len(t.flipped) for t in comparison.tasks)
        base, other = model_index(models, comparison.base), model_index(models, comparison.other)
        identity = models[other].identity if other is not None else None
        rows.append(
            {
                "model": other,
                "text": [
                    comparison.base_model,
                    comparison.other_model,
                    "yes" if comparison.forced else "",
                    f"{flipped} flipped",
                ],
                "links": [base, other, None, None],
                "diff": diff_page,
                "params": identity.params if identity else None,
                "cells": [comparison_cell(by_key[k]) if k in by_key else None for k in keys],
            }
        )
    headline = {(task, metric) for task, metric, group in keys if group is None}
    columns = []
    for j, key in enumerate(keys):
        levels = [[c[6], c[7]] if c else None for c in (r["cells"][j] for r in rows)]
        columns.append(
            {
                "id": ":".join(part for part in key if part),
                "label": comparison_label(key),
                "title": f"{comparison_label(key)}: tuned - base",
                "hidden": key[2] is not None and key[:2] in headline,
                **scale_of(levels),
            }
        )
    return {
        "id": "comparisons",
        "label": "Base → tuned",
        "note": "Paired difference (tuned - base) with its 95% CI; writing compares the judge's grades, knowledge "
        "injection each scorer per split; ★ marks significant after Holm correction.",
        "text_columns": [
            {"id": "base", "label": "Base", "kind": "model"},
            {"id": "other", "label": "Tuned", "kind": "model"},
            {"id": "forced", "label": "Forced", "kind": "text"},
            {"id": "diff", "label": "Examples", "kind": "diff"},
        ],
        "columns": columns,
        "rows": rows,
        "chart": columns[0]["id"] if columns else None,
        "delta": True,
    }
