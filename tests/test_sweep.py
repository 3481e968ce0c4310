"""`instructeval sweep` on a real local Ray cluster (one per module, started with `ray start --head`), with three
tiny random-weight models (the tiny Llama, the tiny Llama with a random LoRA adapter, the tiny T5) x two tasks
(CRASS, GSM8K) and two workers. The Llama and its adapter share one load (the adapter switched on and off).

One sweep is run with a worker process SIGKILLed while it answers GSM8K: the sweep still completes, Ray retries
that model on another worker, its finished runs are not recomputed and its GSM8K run resumes from the request
cache; every run's scores and samples equal a sequential `instructeval run` of the same model and tasks. A second
call does nothing and says so; `--status` lists every pair as done. The same sweep runs with `--watch` (one
sweep process for all of it, so its warm workers serve the checkpoints too): a checkpoint folder written once it
watches is evaluated once its marker file appears, and a checkpoint that cannot load fails its pairs in one line
each (the sweep exits 1; `--status` shows them). Without Ray, `sweep` says in one line how to get it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_checks import headline, run_cli

from instructeval.results import read_samples

pytest.importorskip("ray", reason="instructeval sweep needs the extra: pip install 'instructeval[sweep]'")
psutil = pytest.importorskip("psutil")

ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
TASKS = ("crass", "gsm8k")
GSM8K_TOKENS = 32  # two generations long enough to kill the worker between them
SWEEP_FILE = """
models:
  - hf:{llama}
  - model: hf:{llama}
    adapter: {adapter}
    base: hf:{llama}
  - hf:{t5}
tasks:
  - crass
  - task: gsm8k
    max_gen_toks: {tokens}
