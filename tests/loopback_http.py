"""A real HTTP server on 127.0.0.1 in a background thread, and the pieces the test servers that stand in for APIs
share: a JSON request handler, multipart uploads, and the knobs of a provider's fine-tuning jobs."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    """Clients open up to 64 connections at once (judge concurrency); the default backlog of 5 would reset some."""


class LoopbackHTTPServer:
    """`start()` serves `handler` on a free port of 127.0.0.1 until `stop()`; `base_url` ends in /v1."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._httpd = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (…/v1)."""
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class ChatStandIn:
    """A stand-in chat API served by `self._http`: its base URL, a judge spec for it, `with` starts and stops it."""

    _http: LoopbackHTTPServer

    @property
    def base_url(self) -> str:
        return self._http.base_url

    def judge_spec(self, model: str = "judge") -> str:
        return f"openai-compatible:{self.base_url}@{model}"

    def __enter__(self) -> Self:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()


class StandInHandler(BaseHTTPRequestHandler):
    """A keep-alive request handler that logs nothing, reads whole bodies and answers bytes or JSON."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def send_bytes(
        self,
        status: int,
        payload: bytes,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        length: int | None = None,
    ) -> None:
        """Answer `payload`; `length` announces another Content-Length (a reply cut short on purpose). A client
        that hung up raises OSError here."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload) if length is None else length))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def send_json(self, status: int, payload: dict[str, Any]) -> None:
        self.send_bytes(status, json.dumps(payload).encode())


def multipart_file(content_type: str, body: bytes, name: str = "file") -> bytes:
    """The part called `name` of a multipart/form-data upload, as the openai client sends files."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == name:
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload
    raise ValueError(f"the multipart body has no {name!r} part")


PollOutcome = Literal["flaky", "ended", "running", "failed", "succeeded"]


@dataclass
class JobStandIn:
    """What the stand-ins for providers' fine-tuning APIs share: each job finishes after `polls_to_finish` polls
    (or fails, with `fail_jobs`), stays running while `hold` is set, and the first `flaky_polls` polls get a server
    error; `log` holds every request's (method, path, Authorization). Use as a context manager."""

    fail_jobs: bool = False
    polls_to_finish: int = 2
    flaky_polls: int = 0
    hold: threading.Event = field(default_factory=threading.Event)
    log: list[tuple[str, str, str | None]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler serving this stand-in."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._http = LoopbackHTTPServer(self.handler())
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()

    def poll_outcome(self, job: Any, ended: bool) -> PollOutcome:
        """Count one poll of `job` (anything with a `polls` count) and say how it answers."""
        job.polls += 1
        if job.polls <= self.flaky_polls:
            return "flaky"
        if ended:
            return "ended"
        if self.hold.is_set() or job.polls < self.polls_to_finish:
            return "running"
        return "failed" if self.fail_jobs else "succeeded"

    def count(self, method: str, pattern: str) -> int:
        """How many logged requests had this method and a path matching `pattern`."""
        return sum(1 for m, path, _ in self.log if m == method and re.fullmatch(pattern, path))

    def wait_for(self, predicate: Callable[[], bool], timeout_s: float = 120.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the {type(self).__name__} stand-in never reached the expected state")
            time.sleep(0.05)
