"""What a run shows on the terminal: one progress bar per task with its ETA and a line when the task ends; the
libraries' own progress bars and deprecation warnings stay out of it unless `--verbose` asks for them."""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

LIBRARY_WARNINGS: tuple[type[Warning], ...] = (FutureWarning, DeprecationWarning)
QUIET_ENVIRONMENT = {
    "TQDM_DISABLE": "1",  # lm-eval's and transformers' tqdm bars (tqdm reads it when first imported)
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def quiet_libraries() -> None:
    """Keep the libraries' progress bars and deprecation warnings off the terminal for the rest of the process.

    Call it before lm-eval, transformers or datasets are imported: they read these settings once, at import.
    """
    for name, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    for category in LIBRARY_WARNINGS:
        warnings.filterwarnings("ignore", category=category)


class TaskBars:
    """A bar per task counting the model's answers against the requests asked of it, then one closing line.

    The evaluator says when a task starts and ends (`showing`); the request cache reports requests and answers
    (`asked`, `answered`: the `AnswerObserver` of `instructeval.cache`).
    """

    def __init__(self, console: Console) -> None:
        self._console = console
        self._progress: Progress | None = None
        self._bar: TaskID | None = None
        self._asked = 0

    @contextmanager
    def showing(self, task: str, protocol: str) -> Iterator[None]:
        """Show the task's bar while the block runs; on success, replace it by a line with its time and answers."""
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("answers, ETA"),
            TimeRemainingColumn(),
            console=self._console,
            transient=True,
        )
        self._progress, self._asked = progress, 0
        self._bar = progress.add_task(f"{task} ({protocol})", total=None)
        started = time.perf_counter()
        live = self._console.is_terminal  # in a log (CI, a pipe) the closing line alone says what ran
        if live:
            progress.start()
        try:
            yield
        finally:
            if live:
                progress.stop()
            self._progress = self._bar = None
        self._console.print(
            f"{task}: done in {time.perf_counter() - started:.1f} s ({self._asked} answers)", highlight=False
        )

    def asked(self, count: int) -> None:
        """More requests for the current task's model calls."""
        self._asked += count
        if self._progress is not None and self._bar is not None:
            self._progress.update(self._bar, total=self._asked)

    def answered(self, count: int) -> None:
        """Answers received (computed, or read from the request cache)."""
        if self._progress is not None and self._bar is not None:
            self._progress.advance(self._bar, count)
