"""The sandbox against real programs: correct and wrong HumanEval solutions, and hostile ones.

Each hostile test checks two things: the program is scored as failed with its reason, and the host is
unharmed (this process alive, files outside the sandbox intact, no process of the program left).
The fork bomb runs only after the same configuration has been seen to cap a harmless program's
process count, so a broken limit fails a test instead of taking the machine down.
"""

from __future__ import annotations

import dataclasses
import glob
import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from source_tree import copy_source, venv_with_project_dependencies

from instructeval.errors import DataError
from instructeval.sandbox import (
    ExecutionResult,
    Layer,
    SandboxLimits,
    Status,
    check_humaneval,
    check_humaneval_many,
    humaneval_program,
    run_many,
    run_untrusted,
)

MiB = 1024 * 1024
REPO = Path(__file__).resolve().parents[1]
HUMANEVAL = (
    Path(os.environ.get("INSTRUCTEVAL_DATA_DIR", REPO.parent / "shared" / "data")) / "humaneval" / "HumanEval.jsonl.gz"
)
# Roomy time limits wherever time is not what a test is about: CI machines may be heavily loaded.
LIMITS = SandboxLimits(wall_seconds=120, cpu_seconds=60)
NO_CGROUPS = frozenset({Layer.PIDS_CGROUP, Layer.MEMORY_CGROUP})
# Every containment test runs with all layers and with the fallback a host without cgroups gets.
LAYER_MODES = pytest.mark.parametrize("disable", [frozenset(), NO_CGROUPS], ids=["all-layers", "no-cgroups"])
needs_root = pytest.mark.skipif(
    os.geteuid() != 0,
    reason="without root the program runs as the evaluator's own user (see docs/sandbox.md)",
)


def _limits(**changes: int) -> SandboxLimits:
    return dataclasses.replace(LIMITS, **changes)


def _marker() -> str:
    return f"instructeval-test-{uuid.uuid4().hex}"


def _survivors(marker: str) -> list[int]:
    """Live processes whose command line carries `marker` (a dead, unreaped one has none)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def _survivors_after_settling(marker: str) -> list[int]:
    """Survivors once SIGKILLed processes have had up to 5 s to go (without cgroups nothing waits)."""
    deadline = time.monotonic() + 5
    while (found := _survivors(marker)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return found


def _sleeper_code(marker: str) -> str:
    """Program text defining `sleeper` (argv of a long sleep tagged with marker) and `wait_running(n)`."""
    return f"""
import os, sys, time
sleeper = [sys.executable, "-c", "import time; time.sleep(1000)", {marker!r}]

def wait_running(count):
    while True:
        seen = 0
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{{pid}}/cmdline", "rb") as cmdline:
                    seen += {marker.encode()!r} in cmdline.read()
            except OSError:
                pass
        if seen >= count:
            return
        time.sleep(0.01)
