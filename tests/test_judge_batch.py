"""`--judge-batch`: judgments asked through the Batch API of a real server on 127.0.0.1 (files, batches, chat).

A batch that completes grades everything at half the direct price with no direct request; one that fails stops
the run in one line and the rerun sends a new batch; a run killed while it waits resumes on the same batch, so
nothing is paid twice.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from batch_server import BatchServer
from judge_server import ChatRequest, Reply, between, sample, write_run

from instructeval.errors import InstructEvalError
from instructeval.judge import JudgeOptions, grade_run
from instructeval.judge.batching import load_batches
from instructeval.judge.pricing import Price

ANSWERS = {f"a{i}": ("informative", i % 5 + 1) for i in range(6)}
PRICE = Price(input_per_mtok=2.0, output_per_mtok=8.0)


def script(request: ChatRequest) -> Reply:
    shown = between(request.prompt_text, "answer") or between(request.prompt_text, "text")
    score = int(shown.rsplit("score=", 1)[1].split()[0])
    return Reply(json.dumps({"score": score, "reason": "scripted"}))


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    samples = [sample(doc, cat, f"Answer {doc}. score={score} ") for doc, (cat, score) in ANSWERS.items()]
    return write_run(tmp_path / "run", samples)


@pytest.fixture()
def prices(tmp_path: Path) -> Path:
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"models": {"judge": {"input_per_mtok": 2.0, "output_per_mtok": 8.0}}}))
    return path


def options(server: BatchServer, tmp_path: Path, prices: Path) -> JudgeOptions:
    return JudgeOptions(
        judges=(server.judge_spec(),),
        cache_path=tmp_path / "judge.sqlite",
        prices_file=prices,
        batch=True,
        batch_poll_s=0.01,
        calibration=False,  # calibration asks straight, not through the batch
    )


def _scores(run_dir: Path) -> dict[str, int]:
    lines = (run_dir / "samples" / "writing_judgments.jsonl").read_text().splitlines()
    return {f"{r['doc_id']}/{r['rubric']}": r["score"] for r in map(json.loads, lines) if r["status"] == "scored"}


def test_a_completed_batch_grades_everything_at_half_the_price(run_dir: Path, tmp_path: Path, prices: Path) -> None:
    with BatchServer(script) as server:
        report = grade_run(run_dir, options(server, tmp_path, prices))
    assert len(server.batches) == 1 and server.chat_requests == []
    assert len(server.batched_requests) == len(ANSWERS) * 2  # relevance and coherence
    assert _scores(run_dir) == {f"{doc}/{r}": s for doc, (_, s) in ANSWERS.items() for r in ("relevance", "coherence")}
    usage = report.usage
    direct = PRICE.cost(usage.prompt_tokens, usage.completion_tokens)
    assert usage.replies_paid == len(ANSWERS) * 2 and usage.cost_usd == pytest.approx(direct / 2)
    assert [b.status for b in load_batches(run_dir / "samples" / "writing_judge_batches.json")] == ["completed"]


def test_a_failed_batch_stops_in_one_line_and_the_rerun_sends_a_new_one(
    run_dir: Path, tmp_path: Path, prices: Path
) -> None:
    with BatchServer(script, failing_batches=1) as server:
        with pytest.raises(InstructEvalError, match=r"judge batch batch_0 .* ended failed: scripted failure"):
            grade_run(run_dir, options(server, tmp_path, prices))
        assert not (run_dir / "samples" / "writing_judgments.jsonl").exists() or _scores(run_dir) == {}
        grade_run(run_dir, options(server, tmp_path, prices))
    assert list(server.batches) == ["batch_0", "batch_1"] and server.chat_requests == []
    assert len(_scores(run_dir)) == len(ANSWERS) * 2


def test_a_run_killed_while_waiting_resumes_on_the_same_batch(run_dir: Path, tmp_path: Path, prices: Path) -> None:
    with BatchServer(script) as server:
        server.release.clear()  # the batch stays in progress until the first run is gone
        command = [
            sys.executable, "-m", "instructeval", "judge", str(run_dir), "--judge", server.judge_spec(),
            "--judge-batch", "--judge-batch-poll", "0.05", "--judge-cache", str(tmp_path / "judge.sqlite"),
            "--judge-prices", str(prices),
        ]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        record = run_dir / "samples" / "writing_judge_batches.json"
        deadline = time.monotonic() + 120
        while not (record.is_file() and server.batches["batch_0"].polls >= 2) and time.monotonic() < deadline:
            assert process.poll() is None, process.communicate()
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert [b.batch_id for b in load_batches(record)] == ["batch_0"]
        server.release.set()
        grade_run(run_dir, options(server, tmp_path, prices))
    assert list(server.batches) == ["batch_0"] and len(server.files) == 2  # the upload and the one output file
    assert server.chat_requests == [] and len(server.batched_requests) == len(ANSWERS) * 2
    assert len(_scores(run_dir)) == len(ANSWERS) * 2


def test_batch_needs_an_api_judge_and_the_cache() -> None:
    with pytest.raises(InstructEvalError, match=r"--judge-batch .* demo is not an API judge"):
        JudgeOptions(judges=("demo",), batch=True)
    with pytest.raises(InstructEvalError, match="drop --no-judge-cache"):
        JudgeOptions(judges=("openai:gpt-4o-mini",), batch=True, use_cache=False)
