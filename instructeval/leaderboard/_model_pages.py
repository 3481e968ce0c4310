"""A build's model pages: each kept when an earlier build wrote it from the same inputs, else rendered and written
(by forked workers when the build has more than one; see instructeval/forked.py)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from instructeval import __version__
from instructeval.leaderboard._breakdowns import PageBreakdowns
from instructeval.leaderboard._details import model_details
from instructeval.leaderboard._json import extend_json, script_bytes
from instructeval.leaderboard._output import ReservedFiles, SiteFolder
from instructeval.leaderboard._page_cache import PageCache, file_status, fingerprint
from instructeval.leaderboard._template import PageTemplate
from instructeval.leaderboard._views import Model
from instructeval.paths import LEADERBOARD_TEMPLATES_DIR as TEMPLATES_DIR
from instructeval.results import Comparison


@dataclass(frozen=True)
class PageJob:
    """One page to render: its model, the bytes around its data, and the reserved file it takes."""

    model: Model
    start: bytes
    end: bytes
    reserved: int


class ModelPages:
    """The pages of `models`: those an earlier build wrote from the same inputs are kept (read back here); the rest
    are the `todo` jobs, for `render`; `details` puts each model's page data back in the models' order."""

    def __init__(
        self,
        site: SiteFolder,
        cache: PageCache,
        reserve: ReservedFiles,
        breakdowns: PageBreakdowns,
        models: Sequence[Model],
        comparisons: Sequence[tuple[Comparison, str]],
        diff_pages: Sequence[str],
        *,
        title: str,
        inputs: tuple[str, ...],
    ) -> None:
        self._site, self._cache, self._reserve, self._breakdowns = site, cache, reserve, breakdowns
        self._models, self._comparisons, self._diff_pages = models, comparisons, diff_pages
        template = PageTemplate(TEMPLATES_DIR / "model.html")
        shared = fingerprint(*inputs, template.source)
        head = b"".join(extend_json(script_bytes({"title": title, "version": __version__}), model=b""))[:-1]
        self._kept: dict[int, tuple[bytes, str]] = {}
        self._keys: list[str] = []
        self.todo: list[PageJob] = []
        for i, model in enumerate(models):
            key = fingerprint(shared, model.name, model.page, *sorted(f"{r.shown}@{r.stamp}" for r in model.runs.runs))
            before, after = template.around(f"{model.name} · {title}", "..")
            start, end = before + head, b"}" + after
            self._keys.append(key)
            kept = _kept_page(site, cache, model.page, key, start, end)
            if kept is None:
                self.todo.append(PageJob(model=model, start=start, end=end, reserved=len(self.todo)))
            else:
                self._kept[i] = kept

    def render(self, job: PageJob) -> str:
        """Write one model's page; the page file's status."""
        model = job.model
        self._reserve.take(job.reserved, self._site.root / model.page)
        sources = {id(picked.run): picked.run for picked in model.runs.tasks.values()}
        breakdowns = {key: self._breakdowns.of(run) for key, run in sources.items()}
        data = model_details(model, breakdowns, self._comparisons, self._diff_pages)
        return file_status(self._site.overwrite(model.page, [job.start, script_bytes(data), job.end]))

    def details(self, rendered: Iterable[str]) -> Iterator[bytes]:
        """Each model's page data in the models' order, as the `todo` jobs' statuses come (in the jobs' order): a
        kept page's as read, a written one's read back from its file (cheaper than sending it from a worker).
        Every page is recorded in the site, and in the cache, saved after the last."""
        fresh = iter(rendered)
        jobs = iter(self.todo)
        for i, (model, key) in enumerate(zip(self._models, self._keys, strict=True)):
            if i in self._kept:
                detail, status = self._kept[i]
            else:
                job, status = next(jobs), next(fresh)
                text = (self._site.root / model.page).read_bytes()
                detail = text[len(job.start) : len(text) - len(job.end)]
            self._cache.put(model.page, key, status, [run.stamp for run in model.runs.runs])
            self._site.keep(model.page)
            yield detail
        self._cache.save()


def _kept_page(
    site: SiteFolder, cache: PageCache, page: str, key: str, start: bytes, end: bytes
) -> tuple[bytes, str] | None:
    """The data and file status of the model page an earlier build wrote from the same inputs, when the file is
    still that page."""
    written_as = cache.written_as(page, key)
    held = None if written_as is None else site.read(page)
    if held is None or file_status(held[1]) != written_as:
        return None
    text = held[0]
    if len(text) < len(start) + len(end) or not (text.startswith(start) and text.endswith(end)):
        return None
    return text[len(start) : len(text) - len(end)], written_as
