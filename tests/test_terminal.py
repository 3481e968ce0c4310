"""What a run prints on stderr: a closing line per task and none of the libraries' progress bars or
FutureWarnings by default; those come back with --verbose. In a terminal, each task shows one bar with its ETA."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from instructeval.terminal import TaskBars

TASKS = ("crass", "hhh_mc_harmless")


def _run(model: Path, data_dir: Path, output: Path, *extra: str) -> str:
    command = [
        sys.executable, "-m", "instructeval", "run", "--model", f"hf:{model}", "--tasks", ",".join(TASKS),
        "--limit", "2", "--max-gen-toks", "4", "--data-dir", str(data_dir), "--output", str(output), *extra,
    ]  # fmt: skip
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TQDM_", "PYTHONWARNINGS"))}
    finished = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stderr


def test_a_run_prints_one_line_per_task_and_no_library_noise(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    stderr = _run(tiny_llama, data_dir, tmp_path / "quiet")
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert [line.split(":")[0] for line in lines if " done in " in line] == ["crass", "hhh_mc"]
    assert "Warning" not in stderr and "it/s" not in stderr and "%|" not in stderr, stderr
    assert len(lines) == 2 + len(TASKS), stderr  # the run folder, a line per task, the answers computed

    verbose = _run(tiny_llama, data_dir, tmp_path / "verbose", "--verbose")
    assert "FutureWarning" in verbose and "it/s]" in verbose  # what the default run keeps out
    assert " done in " not in verbose


def test_a_terminal_shows_one_bar_per_task_counting_answers() -> None:
    screen = io.StringIO()
    bars = TaskBars(Console(file=screen, force_terminal=True, width=80))
    with bars.showing("mmlu", "mmlu-5shot-loglikelihood"):
        bars.asked(16)
        bars.answered(4)
        bars.answered(12)
    shown = screen.getvalue()
    assert "mmlu (mmlu-5shot-loglikelihood)" in shown and "16/16" in shown and "answers, ETA" in shown
    assert "mmlu: done in 0.0 s (16 answers)" in shown
