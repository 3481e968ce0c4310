"""Run folders: runs/<model-slug>/<timestamp>/ — created fresh, or found again for --resume, and locked."""

from __future__ import annotations

import fcntl
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from instructeval.errors import InstructEvalError
from instructeval.results import RESULTS_FILE, load_results
from instructeval.run._files import remove_stale_temporaries

CACHE_FILE = "requests.sqlite"
LOCK_FILE = ".lock"


@dataclass
class RunFolder:
    """A run folder, locked against a second process writing into it while it is held."""

    path: Path
    resumed: bool
    _lock: IO[str] | None = None

    @property
    def cache_path(self) -> Path:
        """The request-level answer cache that makes the run resumable."""
        return self.path / CACHE_FILE

    def lock(self) -> None:
        """Take an exclusive lock, or fail in one line if another process holds this run."""
        handle = (self.path / LOCK_FILE).open("w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise InstructEvalError(
                f"{self.path} is being written by another instructeval process: wait for it"
            ) from None
        self._lock = handle
        remove_stale_temporaries(self.path)  # a writer killed mid-file left them; nobody else writes here now

    def release(self) -> None:
        """Drop the lock."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None


def open_run_folder(output: Path, slug: str, run_name: str | None, settings_hash: str, resume: bool) -> RunFolder:
    """Create a new run folder, or with resume find the unfinished one made with the same settings; lock it."""
    if (output / RESULTS_FILE).is_file():
        raise InstructEvalError(f"--output {output} is itself a run folder: pass its parent folder (e.g. runs/)")
    model_dir = output / slug
    if resume:
        folder = RunFolder(_find_resumable(model_dir, run_name, settings_hash), resumed=True)
    else:
        name = run_name or datetime.now(UTC).strftime("%Y-%m-%dT%H-%M-%S")
        path = model_dir / name
        if path.exists():
            raise InstructEvalError(
                f"output folder {path} already exists: "
                "pass --resume to continue it, or choose another --run-name/--output"
            )
        path.mkdir(parents=True)
        folder = RunFolder(path, resumed=False)
    folder.lock()
    return folder


def _find_resumable(model_dir: Path, run_name: str | None, settings_hash: str) -> Path:
    candidates = [model_dir / run_name] if run_name else sorted(model_dir.glob("*"), reverse=True)
    for folder in candidates:
        if not (folder / RESULTS_FILE).is_file():
            if (folder / CACHE_FILE).is_file() or (run_name and folder.is_dir()):
                return folder  # killed before its first results were written (a named one: while the model loaded)
            continue
        results = load_results(folder)
        if results.run.config_hash == settings_hash and results.run.status != "complete":
            return folder
    raise InstructEvalError(
        f"--resume found no unfinished run with these settings under {model_dir}: "
        "rerun the exact same command, or drop --resume to start a new run"
    )
