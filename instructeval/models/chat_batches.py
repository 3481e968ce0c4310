"""OpenAI's Batch API for chat requests: one input file, one batch, polled until it ends (about half the price).

`submit` uploads the requests as JSONL and creates the batch; the caller saves the returned id at once, so a
resumed run `wait`s on the same batch instead of paying for a second one. `wait` polls with a growing interval
and downloads the replies; a batch that fails, expires or is cancelled is reported in one line, with whatever
replies it did finish.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import openai

from instructeval.errors import InstructEvalError
from instructeval.models.chat_client import ChatReply, Messages
from instructeval.models.keys import Role
from instructeval.models.openai_sdk import openai_sdk_client
from instructeval.models.spec import ModelSpec

BATCH_DISCOUNT = 0.5
"""What a batched request costs against the same request sent directly (OpenAI's Batch API price)."""

ENDPOINT = "/v1/chat/completions"
ENDED = frozenset({"completed", "failed", "expired", "cancelled"})
MAX_POLL_S = 60.0


@dataclass(frozen=True)
class BatchRequest:
    """One chat request of a batch; `custom_id` comes back with its reply."""

    custom_id: str
    messages: Messages
    max_tokens: int
    temperature: float


@dataclass(frozen=True)
class BatchResult:
    """How a batch ended: replies by custom_id, and a one-line reason for each request it did not answer."""

    batch_id: str
    status: str
    replies: dict[str, ChatReply]
    failures: dict[str, str] = field(default_factory=dict)


class ChatBatches:
    """Batches of chat requests for one API model (an openai: or openai-compatible: spec)."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        role: Role = "model",
        key_env: str | None = None,
        poll_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.spec = spec
        self.poll_s = poll_s
        self._sleep = sleep
        self._client = openai_sdk_client(spec, role=role, key_env=key_env)

    def submit(self, requests: Sequence[BatchRequest]) -> str:
        """Upload the requests and create their batch; the batch id."""
        lines = [
            json.dumps(
                {
                    "custom_id": request.custom_id,
                    "method": "POST",
                    "url": ENDPOINT,
                    "body": {
                        "model": self.spec.name,
                        "messages": request.messages,
                        "max_tokens": request.max_tokens,
                        "temperature": request.temperature,
                    },
                },
                ensure_ascii=False,
            )
            for request in requests
        ]
        payload = ("\n".join(lines) + "\n").encode()
        try:
            uploaded = self._client.files.create(file=("requests.jsonl", payload), purpose="batch")
            batch = self._client.batches.create(
                input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
        except openai.OpenAIError as exc:
            raise InstructEvalError(f"{self.spec} did not accept the batch ({_first_line(exc)})") from exc
        return str(batch.id)

    def wait(self, batch_id: str) -> BatchResult:
        """Poll the batch until it ends (interval growing from `poll_s` to a minute) and read its replies."""
        interval = self.poll_s
        while True:
            try:
                batch = self._client.batches.retrieve(batch_id)
            except openai.OpenAIError as exc:
                raise InstructEvalError(
                    f"could not read batch {batch_id} at {self.spec} ({_first_line(exc)}); rerun to keep waiting"
                ) from exc
            if batch.status in ENDED:
                break
            self._sleep(interval)
            interval = min(max(self.poll_s, MAX_POLL_S), interval * 1.5)
        replies, failures = self._read(batch.output_file_id), self._read_errors(batch.error_file_id)
        return BatchResult(batch_id, str(batch.status), replies, failures | _batch_errors(batch, replies))

    def _content(self, file_id: str) -> list[dict[str, Any]]:
        try:
            text = self._client.files.content(file_id).text
        except openai.OpenAIError as exc:
            raise InstructEvalError(f"could not download {file_id} at {self.spec} ({_first_line(exc)})") from exc
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def _read(self, file_id: str | None) -> dict[str, ChatReply]:
        replies = {}
        for line in self._content(file_id) if file_id else []:
            response = line.get("response") or {}
            body = response.get("body") or {}
            if response.get("status_code") == 200 and body.get("choices"):
                usage = body.get("usage") or {}
                replies[str(line["custom_id"])] = ChatReply(
                    text=body["choices"][0]["message"]["content"] or "",
                    prompt_tokens=usage.get("prompt_tokens"),
                    completion_tokens=usage.get("completion_tokens"),
                )
        return replies

    def _read_errors(self, file_id: str | None) -> dict[str, str]:
        failures = {}
        for line in self._content(file_id) if file_id else []:
            error = line.get("error") or (line.get("response") or {}).get("body", {}).get("error") or {}
            failures[str(line["custom_id"])] = str(error.get("message") or error or "no reply")
        return failures


def _batch_errors(batch: Any, replies: dict[str, ChatReply]) -> dict[str, str]:
    """For a batch that ended without completing, its own error under the key '*' (requests not named)."""
    if batch.status == "completed":
        return {}
    errors = getattr(getattr(batch, "errors", None), "data", None) or []
    reason = "; ".join(str(getattr(e, "message", e)) for e in errors) or f"the batch {batch.status}"
    return {"*": f"{reason} ({len(replies)} replies came back)"}


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
