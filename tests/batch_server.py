"""OpenAI's files and batches endpoints (and chat completions) on 127.0.0.1, for `--judge-batch` tests.

Real HTTP over the shared loopback server. An uploaded JSONL file becomes a batch that stays `in_progress`
until it has been polled `polls_before_done` times and `release` is set; then it ends `completed` (each line
answered by the same `Script` the chat judge server uses) or, for the first `failing_batches` batches,
`failed`. The server counts files, batches, polls and the chat requests sent outside any batch.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from judge_server import ChatRequest, Script, message_key, usage_for
from loopback_http import ChatStandIn, LoopbackHTTPServer, StandInHandler, multipart_file


@dataclass
class Batch:
    id: str
    input_file_id: str
    status: str = "in_progress"
    polls: int = 0
    output_file_id: str | None = None
    lines: int = 0


@dataclass
class BatchServer(ChatStandIn):
    """Start with `with BatchServer(script) as server:`; `server.judge_spec()` points a judge at it."""

    script: Script
    polls_before_done: int = 1
    failing_batches: int = 0
    release: threading.Event = field(default_factory=threading.Event)
    files: dict[str, bytes] = field(default_factory=dict)
    batches: dict[str, Batch] = field(default_factory=dict)
    chat_requests: list[list[dict[str, str]]] = field(default_factory=list)
    batched_requests: list[list[dict[str, str]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.release.set()
        self._lock = threading.Lock()
        self._http = LoopbackHTTPServer(_handler_for(self))

    # -- called from handler threads ------------------------------------------------------------------
    def upload(self, content: bytes) -> dict[str, Any]:
        with self._lock:
            file_id = f"file-{len(self.files)}"
            self.files[file_id] = content
        return _file_object(file_id, len(content))

    def create(self, input_file_id: str) -> dict[str, Any]:
        with self._lock:
            batch = Batch(id=f"batch_{len(self.batches)}", input_file_id=input_file_id)
            self.batches[batch.id] = batch
        return _batch_object(batch)

    def poll(self, batch_id: str) -> dict[str, Any] | None:
        with self._lock:
            batch = self.batches.get(batch_id)
            if batch is None:
                return None
            batch.polls += 1
            if batch.status == "in_progress" and batch.polls > self.polls_before_done and self.release.is_set():
                if list(self.batches).index(batch_id) < self.failing_batches:
                    batch.status = "failed"
                else:
                    self._complete(batch)
            return _batch_object(batch)

    def _complete(self, batch: Batch) -> None:
        out = []
        for raw in self.files[batch.input_file_id].decode().splitlines():
            line = json.loads(raw)
            messages = line["body"]["messages"]
            self.batched_requests.append(messages)
            reply = self.script(ChatRequest(messages, line["body"]["model"], len(self.batched_requests), 0))
            prompt, completion = usage_for(messages, reply.text)
            body = _completion(line["body"]["model"], reply.text, prompt, completion)
            out.append(
                {"id": f"r{len(out)}", "custom_id": line["custom_id"], "response": {"status_code": 200, "body": body}}
            )
        file_id = f"file-{len(self.files)}"
        self.files[file_id] = ("\n".join(json.dumps(line) for line in out) + "\n").encode()
        batch.status, batch.output_file_id, batch.lines = "completed", file_id, len(out)

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        messages = body["messages"]
        with self._lock:
            self.chat_requests.append(messages)
            seen = sum(message_key(m) == message_key(messages) for m in self.chat_requests) - 1
        reply = self.script(ChatRequest(messages, body["model"], len(self.chat_requests), seen))
        return _completion(body["model"], reply.text, *usage_for(messages, reply.text))


def _file_object(file_id: str, size: int) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": size,
        "created_at": int(time.time()),
        "filename": "requests.jsonl",
        "purpose": "batch",
        "status": "processed",
    }


def _batch_object(batch: Batch) -> dict[str, Any]:
    failed = batch.status == "failed"
    return {
        "id": batch.id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": batch.input_file_id,
        "completion_window": "24h",
        "status": batch.status,
        "created_at": int(time.time()),
        "output_file_id": batch.output_file_id,
        "error_file_id": None,
        "errors": {"object": "list", "data": [{"code": "scripted", "message": "scripted failure"}]} if failed else None,
        "request_counts": {"total": batch.lines, "completed": batch.lines, "failed": 0},
    }


def _completion(model: str, text: str, prompt: int, completion: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-batch",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion},
    }


def _handler_for(server: BatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(StandInHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path.startswith("/v1/batches/"):
                batch = server.poll(path.rsplit("/", 1)[1])
                self.send_json(404 if batch is None else 200, batch or {"error": {"message": "no such batch"}})
            elif path.startswith("/v1/files/") and path.endswith("/content"):
                content = server.files.get(path.split("/")[3])
                self.send_bytes(200 if content is not None else 404, content or b"", "application/octet-stream")
            else:
                self.send_json(200, {"object": "list", "data": [{"id": "judge", "object": "model"}]})

        def do_POST(self) -> None:
            body = self.read_body()
            if self.path == "/v1/files":
                self.send_json(200, server.upload(multipart_file(self.headers["Content-Type"], body)))
            elif self.path == "/v1/batches":
                self.send_json(200, server.create(json.loads(body)["input_file_id"]))
            else:
                self.send_json(200, server.chat(json.loads(body)))

    return Handler
