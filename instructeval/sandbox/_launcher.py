"""The processes between the evaluator and an untrusted program: they set up the isolation, then run it.

Started fresh (`python -I -S _launcher.py CONFIG`, as root where possible) rather than as a preexec_fn,
so that the evaluator may run many sandboxes from threads. The launcher joins the run's cgroups,
unshares the network, IPC, mount and PID namespaces, mounts a private size-capped /tmp (the program's
home), hides directories an unprivileged user cannot enter, binds back the Python it needs and the folders
it imports from (wherever they are, /tmp included), then forks
an init: pid 1 of the new PID namespace, which mounts its own /proc and forks the program. The program
sets rlimits, drops to the run's unprivileged uid and execs the interpreter. When the program exits,
init exits and the kernel kills everything left in the namespace; each stage is SIGKILLed if the
stage above it dies, so nothing outlives an evaluator that is killed itself.

CONFIG["report"] gets JSON lines: the layers set up, then the program's raw wait status (or an error).
`_launcher.py --reap UID` kills every process of that uid (used where no cgroup lists them).
Standard library only.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import stat
import sys
import time
from collections.abc import Callable
from typing import Any, NoReturn

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
NAMESPACES = {
    "network_namespace": CLONE_NEWNET,
    "ipc_namespace": CLONE_NEWIPC,
    "mount_namespace": CLONE_NEWNS,
    "pid_namespace": CLONE_NEWPID,
}
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")  # the usual world-writable folders
PROGRAM_NAME = "main.py"

_libc = ctypes.CDLL(None, use_errno=True)
Tell = Callable[..., None]


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    result = _libc.mount(encode(source), target.encode(), encode(fstype), flags, encode(data))
    _check(result, f"mount {target}")


def _die_with_parent() -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")


def _inside(path: str, directories: tuple[str, ...]) -> bool:
    return any(path == d or path.startswith(d + "/") for d in directories)


def _closed_ancestor(path: str) -> str | None:
    """The highest directory above `path` that other users may not enter (e.g. /root), or None."""
    parts = path.strip("/").split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        directory = "/" + "/".join(parts[:depth])
        if not os.stat(directory).st_mode & stat.S_IXOTH:
            return directory
    return None


def _isolate_filesystem(uid: int | None, disk_bytes: int, expose: list[str]) -> str:
    """In the new mount namespace: private /tmp (returned: the program's home), Python and its packages reachable."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    expose = [p for p in set(expose) if not any(p.startswith(q + "/") for q in expose)]
    closed = {a for p in expose if (a := _closed_ancestor(p)) and not _inside(a, PRIVATE_TMP)}
    handles = {path: os.open(path, os.O_PATH | os.O_DIRECTORY) for path in expose}
    owner = "" if uid is None else f"uid={uid},gid={uid},"
    _mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"{owner}mode=700,size={disk_bytes}")
    for directory in PRIVATE_TMP[1:]:
        if os.path.isdir(directory):
            _mount("/tmp", directory, None, MS_BIND)
    for directory in sorted(closed):
        _mount("tmpfs", directory, "tmpfs", MS_NOSUID | MS_NODEV, "mode=755,size=1m")
    for path, handle in handles.items():  # bind each back from the handle opened before covering it
        os.makedirs(path, exist_ok=True)
        _mount(f"/proc/self/fd/{handle}", path, None, MS_BIND | MS_REC)
        os.close(handle)
    return "/tmp"


def _prepare(config: dict[str, Any]) -> tuple[list[str], str]:
    """Everything the launcher does as root before forking init: returns the layers and the home."""
    uid: int | None = config["uid"]
    with open(config["program"], "rb") as program_file:  # read before /tmp is covered
        source = program_file.read()
    for procs_file in config["cgroups"]:
        with open(procs_file, "w") as procs:
            procs.write(str(os.getpid()))
    layers = [name for name in config["namespaces"] if _libc.unshare(NAMESPACES[name]) == 0]
    if "mount_namespace" in layers:
        home = _isolate_filesystem(uid, config["disk_bytes"], [*config["expose"], *config["import_dirs"]])
    else:
        home = config["workdir"]
        closed = [a for p in config["expose"] if (a := _closed_ancestor(p))]
        if uid is not None and closed:
            raise OSError(
                f"{config['python']} is under {closed[0]}, which an unprivileged user cannot enter, and "
                "no mount namespace is available to expose it: use a Python installed outside it"
            )
    handle = os.open(os.path.join(home, PROGRAM_NAME), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "wb") as out:
        out.write(source)
        if uid is not None:
            os.fchown(out.fileno(), uid, uid)
    return [*layers, "user"] if uid is not None else layers, home


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)


def _exec_program(config: dict[str, Any], home: str) -> NoReturn:
    for name, (soft, hard) in config["rlimits"].items():
        resource.setrlimit(getattr(resource, name), (soft, hard))
    if config["uid"] is not None:
        _drop_privileges(config["uid"])
    _die_with_parent()  # after the uid change, which clears it
    os.chdir(home)
    env = {**os.environ, "HOME": home, "TMPDIR": home, "PWD": home}
    program = os.path.join(home, PROGRAM_NAME)
    os.execve(config["python"], [config["python"], "-I", "-B", program], env)


def _init(config: dict[str, Any], home: str, layers: list[str], tell: Tell) -> NoReturn:
    """Pid 1 of the run (where PID namespaces exist): runs the program, reaps orphans, reports."""
    _die_with_parent()
    if "pid_namespace" in layers and "mount_namespace" in layers:
        _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    program = os.fork()
    if program == 0:
        _guarded(tell, lambda: _exec_program(config, home))
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == program:
            tell(status=status)
            os._exit(0)  # in a PID namespace, the kernel now kills whatever the program left running


def _guarded(tell: Tell, stage: Callable[[], object]) -> NoReturn:
    """Run a stage that must not return; report any error instead of a traceback on the program's stderr."""
    try:
        stage()
    except Exception as exc:
        tell(error=f"{type(exc).__name__}: {exc}")
    os._exit(125)


def _reap(uid: int) -> None:
    """Kill every process of `uid` (a uid used by no one else), until none is left."""
    _drop_privileges(uid)
    for _ in range(100):
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            return
        time.sleep(0.002)


def main() -> None:
    if sys.argv[1] == "--reap":
        _reap(int(sys.argv[2]))
        return
    config = json.loads(sys.argv[1])
    report = os.open(config["report"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def tell(**message: object) -> None:
        os.write(report, (json.dumps(message) + "\n").encode())

    def launch() -> NoReturn:
        _die_with_parent()
        if os.getppid() != config["parent"]:  # the evaluator died before we could tie ourselves to it
            os._exit(125)
        layers, home = _prepare(config)
        tell(layers=layers)
        init = os.fork()
        if init == 0:
            _guarded(tell, lambda: _init(config, home, layers, tell))
        _, status = os.waitpid(init, 0)
        tell(status=status)  # the host reads the first status: this one only if init did not report
        os._exit(0)

    _guarded(tell, launch)


if __name__ == "__main__":
    main()
