"""Writing the site: HTML from the templates in leaderboard/, the data embedded as JSON, CSV and JSON downloads."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from instructeval import __version__
from instructeval.gc_pause import gc_paused
from instructeval.leaderboard._collect import discover, latest_comparisons, read_in_full, select
from instructeval.leaderboard._details import model_details
from instructeval.leaderboard._diffs import diff_page_data, diff_page_path
from instructeval.leaderboard._meta import load_models_meta
from instructeval.leaderboard._output import SiteFolder, encoded
from instructeval.leaderboard._page_cache import PageCache, fingerprint
from instructeval.leaderboard._settings_view import settings_view
from instructeval.leaderboard._template import PageTemplate
from instructeval.leaderboard._views import (
    Model,
    alignment_view,
    comparison_view,
    knowledge_view,
    name_models,
    problem_solving_view,
    writing_view,
)
from instructeval.paths import LEADERBOARD_TEMPLATES_DIR as TEMPLATES_DIR
from instructeval.results import Comparison

DEFAULT_TITLE = "instructeval leaderboard"


@dataclass(frozen=True)
class BuiltSite:
    """What a build wrote: the index page and how much went into it."""

    index: Path
    runs: int
    models: int
    comparisons: int


def script_bytes(payload: Any) -> bytes:
    """JSON that is inert inside <script type="application/json">: no '<', '>' or '&' can end or open a tag.
    Encoded by orjson (several times faster than the standard library on a large board); a non-finite float,
    which no score cell holds, would become null."""
    return orjson.dumps(payload).replace(b"&", b"\\u0026").replace(b"<", b"\\u003c").replace(b">", b"\\u003e")


def script_json(payload: Any) -> str:
    """`script_bytes` as text."""
    return script_bytes(payload).decode()


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


def extend_json(encoded_object: bytes, **members: bytes | Sequence[bytes]) -> list[bytes]:
    """A non-empty encoded JSON object with more members whose values are already encoded (each encoded once),
    as the chunks to write in order: a member's value may itself be chunks (a list's items), never joined."""
    chunks = [encoded_object[:-1]]
    for key, value in members.items():
        chunks.append(f",{json.dumps(key)}:".encode())
        chunks.extend([value] if isinstance(value, bytes) else value)
    chunks.append(b"}")
    return chunks


def json_list(items: Sequence[bytes]) -> list[bytes]:
    """Encoded items as the chunks of one encoded JSON list."""
    chunks = [b"["]
    for i, item in enumerate(items):
        chunks += [b",", item] if i else [item]
    chunks.append(b"]")
    return chunks


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
    cache = PageCache(out)
    found = discover(paths, index_only=cache.stamps())
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
    head_json, views_json = script_bytes(head), script_bytes(views)
    summaries = script_bytes([m.summary() for m in models])
    index = PageTemplate(TEMPLATES_DIR / "index.html")
    index_page = site.write(
        "index.html", index.page(title, ".", extend_json(head_json, models=summaries, views=views_json))
    )
    inputs = (__version__, title, str(include_incomplete), found.comparisons_stamp, _file_digest(models_meta))
    details = _model_pages(site, cache, models, comparisons, diff_pages, title, inputs, include_incomplete)
    diff = PageTemplate(TEMPLATES_DIR / "diff.html")
    for (comparison, label), path in zip(comparisons, diff_pages, strict=True):
        data = script_bytes(diff_page_data(comparison, label, models))
        name = f"{comparison.base_model} → {comparison.other_model} · {title}"
        site.write(path, diff.page(name, "..", extend_json(head_json, comparison=data)))
    for view in views:
        site.write(f"data/{view['id']}.csv", [encoded(view_csv(view))])
    site.write("data/leaderboard.json", extend_json(head_json, models=json_list(details), views=views_json))
    site.finish()
    return BuiltSite(index=index_page, runs=len(found.runs), models=len(models), comparisons=len(comparisons))


def _model_pages(
    site: SiteFolder,
    cache: PageCache,
    models: Sequence[Model],
    comparisons: Sequence[tuple[Comparison, str]],
    diff_pages: Sequence[str],
    title: str,
    inputs: tuple[str, ...],
    include_incomplete: bool,
) -> list[bytes]:
    """Write each model's page, or keep the one an earlier build wrote from the same inputs; each page's data."""
    template = PageTemplate(TEMPLATES_DIR / "model.html")
    shared = fingerprint(*inputs, template.source)
    head = extend_json(script_bytes({"title": title, "version": __version__}), model=b"")[:-1]
    details = []
    for model in models:
        stamps = [run.stamp for run in model.runs.runs]
        key = fingerprint(shared, model.name, model.page, *sorted(f"{r.shown}@{r.stamp}" for r in model.runs.runs))
        before, after = template.around(f"{model.name} · {title}", "..")
        start, end = [before, *head], [b"}", after]
        kept = _kept_page(site, cache, model.page, key, b"".join(start), b"".join(end))
        if kept is None:
            detail = script_bytes(model_details(_read_in_full(model, include_incomplete), comparisons, diff_pages))
            status = site.overwrite(model.page, [*start, detail, *end])
        else:
            detail, status = kept
        cache.put(model.page, key, status, stamps)
        details.append(detail)
    cache.save()
    return details


def _read_in_full(model: Model, include_incomplete: bool) -> Model:
    """The model with every breakdown of its runs, for its page (runs read for the index only are read again)."""
    runs = [read_in_full(run) for run in model.runs.runs]
    if all(new is old for new, old in zip(runs, model.runs.runs, strict=True)):
        return model
    (entry,) = select(runs, include_incomplete=include_incomplete)
    return replace(model, runs=entry)


def _kept_page(
    site: SiteFolder, cache: PageCache, page: str, key: str, start: bytes, end: bytes
) -> tuple[bytes, os.stat_result] | None:
    """The data and file status of the model page an earlier build wrote from the same inputs, when the file is
    still that page."""
    held = site.read(page)
    if held is None or not cache.holds(page, key, held[1]):
        return None
    text, status = held
    if len(text) < len(start) + len(end) or not (text.startswith(start) and text.endswith(end)):
        return None
    site.keep(page)
    return text[len(start) : len(text) - len(end)], status
