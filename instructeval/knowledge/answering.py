"""Asking a model: chat generation and forced-choice log-likelihoods, for local and API models alike.

Local models (demo, hf:) answer through their lm-eval backend (`build_lm`), so the tuned model is loaded
exactly as `instructeval run --adapter` loads it. API models answer through the shared chat client and retry
policy (`models/`); they give no prompt log-likelihoods, so forced-choice scoring needs a local model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from instructeval.errors import InstructEvalError
from instructeval.models.chat_client import HTTPChatClient, Messages
from instructeval.models.client_settings import ClientSettings
from instructeval.models.keys import resolve_api_key
from instructeval.models.retry import RequestFailed, complete_with_retries
from instructeval.models.spec import ModelSpec


class Answerer(Protocol):
    """What methods need from a model."""

    supports_choices: bool

    def generate(self, conversations: Sequence[Messages], max_tokens: int) -> list[str]:
        """Greedy replies, one per conversation."""
        ...

    def choice_loglikelihoods(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        """For each (context, continuations), the log-likelihood of every continuation."""
        ...


class LocalAnswerer:
    """An lm-eval LM (HFLM) driven directly with Instances."""

    supports_choices = True

    def __init__(self, lm: Any) -> None:
        self.lm = lm

    def generate(self, conversations: Sequence[Messages], max_tokens: int) -> list[str]:
        from lm_eval.api.instance import Instance

        kwargs = {"until": [], "max_gen_toks": max_tokens, "do_sample": False}
        requests = [
            Instance("generate_until", {}, (self.lm.apply_chat_template(messages), dict(kwargs)), i)
            for i, messages in enumerate(conversations)
        ]
        if not requests:
            return []
        return [str(text).strip() for text in self.lm.generate_until(requests, disable_tqdm=True)]

    def choice_loglikelihoods(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        from lm_eval.api.instance import Instance

        flat = [(context, choice) for context, choices in requests for choice in choices]
        instances = [Instance("loglikelihood", {}, pair, i) for i, pair in enumerate(flat)]
        if not instances:
            return []
        scores = iter(float(result[0]) for result in self.lm.loglikelihood(instances, disable_tqdm=True))
        return [[next(scores) for _ in choices] for _, choices in requests]


class ChatAnswerer:
    """An OpenAI-compatible chat endpoint (openai:, openai-compatible:) with bounded retries."""

    supports_choices = False

    def __init__(self, spec: ModelSpec, settings: ClientSettings | None = None) -> None:
        if spec.api_base_url is None:
            raise InstructEvalError(f"{spec} is not an API model: use openai:<model> or openai-compatible:<url>@<m>")
        self.spec = spec
        self._key = resolve_api_key(spec)
        settings = settings or ClientSettings()
        self._concurrency = settings.concurrency
        self._policy = settings.retry_policy()

    def generate(self, conversations: Sequence[Messages], max_tokens: int) -> list[str]:
        return asyncio.run(self._generate(list(conversations), max_tokens))

    def choice_loglikelihoods(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        raise InstructEvalError(
            f"{self.spec} gives no prompt log-likelihoods: forced-choice scoring needs a local model"
        )

    async def _generate(self, conversations: list[Messages], max_tokens: int) -> list[str]:
        client = HTTPChatClient(self.spec, self._key, concurrency=self._concurrency)
        slots = asyncio.Semaphore(self._concurrency)

        async def one(messages: Messages) -> str:
            reply, _ = await complete_with_retries(
                client, messages, max_tokens=max_tokens, temperature=0.0, policy=self._policy, slots=slots
            )
            return reply.text.strip()

        try:
            return list(await asyncio.gather(*(one(messages) for messages in conversations)))
        except RequestFailed as exc:
            raise InstructEvalError(
                f"{self.spec} did not answer ({exc}): check the server, then rerun with --resume"
            ) from exc
        finally:
            await client.aclose()


def open_answerer(spec: ModelSpec, *, device: str | None = None, adapter: Path | None = None) -> Answerer:
    """A local answerer (lm-eval backend, optionally with a LoRA adapter) or an API answerer."""
    if spec.is_local:
        if spec.kind == "vllm":
            raise InstructEvalError(
                f"{spec}: knowledge injection runs local models with transformers; use hf:{spec.name}"
            )
        from instructeval.models.backends import BackendOptions, build_lm

        return LocalAnswerer(build_lm(spec, BackendOptions(device=device, adapter=adapter)))
    if adapter is not None:
        raise InstructEvalError(f"{spec} is an API model: adapters apply to local models only")
    return ChatAnswerer(spec)
