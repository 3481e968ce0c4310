"""Writing the site: HTML from the templates in leaderboard/, the data embedded as JSON, CSV and JSON downloads."""

from __future__ import annotations

import csv
import hashlib
import io
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from instructeval import __version__
from instructeval.forked import Forked, ForkedMap, drop_with_process, usable_workers
from instructeval.gc_pause import gc_paused
from instructeval.leaderboard._breakdowns import PageBreakdowns
from instructeval.leaderboard._collect import ResultsFiles, find_results, latest_comparisons, load_found, select
from instructeval.leaderboard._diffs import diff_page_data, diff_page_path
from instructeval.leaderboard._json import extend_json, json_list, script_bytes
from instructeval.leaderboard._meta import ModelMeta, load_models_meta
from instructeval.leaderboard._model_pages import ModelPages
from instructeval.leaderboard._output import ReservedFiles, SiteFolder, encoded
from instructeval.leaderboard._page_cache import PageCache
from instructeval.leaderboard._settings_view import settings_view
from instructeval.leaderboard._template import PageTemplate
from instructeval.leaderboard._views import (
    Model,
    alignment_view,
    comparison_view,
    knowledge_view,
    name_models,
    problem_solving_tasks,
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


def _file_digest(path: Path | None) -> str:
    return "" if path is None else hashlib.sha256(path.read_bytes()).hexdigest()


def build_site(
    paths: Sequence[Path],
    out: Path,
    *,
    title: str = DEFAULT_TITLE,
    models_meta: Path | None = None,
    include_incomplete: bool = False,
    workers: int | None = None,
) -> BuiltSite:
    """Build the static site from every results.json / comparison*.json under `paths` into `out`. With more than
    one worker (default: one per CPU), the build runs in a forked process that renders the model pages in
    `workers` more (see instructeval/forked.py)."""
    processes = usable_workers(workers)
    build = partial(
        _build,
        paths,
        out,
        title=title,
        models_meta=models_meta,
        include_incomplete=include_incomplete,
        workers=processes,
    )
    with gc_paused(), Forked(build, fork=processes > 1) as built:
        return built.result()


def _build(
    paths: Sequence[Path], out: Path, *, title: str, models_meta: Path | None, include_incomplete: bool, workers: int
) -> BuiltSite:
    """The build, in a forked process of its own when it has workers (which drops what it read with it)."""
    meta = load_models_meta(models_meta) if models_meta else {}
    cache = PageCache(out)
    files = find_results(paths)
    fresh = not out.exists()
    try:
        site = SiteFolder(out)
        return _write(files, site, cache, meta, _file_digest(models_meta), title, include_incomplete, workers)
    except BaseException:
        if fresh:  # a first build that failed leaves no half-made folder
            shutil.rmtree(out, ignore_errors=True)
        raise


def _write(
    files: ResultsFiles,
    site: SiteFolder,
    cache: PageCache,
    meta: dict[str, ModelMeta],
    meta_digest: str,
    title: str,
    include_incomplete: bool,
    workers: int,
) -> BuiltSite:
    """Read the results and write the site (see `_build`)."""
    paged = cache.stamps()
    unseen = [(path.parent, stamp) for path, _label, stamp in files.runs if stamp not in paged]
    with (
        ReservedFiles(site.root / "models", len(unseen), fork=workers > 1) as reserve,
        PageBreakdowns(unseen, fork=workers > 1) as breakdowns,
    ):
        found = load_found(files)
        models = name_models(select(found.runs, include_incomplete=include_incomplete), meta)
        comparisons = latest_comparisons(found.comparisons)
        diff_pages = [diff_page_path(i) for i in range(len(comparisons))]
        inputs = (__version__, title, str(include_incomplete), found.comparisons_stamp, meta_digest)
        pages = ModelPages(
            site,
            cache,
            reserve,
            breakdowns,
            models,
            comparisons,
            diff_pages,
            title=title,
            inputs=inputs,
        )
        reserve.wait()
        breakdowns.wait()
        problem_solving_tasks()  # the task registry, read once before the workers fork: pages order tasks by it
        with ForkedMap(pages.render, pages.todo, workers if workers > 1 else 0) as rendered:
            head = {
                "title": title,
                "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "version": __version__,
                "runs": len(found.runs),
            }
            head_json, views, index_page = _write_index(site, models, comparisons, diff_pages, title, head)
            details = json_list(pages.details(rendered.results()))
            site.write("data/leaderboard.json", extend_json(head_json, models=details, views=views))
    site.finish()
    drop_with_process((found, models, pages))  # 0.6 s to free at 5,000 models
    return BuiltSite(index=index_page, runs=len(found.runs), models=len(models), comparisons=len(comparisons))


def _write_index(
    site: SiteFolder,
    models: Sequence[Model],
    comparisons: Sequence[tuple[Comparison, str]],
    diff_pages: Sequence[str],
    title: str,
    head: dict[str, Any],
) -> tuple[bytes, bytes, Path]:
    """The index with its views, the diff pages and the CSV downloads; the encoded head and views, and the index."""
    views = [
        problem_solving_view(models),
        settings_view(models),
        writing_view(models),
        alignment_view(models),
        knowledge_view(models),
        comparison_view(models, comparisons, diff_pages),
    ]
    site.copy_tree(TEMPLATES_DIR / "assets", "assets")
    head_json, views_json = script_bytes(head), script_bytes(views)
    summaries = script_bytes([m.summary() for m in models])
    index = PageTemplate(TEMPLATES_DIR / "index.html")
    index_page = site.write(
        "index.html", index.page(title, ".", extend_json(head_json, models=summaries, views=views_json))
    )
    diff = PageTemplate(TEMPLATES_DIR / "diff.html")
    for (comparison, label), path in zip(comparisons, diff_pages, strict=True):
        data = script_bytes(diff_page_data(comparison, label, models))
        name = f"{comparison.base_model} → {comparison.other_model} · {title}"
        site.write(path, diff.page(name, "..", extend_json(head_json, comparison=data)))
    for view in views:
        site.write(f"data/{view['id']}.csv", [encoded(view_csv(view))])
    return head_json, views_json, index_page
