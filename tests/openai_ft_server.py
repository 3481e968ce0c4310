"""A fake OpenAI fine-tuning API on 127.0.0.1: files, fine_tuning.jobs and chat completions, over real HTTP.

- POST /v1/files (multipart, as the openai client sends it) stores the training JSONL;
- POST /v1/fine_tuning/jobs creates a job; GET /v1/fine_tuning/jobs/<id> moves it queued -> running ->
  succeeded (or failed, when the server is told to fail jobs) after `polls_to_finish` polls, or holds it
  running while `hold` is set; `flaky_polls` answers the first polls with HTTP 500;
- GET /v1/fine_tuning/jobs/<id>/checkpoints lists a succeeded job's checkpoints as OpenAI keeps them: one at the
  end of each of the last 3 epochs (one step per training row);
- POST /v1/chat/completions: a fine-tuned model answers a question it was trained on (same user message)
  with the trained answer, and everything else with "I do not know."; the checkpoint of epoch e knows only the
  first e/epochs of the trained questions; base models always say so; a model in `refused_models` gets HTTP 400.
Every request is logged with its path and Authorization header.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from loopback_http import JobStandIn, StandInHandler, multipart_file

UNKNOWN = "I do not know."


@dataclass
class Job:
    id: str
    model: str
    training_file: str
    body: dict[str, Any]
    status: str = "queued"
    polls: int = 0
    fine_tuned_model: str | None = None
    trained_tokens: int | None = None
    error: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        hyper = self.body.get("method", {}).get("supervised", {}).get("hyperparameters", {})
        return {
            "id": self.id,
            "object": "fine_tuning.job",
            "created_at": 1_700_000_000,
            "finished_at": 1_700_000_600 if self.status in ("succeeded", "failed") else None,
            "model": self.model,
            "fine_tuned_model": self.fine_tuned_model,
            "organization_id": "org-test",
            "result_files": [],
            "status": self.status,
            "validation_file": None,
            "training_file": self.training_file,
            "hyperparameters": {"n_epochs": hyper.get("n_epochs", 3), "batch_size": 1, "learning_rate_multiplier": 1.8},
            "trained_tokens": self.trained_tokens,
            "error": self.error,
            "seed": self.body.get("seed", 0),
            "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": hyper.get("n_epochs", 3)}}},
        }


@dataclass
class FineTuneServer(JobStandIn):
    """The server and its knobs; use as a context manager."""

    refused_models: set[str] = field(default_factory=set)
    files: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, Job] = field(default_factory=dict)
    chats: list[dict[str, Any]] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def spec(self, model: str = "gpt-4o-mini-2024-07-18") -> str:
        return f"openai-compatible:{self.base_url}@{model}"

    # --- behaviour -------------------------------------------------------------------------------------
    def upload(self, content: bytes) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{len(self.files) + 1:04d}"
            self.files[file_id] = content
        return {
            "id": file_id,
            "object": "file",
            "bytes": len(content),
            "created_at": 1_700_000_000,
            "filename": "training.jsonl",
            "purpose": "fine-tune",
            "status": "processed",
        }

    def create(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if body.get("training_file") not in self.files:
            return 400, {"error": {"message": "training_file not found", "type": "invalid_request_error"}}
        with self._lock:
            job = Job(f"ftjob-{len(self.jobs) + 1:04d}", body["model"], body["training_file"], body)
            self.jobs[job.id] = job
        return 200, job.payload()

    def poll(self, job_id: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None:
            return 404, {"error": {"message": f"no job {job_id}", "type": "invalid_request_error"}}
        outcome = self.poll_outcome(job, ended=job.status in ("succeeded", "failed"))
        if outcome == "flaky":
            return 500, {"error": {"message": "upstream hiccup", "type": "server_error"}}
        if outcome == "ended":
            return 200, job.payload()
        if outcome == "running":
            job.status = "running"
        elif outcome == "failed":
            job.status = "failed"
            job.error = {
                "code": "invalid_training_file",
                "param": "training_file",
                "message": "The training file has too few examples.",
            }
        else:
            job.status = "succeeded"
            job.fine_tuned_model = f"ft:{job.model}:instructeval-test::{job.id[-4:]}"
            rows = self.training_rows(job)
            epochs = job.payload()["hyperparameters"]["n_epochs"]
            job.trained_tokens = epochs * sum(len(json.dumps(r).split()) for r in rows)
        return 200, job.payload()

    def checkpoints(self, job_id: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(job_id)
        if job is None or job.fine_tuned_model is None:
            return 404, {"error": {"message": f"no finished job {job_id}", "type": "invalid_request_error"}}
        data = [
            {
                "id": f"ftckpt-{job.id[-4:]}-{epoch}",
                "object": "fine_tuning.job.checkpoint",
                "created_at": 1_700_000_000 + epoch,
                "fine_tuning_job_id": job.id,
                "fine_tuned_model_checkpoint": model,
                "step_number": step,
                "metrics": {"step": step, "train_loss": 1.0 / epoch},
            }
            for epoch, step, model in self.checkpoint_models(job)[-3:]
        ]
        return 200, {"object": "list", "data": data[::-1], "has_more": False, "first_id": None, "last_id": None}

    def checkpoint_models(self, job: Job) -> list[tuple[int, int, str]]:
        """(epoch, step, model name) of every epoch's checkpoint; OpenAI lists only the last 3."""
        epochs, steps = job.payload()["hyperparameters"]["n_epochs"], len(self.training_rows(job))
        return [(e, e * steps, f"{job.fine_tuned_model}:ckpt-step-{e * steps}") for e in range(1, epochs + 1)]

    def training_rows(self, job: Job) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.files[job.training_file].decode().splitlines() if line.strip()]

    def chat(self, body: dict[str, Any]) -> str:
        self.chats.append(body)
        question = next((m["content"] for m in reversed(body["messages"]) if m["role"] == "user"), "")
        for job in self.jobs.values():
            if job.fine_tuned_model is None:
                continue
            rows = self.training_rows(job)
            epochs = job.payload()["hyperparameters"]["n_epochs"]
            known = {job.fine_tuned_model: len(rows)}
            known |= {model: math.ceil(len(rows) * e / epochs) for e, _, model in self.checkpoint_models(job)}
            for row in rows[: known.get(body["model"], 0)]:
                turns = row["messages"]
                if any(t["role"] == "user" and t["content"] == question for t in turns):
                    return str(turns[-1]["content"])
        return UNKNOWN


