"""Chat clients: one small protocol, the HTTP client for OpenAI-compatible endpoints, and the factory.

Clients report failures as `TransientError` (worth retrying, maybe with the server's Retry-After) or
`PermanentError` (retrying cannot help); the retry loop in `retry.py` is the only place that waits. The HTTP
client keeps one aiohttp session per endpoint: a keep-alive pool sized to the concurrency, the headers and
the proxy (from HTTPS_PROXY/NO_PROXY) settled once instead of per request, and replies read as plain JSON, so
a request costs little CPU beyond the socket work.
"""

from __future__ import annotations

import email.utils
import json
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from instructeval.errors import InstructEvalError
from instructeval.models.keys import ApiKey, Role, resolve_api_key
from instructeval.models.spec import ModelSpec

Messages = list[dict[str, str]]


@dataclass(frozen=True)
class ChatReply:
    """One completed chat call: the text and the tokens the server says it billed (None if it did not say)."""

    text: str
    prompt_tokens: int | None
    completion_tokens: int | None


class TransientError(Exception):
    """A failure worth retrying (429, 5xx, timeout, dropped connection, truncated body)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that retrying cannot fix for this request (e.g. 400: prompt too long)."""


class ChatClient(Protocol):
    """What callers need from a chat model. `in_process` clients compute replies here: a per-request
    timeout cannot stop them and retrying cannot speed them up, so only remote clients get one."""

    in_process: bool

    async def complete(self, messages: Messages, *, max_tokens: int, temperature: float) -> ChatReply:
        """Send one chat request; raise TransientError or PermanentError on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class HTTPChatClient:
    """Any OpenAI-compatible /chat/completions endpoint over one keep-alive connection pool."""

    in_process = False

    def __init__(self, spec: ModelSpec, key: ApiKey, *, concurrency: int) -> None:
        assert spec.api_base_url is not None
        self.spec = spec
        self._key = key
        self._url = f"{spec.api_base_url}/chat/completions"
        self._headers = {"Authorization": f"Bearer {key.value}", "Content-Type": "application/json"}
        self._proxy = proxy_for(self._url)
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def complete(self, messages: Messages, *, max_tokens: int, temperature: float) -> ChatReply:
        payload = {"model": self.spec.name, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
        try:
            async with self._open().post(self._url, data=json.dumps(payload), proxy=self._proxy) as response:
                body = await response.read()
                status, headers = response.status, response.headers
        except aiohttp.ClientError as exc:
            raise TransientError(f"{type(exc).__name__}: {_short(str(exc))}") from exc
        if status >= 400:
            raise self._status_error(status, headers, body)
        return _parse_reply(body)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _open(self) -> aiohttp.ClientSession:
        """The session, made on first use (aiohttp binds it to the running event loop)."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._concurrency, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector, headers=self._headers, timeout=aiohttp.ClientTimeout(total=None)
            )
        return self._session

    def _status_error(self, status: int, headers: Mapping[str, str], body: bytes) -> Exception:
        message = f"HTTP {status}: {_short(_error_message(body))}"
        if status == 429 or status >= 500 or status == 408:
            return TransientError(message, retry_after_seconds(headers))
        if status in (401, 403):
            return InstructEvalError(f"{self._url} refused the API key ({message}): set {self._key.source}")
        if status == 404:
            return InstructEvalError(
                f"{self._url} does not know model {self.spec.name!r} ({message}): check the model name in {self.spec}"
            )
        return PermanentError(message)


def proxy_for(url: str) -> str | None:
    """The proxy the environment sets for `url` (HTTP(S)_PROXY, minus NO_PROXY hosts), looked up once."""
    parts = urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _parse_reply(body: bytes) -> ChatReply:
    """The first choice's text and the billed tokens; a cut-off or malformed body is worth a retry."""
    try:
        reply = json.loads(body)
        choice = reply["choices"][0]
        usage = reply.get("usage") or {}
        return ChatReply(
            text=choice["message"].get("content") or "",
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
        )
    except (ValueError, LookupError, TypeError, AttributeError) as exc:
        raise TransientError(
            f"unreadable reply ({type(exc).__name__}): {_short(body.decode(errors='replace'))}"
        ) from exc


def _error_message(body: bytes) -> str:
    """The `error.message` of an OpenAI-style error body, else the body itself."""
    text = body.decode(errors="replace")
    try:
        parsed: Any = json.loads(text)
        return str(parsed["error"]["message"])
    except (ValueError, LookupError, TypeError):
        return text or "(no body)"


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait: `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, parsed.timestamp() - time.time())


def open_chat_client(
    spec: ModelSpec, *, concurrency: int, role: Role = "model", key_env: str | None = None
) -> ChatClient:
    """The chat client for a spec: HTTP for API specs, the weights in this process for demo and hf:."""
    if spec.api_base_url is not None:
        return HTTPChatClient(spec, resolve_api_key(spec, role=role, flag_env=key_env), concurrency=concurrency)
    if spec.kind == "vllm":
        raise InstructEvalError(
            f"{spec} runs as a server for chat: start `vllm serve {spec.name}` and pass "
            f"openai-compatible:http://127.0.0.1:8000/v1@{spec.name}"
        )
    if not spec.is_local:
        raise InstructEvalError(
            f"{spec} answers `instructeval inject` only: chat with openai:, openai-compatible:, hf:"
        )
    from instructeval.models.local import LocalChatClient

    return LocalChatClient(spec)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
