"""Chat backends a judge runs on: one small protocol, the OpenAI-client implementation, and the factory.

Backends report failures as `TransientError` (worth retrying, maybe with the server's Retry-After) or
`PermanentError` (retrying cannot help); the retry loop in `retry.py` is the only place that waits.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import openai

from instructeval.errors import InstructEvalError
from instructeval.models.spec import OPENAI_BASE_URL, ModelSpec

OPENAI_KEY_ENV = "OPENAI_API_KEY"
JUDGE_KEY_ENV = "INSTRUCTEVAL_JUDGE_API_KEY"


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


class ChatBackend(Protocol):
    """What the grader needs from a judge model. `in_process` backends compute replies here: a per-request
    timeout cannot stop them and retrying cannot speed them up, so only remote backends get one."""

    in_process: bool

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float) -> ChatReply:
        """Send one chat request; raise TransientError or PermanentError on failure."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class OpenAIChatBackend:
    """Any OpenAI-compatible chat-completions endpoint through the `openai` client, with its retries off."""

    in_process = False

    def __init__(self, base_url: str, model: str, api_key: str, timeout_s: float) -> None:
        self.model = model
        self._client = openai.AsyncOpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float) -> ChatReply:
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
            )
        except openai.APIStatusError as exc:
            status = exc.status_code
            message = f"HTTP {status}: {_short(exc.message)}"
            if status == 429 or status >= 500 or status == 408:
                raise TransientError(message, retry_after_seconds(exc.response.headers)) from exc
            if status in (401, 403):
                raise InstructEvalError(
                    f"the judge endpoint refused the API key ({message}): set {JUDGE_KEY_ENV} or {OPENAI_KEY_ENV}"
                ) from exc
            if status == 404:
                raise InstructEvalError(
                    f"the judge endpoint does not know model {self.model!r} ({message}): check the --judge spec"
                ) from exc
            raise PermanentError(message) from exc
        except (openai.APIConnectionError, openai.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise TransientError(f"{type(exc).__name__}: {_short(str(exc))}") from exc
        if not completion.choices:
            raise TransientError("reply has no choices")
        usage = completion.usage
        return ChatReply(
            text=completion.choices[0].message.content or "",
            prompt_tokens=usage.prompt_tokens if usage else None,
            completion_tokens=usage.completion_tokens if usage else None,
        )

    async def aclose(self) -> None:
        await self._client.close()


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
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def api_key_for(spec: ModelSpec) -> str:
    """The key from the environment (never stored): OPENAI_API_KEY for openai:, the judge key for others."""
    if spec.kind == "openai":
        key = os.environ.get(OPENAI_KEY_ENV)
        if not key:
            raise InstructEvalError(f"judge {spec} needs an API key: export {OPENAI_KEY_ENV}=...")
        return key
    return os.environ.get(JUDGE_KEY_ENV) or os.environ.get(OPENAI_KEY_ENV) or "EMPTY"


def make_backend(spec: ModelSpec, *, timeout_s: float) -> ChatBackend:
    """Build the chat backend for a --judge spec."""
    if spec.kind == "openai":
        return OpenAIChatBackend(OPENAI_BASE_URL, spec.name, api_key_for(spec), timeout_s)
    if spec.kind == "openai-compatible":
        assert spec.base_url is not None
        return OpenAIChatBackend(spec.base_url, spec.name, api_key_for(spec), timeout_s)
    return local_chat_backend(spec)


def local_chat_backend(spec: ModelSpec) -> ChatBackend:
    """A judge whose weights load in this process (demo, hf:); vllm: judges are served, not loaded here."""
    if spec.kind == "vllm":
        raise InstructEvalError(
            f"a vllm judge ({spec}) runs as a server: start `vllm serve {spec.name}` and pass "
            f"--judge openai-compatible:http://127.0.0.1:8000/v1@{spec.name}"
        )
    from instructeval.judge.local import LocalChatBackend

    return LocalChatBackend(spec)


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
