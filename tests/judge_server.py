"""A scripted chat-completions server on 127.0.0.1 for judge tests and the judge benchmark.

Real HTTP (stdlib `ThreadingHTTPServer`, HTTP/1.1 keep-alive, a thread per connection). A script decides
each reply: status, verdict text, headers, a delay (latency, or a hang past the client's timeout), a body
cut short, or raw bytes. The server records every request with server-side timestamps, the usage it billed
for each complete 200 reply, and the peak number of open connections and of requests in flight.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from loopback_http import ChatStandIn, LoopbackHTTPServer, StandInHandler


@dataclass(frozen=True)
class ChatRequest:
    """What the script sees: the request, its global index, and how often these exact messages came before."""

    messages: list[dict[str, str]]
    model: str
    index: int
    seen: int

    @property
    def key(self) -> str:
        return message_key(self.messages)

    @property
    def prompt_text(self) -> str:
        """The first user message (the rendered rubric with prompt and answer)."""
        return next(m["content"] for m in self.messages if m["role"] == "user")

    @property
    def is_reminder(self) -> bool:
        """True for the follow-up a judge sends after an unparseable verdict."""
        return len(self.messages) > 2


@dataclass(frozen=True)
class Reply:
    """How to answer one request: `delay_s` is latency before a normal reply; `hang_s` waits, then drops the
    connection without replying; `truncate` sends half the body under a full Content-Length."""

    text: str = '{"score": 4, "reason": "fine"}'
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    hang_s: float = 0.0
    truncate: bool = False
    raw_body: bytes | None = None


@dataclass
class Logged:
    """One request as the server saw it; `status` 0 means no response was sent (a hang)."""

    index: int
    key: str
    model: str
    messages: list[dict[str, str]]
    received_at: float
    responded_at: float = 0.0
    finished_at: float = 0.0
    status: int = 0
    billed: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    authorization: str | None = None


Script = Callable[[ChatRequest], Reply]


def message_key(messages: list[dict[str, str]]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()


def usage_for(messages: list[dict[str, str]], text: str) -> tuple[int, int]:
    """Deterministic token counts the server bills: about four characters a token."""
    return sum(len(m["content"]) for m in messages) // 4 + 1, len(text) // 4 + 1


class JudgeServer(ChatStandIn):
    """Start with `with JudgeServer(script) as server:`; `server.base_url` ends in /v1."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.log: list[Logged] = []
        self.peak_connections = 0
        self.connections_opened = 0
        self.peak_in_flight = 0
        self._connections = 0
        self._in_flight = 0
        self._seen: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._http = LoopbackHTTPServer(_handler_for(self))

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()
        super().__exit__(*exc)

    def billed(self) -> list[Logged]:
        """Requests that got a complete 200 reply: what a paying client was charged for."""
        with self._lock:
            return [entry for entry in self.log if entry.billed]

    def billed_since(self, start: int) -> Counter[str]:
        """The judgments paid for from request `start` on, counted by request key."""
        return Counter(entry.key for entry in self.billed() if entry.index >= start)

    def requests_for(self, key: str) -> list[Logged]:
        with self._lock:
            return [entry for entry in self.log if entry.key == key]

    # -- called from handler threads ------------------------------------------------------------------
    def _open(self, delta: int) -> None:
        with self._lock:
            self._connections += delta
            self.connections_opened += max(delta, 0)
            self.peak_connections = max(self.peak_connections, self._connections)

    def _begin(self, body: dict[str, Any], authorization: str | None = None) -> tuple[Logged, Reply]:
        messages = body.get("messages", [])
        key = message_key(messages)
        with self._lock:
            entry = Logged(len(self.log), key, str(body.get("model")), messages, time.time())
            entry.authorization = authorization
            self.log.append(entry)
            request = ChatRequest(messages, entry.model, entry.index, self._seen[key])
            self._seen[key] += 1
            self._in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            return entry, self.script(request)
        except Exception:
            self._end(entry, 500, billed=False)
            raise

    def _end(self, entry: Logged, status: int, *, billed: bool, usage: tuple[int, int] = (0, 0)) -> None:
        with self._lock:
            self._in_flight -= 1
            entry.finished_at = time.time()
            entry.status = status
            entry.billed = billed
            entry.prompt_tokens, entry.completion_tokens = usage if billed else (0, 0)


