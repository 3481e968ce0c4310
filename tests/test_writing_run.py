"""`instructeval run --tasks writing --judge ...` end to end: the demo model writes, a judge on 127.0.0.1 grades.

The judge is the scripted chat-completions server (a real HTTP server); the answers are real generations of
the demo model. The run must store every answer, every judgment with its raw reply, the writing section of
results.json, and print the judge's table at the end.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
from judge_server import ChatRequest, JudgeServer, Reply

from instructeval.cli import main
from instructeval.results import load_results, read_samples
from instructeval.writing.report import OVERALL

pytestmark = pytest.mark.slow


def _verdict(request: ChatRequest) -> Reply:
    """Relevance 4, coherence 3: the rubric is told apart by the words its prompt uses."""
    return Reply(text='{"score": 4, "reason": "on topic"}' if "how RELEVANT" in request.prompt_text else "[[3]]")


def test_demo_model_writes_and_a_judge_grades(tmp_path: Path) -> None:
    with JudgeServer(_verdict) as server:
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = main(
                [
                    "run", "--model", "demo", "--tasks", "writing", "--limit", "2", "--max-gen-toks", "24",
                    "--output", str(tmp_path), "--run-name", "w", "--judge", server.judge_spec(),
                    "--judge-cache", str(tmp_path / "judge.sqlite"),
                ]
            )  # fmt: skip
        billed = len(server.billed())
    assert code == 0
    run_dir = tmp_path / "SmolLM2-135M-Instruct" / "w"
    results = load_results(run_dir)
    samples = read_samples(run_dir, "writing")
    assert len(samples) == 2 * 4 and all(s["response"].strip() for s in samples)  # --limit 2: 2 per category
    assert billed == 8 * 2 + 10 * 2  # eight answers and the ten calibration answers x two rubrics, each once
    pointwise = results.writing.pointwise
    (calibrated,) = pointwise.calibration.judges  # on by default; a judge giving every answer one grade fails it
    assert calibrated.flagged and calibrated.rubrics["relevance"].kappa == pytest.approx(0.0)
    overall = {rubric: cells[OVERALL].score.value for rubric, cells in pointwise.scores.items()}
    assert overall == {"relevance": pytest.approx(4.0), "coherence": pytest.approx(3.0)}
    printed = stdout.getvalue()
    assert "Writing, judged by" in printed and "relevance" in printed and "coherence" in printed
