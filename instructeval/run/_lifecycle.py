"""The one run lifecycle: a locked folder whose results.json says running, then complete or failed.

`start_run` is what `run`, `inject` and `inject score` write through; `amend_run` is how the judge and
`contamination --run` add a section to a finished run. Whatever way the block is left (return, exception,
KeyboardInterrupt), the status is set, the request cache is closed and the lock released; a run killed
with SIGKILL stays `running`, and `--resume` continues it like a failed one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from instructeval.results import RunResults, SampleRecord, load_results, results_path, samples_path
from instructeval.run._files import write_json_atomic, write_jsonl_atomic
from instructeval.run._folder import RunFolder, open_run_folder
from instructeval.run._provenance import config_hash, now

if TYPE_CHECKING:
    from instructeval.cache import RequestCache


class Run:
    """An open run folder: its typed results, its samples and its request cache, written only through here."""

    def __init__(self, folder: RunFolder) -> None:
        self._folder = folder
        self._results: RunResults | None = None
        self._cache: RequestCache | None = None

    @property
    def path(self) -> Path:
        """The run folder."""
        return self._folder.path

    @property
    def resumed(self) -> bool:
        """True when --resume found this folder unfinished."""
        return self._folder.resumed

    @property
    def results(self) -> RunResults:
        """The results as they stand (saved with `save`)."""
        if self._results is None:
            raise RuntimeError("the run's results are not started: call Run.begin first")
        return self._results

    def begin(self, fresh: Callable[[], RunResults]) -> RunResults:
        """A resumed run's results, back to `running`, or `fresh()` ones; saved at once."""
        if self.resumed and results_path(self.path).is_file():
            self._results = load_results(self.path)
            self._results.run.status = "running"
            self._results.run.finished_at = None
        else:
            self._results = fresh()
        self.save()
        return self._results

    def save(self) -> None:
        """Write results.json atomically."""
        save_results(self.path, self.results)

    def request_cache(self) -> RequestCache:
        """The folder's request cache (requests.sqlite), opened once and closed when the run ends."""
        if self._cache is None:
            from instructeval.cache import RequestCache

            self._cache = RequestCache(self._folder.cache_path)
        return self._cache

    def samples_path(self, task: str) -> Path:
        """Where this run keeps one task's per-sample log."""
        return samples_path(self.path, task)

    def write_samples(self, task: str, records: Iterable[SampleRecord]) -> Path:
        """Write samples/<task>.jsonl atomically; return its path."""
        path = self.samples_path(task)
        write_samples(path, records)
        return path

    def _finish(self, status: Literal["complete", "failed"]) -> None:
        if self._results is not None:
            self._results.run.status = status
            self._results.run.finished_at = now()
            self.save()

    def _close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        self._folder.release()


@contextmanager
def start_run(
    output: Path, slug: str, run_name: str | None, settings: dict[str, Any], *, resume: bool
) -> Iterator[Run]:
    """A new run folder under output/slug (or with resume the unfinished one with these settings), locked.

    Leaving the block normally marks the run complete; any exception, KeyboardInterrupt included, marks it
    failed before it propagates.
    """
    run = Run(open_run_folder(output, slug, run_name, config_hash(settings), resume))
    try:
        yield run
    except BaseException:
        run._finish("failed")
        raise
    else:
        run._finish("complete")
    finally:
        run._close()


@contextmanager
def amend_run(path: Path) -> Iterator[Run]:
    """An existing run folder, locked, its results loaded; saved when the block ends without an exception."""
    load_results(path)  # one line naming the problem when it is no run folder, before a lock file appears
    folder = RunFolder(path, resumed=True)
    folder.lock()
    run = Run(folder)
    run._results = load_results(path)
    try:
        yield run
        run.save()
    finally:
        run._close()


def save_results(run_dir: Path, results: RunResults) -> None:
    """Write a run folder's results.json atomically."""
    write_json_atomic(results_path(run_dir), results.model_dump(mode="json", by_alias=True))


def write_samples(path: Path, records: Iterable[SampleRecord]) -> None:
    """Write a samples/<task>.jsonl atomically (a reader never sees half a file)."""
    write_jsonl_atomic(path, (record.model_dump(mode="json") for record in records))
