"""A finished (or interrupted) run read back: what compare pairs and what the leaderboard shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

from instructeval.errors import InstructEvalError
from instructeval.results import ModelKey, RunResults, load_results


@dataclass(frozen=True)
class LoadedRun:
    """A run folder's results, where they are, and how people name the folder (`shown`, never machine-specific
    on the site: the path from the folder it was found under)."""

    path: Path
    results: RunResults
    shown: str
    stamp: str = ""
    """The results file's identity and version as the file system tells it (device, inode, size, mtime)."""

    @property
    def key(self) -> ModelKey:
        """The model this run measured."""
        return self.results.model.key

    @cached_property
    def started(self) -> datetime:
        """When it started, as an aware datetime, so runs sort by start time (parsed once)."""
        return parse_time(self.results.run.started_at)


def load_run(path: Path, shown: str | None = None, stamp: str = "", schema: type[RunResults] = RunResults) -> LoadedRun:
    """Read a run folder (one-line error when it is not one); `shown` defaults to the path as given."""
    return LoadedRun(path, load_results(path, schema), str(path) if shown is None else shown, stamp)


def parse_time(text: str) -> datetime:
    """An ISO timestamp as an aware datetime (naive ones are taken as UTC)."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InstructEvalError(f"run start time {text!r} is not ISO 8601: was results.json edited by hand?") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