"""


def _assert_host_unharmed() -> None:
    assert subprocess.run(["true"], check=False).returncode == 0  # this process lives and can still fork
    assert not glob.glob(os.path.join(tempfile.gettempdir(), "instructeval-sandbox-*"))
    assert not glob.glob(f"/sys/fs/cgroup/*/**/instructeval-sandbox-{os.getpid()}-*", recursive=True)


def _assert_process_limit_holds(disable: frozenset[Layer]) -> None:
    marker = _marker()
    program = _sleeper_code(marker) + (
        "started = 0\n"
        "for _ in range(50):\n"
        "    try:\n"
        "        __import__('subprocess').Popen(sleeper)\n"
        "        started += 1\n"
        "    except OSError:\n"
        "        pass\n"
        "print(started)\n"
    )
    result = run_untrusted(program, _limits(max_processes=8), disable=disable)
    assert result.passed, result
    assert int(result.stdout) < 8, result  # itself plus at most 7 children
    assert _survivors_after_settling(marker) == []


# --- HumanEval -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def humaneval() -> dict[str, dict[str, str]]:
    if not HUMANEVAL.exists():
        pytest.skip(f"{HUMANEVAL} not found (set INSTRUCTEVAL_DATA_DIR)")
    with gzip.open(HUMANEVAL, "rt") as lines:
        return {problem["task_id"]: problem for problem in map(json.loads, lines)}


def test_canonical_solutions_pass(humaneval: dict[str, dict[str, str]]) -> None:
    problems = [humaneval[f"HumanEval/{i}"] for i in (0, 2, 32, 53, 160)]
    results = check_humaneval_many([(p, p["canonical_solution"]) for p in problems], LIMITS, workers=2)
    assert [r.status for r in results] == [Status.PASSED] * len(problems), results
    assert all(r.reason == "" and r.exit_code == 0 and r.stdout == "" for r in results)


def test_wrong_solution_fails_with_the_assertion(humaneval: dict[str, dict[str, str]]) -> None:
    result = check_humaneval(humaneval["HumanEval/0"], "    return True\n", LIMITS)
    assert result.status is Status.FAILED
    assert result.reason == "AssertionError"
    assert "assert candidate([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.05) == False" in result.stderr


@pytest.mark.parametrize("early_exit", ["import sys; sys.exit(0)", "import os; os._exit(0)"])
def test_exiting_before_the_tests_is_not_a_pass(humaneval: dict[str, dict[str, str]], early_exit: str) -> None:
    problem = humaneval["HumanEval/0"]
    result = check_humaneval(problem, f"{problem['canonical_solution']}\n{early_exit}\n", LIMITS)
    assert result.status is Status.FAILED, result


def test_main_guard_in_a_completion_does_not_run(humaneval: dict[str, dict[str, str]]) -> None:
    """As in openai/human-eval, the program is exec'd with fresh globals, so __name__ is not __main__."""
    problem = humaneval["HumanEval/2"]
    completion = problem["canonical_solution"] + '\nif __name__ == "__main__":\n    raise SystemExit(3)\n'
    assert check_humaneval(problem, completion, LIMITS).passed


def test_humaneval_program_is_the_reference_concatenation() -> None:
    problem = {"prompt": "def f():\n", "test": "def check(c):\n    assert c() == 1\n", "entry_point": "f"}
    program = humaneval_program(problem, "    return 1\n")
    assert program == "def f():\n    return 1\n\ndef check(c):\n    assert c() == 1\n\ncheck(f)\n"
    with pytest.raises(DataError, match="lacks"):
        humaneval_program({"prompt": "def f():\n"}, "    return 1\n")


# --- ordinary programs --------------------------------------------------------------------------


def test_a_plain_program_passes_and_records_its_isolation() -> None:
    result = run_untrusted("print('hello')", LIMITS)
    assert (result.status, result.reason, result.exit_code, result.stdout) == (
        Status.PASSED,
        "",
        0,
        "hello\n",
    )
    assert {Layer.RLIMITS, Layer.SESSION} <= set(result.isolation)
    if os.geteuid() == 0:
        assert Layer.USER in result.isolation
    without_network = run_untrusted("pass", LIMITS, disable={Layer.NETWORK_NAMESPACE})
    assert without_network.passed and Layer.NETWORK_NAMESPACE not in without_network.isolation
    _assert_host_unharmed()


def test_only_optional_layers_can_be_disabled() -> None:
    with pytest.raises(ValueError, match="cannot disable"):
        run_untrusted("pass", disable={Layer.USER})


def test_an_exception_is_a_failure_with_its_last_line_as_reason() -> None:
    result = run_untrusted("raise ValueError('bad input')", LIMITS)
    assert (result.status, result.reason, result.exit_code) == (Status.FAILED, "ValueError: bad input", 1)


def test_a_program_killed_by_a_signal() -> None:
    result = run_untrusted("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n", LIMITS)
    assert (result.status, result.reason, result.exit_code) == (Status.KILLED, "killed by SIGKILL", -9)


def test_run_many_keeps_the_order() -> None:
    results = run_many([f"print({i})" for i in range(5)], LIMITS, workers=3)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(5)]


# --- hostile programs -------------------------------------------------------------------------


