"""Gemini on Vertex AI through Google's own SDK (`google-genai`): the client, and greedy answers from a model.

Credentials come from Application Default Credentials only (GOOGLE_APPLICATION_CREDENTIALS naming a key
file, or `gcloud auth application-default login`); nothing is written. The project and location come from
the command line or GOOGLE_CLOUD_PROJECT / GOOGLE_CLOUD_LOCATION. The SDK's own GOOGLE_VERTEX_BASE_URL
points it at another endpoint (a proxy, or a local stand-in server).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from instructeval.errors import InstructEvalError

PROJECT_ENV = "GOOGLE_CLOUD_PROJECT"
LOCATION_ENV = "GOOGLE_CLOUD_LOCATION"
DEFAULT_LOCATION = "us-central1"
CREDENTIALS_HELP = (
    "run `gcloud auth application-default login`, or export GOOGLE_APPLICATION_CREDENTIALS=<service account key file>"
)


@dataclass(frozen=True)
class VertexTarget:
    """Where Vertex AI requests go: a Google Cloud project and a region."""

    project: str
    location: str = DEFAULT_LOCATION

    @classmethod
    def resolve(cls, project: str | None, location: str | None) -> VertexTarget:
        """The flags' values, else the standard environment variables; a missing project is refused."""
        chosen = project or os.environ.get(PROJECT_ENV)
        if not chosen:
            raise InstructEvalError(
                f"vertex: models need a Google Cloud project: pass --project or export {PROJECT_ENV}"
            )
        return cls(chosen, location or os.environ.get(LOCATION_ENV) or DEFAULT_LOCATION)


def vertex_client(target: VertexTarget, *, timeout_s: float = 120.0, attempts: int = 1) -> Any:
    """A `google.genai.Client` on Vertex AI; `attempts` > 1 lets the SDK retry 429 and 5xx itself."""
    try:
        from google import genai
        from google.genai import types
    except ImportError as exc:
        raise InstructEvalError("vertex: models need Google's SDK: pip install 'instructeval[vertex]'") from exc
    options = types.HttpOptions(
        timeout=int(timeout_s * 1000),
        retry_options=types.HttpRetryOptions(attempts=attempts) if attempts > 1 else None,
    )
    return genai.Client(vertexai=True, project=target.project, location=target.location, http_options=options)


def api_error(exc: Exception, doing: str) -> InstructEvalError:
    """One line for a failed Vertex request: missing credentials, an HTTP error or an unreachable endpoint."""
    from google.auth.exceptions import DefaultCredentialsError, RefreshError
    from google.genai import errors

    if isinstance(exc, DefaultCredentialsError | RefreshError):
        return InstructEvalError(f"{doing}: no usable Google credentials ({exc}): {CREDENTIALS_HELP}")
    if isinstance(exc, errors.APIError):
        return InstructEvalError(f"{doing}: Vertex AI answered HTTP {exc.code} {exc.message}")
    return InstructEvalError(f"{doing}: cannot reach Vertex AI ({exc}): check the network, then rerun with --resume")


def is_transient(exc: Exception) -> bool:
    """429 and 5xx answers and dropped connections: worth another poll."""
    from google.genai import errors

    if isinstance(exc, errors.APIError):
        return bool(exc.code == 429 or exc.code >= 500)
    return isinstance(exc, OSError) or type(exc).__module__.startswith(("httpx", "httpcore"))


class VertexAnswerer:
    """Greedy replies from a Gemini model or a tuned endpoint (`projects/.../endpoints/...`)."""

    supports_choices = False

    def __init__(self, model: str, target: VertexTarget, *, concurrency: int = 8) -> None:
        self.model = model
        self.target = target
        self._concurrency = concurrency

    def generate(self, conversations: Sequence[list[dict[str, str]]], max_tokens: int) -> list[str]:
        return asyncio.run(self._generate(list(conversations), max_tokens))

    def choice_loglikelihoods(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        raise InstructEvalError(
            f"vertex:{self.model} gives no prompt log-likelihoods: forced choice needs a local model"
        )

    async def _generate(self, conversations: list[list[dict[str, str]]], max_tokens: int) -> list[str]:
        from google.genai import types

        client = vertex_client(self.target, attempts=5)
        slots = asyncio.Semaphore(self._concurrency)

        async def one(messages: list[dict[str, str]]) -> str:
            system = "\n".join(m["content"] for m in messages if m["role"] == "system") or None
            config = types.GenerateContentConfig(
                system_instruction=system, temperature=0.0, max_output_tokens=max_tokens, candidate_count=1
            )
            async with slots:
                reply = await client.aio.models.generate_content(
                    model=self.model, contents=gemini_contents(messages), config=config
                )
            return (reply.text or "").strip()

        try:
            return list(await asyncio.gather(*(one(messages) for messages in conversations)))
        except Exception as exc:
            raise api_error(exc, f"asking vertex:{self.model}") from exc
        finally:
            await client.aio.aclose()


def gemini_contents(messages: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
    """Chat turns as Gemini `contents` (user and model roles; system turns go to system_instruction)."""
    return [
        {"role": "model" if m["role"] == "assistant" else "user", "parts": [{"text": m["content"]}]}
        for m in messages
        if m["role"] != "system"
    ]
