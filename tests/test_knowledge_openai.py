"""API fine-tuning against a real HTTP server on 127.0.0.1 (files + fine_tuning.jobs + chat completions):
the job succeeds, the job fails, and polling is interrupted (SIGINT to a real process) and resumed."""

from __future__ import annotations

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from openai_ft_server import FineTuneServer
from test_knowledge_scoring import cli

from instructeval.knowledge.methods.finetune_openai import training_cost
from instructeval.knowledge.types import DEFAULT_SYSTEM
from instructeval.results import load_results

KEY = "sk-test-not-a-real-key"
FAST_POLL = ("--poll-interval", "0.02", "--poll-max-interval", "0.05")


@pytest.fixture(autouse=True)
def api_key(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


def inject_args(server: FineTuneServer, facts: Path, out: Path, *extra: str) -> list[str]:
    model, knowledge = server.spec(), f"jsonl:{facts}"
    return [
        "inject",
        "--model",
        model,
        "--knowledge",
        knowledge,
        "--output",
        str(out),
        "--run-name",
        "ft",
        *FAST_POLL,
        *extra,
    ]


def test_job_succeeds_and_the_tuned_model_is_evaluated(tmp_path, facts):
    with FineTuneServer(polls_to_finish=3, flaky_polls=1) as server:
        assert cli(*inject_args(server, facts, tmp_path / "runs", "--method", "base,finetune", "--epochs", "2")) == 0
        uploaded = [json.loads(line) for line in next(iter(server.files.values())).decode().splitlines()]
        job = next(iter(server.jobs.values()))
    run = tmp_path / "runs" / "gpt-4o-mini-2024-07-18" / "ft"
    results = load_results(run)
    base, tuned = results.knowledge  # type: ignore[misc]
    assert results.run.status == "complete"
    # qa format: system prompt + question -> answer, exactly FineTuneBench's Q/A form
    assert uploaded[0]["messages"] == [
        {"role": "system", "content": DEFAULT_SYSTEM},
        {"role": "user", "content": "What is the code name of project 0?"},
        {"role": "assistant", "content": "Vamo0"},
    ]
    assert job.body["method"]["supervised"]["hyperparameters"] == {"n_epochs": 2}
    assert base.splits["memorisation"]["exact"].score.value == 0.0
    # the fake API memorises trained questions only: memorisation 1, rephrased 0
    assert tuned.splits["memorisation"]["exact"].score.value == 1.0
    assert tuned.splits["rephrased"]["exact"].score.value == 0.0
    assert tuned.tuned_model == f"openai-compatible:{server.base_url}@{job.fine_tuned_model}"
    assert tuned.training["job_id"] == job.id and tuned.training["trained_tokens"] == job.trained_tokens
    assert job.trained_tokens
    assert tuned.training["cost_usd"] == training_cost("gpt-4o-mini-2024-07-18", job.trained_tokens)
    assert tuned.training["cost_usd"] > 0
    assert tuned.training["format"] == "qa"
    # one upload, one job, polling went on through a 500; the key was sent but never written
    assert server.count("POST", "/v1/files") == 1 and server.count("POST", "/v1/fine_tuning/jobs") == 1
    assert server.count("GET", r"/v1/fine_tuning/jobs/ftjob-\d+") == 3
    assert {auth for _, _, auth in server.log} == {f"Bearer {KEY}"}
    assert not any(KEY in p.read_text(errors="ignore") for p in run.rglob("*") if p.is_file())


def test_job_fails_with_the_providers_reason(tmp_path, facts, capsys):
    with FineTuneServer(fail_jobs=True) as server:
        assert cli(*inject_args(server, facts, tmp_path / "runs", "--method", "finetune")) == 2
    message = capsys.readouterr().err
    assert "ftjob-0001 failed" in message and "too few examples" in message
    run = tmp_path / "runs" / "gpt-4o-mini-2024-07-18" / "ft"
    assert load_results(run).run.status == "failed"
    state = json.loads((run / "openai_job.json").read_text())
    assert state["job_id"] == "ftjob-0001" and state["status"] == "failed"


@pytest.mark.slow
def test_polling_interrupted_and_resumed_uses_the_same_job(tmp_path, facts):
    out = tmp_path / "runs"
    with FineTuneServer() as server:
        server.hold.set()
        args = inject_args(server, facts, out, "--method", "finetune")
        child = subprocess.Popen([sys.executable, "-m", "instructeval", *args], stderr=subprocess.PIPE, text=True)
        try:
            server.wait_for(lambda: any(job.polls >= 3 for job in server.jobs.values()), timeout_s=600)
            child.send_signal(signal.SIGINT)
            _, stderr = child.communicate(timeout=120)
        finally:
            if child.poll() is None:
                child.kill()
        assert child.returncode == 130, stderr
        assert "--resume" in stderr
        run = out / "gpt-4o-mini-2024-07-18" / "ft"
        assert json.loads((run / "openai_job.json").read_text())["job_id"] == "ftjob-0001"
        assert load_results(run).run.status == "failed"  # interrupted: resumable
        server.hold.clear()
        assert cli(*args, "--resume") == 0
        assert server.count("POST", "/v1/files") == 1
        assert server.count("POST", "/v1/fine_tuning/jobs") == 1
    results = load_results(run)
    assert results.run.status == "complete"
    (tuned,) = results.knowledge  # type: ignore[misc]
    assert tuned.training["job_id"] == "ftjob-0001"
    assert tuned.splits["memorisation"]["exact"].score.value == 1.0


def test_icl_on_an_api_model_puts_every_fact_in_context(tmp_path, facts):
    with FineTuneServer() as server:
        assert cli(*inject_args(server, facts, tmp_path / "runs", "--method", "icl", "--scorers", "lenient")) == 0
    (icl,) = load_results(tmp_path / "runs" / "gpt-4o-mini-2024-07-18" / "ft").knowledge  # type: ignore[misc]
    assert len(server.chats) == 8  # 4 questions + 4 rephrasings
    for body in server.chats:
        user = body["messages"][-1]["content"]
        assert user.startswith("Here are some facts:") and all(f"Vamo{i}" in user for i in range(4))
    # the fake server answers every untrained question with UNKNOWN: wrong answers, still counted in n
    assert icl.splits["memorisation"]["lenient"].score.value == 0.0
    assert icl.splits["memorisation"]["lenient"].score.n == 4
    assert icl.training["icl"]["context"] == "whole set"


def test_curve_asks_the_checkpoints_openai_keeps_and_says_which_epochs_are_missing(tmp_path, facts, capsys):
    with FineTuneServer() as server:
        args = inject_args(server, facts, tmp_path / "runs", "--method", "finetune", "--epochs", "5")
        assert cli(*args, "--curve", "1,3,4,5") == 0
        (job,) = server.jobs.values()
        asked = {chat["model"] for chat in server.chats}
    assert "checkpoints kept: epochs 3, 4, 5 (OpenAI keeps the checkpoints of the last 3 epochs)" in " ".join(
        capsys.readouterr().out.split()
    )
    (tuned,) = load_results(tmp_path / "runs" / "gpt-4o-mini-2024-07-18" / "ft").knowledge  # type: ignore[misc]
    assert tuned.curve is not None and [p.epoch for p in tuned.curve] == [3, 4, 5]
    assert tuned.training["curve_missing_epochs"] == [1]
    # the stand-in's checkpoint of epoch e knows ceil(4 e / 5) of the 4 trained questions
    memorised = [p.splits["memorisation"]["exact"].score.value for p in tuned.curve]
    assert memorised == [math.ceil(4 * e / 5) / 4 for e in (3, 4, 5)]
    assert [p.splits["rephrased"]["exact"].score.value for p in tuned.curve] == [0.0, 0.0, 0.0]
    assert tuned.curve[-1].tuned_model == job.fine_tuned_model
    assert asked == {
        job.fine_tuned_model,
        f"{job.fine_tuned_model}:ckpt-step-12",
        f"{job.fine_tuned_model}:ckpt-step-16",
    }


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--method", "base", "--curve", "1"), "--curve measures fine-tuning epochs: add --method finetune"),
        (("--method", "finetune", "--epochs", "2", "--curve", "1,3"), "--curve 3 is outside the epochs trained"),
        (("--method", "finetune", "--curve", "one"), "--curve 'one' is not a list of epochs"),
    ],
)
def test_a_curve_outside_the_training_is_refused_in_one_line(tmp_path, facts, capsys, extra, message):
    out = tmp_path / "runs"
    assert cli("inject", "--model", "hf:./none", "--knowledge", f"jsonl:{facts}", "--output", str(out), *extra) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_curve_stopped_midway_resumes_without_asking_the_epochs_already_asked(tmp_path, facts, capsys):
    final = "ft:gpt-4o-mini-2024-07-18:instructeval-test::0001"
    epoch_3, epoch_4 = f"{final}:ckpt-step-12", f"{final}:ckpt-step-16"  # one step per training row
    with FineTuneServer(refused_models={epoch_4}) as server:
        args = inject_args(server, facts, tmp_path / "runs", "--method", "finetune", "--epochs", "5", "--curve", "all")
        assert cli(*args) == 2
        assert "rerun with --resume" in capsys.readouterr().err
        asked_before = len(server.chats)
        assert epoch_3 in {chat["model"] for chat in server.chats}  # answered before epoch 4 failed
        server.refused_models.clear()
        assert cli(*args, "--resume") == 0
        asked_after = [chat["model"] for chat in server.chats[asked_before:]]
        assert len(server.jobs) == 1 and server.count("POST", "/v1/files") == 1
    # the resumed run asked the final model and epoch 4 again, never epoch 3, whose answers were kept
    assert set(asked_after) == {final, epoch_4}
    (tuned,) = load_results(tmp_path / "runs" / "gpt-4o-mini-2024-07-18" / "ft").knowledge  # type: ignore[misc]
    assert tuned.curve is not None and [p.epoch for p in tuned.curve] == [3, 4, 5]
    assert [p.splits["memorisation"]["exact"].score.value for p in tuned.curve] == [0.75, 1.0, 1.0]
