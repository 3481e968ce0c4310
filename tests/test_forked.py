"""Work in forked processes (instructeval/forked.py): results in order from real forked workers, a forked call's
value, their errors raised in the caller, a killed one refused in one line, and no forking where it is not safe."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from instructeval.errors import InstructEvalError
from instructeval.forked import Forked, ForkedMap, usable_workers


def _pid_and_square(item: int) -> tuple[int, int]:
    return os.getpid(), item * item


def test_results_come_in_order_from_forked_workers() -> None:
    items = list(range(37))
    with ForkedMap(_pid_and_square, items, processes=2) as mapped:
        results = list(mapped.results())
    assert [square for _pid, square in results] == [i * i for i in items]
    pids = {pid for pid, _square in results}
    assert os.getpid() not in pids and pids  # worked out in the forked workers, not here


def test_one_process_maps_beside_this_one() -> None:
    with ForkedMap(_pid_and_square, list(range(9)), processes=1) as mapped:
        results = list(mapped.results())
    assert [square for _pid, square in results] == [i * i for i in range(9)]
    pids = {pid for pid, _square in results}
    assert len(pids) == 1 and os.getpid() not in pids


def test_no_processes_maps_in_this_process() -> None:
    with ForkedMap(_pid_and_square, [1, 2, 3], processes=0) as mapped:
        assert list(mapped.results()) == [(os.getpid(), 1), (os.getpid(), 4), (os.getpid(), 9)]


def _refuse_seven(item: int) -> int:
    if item == 7:
        raise InstructEvalError("item 7 is refused")
    return item


def test_a_workers_error_is_raised_in_the_caller() -> None:
    with ForkedMap(_refuse_seven, list(range(20)), processes=2) as mapped, pytest.raises(InstructEvalError) as caught:
        list(mapped.results())
    assert str(caught.value) == "item 7 is refused"


def _killed_at_three(item: int) -> int:
    if item == 3:
        os.kill(os.getpid(), signal.SIGKILL)
    return item


def test_a_killed_worker_is_one_clear_error() -> None:
    with ForkedMap(_killed_at_three, list(range(8)), processes=2) as mapped, pytest.raises(InstructEvalError) as caught:
        list(mapped.results())
    assert "ended without its result" in str(caught.value) and "--workers 1" in str(caught.value)


def _pid_and_count(items: list[object]) -> tuple[int, int]:
    return os.getpid(), len(items)


def test_a_forked_call_returns_its_value_from_a_process_of_its_own() -> None:
    with Forked(_pid_and_count, [object() for _ in range(3)]) as call:
        pid, count = call.result()
    assert pid != os.getpid() and count == 3
    with Forked(_pid_and_count, [1, 2], fork=False) as here:
        assert here.result() == (os.getpid(), 2)


def _refuse(reason: str) -> None:
    raise InstructEvalError(reason)


def test_a_forked_call_raises_its_error_in_the_caller() -> None:
    with Forked(_refuse, "no runs in x/") as call, pytest.raises(InstructEvalError, match=r"^no runs in x/$"):
        call.result()


def test_a_killed_forked_call_is_one_clear_error() -> None:
    with Forked(_killed_at_three, 3) as call, pytest.raises(InstructEvalError, match="ended without its result"):
        call.result()


def test_usable_workers() -> None:
    """In a process that has started no thread (a test process may hold threads other tests left), the workers
    asked for, by default one per CPU; with a thread running, 1; below 1, refused."""
    code = "import os; from instructeval.forked import usable_workers; print(usable_workers(3), usable_workers())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.split() == ["3", str(os.cpu_count() or 1)]
    with pytest.raises(InstructEvalError, match=r"--workers 0 is not valid: pass 1 or more"):
        usable_workers(0)
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert usable_workers(4) == 1  # forking a process with threads is not safe
    finally:
        stop.set()
        thread.join()


CALLER = """
import os, sys, time
from instructeval.forked import Forked, ForkedMap

def work(item):
    with open(os.path.join(sys.argv[1], f"{os.getpid()}.pid"), "w") as handle:
        handle.write(str(item))
    time.sleep(60)
    return item

def build():
    with Forked(work, 2), ForkedMap(work, [0, 1], processes=2) as mapped:
        return list(mapped.results())

with Forked(build) as call:
    call.result()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:  # a zombie has ended, only not been reaped
        return handle.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_caller_leaves_no_worker_running(tmp_path: Path) -> None:
    """The command killed (SIGKILL: nothing of it runs after): its forked call and that call's own workers and
    processes end with it, instead of building on in the background or waiting forever for work."""
    caller = subprocess.Popen([sys.executable, "-c", CALLER, str(tmp_path)])
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("*.pid"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    workers = [int(p.stem) for p in tmp_path.glob("*.pid")]
    assert len(workers) == 3 and all(_alive(pid) for pid in workers)
    caller.kill()
    caller.wait()
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in workers)
