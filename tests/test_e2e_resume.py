"""Kill -9 a real `instructeval run` of the tiny Llama midway, rerun it with --resume: the finished tasks are
skipped, the stored answer of the half-done task is reused, and every score and sample equals a straight run's."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from e2e_checks import headline

TASKS = "mmlu_anatomy,crass,gsm8k"
MAX_GEN_TOKS = 48  # the last task's two generations take long enough to kill the run between them


def _command(model: Path, data_dir: Path, output: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "instructeval", "run", "--model", f"hf:{model}", "--tasks", TASKS, "--data-dir",
        str(data_dir), "--limit", "2", "--max-gen-toks", str(MAX_GEN_TOKS), "--batch-size", "1", "--output",
        str(output), "--run-name", "r", *extra,
    ]  # fmt: skip


def _answers(run_dir: Path) -> int:
    path = run_dir / "requests.sqlite"
    if not path.is_file():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=1)) as db:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
    except sqlite3.OperationalError:  # created but no table yet
        return 0


def _samples(run_dir: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted((run_dir / "samples").iterdir())}


def test_kill_and_resume_gives_the_straight_runs_scores(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    straight_cmd = _command(tiny_llama, data_dir, tmp_path / "straight")
    straight = subprocess.run(straight_cmd, env=env, capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    straight_dir = tmp_path / "straight" / f"{tiny_llama.parent.name}--{tiny_llama.name}" / "r"
    total = _answers(straight_dir)
    assert total == 2 * 4 + 2 * 4 + 2  # mmlu and crass: four choices per question; gsm8k: one generation each

    killed_dir = tmp_path / "killed" / straight_dir.relative_to(tmp_path / "straight")
    killed_cmd = _command(tiny_llama, data_dir, tmp_path / "killed")
    process = subprocess.Popen(killed_cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 240
    while _answers(killed_dir) < total - 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed midway"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _answers(killed_dir) == total - 1  # gsm8k's first answer stored, its second not
    assert (killed_dir / "samples" / "crass.jsonl").is_file() and not (killed_dir / "samples" / "gsm8k.jsonl").exists()

    again_cmd = _command(tiny_llama, data_dir, tmp_path / "killed", "--resume")
    again = subprocess.run(again_cmd, env=env, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"run folder: {killed_dir} (resumed)" in again.stderr
    for task in ("mmlu", "crass"):
        assert f"{task}: already complete, skipped" in again.stderr
    assert "answers: 1 computed, 1 from cache" in again.stderr
    assert _answers(killed_dir) == total
    assert headline(killed_dir) == headline(straight_dir)
    assert _samples(killed_dir) == _samples(straight_dir)  # every answer, log-likelihood and score, byte for byte