def test_infinite_loop_hits_the_wall_time_limit() -> None:
    result = run_untrusted("while True:\n    pass\n", _limits(wall_seconds=1))
    assert result.status is Status.TIMEOUT
    assert "wall-time limit of 1 s" in result.reason
    _assert_host_unharmed()


def test_busy_loop_hits_the_cpu_time_limit() -> None:
    result = run_untrusted("while True:\n    pass\n", _limits(cpu_seconds=1))
    assert (result.status, result.reason) == (Status.TIMEOUT, "used up the CPU-time limit of 1 s")


@pytest.mark.parametrize(
    "bomb",
    ["hoard = bytearray(8 << 30)\n", "hoard = []\nwhile True:\n    hoard.append(b'x' * (16 << 20))\n"],
    ids=["one-allocation", "growing"],
)
def test_memory_bomb_hits_the_memory_limit(bomb: str) -> None:
    result = run_untrusted(bomb, _limits(memory_bytes=256 * MiB))
    assert result.status is Status.MEMORY, result
    assert result.reason == "MemoryError under the 256 MiB address-space limit"
    _assert_host_unharmed()


def test_memory_bomb_spread_over_processes_hits_the_memory_cgroup() -> None:
    program = (
        "import os, time\n"
        "for _ in range(3):\n"
        "    if os.fork() == 0:\n"
        "        hoard = b'x' * (150 << 20)\n"
        "        time.sleep(60)\n"
        "hoard = b'x' * (150 << 20)\n"
        "os.wait()\n"
        "raise SystemExit('a child died')\n"
    )
    result = run_untrusted(program, _limits(memory_bytes=256 * MiB, disk_bytes=16 * MiB))
    if Layer.MEMORY_CGROUP not in result.isolation:
        pytest.skip("no memory cgroup on this host: each process is capped, not their sum")
    assert result.status is Status.MEMORY, result
    assert result.reason == "killed by the kernel: its processes and files together went over 272 MiB"
    _assert_host_unharmed()


@LAYER_MODES
def test_process_count_is_capped(disable: frozenset[Layer]) -> None:
    _assert_process_limit_holds(disable)
    _assert_host_unharmed()


@LAYER_MODES
def test_fork_bomb_is_contained(disable: frozenset[Layer]) -> None:
    _assert_process_limit_holds(disable)  # never let a bomb loose where the cap was not seen to hold
    marker = _marker()
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    program = f"import os, sys\nos.execv(sys.executable, [sys.executable, '-I', '-c', {bomb!r}, {marker!r}])\n"
    result = run_untrusted(program, _limits(max_processes=16, wall_seconds=2), disable=disable)
    assert result.status is Status.TIMEOUT, result
    assert _survivors_after_settling(marker) == []
    _assert_host_unharmed()


@LAYER_MODES
def test_background_and_double_forked_children_are_killed(disable: frozenset[Layer]) -> None:
    marker = _marker()
    program = _sleeper_code(marker) + (
        "__import__('subprocess').Popen(sleeper)\n"
        "if os.fork() == 0:  # a daemon: new session, so outside the program's process group\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        os.execv(sys.executable, sleeper)\n"
        "    os._exit(0)\n"
        "os.wait()\n"
        "wait_running(2)\n"
        "print('leaving 2 behind')\n"
    )
    result = run_untrusted(program, LIMITS, disable=disable)
    assert (result.status, result.stdout) == (Status.PASSED, "leaving 2 behind\n"), result
    assert _survivors_after_settling(marker) == []
    _assert_host_unharmed()


@needs_root
def test_without_root_it_degrades_to_rlimits_that_still_bind() -> None:
    """An evaluator run inside the sandbox is an unprivileged one: no uid change, cgroup or namespace."""
    inner_evaluator = """
from instructeval.sandbox import SandboxLimits, run_untrusted
spawner = '''
import subprocess, sys
started = 0
for _ in range(30):
    try:
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)"])
        started += 1
    except OSError:
        pass
print(started)
'''
result = run_untrusted(spawner, SandboxLimits(wall_seconds=120, max_processes=12))
print(result.status, int(result.stdout) < 12, *result.isolation)
"""
    result = run_untrusted(inner_evaluator, _limits(memory_bytes=2048 * MiB))
    assert result.passed, result
    assert result.stdout == "passed True rlimits session\n"
    _assert_host_unharmed()


