"""Bad input gets one clear line naming the problem and the fix, a non-zero exit code and no traceback.

The checks run in-process (`instructeval.cli.main`), where any exception other than our one-line errors fails the
test; one case runs as a real subprocess to check what a user's terminal shows.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from instructeval.cli import main


@dataclass
class Outcome:
    returncode: int
    stderr: str


def _run(*args: str, cwd: Path) -> Outcome:
    """Run the CLI in this process from `cwd`, capturing stderr."""
    import contextlib
    import io

    stderr = io.StringIO()
    previous = Path.cwd()
    os.chdir(cwd)
    try:
        with contextlib.redirect_stderr(stderr):
            code = main(list(args))
    finally:
        os.chdir(previous)
    return Outcome(code, stderr.getvalue())


def test_a_real_process_prints_one_line_and_no_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "instructeval", "run", "--model", "gpt4", "--tasks", "mmlu"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("instructeval: error: unknown model spec 'gpt4'")
    assert len(result.stderr.splitlines()) == 1 and not result.stdout


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "--model", "gpt4", "--tasks", "mmlu"], "unknown model spec"),
        (["run", "--model", "llama:foo", "--tasks", "mmlu"], "unknown model backend"),
        (["run", "--model", "demo", "--tasks", "mmlu,nonsense"], "unknown task nonsense"),
        (["run", "--model", "demo", "--suite", "everything"], "unknown suite"),
        (["run", "--model", "demo", "--tasks", "mmlu", "--limit", "0"], "--limit 0 is not valid"),
        (["run", "--model", "demo", "--tasks", "mmlu", "--data-dir", "/nonexistent/data"], "does not exist"),
        (["run", "--model", "openai-compatible:http://127.0.0.1:9/v1@m", "--tasks", "mmlu_gen"], "cannot reach"),
        (["run", "--model", "hf:./no-such-folder", "--tasks", "mmlu"], "does not exist"),
        (["run", "--model", "demo", "--tasks", "mmlu", "--adapter", "./no-adapter"], "adapter folder"),
        (["run", "--model", "demo", "--tasks", "mmlu", "--batch-size", "big"], "--batch-size 'big' is not valid"),
        (["run", "--model", "openai:gpt-4o-mini", "--tasks", "mmlu_gen"], "OPENAI_API_KEY"),
    ],
)
def test_bad_input_is_one_line(args: list[str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = _run(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("instructeval: error:")]
    assert len(lines) == 1 and expected in lines[0], result.stderr[-1500:]


def test_wrong_data_layout_names_the_missing_file(tmp_path: Path) -> None:
    (tmp_path / "data" / "mmlu").mkdir(parents=True)
    result = _run("run", "--model", "demo", "--tasks", "crass", "--data-dir", str(tmp_path / "data"), cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "crass/crass_ai/task.json" in result.stderr and "layout" in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before any run folder was made


def test_inject_refuses_a_missing_model_folder_before_making_a_run(tmp_path: Path) -> None:
    result = _run("inject", "--model", "hf:./no-such-folder", "--knowledge", "invented:all", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "model folder ./no-such-folder does not exist" in result.stderr
    assert not (tmp_path / "runs").exists()


def test_existing_output_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "runs" / "SmolLM2-135M-Instruct" / "mine").mkdir(parents=True)
    result = _run("run", "--model", "demo", "--tasks", "crass", "--run-name", "mine", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "already exists" in result.stderr and "--resume" in result.stderr


def test_an_unexpected_exception_is_one_line_with_its_traceback_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug (stood in for by a command that raises KeyError) prints one line and keeps the traceback in a file."""

    def broken(args: object) -> int:
        raise KeyError("validation")

    monkeypatch.setattr("instructeval.cli.tasks.list_tasks", broken)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.delenv("INSTRUCTEVAL_TRACEBACK", raising=False)
    result = _run("tasks", cwd=tmp_path)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith("instructeval: internal error (KeyError: 'validation'); finished work is kept")
    saved = Path(result.stderr.split("traceback in ")[1].strip())
    assert saved.parent == tmp_path and 'raise KeyError("validation")' in saved.read_text(encoding="utf-8")

    monkeypatch.setenv("INSTRUCTEVAL_TRACEBACK", "1")
    with pytest.raises(KeyError):
        _run("tasks", cwd=tmp_path)
