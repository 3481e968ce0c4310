"""Run untrusted Python in a sandbox: one subprocess per program, everything it starts killed after."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from instructeval.sandbox._cgroup import RunCgroup, leftovers, run_name
from instructeval.sandbox._types import (
    OPTIONAL_LAYERS,
    ExecutionResult,
    Layer,
    MiB,
    SandboxError,
    SandboxLimits,
    Status,
)

T = TypeVar("T")
R = TypeVar("R")

_LAUNCHER = str(Path(__file__).with_name("_launcher.py"))
_IMPORT_PATH = str(Path(__file__).with_name("_import_path.py"))
_NAMESPACES = (Layer.NETWORK_NAMESPACE, Layer.IPC_NAMESPACE, Layer.MOUNT_NAMESPACE, Layer.PID_NAMESPACE)
_SUPERVISORS = 2  # the launcher and init share the run's cgroups with the program
_UID_BASE = 1_900_000_000  # fresh uids are drawn from here: no account on ordinary systems uses them
_UID_SPAN = 1 << 20
_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "USER": "sandbox", "LOGNAME": "sandbox"}
_OPEN_FILES = 1024
_SETTLE_SECONDS = 5.0  # how long killed processes get to leave the cgroup


def run_untrusted(
    source: str,
    limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen, so sharing the default is safe
    *,
    python: str = sys.executable,
    disable: Collection[Layer] = frozenset(),
) -> ExecutionResult:
    """Run a Python program in a fresh sandbox and say how it ended; never raises on the program's account.

    `disable` turns off optional layers (see OPTIONAL_LAYERS), for hosts where one misbehaves and to
    test the fallbacks. Raises SandboxError when the sandbox cannot be made safe here.
    """
    skip = frozenset(disable)
    if not skip <= OPTIONAL_LAYERS:
        raise ValueError(f"cannot disable {sorted(skip - OPTIONAL_LAYERS)}: only {sorted(OPTIONAL_LAYERS)}")
    interpreter = shutil.which(python)
    if interpreter is None:
        raise SandboxError(f"no Python interpreter at {python!r}: pass an existing one as python=")
    uid = _UID_BASE + secrets.randbelow(_UID_SPAN) if os.geteuid() == 0 else None
    name = run_name()
    for stale in leftovers(Path(tempfile.gettempdir())):
        shutil.rmtree(stale, ignore_errors=True)
    base = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    cgroup = None
    try:
        base.chmod(0o711)  # the program's folder inside is reachable only by the run's uid
        work = base / "work"
        work.mkdir(mode=0o700)
        if uid is not None:
            os.chown(work, uid, uid)
        with open(base / "program.py", "w", opener=_private) as program:
            program.write(source)
        pids_max = limits.max_processes + _SUPERVISORS
        cgroup = RunCgroup.create(name, pids_max, limits.memory_bytes + limits.disk_bytes, skip)
        return _run(base, uid, cgroup, limits, os.path.abspath(interpreter), skip)
    finally:
        if cgroup is not None:
            cgroup.remove()
        shutil.rmtree(base, ignore_errors=True)


def run_many(
    sources: Sequence[str],
    limits: SandboxLimits = SandboxLimits(),  # noqa: B008
    *,
    workers: int | None = None,
    python: str = sys.executable,
    disable: Collection[Layer] = frozenset(),
) -> list[ExecutionResult]:
    """run_untrusted over many programs, `workers` (default: CPU count) sandboxes at a time; in order."""
    return map_concurrently(
        lambda source: run_untrusted(source, limits, python=python, disable=disable), sources, workers
    )


def map_concurrently(fn: Callable[[T], R], items: Sequence[T], workers: int | None) -> list[R]:
    """fn over items from a thread pool (each sandbox is its own subprocess); stops early on an error."""
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    try:
        return list(pool.map(fn, items))
    finally:
        pool.shutdown(cancel_futures=True)


def _private(path: str, flags: int) -> int:
    """An opener for files only root (or the evaluator's user) may read: not even the run's uid."""
    return os.open(path, flags, 0o600)


def _rlimits(limits: SandboxLimits) -> dict[str, tuple[int, int]]:
    return {
        "RLIMIT_CPU": (limits.cpu_seconds, limits.cpu_seconds + 1),  # SIGXCPU, then SIGKILL a second later
        "RLIMIT_AS": (limits.memory_bytes, limits.memory_bytes),
        "RLIMIT_FSIZE": (limits.file_size_bytes, limits.file_size_bytes),
        "RLIMIT_NPROC": (limits.max_processes, limits.max_processes),
        "RLIMIT_NOFILE": (_OPEN_FILES, _OPEN_FILES),
        "RLIMIT_CORE": (0, 0),
    }


def _exposed_prefixes(python: str) -> list[str]:
    """The installation folders the interpreter (an absolute path) needs: its own (a venv) and its base."""
    executables = (python, os.path.realpath(python))
    return sorted({os.path.realpath(os.path.dirname(os.path.dirname(p))) for p in executables})


@functools.cache
def _import_dirs(python: str) -> tuple[str, ...]:
    """The folders `python -I` imports from (its sys.path, editable installs' sources), wherever they live."""
    probe = subprocess.run([python, "-I", _IMPORT_PATH], capture_output=True, text=True, timeout=120, check=False)
    if probe.returncode != 0:
        raise SandboxError(f"{python} could not list its import path: {probe.stderr.strip()[-500:]}")
    return tuple(sorted({os.path.realpath(entry) for entry in json.loads(probe.stdout) if os.path.isdir(entry)}))


def _run(
    base: Path,
    uid: int | None,
    cgroup: RunCgroup | None,
    limits: SandboxLimits,
    python: str,
    skip: frozenset[Layer],
) -> ExecutionResult:
    config = {
        "program": str(base / "program.py"),
        "workdir": str(base / "work"),
        "report": str(base / "report.jsonl"),
        "parent": os.getpid(),
        "python": python,
        "expose": _exposed_prefixes(python),
        "import_dirs": _import_dirs(python),
        "uid": uid,
        "cgroups": cgroup.procs_files if cgroup else [],
        "namespaces": [str(n) for n in _NAMESPACES if n not in skip],
        "rlimits": _rlimits(limits),
        "disk_bytes": limits.disk_bytes,
    }
    command = [sys.executable, "-I", "-S", _LAUNCHER, json.dumps(config)]
    with (
        open(base / "stdout", "wb", opener=_private) as out,
        open(base / "stderr", "wb", opener=_private) as err,
    ):
        start = time.monotonic()
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            cwd=base / "work",
            env=_ENV,
            start_new_session=True,
        )
        try:
            finished = _wait(proc, limits.wall_seconds)
            wall_seconds = time.monotonic() - start
        finally:
            _kill_everything(proc, cgroup, uid)
    stdout = _tail(base / "stdout", limits.output_bytes)
    stderr = _tail(base / "stderr", limits.output_bytes)
    reported, wait_status = _read_report(base / "report.jsonl", finished, stderr)
    layers = {Layer.RLIMITS, Layer.SESSION, *(cgroup.layers if cgroup else ()), *map(Layer, reported or ())}
    exit_code = proc.returncode if wait_status is None else os.waitstatus_to_exitcode(wait_status)
    oom = cgroup is not None and cgroup.oom_killed()
    status, reason = _verdict(exit_code, reported is not None, finished, oom, stderr, limits)
    return ExecutionResult(
        status=status,
        reason=reason,
        exit_code=exit_code,
        stdout=stdout,
        stderr=stderr,
        wall_seconds=wall_seconds,
        isolation=tuple(sorted(layers)),
    )


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait for the launcher (the last of the run to exit) without reaping it: its group id stays reserved."""
    try:
        handle = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: reap and accept the tiny pid-reuse window
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
    try:
        poller = select.poll()
        poller.register(handle, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    finally:
        os.close(handle)


def _kill_everything(proc: subprocess.Popen[bytes], cgroup: RunCgroup | None, uid: int | None) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    if cgroup is not None:
        cgroup.kill_all()
    elif uid is not None:  # no cgroup lists its processes, but they are all the run's uid's
        subprocess.run([sys.executable, "-I", "-S", _LAUNCHER, "--reap", str(uid)], check=False)
    proc.wait()
    if cgroup is not None:
        cgroup.wait_empty(_SETTLE_SECONDS)


def _read_report(path: Path, finished: bool, stderr: str) -> tuple[list[str] | None, int | None]:
    """The layers the launcher set up (None: stopped before that) and the program's wait status."""
    lines = path.read_text().splitlines() if path.exists() else []
    messages = [json.loads(line) for line in lines]
    errors = [m["error"] for m in messages if "error" in m]
    if errors:
        raise SandboxError(f"could not set up the sandbox: {errors[0]}")
    if not messages and finished:
        raise SandboxError(f"the sandbox launcher died before starting the program: {stderr[-500:]!r}")
    layers = next((m["layers"] for m in messages if "layers" in m), None)
    wait_status = next((m["status"] for m in messages if "status" in m), None)
    return layers, wait_status


def _tail(path: Path, size: int) -> str:
    with open(path, "rb") as stream:
        stream.seek(max(0, stream.seek(0, os.SEEK_END) - size))
        return stream.read().decode("utf-8", "replace")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def _verdict(
    returncode: int, started: bool, finished: bool, oom: bool, stderr: str, limits: SandboxLimits
) -> tuple[Status, str]:
    """Status and one-line reason from how the program ended."""
    if not started:
        return Status.TIMEOUT, f"not even started within the wall-time limit of {limits.wall_seconds:g} s"
    if finished and returncode == 0:
        return Status.PASSED, ""
    if oom:
        total = (limits.memory_bytes + limits.disk_bytes) // MiB
        return Status.MEMORY, f"killed by the kernel: its processes and files together went over {total} MiB"
    if not finished:
        return Status.TIMEOUT, f"still running after the wall-time limit of {limits.wall_seconds:g} s"
    if returncode == -signal.SIGXCPU:
        return Status.TIMEOUT, f"used up the CPU-time limit of {limits.cpu_seconds} s"
    if returncode < 0:
        return Status.KILLED, f"killed by {_signal_name(-returncode)}"
    last_line = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "")
    if last_line.startswith("MemoryError"):
        return Status.MEMORY, f"MemoryError under the {limits.memory_bytes // MiB} MiB address-space limit"
    return Status.FAILED, last_line or f"exited with status {returncode}"