limit: 2
batch_size: 1
workers: 2
"""


@pytest.fixture(scope="module")
def ray_address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Ray head node on 127.0.0.1 with 2 CPUs for this module's sweeps; its processes are stopped at the end."""
    folder = tmp_path_factory.mktemp("ray")
    port = _free_port()
    log = folder / "ray.log"
    ray = Path(sys.executable).parent / "ray"
    with log.open("w") as handle:
        head = subprocess.Popen(
            [
                str(ray), "start", "--head", "--block", "--num-cpus", "2", "--node-ip-address", "127.0.0.1",
                "--port", str(port), "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", str(folder),
            ],
            env=ENV, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while "Ray runtime started" not in log.read_text() and time.monotonic() < deadline:
            assert head.poll() is None, log.read_text()[-2000:]
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        _stop_group(head)


@pytest.fixture(scope="module")
def sweep_setup(tiny_llama: Path, tiny_t5: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A work folder holding the LoRA adapter and sweep.yaml; the sweep's output goes to its runs/."""
    work = tmp_path_factory.mktemp("sweep")
    adapter = _lora_adapter(tiny_llama, work / "lora")
    sweep_file = work / "sweep.yaml"
    sweep_file.write_text(SWEEP_FILE.format(llama=tiny_llama, adapter=adapter, t5=tiny_t5, tokens=GSM8K_TOKENS))
    return work, sweep_file


@dataclass(frozen=True)
class Swept:
    """What the module's sweep left: its output folder, what it printed, the run folder killed midway, the
    checkpoint it picked up while watching (and whether it took it before the marker file was written), and the
    checkpoint that could not load."""

    output: Path
    printed: str
    killed: Path
    checkpoint: Path
    taken_before_marker: bool
    broken: Path


@pytest.fixture(scope="module")
def swept(ray_address: str, sweep_setup: tuple[Path, Path], tiny_llama: Path, data_dir: Path) -> Swept:
    """The sweep with `--watch`: one of its workers SIGKILLed once a GSM8K run has stored one of its two answers;
    once it watches, a checkpoint folder is written, then its marker file; then a checkpoint whose config.json is
    not JSON; then Ctrl-C."""
    work, sweep_file = sweep_setup
    output, training = work / "runs", work / "train-out"
    training.mkdir()
    command = [*_sweep(sweep_file, ray_address, data_dir, output), "--watch", str(training), "--marker", "DONE"]
    log = work / "sweep.log"
    with log.open("w") as handle:
        sweep = subprocess.Popen(
            [*command, "--poll-seconds", "0.2"],
            cwd=work,
            env=ENV,
            stdout=handle,
            stderr=subprocess.STDOUT,
            preexec_fn=_interruptible,
        )
        try:
            killed = _kill_worker_midway(output, sweep, log)
            _wait_for(lambda: "sweep: watching" in log.read_text(), sweep, log)
            checkpoint = training / "checkpoint-100"
            shutil.copytree(tiny_llama, checkpoint)
            time.sleep(1.0)  # five polls: a checkpoint without its marker is still being written
            taken_before_marker = "new checkpoint" in log.read_text()
            (checkpoint / "DONE").touch()
            _wait_for(lambda: log.read_text().count("leaderboard:") == 2, sweep, log)
            broken = training / "checkpoint-broken"
            broken.mkdir()
            (broken / "config.json").write_text("{not json")
            (broken / "DONE").touch()
            _wait_for(lambda: "retry the failed pairs" in log.read_text(), sweep, log)
            sweep.send_signal(signal.SIGINT)
            assert sweep.wait(timeout=300) == 1, log.read_text()[-4000:]
        finally:
            if sweep.poll() is None:
                sweep.kill()
    return Swept(output, log.read_text(), killed, checkpoint, taken_before_marker, broken)


def test_every_pair_equals_a_sequential_run(
    swept: Swept, sweep_setup: tuple[Path, Path], data_dir: Path, tmp_path: Path
) -> None:
    """Each of the 3 x 2 run folders has the scores and samples of a plain `instructeval run` of its model on the
    same tasks (one run per model; CRASS scores choices, so GSM8K's token cap does not touch it). The adapter
    changed the answers: its log-likelihoods are not the base's."""
    work, _ = sweep_setup
    runs = [path for path in sorted(swept.output.glob("*/*/results.json")) if "checkpoint" not in str(path)]
    assert len(runs) == 6, swept.printed[-3000:]
    models = sorted({_model_of(path.parent) for path in runs}, key=str)
    assert len(models) == 3
    sequential = {}
    for number, (spec, adapter) in enumerate(models):
        args = ["run", "--model", spec, "--tasks", ",".join(TASKS), "--limit", "2", "--batch-size", "1"]
        args += ["--max-gen-toks", str(GSM8K_TOKENS), "--data-dir", str(data_dir), "--output", str(tmp_path)]
        args += ["--run-name", f"sequential-{number}", *(["--adapter", adapter] if adapter else [])]
        with contextlib.chdir(work):
            run_cli(args)
        (sequential[(spec, adapter)],) = tmp_path.glob(f"*/sequential-{number}")
    for results_file in runs:
        run_dir = results_file.parent
        task = run_dir.name.rsplit("-", 1)[0]
        alone = sequential[_model_of(run_dir)]
        assert headline(run_dir)[task] == headline(alone)[task], run_dir
        assert _scores(run_dir, task) == _scores(alone, task), run_dir
        assert _loglikelihoods(run_dir, task) == pytest.approx(_loglikelihoods(alone, task), abs=1e-5), run_dir
    (llama, adapter) = next(key for key in models if key[1])
    assert _loglikelihoods(sequential[(llama, adapter)], "crass") != pytest.approx(
        _loglikelihoods(sequential[(llama, None)], "crass"), abs=1e-3
    )


def test_a_killed_worker_resumes_without_recomputing_finished_work(swept: Swept) -> None:
    """No finished run ran twice; the killed GSM8K run kept the answer stored before the kill."""
    output, printed, killed = swept.output, swept.printed, swept.killed
    journal = [json.loads(line) for line in (output / "sweep.jsonl").read_text().splitlines()]
    journal = [entry for entry in journal if "checkpoint" not in entry["model"]]
    assert [entry["status"] for entry in journal] == ["done"] * 6, journal
    assert len({entry["run_dir"] for entry in journal}) == 6  # each pair finished once, none recomputed
    resumed = next(entry for entry in journal if Path(entry["run_dir"]).name == killed.name)
    assert (resumed["computed"], resumed["cached"]) == (1, 1), resumed
    assert "(1 computed, 1 from cache" in printed
    assert "sweep: 6 pairs run, 0 already done, 0 failed" in printed
    assert "comparison written to" in printed and "leaderboard:" in printed
    assert (output / "leaderboard" / "index.html").is_file()
    assert len(list(output.glob("*/*/comparison-vs-*.json"))) == 2  # the adapter against its base, on both tasks
    # One load per model task: the Llama's (for the base and its adapter), the T5's, and the retried one's.
    assert sum(1 for entry in journal if entry["load_seconds"]) == 3
    assert "(3 model loads" in printed


def test_a_second_call_does_nothing_and_says_so(
    swept: Swept, sweep_setup: tuple[Path, Path], ray_address: str, data_dir: Path
) -> None:
    output = swept.output
    work, sweep_file = sweep_setup
    before = {path: path.stat().st_mtime_ns for path in output.glob("*/*/*") if path.is_file()}
    again = subprocess.run(
        _sweep(sweep_file, ray_address, data_dir, output), cwd=work, env=ENV, capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"sweep: all 6 pairs are already done under {output}; nothing to run" in again.stderr
    assert before == {path: path.stat().st_mtime_ns for path in output.glob("*/*/*") if path.is_file()}
    status = subprocess.run(
        [*_sweep(sweep_file, ray_address, data_dir, output), "--status"],
        cwd=work,
        env=ENV,
        capture_output=True,
        text=True,
    )
    assert status.returncode == 0, status.stderr
    assert [line.split()[0] for line in status.stdout.splitlines()] == ["done"] * 6
    assert "6 done" in status.stderr


def test_watch_evaluates_a_checkpoint_written_while_it_runs(swept: Swept, tiny_llama: Path) -> None:
    """A checkpoint folder written while `--watch` polls is evaluated on the sweep's tasks once its marker file
    exists; it is a copy of the tiny Llama, so its scores are the Llama's."""
    assert not swept.taken_before_marker
    assert f"sweep: new checkpoint {swept.checkpoint}" in swept.printed
    assert "sweep: 2 pairs run, 6 already done, 0 failed" in swept.printed
    for task in TASKS:
        (run_dir,) = swept.output.glob(f"*checkpoint-100/{task}-*")
        assert _model_of(run_dir) == (f"hf:{swept.checkpoint}", None)
        (base_dir,) = (d for d in swept.output.glob(f"*/{task}-*") if _model_of(d) == (f"hf:{tiny_llama}", None))
        assert headline(run_dir) == headline(base_dir) and _scores(run_dir, task) == _scores(base_dir, task)
    assert f"sweep: stopped watching {swept.checkpoint.parent}" in swept.printed


def test_a_failed_pair_is_reported_in_one_line_and_shown_by_status(
    swept: Swept, sweep_setup: tuple[Path, Path], ray_address: str, data_dir: Path
) -> None:
    """A checkpoint that cannot load fails each of its pairs with the one-line reason (the sweep goes on watching,
    then exits 1), and `--status` shows them failed with that reason."""
    failed = [line for line in swept.printed.splitlines() if line.startswith("failed ")]
    assert [line.split(": ", 1)[0] for line in failed] == [f"failed {t} on hf:{swept.broken}" for t in TASKS]
    assert all(str(swept.broken) in line.split(": ", 1)[1] for line in failed), failed
    assert "sweep: 0 pairs run, 8 already done, 2 failed" in swept.printed
    assert "rerun the same command to retry the failed pairs" in swept.printed
    work, sweep_file = sweep_setup
    command = [*_sweep(sweep_file, ray_address, data_dir, swept.output), "--models", f"hf:{swept.broken}", "--status"]
    status = subprocess.run(command, cwd=work, env=ENV, capture_output=True, text=True)
    assert status.returncode == 0, status.stderr
    rows = status.stdout.splitlines()
    assert [row.split()[0] for row in rows] == ["failed", "failed"]
    assert all(row.endswith(line.split(": ", 1)[1]) for row, line in zip(rows, failed, strict=True)), rows


def test_without_ray_sweep_says_how_to_install_it(tiny_llama: Path, tmp_path: Path) -> None:
    """With `ray` unimportable, the sweep stops in one line naming the extra to install."""
    code = (
        "import sys; sys.modules['ray'] = None; from instructeval.cli import main; "
        f"sys.exit(main(['sweep', '--models', 'hf:{tiny_llama}', '--tasks', 'crass', '--output', '{tmp_path}']))"
    )
    result = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True)
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "instructeval: error: instructeval sweep needs Ray: pip install 'instructeval[sweep]'"
    )


def _sweep(sweep_file: Path, address: str, data_dir: Path, output: Path) -> list[str]:
    return [
        sys.executable, "-m", "instructeval", "sweep", str(sweep_file), "--address", address, "--data-dir",
        str(data_dir), "--output", str(output),
    ]  # fmt: skip


def _kill_worker_midway(output: Path, sweep: subprocess.Popen[bytes], log: Path) -> Path:
    """SIGKILL the Ray worker holding a GSM8K run once that run has one of its two answers stored; its folder."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert sweep.poll() is None, log.read_text()[-3000:]
        for cache in output.glob("*/gsm8k-*/requests.sqlite"):
            if _answers(cache) == 1 and (worker := _worker_with(cache)) is not None:
                worker.kill()
                return cache.parent
        time.sleep(0.01)
    raise AssertionError("no GSM8K run was caught between its two answers")


def _worker_with(path: Path) -> psutil.Process | None:
    """The Ray worker process that has `path` open."""
    for process in psutil.process_iter(["cmdline"]):
        with contextlib.suppress(psutil.Error):
            if (process.info["cmdline"] or [""])[0].startswith("ray::") and any(
                f.path == str(path) for f in process.open_files()
            ):
                return process
    return None


def _answers(cache: Path) -> int:
    try:
        with contextlib.closing(sqlite3.connect(cache, timeout=1)) as db:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _scores(run_dir: Path, task: str) -> list[tuple[str, dict[str, float]]]:
    return [(sample["doc_hash"], sample["scores"]) for sample in read_samples(run_dir, task)]


def _loglikelihoods(run_dir: Path, task: str) -> list[float]:
    return [value for sample in read_samples(run_dir, task) for value in sample["choice_loglikelihoods"] or []]


def _model_of(run_dir: Path) -> tuple[str, str | None]:
    model = json.loads((run_dir / "results.json").read_text())["model"]
    return model["spec"], model["adapter"]


def _lora_adapter(base: Path, target: Path) -> Path:
    """A LoRA adapter on the tiny Llama with random (not zero) weights, so it changes the model's answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    config = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(base), config).save_pretrained(target)
    return target


def _interruptible() -> None:
    """In the child before it starts: Ctrl-C (SIGINT) back to its default. A child inherits an ignored SIGINT, and
    Python then never raises KeyboardInterrupt; earlier tests in the same pytest process can leave it ignored."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for(condition: object, process: subprocess.Popen[bytes], log: Path, timeout_s: float = 300) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline, log.read_text()[-3000:]
        time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group started with `process`: the head node and every Ray process it started."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
