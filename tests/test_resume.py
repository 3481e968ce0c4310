"""A run killed with SIGKILL midway and resumed with --resume ends with the scores of an uninterrupted run."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

TASKS = "mmlu_high_school_geography,crass,gsm8k"
DEMO_DATA = Path(__file__).resolve().parent.parent / "instructeval" / "demo_data"


def _command(output: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "instructeval",
        "run",
        "--model",
        "demo",
        "--tasks",
        TASKS,
        "--data-dir",
        str(DEMO_DATA),
        "--limit",
        "2",
        "--output",
        str(output),
        "--run-name",
        "r",
        "--max-gen-toks",
        "48",
        "--batch-size",
        "1",
        *extra,
    ]


def _answers(run_dir: Path) -> int:
    path = run_dir / "requests.sqlite"
    if not path.is_file():
        return 0
    try:
        with sqlite3.connect(path, timeout=1) as db:
            return int(db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def _scores(run_dir: Path) -> dict[str, dict[str, float | None]]:
    results = json.loads((run_dir / "results.json").read_text())
    assert results["run"]["status"] == "complete"
    return {name: {m: s["value"] for m, s in task["metrics"].items()} for name, task in results["tasks"].items()}


def test_kill_and_resume_gives_identical_scores(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    reference = subprocess.run(_command(tmp_path / "straight"), env=env, capture_output=True, text=True, timeout=1500)
    assert reference.returncode == 0, reference.stderr[-2000:]
    straight = tmp_path / "straight" / "SmolLM2-135M-Instruct" / "r"
    total = _answers(straight)

    # Killed while the last task (gsm8k: two generations of seconds each) is half done: its first answer is
    # stored, the second is being generated. The earlier tasks are complete in results.json by then.
    killed_dir = tmp_path / "killed" / "SmolLM2-135M-Instruct" / "r"
    process = subprocess.Popen(
        _command(tmp_path / "killed"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 1200
    while _answers(killed_dir) < total - 1 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.poll() is None, "the run finished before it could be killed midway"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _answers(killed_dir) == total - 1

    again = subprocess.run(
        _command(tmp_path / "killed", "--resume"), env=env, capture_output=True, text=True, timeout=1500
    )
    assert again.returncode == 0, again.stderr[-2000:]
    output = again.stdout + again.stderr
    finished_first = [name for name in _scores(straight) if name != "gsm8k"]
    assert len(finished_first) == 2
    for task in finished_first:
        assert f"{task}: already complete, skipped" in output
    assert "answers: 1 computed, 1 from cache" in output  # the stored gsm8k answer reused, only the other asked
    assert _answers(killed_dir) == total
    assert _scores(killed_dir) == _scores(straight)
