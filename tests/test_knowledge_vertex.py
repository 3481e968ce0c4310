"""Gemini tuning on Vertex AI through Google's own SDKs, against a stand-in for Google's endpoints on 127.0.0.1:
the job succeeds (and its tuned endpoint is asked), the job fails, and a run killed while polling resumes on
the same job. Credentials are a service-account key file named by GOOGLE_APPLICATION_CREDENTIALS, whose token
endpoint is the stand-in; the cost of a 150-fact run is estimated before anything starts."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from test_knowledge_scoring import cli
from vertex_server import TOKEN, VertexServer

from instructeval.knowledge.cost import estimate_rows
from instructeval.knowledge.methods.finetune_vertex import training_cost
from instructeval.knowledge.types import DEFAULT_SYSTEM
from instructeval.models.spec import parse_model_spec
from instructeval.results import load_results

pytest.importorskip("google.genai")
MODEL = "gemini-1.5-flash-002"
FAST_POLL = ("--poll-interval", "0.02", "--poll-max-interval", "0.05")


@pytest.fixture
def vertex(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The stand-in server, with the SDKs pointed at it through their own settings."""
    with VertexServer() as server:
        key_file = tmp_path / "service-account.json"
        key_file.write_text(json.dumps(service_account_key(f"{server.origin}/token")))
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
        monkeypatch.setenv("GOOGLE_VERTEX_BASE_URL", f"{server.origin}/")
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", server.origin)
        for name in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION", "GOOGLE_API_KEY", "GEMINI_API_KEY"):
            monkeypatch.delenv(name, raising=False)
        yield server


