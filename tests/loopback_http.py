"""A real HTTP server on 127.0.0.1 in a background thread: the base of the test servers that stand in for APIs."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


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