def _handler_for(server: JudgeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(StandInHandler):
        def setup(self) -> None:
            super().setup()
            server._open(+1)

        def finish(self) -> None:
            server._open(-1)
            super().finish()

        def do_GET(self) -> None:
            self.send_bytes(200, json.dumps({"object": "list", "data": [{"id": "judge", "object": "model"}]}).encode())

        def do_POST(self) -> None:
            body = json.loads(self.read_body() or b"{}")
            entry, reply = server._begin(body, self.headers.get("Authorization"))
            status, billed = 0, False
            usage = usage_for(entry.messages, reply.text)
            try:
                if reply.hang_s:
                    server._stopping.wait(reply.hang_s)
                    self.close_connection = True
                    return
                if reply.delay_s and server._stopping.wait(reply.delay_s):
                    return
                payload = reply.raw_body if reply.raw_body is not None else self._payload(body, reply, usage)
                entry.responded_at = time.time()
                status = reply.status
                if reply.truncate:
                    self.send_bytes(
                        reply.status, payload[: len(payload) // 2], headers=reply.headers, length=len(payload)
                    )
                    self.close_connection = True
                else:
                    self.send_bytes(reply.status, payload, headers=reply.headers)
                    billed = reply.status == 200 and reply.raw_body is None
            except OSError:
                billed = False  # the client gave up (timeout) and closed the connection
            finally:
                server._end(entry, status, billed=billed, usage=usage)

        def _payload(self, body: dict[str, Any], reply: Reply, usage: tuple[int, int]) -> bytes:
            if reply.status != 200:
                return json.dumps({"error": {"message": f"scripted {reply.status}", "type": "server_error"}}).encode()
            return json.dumps(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "created": int(time.time()),
                    "model": body.get("model", "judge"),
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": reply.text}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
                }
            ).encode()

    return Handler


def between(text: str, tag: str) -> str:
    """The text inside <tag>...</tag> of a rendered rubric (empty when absent)."""
    start, end = f"<{tag}>", f"</{tag}>"
    if start not in text or end not in text:
        return ""
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def write_run(run_dir: Path, samples: list[dict[str, Any]], task: str = "writing", model: str = "demo") -> Path:
    """A minimal run folder as the engine leaves it: a valid results.json and samples/<task>.jsonl."""
    from instructeval.results import ModelInfo, RunInfo, RunResults, samples_path
    from instructeval.run import save_results

    info = RunInfo(
        status="complete",
        started_at="2025-01-01T00:00:00",
        command=["instructeval", "run"],
        seed=0,
        limit=None,
        batch_size="1",
        config_hash="test",
        instructeval_version="0.1.0",
        packages={},
        device="cpu",
    )
    save_results(
        run_dir,
        RunResults(run=info, model=ModelInfo(spec=model, backend="demo" if model == "demo" else "hf", name=model)),
    )
    path = samples_path(run_dir, task)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(sample) + "\n" for sample in samples), encoding="utf-8")
    return run_dir


def sample(doc_id: str, category: str, response: str, prompt: str = "Write a short note.") -> dict[str, Any]:
    """One stored answer in the engine's samples format."""
    return {
        "doc_id": doc_id,
        "doc_hash": hashlib.sha256(f"{category}:{prompt}:{doc_id}".encode()).hexdigest(),
        "category": category,
        "prompt": prompt,
        "task_definition": f"A {category} writing task.",
        "response": response,
        "answer_tokens": len(response.split()),
    }
