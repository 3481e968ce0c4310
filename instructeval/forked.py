"""Work in forked processes: a function over many items while the caller goes on (`ForkedMap`), one call whose
objects are dropped with its process (`call_forked`), and a lone process beside the caller (`start_forked`).

A forked process starts with the caller's memory: the function and its items are never pickled, only results
travel back. Forking is safe only from a process with one thread and on Linux (where it is the platform's own way
to start a process); `usable_workers` says 1 anywhere else, and with one worker everything runs in the calling
process, the same functions giving the same results.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from multiprocessing.process import BaseProcess
from types import TracebackType
from typing import Any, Generic, TypeVar

from instructeval.errors import InstructEvalError

T = TypeVar("T")
R = TypeVar("R")

_HELD: tuple[Callable[[Any], Any], Sequence[Any]] | None = None
"""In a worker: the function and the items, inherited from the caller when the worker was forked."""


def _die_with_parent() -> None:
    """In a forked process: be killed when the process that forked it ends (Linux's PR_SET_PDEATHSIG), so that a
    killed command leaves no worker running on, or waiting forever for work."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the call
        os._exit(1)


PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process gets when its parent ends."""


def _hold(function: Callable[[Any], Any], items: Sequence[Any]) -> None:
    global _HELD
    _die_with_parent()
    _HELD = (function, items)


def _map_slice(start: int, stop: int) -> list[Any]:
    assert _HELD is not None, "a forked worker holds the function and its items"
    function, items = _HELD
    return [function(items[i]) for i in range(start, stop)]


def usable_workers(requested: int | None = None, option: str = "--workers") -> int:
    """How many workers to fork: `requested` (at least 1, else `option` is refused), by default one per CPU; 1
    where forking is not safe."""
    if requested is not None and requested < 1:
        raise InstructEvalError(f"{option} {requested} is not valid: pass 1 or more (1 works in this process)")
    if not sys.platform.startswith("linux") or threading.active_count() > 1:
        return 1
    return requested or os.cpu_count() or 1


class ForkedMap(Generic[T, R]):
    """`function` over `items` in `workers` forked processes, started now; `results` waits for them, in order.
    Used as a context manager, so that leaving the block early stops the workers."""

    def __init__(self, function: Callable[[T], R], items: Sequence[T], workers: int) -> None:
        self._function, self._items = function, items
        self._executor: ProcessPoolExecutor | None = None
        self._slices: list[Future[list[R]]] = []
        if workers > 1 and len(items) > 1:
            self._executor = _forked_pool(workers, function, items)
            step = -(-len(items) // (4 * workers))  # four slices a worker: a slow one is shared out
            self._slices = [
                self._executor.submit(_map_slice, start, min(start + step, len(items)))
                for start in range(0, len(items), step)
            ]

    def __enter__(self) -> ForkedMap[T, R]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._executor is not None:
            self._executor.shutdown(cancel_futures=True)

    def results(self) -> Iterator[R]:
        """Every item's result, in the items' order, each as soon as its slice is done (in the calling process:
        as it is asked for); a worker's error is raised here."""
        if self._executor is None:
            yield from map(self._function, self._items)
        else:
            for piece in self._slices:
                yield from _result(piece)


def call_forked(function: Callable[[], tuple[R, object]]) -> R:
    """The result of `function()`, which returns it with the objects it built, called in one forked process (its
    error raised here). The objects are dropped with the process instead of being freed one by one (0.6 s for the
    validated results of a 5,000-model leaderboard)."""
    with _forked_pool(1, _keeping(function), [None]) as pool:
        results: list[R] = _result(pool.submit(_map_slice, 0, 1))
    return results[0]


_KEPT: list[object] = []
"""In a forked call: the objects its function built, never freed (the process ends without freeing them)."""


def _keeping(function: Callable[[], tuple[R, object]]) -> Callable[[None], R]:
    def call(_: None) -> R:
        result, built = function()
        _KEPT.append(built)
        return result

    return call


def start_forked(function: Callable[..., object], *args: object) -> BaseProcess:
    """`function(*args)` in a forked process of its own, started now, which ends with this one; join it."""
    process = get_context("fork").Process(target=_dying_with_parent, args=(function, *args), daemon=True)
    process.start()
    return process


def _dying_with_parent(function: Callable[..., object], *args: object) -> None:
    _die_with_parent()
    function(*args)


def _result(future: Future[list[R]]) -> list[R]:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise InstructEvalError(
            "a forked worker process ended without its result (killed, or out of memory?): rerun, or pass --workers 1"
        ) from exc


def _forked_pool(workers: int, function: Callable[[Any], Any], items: Sequence[Any]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_hold, initargs=(function, items))
