"""A model page's breakdown sections (MMLU's subjects, BBH's subtasks...), read from the results files apart from
what the index reads, and encoded ahead of the pages: in a forked process while the build reads the results for
the index, so that the page workers only splice them in."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import NotRequired

import orjson
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from instructeval.errors import InstructEvalError
from instructeval.forked import Forked
from instructeval.leaderboard._collect import file_stamp
from instructeval.leaderboard._views import Cell, cell_of
from instructeval.results import results_path
from instructeval.run import LoadedRun


class ShownScore(TypedDict):
    """What a page shows of a breakdown group's score: the rest of the file's Score is skipped."""

    value: float | None
    ci_low: NotRequired[float | None]
    ci_high: NotRequired[float | None]
    n: NotRequired[int]


class _TaskBreakdowns(BaseModel):
    primary_metric: str
    breakdown: dict[str, dict[str, dict[str, ShownScore]]] = Field(
        default_factory=dict, description="kind -> group -> metric -> score"
    )


class _RunBreakdowns(BaseModel):
    tasks: dict[str, _TaskBreakdowns] = Field(default_factory=dict)


EncodedBreakdowns = dict[str, bytes]
"""Results key -> the task's `breakdowns` as its page holds them, JSON-encoded."""


def encoded_breakdowns(run_dir: Path, stamp: str = "") -> EncodedBreakdowns:
    """Each task's breakdowns in the run folder's results file as its page shows them: per kind, each group's cell
    of the task's primary metric. Given the `stamp` the build found the file with, the file must still be that
    one, so a page never mixes two versions of a run."""
    return {name: orjson.dumps(_sections(task)) for name, task in _read(run_dir, stamp).tasks.items()}


def _sections(task: _TaskBreakdowns) -> list[dict[str, object]]:
    primary = task.primary_metric
    return [
        {"kind": kind, "groups": [{"group": name, "cell": _cell(cells.get(primary))} for name, cells in groups.items()]}
        for kind, groups in task.breakdown.items()
    ]


def _cell(score: ShownScore | None) -> Cell:
    if score is None:
        return None
    return cell_of(score["value"], score.get("ci_low"), score.get("ci_high"), score.get("n", 0))


def _read(run_dir: Path, stamp: str) -> _RunBreakdowns:
    path = results_path(run_dir)
    try:
        with path.open("rb") as handle:
            if stamp and file_stamp(os.fstat(handle.fileno())) != stamp:
                raise InstructEvalError(f"{path} changed while the leaderboard was built: build it again")
            text = handle.read()
    except FileNotFoundError:
        raise InstructEvalError(f"{path} was removed while the leaderboard was built: build it again") from None
    try:
        return _RunBreakdowns.model_validate_json(text)
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise InstructEvalError(f"{path} does not match the results schema ({first}); was it edited by hand?") from exc


def _read_ahead(runs: Sequence[tuple[Path, str]]) -> dict[str, EncodedBreakdowns]:
    return {stamp: encoded_breakdowns(run_dir, stamp) for run_dir, stamp in runs}


class PageBreakdowns:
    """The encoded breakdowns of the runs whose pages a build writes: those of `runs` (run folder, stamp) are read
    ahead, in a forked process when `fork` and there are several (started now, beside the caller), else in `wait`;
    a run not among them is read when a page asks for it (a kept run of a model whose page is written again)."""

    def __init__(self, runs: Sequence[tuple[Path, str]], *, fork: bool) -> None:
        self._reading = Forked(_read_ahead, runs, fork=fork and len(runs) > 1)
        self._ahead: dict[str, EncodedBreakdowns] = {}

    def __enter__(self) -> PageBreakdowns:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._reading.__exit__(kind, error, trace)

    def wait(self) -> None:
        """Take every breakdown read ahead (before the page workers fork, so that they inherit them)."""
        self._ahead = self._reading.result()

    def of(self, run: LoadedRun) -> EncodedBreakdowns:
        """The run's encoded breakdowns, by results key."""
        held = self._ahead.get(run.stamp)
        return held if held is not None else encoded_breakdowns(run.path, run.stamp)