def test_an_editable_checkout_under_tmp_stays_importable() -> None:
    """The private /tmp covers a checkout and venv under the host's /tmp: its packages are bound back."""
    root = Path(tempfile.mkdtemp(prefix="instructeval-checkout-", dir="/tmp"))
    try:
        checkout = copy_source(root / "checkout")
        venv_with_project_dependencies(root / "venv")
        python = root / "venv" / "bin" / "python"
        pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check", "--python", str(python)]
        subprocess.run(
            [*pip, "install", "--no-deps", "--no-build-isolation", "--no-index", "-e", str(checkout)],
            check=True,
            timeout=300,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        output = subprocess.run(
            [python, "-c", _CHECKOUT_EVALUATOR], cwd=root, env=env, capture_output=True, text=True, timeout=300
        )
        assert output.returncode == 0, output.stderr
        evaluator_file, status, stdout, stderr, isolation = json.loads(output.stdout)
        assert evaluator_file == str(checkout / "instructeval" / "__init__.py")
        assert status == "passed", stderr
        program_file, wrote = json.loads(stdout)
        assert program_file == evaluator_file
        if Layer.USER in isolation:  # the checkout is bound back as it is: the fresh uid may read, not write
            assert wrote is False
            assert not (checkout / "instructeval" / "written-by-the-program").exists()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    _assert_host_unharmed()


# Run by the venv of a checkout under /tmp: its sandboxed program imports instructeval and tries to write there.
_CHECKOUT_EVALUATOR = '''
import json, instructeval
from instructeval.sandbox import SandboxLimits, run_untrusted
program = """
import json, os, instructeval
try:
    open(os.path.join(os.path.dirname(instructeval.__file__), "written-by-the-program"), "w").close()
    wrote = True
except OSError:
    wrote = False
print(json.dumps([instructeval.__file__, wrote]))
"""
result = run_untrusted(program, SandboxLimits(wall_seconds=120, cpu_seconds=60))
print(json.dumps([instructeval.__file__, result.status, result.stdout, result.stderr, result.isolation]))
'''


@needs_root
def test_nothing_outlives_an_evaluator_that_is_killed() -> None:
    marker = _marker()
    program = _sleeper_code(marker) + ("__import__('subprocess').Popen(sleeper)\nwait_running(1)\ntime.sleep(1000)\n")
    evaluator = subprocess.Popen(  # the program goes in on stdin: in argv its marker would tag the evaluator
        [
            sys.executable,
            "-c",
            "import sys\nfrom instructeval.sandbox import run_untrusted\nrun_untrusted(sys.stdin.read())",
        ],
        stdin=subprocess.PIPE,
        text=True,
    )
    assert evaluator.stdin is not None
    evaluator.stdin.write(program)
    evaluator.stdin.close()
    try:
        deadline = time.monotonic() + 120
        while not _survivors(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _survivors(marker), "the sandboxed program never started"
    finally:
        evaluator.kill()
        evaluator.wait()
    assert _survivors_after_settling(marker) == []
    assert run_untrusted("pass", LIMITS).passed  # and it sweeps the folder and cgroups the dead one left
    _assert_host_unharmed()


@needs_root
def test_rm_rf_home_and_writing_outside_its_folder_are_contained(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    sentinel = tmp_path / "sentinel.txt"
    sentinel.write_text("intact")
    tmp_path.chmod(0o700)
    canary = Path.home() / f".instructeval-sandbox-canary-{tag}"
    canary.write_text("intact")
    outside = REPO / f"instructeval-sandbox-escape-{tag}"
    # Shared world-writable folders: writes there succeed, but must land in the sandbox's private copy.
    shared = [Path(d, f"instructeval-sandbox-escape-{tag}") for d in ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")]
    shared = [p for p in shared if p.parent.is_dir()]
    program = f"""
import os, subprocess
subprocess.run("rm -rf ~ 2>/dev/null", shell=True)  # HOME is the sandbox's own folder
for target in [{str(sentinel)!r}, {str(canary)!r}]:
    try:
        os.remove(target)
        print("REMOVED", target)
    except OSError as error:
        print("kept", target, type(error).__name__)
for target in [{str(sentinel)!r}, {str(canary)!r}, {str(outside)!r}]:
    try:
        with open(target, "w") as out:
            out.write("overwritten")
        print("WROTE", target)
    except OSError as error:
        print("kept", target, type(error).__name__)
for target in {[str(p) for p in shared]!r}:
    with open(target, "w") as out:
        out.write("escaped?")
"""
    try:
        result = run_untrusted(program, LIMITS)
        assert result.passed, result
        assert "REMOVED" not in result.stdout and "WROTE" not in result.stdout, result.stdout
        assert sentinel.read_text() == "intact"
        assert canary.read_text() == "intact"
        assert not outside.exists()
        if Layer.MOUNT_NAMESPACE in result.isolation:
            assert not [p for p in shared if p.exists()]
        _assert_host_unharmed()
    finally:
        for path in [canary, outside, *shared]:
            path.unlink(missing_ok=True)


def test_sockets_cannot_reach_a_server_on_localhost() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        program = f"""
import socket
for address in [("127.0.0.1", {port}), ("1.1.1.1", 53)]:
    try:
        socket.create_connection(address, timeout=3).close()
        print("CONNECTED", address)
    except OSError as error:
        print("blocked", address, error)
"""
        result = run_untrusted(program, LIMITS)
        if Layer.NETWORK_NAMESPACE not in result.isolation:
            pytest.skip("no network namespace on this host")
        assert result.passed and "CONNECTED" not in result.stdout, result.stdout
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # no connection ever arrived
    _assert_host_unharmed()


@needs_root
def test_secrets_are_out_of_reach(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = f"sk-instructeval-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("OPENAI_API_KEY", key)
    secret = tmp_path / "secret.txt"
    secret.write_text(key)
    secret.chmod(0o600)
    program = f"""
import os
print(dict(os.environ))
for path in ["/etc/shadow", {str(secret)!r}, f"/proc/{{os.getppid()}}/environ"]:
    try:
        with open(path, "rb") as source:
            print(source.read())
    except OSError as error:
        print("denied", path, type(error).__name__)
"""
    result = run_untrusted(program, LIMITS)
    assert result.passed, result
    assert key not in result.stdout and "OPENAI_API_KEY" not in result.stdout
    assert result.stdout.count("denied") == 3, result.stdout


@needs_root
def test_killing_its_parent_fails_and_the_parent_lives() -> None:
    result = run_untrusted("import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n", LIMITS)
    assert result.status is Status.FAILED
    assert result.reason.startswith("PermissionError"), result
    _assert_host_unharmed()


def test_huge_output_is_cut_off_and_only_its_tail_kept() -> None:
    limits = _limits(file_size_bytes=1 * MiB, output_bytes=1000)
    result = run_untrusted("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", limits)
    assert result.status is Status.FAILED
    assert "File too large" in result.reason
    assert result.stdout == "x" * 1000
    _assert_host_unharmed()


def test_scratch_space_is_capped() -> None:
    limits = _limits(file_size_bytes=1 * MiB, disk_bytes=4 * MiB)
    program = "for i in range(16):\n    with open(f'block{i}', 'wb') as out:\n        out.write(bytes(1 << 20))\n"
    result: ExecutionResult = run_untrusted(program, limits)
    if Layer.MOUNT_NAMESPACE not in result.isolation:
        pytest.skip("no mount namespace on this host: only single files are capped")
    assert result.status is Status.FAILED
    assert "No space left on device" in result.reason
    too_big = run_untrusted("with open('big', 'wb') as out:\n    out.write(bytes(2 << 20))\n", limits)
    assert "File too large" in too_big.reason