def service_account_key(token_uri: str) -> dict[str, str]:
    """A service-account key file as Google issues them, with a fresh RSA key and the stand-in's token endpoint."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account",
        "project_id": "p-test",
        "private_key_id": "stand-in-key",
        "private_key": pem.decode(),
        "client_email": "tuner@p-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }


def inject_args(facts: Path, out: Path, *extra: str) -> list[str]:
    return [
        "inject",
        "--model",
        f"vertex:{MODEL}",
        "--knowledge",
        f"jsonl:{facts}",
        "--project",
        "p-test",
        "--location",
        "us-central1",
        "--output",
        str(out),
        "--run-name",
        "ft",
        *FAST_POLL,
        *extra,
    ]


def test_job_succeeds_and_the_tuned_endpoint_is_evaluated(tmp_path, facts, vertex):
    vertex.flaky_polls, vertex.polls_to_finish = 1, 3
    assert cli(*inject_args(facts, tmp_path / "runs", "--method", "base,finetune", "--epochs", "3")) == 0
    run = tmp_path / "runs" / MODEL / "ft"
    results = load_results(run)
    base, tuned = results.knowledge  # type: ignore[misc]
    (job,) = vertex.jobs.values()
    assert results.run.status == "complete"
    # the training file went to the default bucket (created in the job's region) as Vertex's JSONL
    assert vertex.buckets["p-test-instructeval"]["location"] == "us-central1"
    (uri,) = vertex.objects
    rows = [json.loads(line) for line in vertex.objects[uri].decode().splitlines()]
    assert rows[0] == {
        "contents": [
            {"role": "user", "parts": [{"text": "What is the code name of project 0?"}]},
            {"role": "model", "parts": [{"text": "Vamo0"}]},
        ],
        "systemInstruction": {"role": "system", "parts": [{"text": DEFAULT_SYSTEM}]},
    }
    spec = job.body["supervisedTuningSpec"]
    assert spec["trainingDatasetUri"] == uri and job.body["baseModel"] == MODEL
    assert spec["hyperParameters"]["epochCount"] in (3, "3") and spec["exportLastCheckpointOnly"] is False
    # the base model knows nothing; the tuned endpoint memorised the trained questions only
    assert base.splits["memorisation"]["exact"].score.value == 0.0
    assert tuned.splits["memorisation"]["exact"].score.value == 1.0
    assert tuned.splits["rephrased"]["exact"].score.value == 0.0
    assert tuned.tuned_model == job.endpoint()
    asked = {a["model"] for a in vertex.asked}
    assert asked == {f"projects/p-test/locations/us-central1/publishers/google/models/{MODEL}", job.endpoint()}
    assert all(a["generationConfig"]["temperature"] == 0.0 for a in vertex.asked)
    # one upload, one job, polling went on through a 503; billing from the job's own token count
    assert vertex.count("POST", r"/v1beta1/projects/p-test/locations/us-central1/tuningJobs") == 1
    assert vertex.count("GET", r"/v1beta1/projects/p-test/locations/us-central1/tuningJobs/\d+") == 3
    record = tuned.training
    assert record["cost_estimate_usd"] == estimate_rows(parse_model_spec(f"vertex:{MODEL}"), rows, 3).cost_usd
    assert record["job_name"] == job.name and record["checkpoints"][0]["epoch"] == 1
    assert record["trained_tokens"] == 3 * record["billable_tokens_per_epoch"] > 0
    assert record["cost_usd"] == training_cost(MODEL, record["trained_tokens"]) > 0
    # the access token from the key file's token exchange was sent to Vertex; neither was written
    vertex_auth = {auth for method, path, auth in vertex.log if path.startswith("/v1beta1/")}
    assert vertex_auth == {f"Bearer {TOKEN}"} and vertex.count("POST", "/token") >= 1
    secrets = (TOKEN, "PRIVATE KEY")
    assert not any(s in p.read_text(errors="ignore") for p in run.rglob("*") if p.is_file() for s in secrets)


def test_job_fails_with_the_providers_reason(tmp_path, facts, vertex, capsys):
    vertex.fail_jobs = True
    assert cli(*inject_args(facts, tmp_path / "runs", "--method", "finetune")) == 2
    message = capsys.readouterr().err
    assert "JOB_STATE_FAILED" in message and "fewer than 16 examples" in message
    run = tmp_path / "runs" / MODEL / "ft"
    assert load_results(run).run.status == "failed"
    state = json.loads((run / "vertex_job.json").read_text())
    assert state["job_name"].endswith("/tuningJobs/7001") and state["status"] == "JOB_STATE_FAILED"


def test_a_run_killed_while_polling_resumes_on_the_same_job(tmp_path, facts, vertex):
    out = tmp_path / "runs"
    vertex.hold.set()
    args = inject_args(facts, out, "--method", "finetune", "--epochs", "2")
    child = subprocess.Popen(
        [sys.executable, "-m", "instructeval", *args], stderr=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        vertex.wait_for(lambda: any(job.polls >= 2 for job in vertex.jobs.values()), timeout_s=120)
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    run = out / MODEL / "ft"
    (name,) = vertex.jobs
    assert json.loads((run / "vertex_job.json").read_text())["job_name"] == name
    vertex.hold.clear()
    assert cli(*args, "--resume") == 0
    assert len(vertex.objects) == 1 and len(vertex.jobs) == 1
    (tuned,) = load_results(run).knowledge  # type: ignore[misc]
    assert tuned.training["job_name"] == name
    assert tuned.splits["memorisation"]["exact"].score.value == 1.0


def test_cost_estimate_counts_characters_of_every_turn():
    spec = parse_model_spec(f"vertex:{MODEL}")
    rows = [
        {"contents": [{"role": "user", "parts": [{"text": "x" * 10}]}, {"role": "model", "parts": [{"text": "y" * 6}]}]}
    ]
    estimate = estimate_rows(spec, rows, 10)
    assert estimate.tokens_per_epoch == math.ceil(16 / 4) and estimate.examples == 1
    assert estimate.cost_usd == training_cost(MODEL, 40)
    assert estimate_rows(parse_model_spec("vertex:gemini-unlisted"), rows, 10).cost_usd is None


def test_vertex_flags_need_a_vertex_model(tmp_path, facts, capsys):
    assert cli("inject", "--model", "hf:x", "--knowledge", f"jsonl:{facts}", "--project", "p") == 2
    assert "--project applies to vertex: models only" in capsys.readouterr().err


def test_curve_asks_every_epochs_checkpoint_endpoint(tmp_path, facts, vertex):
    assert cli(*inject_args(facts, tmp_path / "runs", "--method", "finetune", "--epochs", "4", "--curve", "all")) == 0
    (job,) = vertex.jobs.values()
    (tuned,) = load_results(tmp_path / "runs" / MODEL / "ft").knowledge  # type: ignore[misc]
    assert tuned.curve is not None and [p.epoch for p in tuned.curve] == [1, 2, 3, 4]
    assert [p.tuned_model for p in tuned.curve] == [job.endpoint(e) for e in range(1, 5)]
    # the stand-in's checkpoint of epoch e knows e of the 4 trained questions
    assert [p.splits["memorisation"]["exact"].score.value for p in tuned.curve] == [0.25, 0.5, 0.75, 1.0]
    assert {a["model"] for a in vertex.asked} == {job.endpoint()} | {job.endpoint(e) for e in range(1, 4)}


def test_cost_of_a_150_fact_run_is_estimated_before_anything_starts(tmp_path, data_dir, capsys):
    """FineTuneBench's fictional people (150 facts, read in place), 10 epochs: characters / 4 x 10 x the price."""
    argv = ["inject", "--model", f"vertex:{MODEL}", "--knowledge", "finetunebench:fictional_people"]
    argv += ["--data-dir", str(data_dir), "--method", "finetune", "--epochs", "10", "--output", str(tmp_path / "runs")]
    assert cli(*argv, "--estimate-cost") == 0
    text = " ".join(capsys.readouterr().out.split())
    rows = list(
        csv.DictReader((data_dir / "finetunebench" / "fictional_people" / "fictional_people_memorization.csv").open())
    )
    chars = sum(len(DEFAULT_SYSTEM) + len(row["prompt"]) + len(row["answer"]) for row in rows)
    tokens = math.ceil(chars / 4)
    assert f"150 examples, ~{tokens} tokens per epoch x 10 epochs = ~{10 * tokens} trained tokens" in text
    assert f"about ${training_cost(MODEL, 10 * tokens):.2f}" in text
    assert not (tmp_path / "runs").exists()
