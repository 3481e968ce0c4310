"""Work in forked processes while the caller goes on: a function over many items (`ForkedMap`), or one call
(`Forked`).

A forked process starts with the caller's memory: the function and its items are never pickled, only results
travel back. Forking is safe only from a process with one thread and on Linux (where it is the platform's own way
to start a process); `usable_workers` says 1 anywhere else, and a `ForkedMap` of no processes runs in the calling
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
from contextlib import contextmanager, suppress
from functools import partial
from multiprocessing import get_context
from multiprocessing.connection import Connection
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
    killed command leaves no worker running on, or waiting forever for work; then take interrupts again."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # it ended before the call
        os._exit(1)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)


INTERRUPTS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back while forking: raised inside fork's own handlers, an interrupt is lost and can
    leave a lock held. They arrive once the fork is done; the forked process takes them again itself."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process gets when its parent ends."""


def _hold(function: Callable[[Any], Any], items: Sequence[Any]) -> None:
    global _HELD
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's to handle: it stops the pool
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
    """`function` over `items` in `processes` forked processes, started now (with none, or one item: in the
    calling process, when `results` asks); `results` waits for them, in order. Used as a context manager, so that
    leaving the block early stops the processes."""

    def __init__(self, function: Callable[[T], R], items: Sequence[T], processes: int) -> None:
        self._function, self._items = function, items
        self._executor: ProcessPoolExecutor | None = None
        self._slices: list[Future[list[R]]] = []
        if processes > 0 and len(items) > 1:
            step = -(-len(items) // (4 * processes))  # four slices a process: a slow one is shared out
            with _interrupts_held():  # the pool forks its processes at the first submit
                self._executor = _forked_pool(processes, function, items)
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


class Forked(Generic[R]):
    """`function(*args)` in a forked process of its own, started now, beside the caller (with `fork` False: in the
    calling process, when `result` asks). Its value is pickled back; the process then ends, dropping unfreed what
    the call gave `drop_with_process`. The caller starts no thread. Used as a context manager: leaving the block
    early (an error, Ctrl-C) stops the call as an interrupt does, so that it cleans up, and waits for it."""

    def __init__(self, function: Callable[..., R], *args: object, fork: bool = True) -> None:
        self._call: Callable[[], R] = partial(function, *args)
        self._process: BaseProcess | None = None
        if fork:
            context = get_context("fork")
            self._receive, send = context.Pipe(duplex=False)
            self._process = context.Process(target=_send_back, args=(send, self._call))
            with _interrupts_held():
                self._process.start()
            send.close()  # the child holds the only sending end: its death is the end of the pipe

    def __enter__(self) -> Forked[R]:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._process is None:
            return
        self._receive.close()  # what it sends from now on is not wanted
        if self._process.is_alive():  # stopped as if interrupted, so that it cleans up (then killed)
            self._process.terminate()  # SIGTERM, which the call takes for an interrupt
            self._process.join(STOP_SECONDS)
            self._process.kill()
        self._process.join()
        self._process = None

    def result(self) -> R:
        """The call's value, waiting for it (its error raised here); once."""
        if self._process is None:
            return self._call()
        try:
            succeeded, value = self._receive.recv()
        except EOFError:
            raise InstructEvalError(ENDED_WITHOUT_RESULT) from None
        else:
            self._process.join()  # it ends once it has sent its outcome
        finally:
            self.__exit__(None, None, None)  # stopped, when interrupted
        if not succeeded:
            raise value
        return value  # type: ignore[no-any-return]


_KEPT: list[object] | None = None
"""In a forked call's process: what `drop_with_process` was given (None in any other process)."""


def drop_with_process(built: object) -> None:
    """In a forked call: keep `built` until the process ends, which drops it without freeing its objects one by
    one (that costs a large build more than its last steps); in any other process, nothing."""
    if _KEPT is not None:
        _KEPT.append(built)


STOP_SECONDS = 30
"""How long a stopped forked call may take to clean up (a first build removes its half-made site) before it is
killed."""


def _interrupted(_signal: int, _frame: object) -> None:
    raise KeyboardInterrupt


def _send_back(send: Connection, call: Callable[[], object]) -> None:
    global _KEPT
    signal.signal(signal.SIGTERM, _interrupted)  # how the caller stops it (held until `_die_with_parent`)
    try:
        try:
            _die_with_parent()
            _KEPT = []
            outcome: tuple[bool, object] = (True, call())
        finally:  # the call is over: from here on, an interrupt just ends the process
            for interrupt in INTERRUPTS:
                signal.signal(interrupt, signal.SIG_DFL)
    except BaseException as error:  # raised in the caller instead
        outcome = (False, error)
    try:
        send.send(outcome)
    except OSError:  # the caller stopped listening
        pass
    except Exception as error:  # an outcome that cannot be pickled
        with suppress(OSError):
            send.send((False, InstructEvalError(f"a forked process could not send back its outcome ({error})")))
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # without freeing, one by one, what the call kept


ENDED_WITHOUT_RESULT = (
    "a forked worker process ended without its result (killed, or out of memory?): rerun, or pass --workers 1"
)


def _result(future: Future[list[R]]) -> list[R]:
    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise InstructEvalError(ENDED_WITHOUT_RESULT) from exc


def _forked_pool(workers: int, function: Callable[[Any], Any], items: Sequence[Any]) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_hold, initargs=(function, items))
