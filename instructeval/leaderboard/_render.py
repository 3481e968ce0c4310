"""Writing the site: HTML from the templates in leaderboard/, the data embedded as JSON, CSV and JSON downloads."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any

import orjson

from instructeval import __version__
from instructeval.gc_pause import gc_paused
from instructeval.leaderboard._collect import discover, latest_comparisons, select
from instructeval.leaderboard._details import model_details
from instructeval.leaderboard._diffs import diff_page_data, diff_page_path
from instructeval.leaderboard._meta import load_models_meta
from instructeval.leaderboard._output import SiteFolder
from instructeval.leaderboard._page_cache import PageCache, fingerprint
from instructeval.leaderboard._settings_view import settings_view
from instructeval.leaderboard._views import (
    alignment_view,
    comparison_view,
    knowledge_view,
    name_models,
    problem_solving_view,
    writing_view,
)
from instructeval.paths import LEADERBOARD_TEMPLATES_DIR as TEMPLATES_DIR

DEFAULT_TITLE = "instructeval leaderboard"


@dataclass(frozen=True)
class BuiltSite:
    """What a build wrote: the index page and how much went into it."""

    index: Path
    runs: int
    models: int
    comparisons: int


def script_json(payload: Any) -> str:
    """JSON that is inert inside <script type="application/json">: no '<', '>' or '&' can end or open a tag.
    Encoded by orjson (several times faster than the standard library on a large board); a non-finite float,
    which no score cell holds, would become null."""
    text = orjson.dumps(payload).decode()
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _spreadsheet_safe(text: str | None) -> str:
    """Text cells starting like a formula get a leading quote, so a hostile name cannot run in a spreadsheet."""
    if text is None:
        return ""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def view_csv(view: dict[str, Any]) -> str:
    """A view as CSV: the text columns, then value, CI bounds and n per score column (raw; empty = missing)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    header = [c["label"] for c in view["text_columns"]]
    for column in view["columns"]:
        header += [column["id"], f"{column['id']} ci_low", f"{column['id']} ci_high", f"{column['id']} n"]
    writer.writerow(header)
    for row in view["rows"]:
        line = [_spreadsheet_safe(t) for t in row["text"]]
        for value in row["cells"]:
            line += ["" if v is None else v for v in value[:4]] if value else ["", "", "", ""]
        writer.writerow(line)
    return buffer.getvalue()


def extend_json(encoded_object: str, **encoded_members: str) -> str:
    """A non-empty encoded JSON object with more members whose values are already encoded (each encoded once)."""
    members = "".join(f",{json.dumps(key)}:{value}" for key, value in encoded_members.items())
    return f"{encoded_object[:-1]}{members}}}"


def _page(template: Template, title: str, root: str, data: str) -> str:
    return template.substitute(title=html.escape(title), root=root, data=data, generator=f"instructeval {__version__}")


def _file_digest(path: Path | None) -> str:
    return "" if path is None else hashlib.sha256(path.read_bytes()).hexdigest()


def build_site(
    paths: Sequence[Path],
    out: Path,
    *,
    title: str = DEFAULT_TITLE,
    models_meta: Path | None = None,
    include_incomplete: bool = False,
) -> BuiltSite:
    """Build the static site from every results.json / comparison*.json under `paths` into `out`."""
    with gc_paused():
        return _build(paths, out, title=title, models_meta=models_meta, include_incomplete=include_incomplete)


def _build(
    paths: Sequence[Path], out: Path, *, title: str, models_meta: Path | None, include_incomplete: bool
) -> BuiltSite:
    meta = load_models_meta(models_meta) if models_meta else {}
    found = discover(paths)
    models = name_models(select(found.runs, include_incomplete=include_incomplete), meta)
    comparisons = latest_comparisons(found.comparisons)
    diff_pages = [diff_page_path(i) for i in range(len(comparisons))]
    views = [
        problem_solving_view(models),
        settings_view(models),
        writing_view(models),
        alignment_view(models),
        knowledge_view(models),
        comparison_view(models, comparisons, diff_pages),
    ]
    generated_at = datetime.now(UTC).isoformat(timespec="seconds")
    head = {"title": title, "generated_at": generated_at, "version": __version__, "runs": len(found.runs)}

    site = SiteFolder(out)
    site.copy_tree(TEMPLATES_DIR / "assets", "assets")
    index = Template((TEMPLATES_DIR / "index.html").read_text(encoding="utf-8"))
    page = Template((TEMPLATES_DIR / "model.html").read_text(encoding="utf-8"))
    head_json, views_json = script_json(head), script_json(views)
    summaries = script_json([m.summary() for m in models])
    index_page = site.write(
        "index.html", _page(index, title, ".", extend_json(head_json, models=summaries, views=views_json))
    )
    cache = PageCache(out)
    page_head = script_json({"title": title, "version": __version__})
    inputs = fingerprint(
        __version__, title, str(include_incomplete), found.comparisons_stamp, page.template, _file_digest(models_meta)
    )
    details_json = []
    for model in models:
        key = fingerprint(inputs, model.name, model.page, *sorted(f"{r.shown}@{r.stamp}" for r in model.runs.runs))
        detail = cache.get(model.page, key) if (out / model.page).is_file() else None
        if detail is None:
            detail = script_json(model_details(model, comparisons, diff_pages))
            site.write(model.page, _page(page, f"{model.name} · {title}", "..", extend_json(page_head, model=detail)))
            cache.put(model.page, key, detail)
        else:
            site.keep(model.page)
        details_json.append(detail)
    diff = Template((TEMPLATES_DIR / "diff.html").read_text(encoding="utf-8"))
    for (comparison, label), path in zip(comparisons, diff_pages, strict=True):
        data = script_json(diff_page_data(comparison, label, models))
        name = f"{comparison.base_model} → {comparison.other_model} · {title}"
        site.write(path, _page(diff, name, "..", extend_json(head_json, comparison=data)))
    for view in views:
        site.write(f"data/{view['id']}.csv", view_csv(view))
    site.write("data/leaderboard.json", extend_json(head_json, models=f"[{','.join(details_json)}]", views=views_json))
    site.finish()
    cache.save()
    return BuiltSite(index=index_page, runs=len(found.runs), models=len(models), comparisons=len(comparisons))
