"""A local model as judge (`--judge demo`): loaded in this process, real generations, strict parsing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judge_server import sample, write_run

from instructeval.errors import InstructEvalError
from instructeval.judge import JudgeOptions, grade_run
from instructeval.models.chat_client import open_chat_client
from instructeval.models.spec import parse_model_spec


@pytest.mark.slow
def test_demo_model_as_local_judge(tmp_path: Path) -> None:
    answers = [
        sample("w1", "informative", "Paris is the capital of France.", "Name the capital of France."),
        sample("w2", "creative", "banana keyboard seventeen", "Write one line about the moon."),
    ]
    run = write_run(tmp_path / "run", answers)
    options = JudgeOptions(judges=("demo",), max_tokens=16, cache_path=tmp_path / "cache.sqlite", calibration=False)
    report = grade_run(run, options)
    stored = [json.loads(line) for line in (run / "samples" / "writing.jsonl").read_text().splitlines()]
    judgments = [j for line in stored for j in line["judgments"]]
    assert len(judgments) == 4
    for judgment in judgments:
        assert judgment["raw_replies"] and judgment["raw_replies"][0].strip()
        if judgment["status"] == "scored":
            assert 1 <= judgment["score"] <= 5
        else:
            assert judgment["status"] == "missing" and judgment["score"] is None
    # an unparseable verdict is asked again once (strict parsing), so 4 judgments take 4 to 8 replies
    assert report.usage.replies_paid == sum(j["requests"] for j in judgments)
    assert 4 <= report.usage.replies_paid <= 8 and report.usage.prompt_tokens > 0

    again = grade_run(run, options)
    assert again.usage.requests == 0 and again.usage.reused_judgments == 4


def test_vllm_judge_points_to_a_server() -> None:
    with pytest.raises(InstructEvalError, match="vllm serve"):
        open_chat_client(parse_model_spec("vllm:some/model"), concurrency=1)


def test_local_judge_without_weights_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InstructEvalError, match="could not load"):
        open_chat_client(parse_model_spec(f"hf:{tmp_path}"), concurrency=1)
