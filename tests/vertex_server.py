"""A stand-in for the Google endpoints Vertex AI tuning touches, on 127.0.0.1 over real HTTP.

What google-auth, google-cloud-storage and google-genai actually call:
- POST /token: the OAuth refresh of an `authorized_user` ADC file whose token_uri points here;
- GET /storage/v1/b/<bucket>, POST /storage/v1/b?project=P, POST /upload/storage/v1/b/<bucket>/o?uploadType=multipart:
  bucket lookup, bucket creation and the training file's upload (multipart/related), with STORAGE_EMULATOR_HOST;
- POST /v1beta1/projects/P/locations/L/tuningJobs creates a job; GET /v1beta1/<job name> moves it
  JOB_STATE_PENDING -> RUNNING -> SUCCEEDED (or FAILED when told to) after `polls_to_finish` polls, or holds it
  running while `hold` is set; `flaky_polls` answers the first polls with HTTP 503;
- POST /v1beta1/<model or endpoint>:generateContent: the tuned endpoint answers each trained question with its
  trained answer; the checkpoint of epoch e knows only the first e/epochs of the trained questions, so a learning
  curve rises; base models and anything else say "I do not know.".
Every request is logged with its method, path and Authorization header.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import google_crc32c
from loopback_http import JobStandIn, StandInHandler

UNKNOWN = "I do not know."
TOKEN = "ya29.stand-in-access-token"


@dataclass
class TuningJob:
    name: str
    body: dict[str, Any]
    state: str = "JOB_STATE_PENDING"
    polls: int = 0
    error: dict[str, Any] | None = None

    @property
    def number(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def epochs(self) -> int:
        return int(self.body["supervisedTuningSpec"].get("hyperParameters", {}).get("epochCount", 3))

    def endpoint(self, epoch: int | None = None) -> str:
        parent = self.name.split("/tuningJobs/")[0]
        return f"{parent}/endpoints/{self.number}{'' if epoch is None else f'-e{epoch}'}"

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "state": self.state,
            "baseModel": self.body["baseModel"],
            "createTime": "2026-12-01T10:00:00Z",
            "supervisedTuningSpec": self.body["supervisedTuningSpec"],
            "tunedModelDisplayName": self.body.get("tunedModelDisplayName"),
        }
        if self.state == "JOB_STATE_SUCCEEDED":
            parent = self.name.split("/tuningJobs/")[0]
            out["tunedModel"] = {
                "model": f"{parent}/models/{self.number}@1",
                "endpoint": self.endpoint(),
                "checkpoints": [
                    {"checkpointId": str(e), "epoch": str(e), "step": str(4 * e), "endpoint": self.endpoint(e)}
                    for e in range(1, self.epochs + 1)
                ],
            }
        if self.error:
            out["error"] = self.error
        return out


@dataclass
class VertexServer(JobStandIn):
    """The server and its knobs; use as a context manager."""

    buckets: dict[str, dict[str, Any]] = field(default_factory=dict)
    objects: dict[str, bytes] = field(default_factory=dict)
    jobs: dict[str, TuningJob] = field(default_factory=dict)
    asked: list[dict[str, Any]] = field(default_factory=list)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def origin(self) -> str:
        return self._http.base_url.removesuffix("/v1")

    # --- Cloud Storage ---------------------------------------------------------------------------------
    def upload(self, bucket: str, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
        if bucket not in self.buckets:
            return 404, {"error": {"code": 404, "message": f"bucket {bucket} does not exist"}}
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        metadata_part, media_part = list(message.iter_parts())
        metadata = json.loads(metadata_part.get_payload(decode=True))
        media = media_part.get_payload(decode=True)
        assert isinstance(media, bytes)
        self.objects[f"gs://{bucket}/{metadata['name']}"] = media
        return 200, {
            "kind": "storage#object",
            "name": metadata["name"],
            "bucket": bucket,
            "size": str(len(media)),
            "generation": "1",
            "contentType": metadata.get("contentType"),
            "md5Hash": base64.b64encode(hashlib.md5(media).digest()).decode(),
            "crc32c": base64.b64encode(google_crc32c.Checksum(media).digest()).decode(),
        }

    # --- tuning jobs -----------------------------------------------------------------------------------
    def create(self, parent: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        uri = body.get("supervisedTuningSpec", {}).get("trainingDatasetUri")
        if uri not in self.objects:
            return 400, {"error": {"code": 400, "message": f"{uri} not found", "status": "INVALID_ARGUMENT"}}
        with self._lock:
            job = TuningJob(f"{parent}/tuningJobs/{7000 + len(self.jobs) + 1}", body)
            self.jobs[job.name] = job
        return 200, job.payload()

    def poll(self, name: str) -> tuple[int, dict[str, Any]]:
        job = self.jobs.get(name)
        if job is None:
            return 404, {"error": {"code": 404, "message": f"no tuning job {name}", "status": "NOT_FOUND"}}
        outcome = self.poll_outcome(job, ended=job.state in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED"))
        if outcome == "flaky":
            return 503, {"error": {"code": 503, "message": "backend unavailable", "status": "UNAVAILABLE"}}
        if outcome == "ended":
            return 200, job.payload()
        if outcome == "running":
            job.state = "JOB_STATE_RUNNING"
        elif outcome == "failed":
            job.state = "JOB_STATE_FAILED"
            job.error = {"code": 3, "message": "Dataset validation failed: fewer than 16 examples."}
        else:
            job.state = "JOB_STATE_SUCCEEDED"
        payload = job.payload()
        if job.state == "JOB_STATE_SUCCEEDED":
            tokens = sum(len(json.dumps(row).split()) for row in self.training_rows(job))
            payload["tuningDataStats"] = {"supervisedTuningDataStats": {"totalBillableTokenCount": str(tokens)}}
        return 200, payload

    def training_rows(self, job: TuningJob) -> list[dict[str, Any]]:
        uri = job.body["supervisedTuningSpec"]["trainingDatasetUri"]
        return [json.loads(line) for line in self.objects[uri].decode().splitlines() if line.strip()]

    # --- answering -------------------------------------------------------------------------------------
    def answer(self, model: str, body: dict[str, Any]) -> str:
        self.asked.append({"model": model, **body})
        question = body["contents"][-1]["parts"][0]["text"]
        for job in self.jobs.values():
            if job.state != "JOB_STATE_SUCCEEDED":
                continue
            rows = self.training_rows(job)
            known = {job.endpoint(): len(rows)}
            known |= {job.endpoint(e): math.ceil(len(rows) * e / job.epochs) for e in range(1, job.epochs + 1)}
            if model in known:
                for row in rows[: known[model]]:
                    if row["contents"][0]["parts"][0]["text"] == question:
                        return str(row["contents"][-1]["parts"][0]["text"])
        return UNKNOWN


def _handler_for(server: VertexServer) -> type[BaseHTTPRequestHandler]:
    class Handler(StandInHandler):
        def _route(self, method: str) -> None:
            server.log.append((method, urlsplit(self.path).path, self.headers.get("Authorization")))
            raw = self.read_body()
            url = urlsplit(self.path)
            path, query = url.path, parse_qs(url.query)
            if method == "POST" and path == "/token":
                self.send_json(200, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
            elif method == "GET" and (m := re.fullmatch(r"/storage/v1/b/([\w.-]+)", path)):
                found = server.buckets.get(m.group(1))
                self.send_json(*((200, found) if found else (404, {"error": {"code": 404, "message": "Not Found"}})))
            elif method == "POST" and path == "/storage/v1/b":
                bucket = {**json.loads(raw), "kind": "storage#bucket", "projectNumber": query.get("project", ["?"])[0]}
                server.buckets[bucket["name"]] = bucket
                self.send_json(200, bucket)
            elif method == "POST" and (m := re.fullmatch(r"/upload/storage/v1/b/([\w.-]+)/o", path)):
                self.send_json(*server.upload(m.group(1), self.headers.get("Content-Type", ""), raw))
            elif method == "POST" and (
                m := re.fullmatch(r"/v1beta1/(projects/[^/]+/locations/[^/]+)/tuningJobs", path)
            ):
                self.send_json(*server.create(m.group(1), json.loads(raw)))
            elif method == "GET" and (m := re.fullmatch(r"/v1beta1/(projects/.+/tuningJobs/\d+)", path)):
                self.send_json(*server.poll(m.group(1)))
            elif method == "POST" and (m := re.fullmatch(r"/v1beta1/(.+):generateContent", path)):
                text = server.answer(m.group(1), json.loads(raw))
                self.send_json(
                    200,
                    {
                        "candidates": [
                            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
                        ],
                        "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 3, "totalTokenCount": 13},
                    },
                )
            else:
                self.send_json(404, {"error": {"code": 404, "message": f"unknown path {method} {self.path}"}})

        def do_GET(self) -> None:
            self._route("GET")

        def do_POST(self) -> None:
            self._route("POST")

    return Handler