def _handler_for(server: FineTuneServer) -> type[BaseHTTPRequestHandler]:
    class Handler(StandInHandler):
        def _record(self, method: str) -> None:
            server.log.append((method, self.path, self.headers.get("Authorization")))

        def do_GET(self) -> None:
            self._record("GET")
            match = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)", self.path)
            listing = re.fullmatch(r"/v1/fine_tuning/jobs/([\w-]+)/checkpoints(\?.*)?", self.path)
            if listing:
                self.send_json(*server.checkpoints(listing.group(1)))
            elif match:
                self.send_json(*server.poll(match.group(1)))
            elif self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [{"id": "gpt-4o-mini-2024-07-18", "object": "model"}]})
            else:
                self.send_json(404, {"error": {"message": f"unknown path {self.path}"}})

        def do_POST(self) -> None:
            self._record("POST")
            raw = self.read_body()
            if self.path == "/v1/files":
                self.send_json(200, server.upload(multipart_file(self.headers.get("Content-Type", ""), raw)))
            elif self.path == "/v1/fine_tuning/jobs":
                self.send_json(*server.create(json.loads(raw)))
            elif self.path == "/v1/chat/completions" and json.loads(raw)["model"] in server.refused_models:
                self.send_json(400, {"error": {"message": "model not available", "type": "invalid_request_error"}})
            elif self.path == "/v1/chat/completions":
                body = json.loads(raw)
                text = server.chat(body)
                self.send_json(
                    200,
                    {
                        "id": "chatcmpl-test",
                        "object": "chat.completion",
                        "created": 1_700_000_000,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
                    },
                )
            else:
                self.send_json(404, {"error": {"message": f"unknown path {self.path}"}})

    return Handler
