"""An OpenAI-compatible server as one lm-eval LM: chat completions generate, completions score log-likelihood.

Generation goes to /chat/completions, so the server applies the model's own chat template; with the template
off (--no-chat-template) plain prompts go to /completions. Log-likelihood goes to /completions with `echo` and
`logprobs`: the prompt is sent as token ids from the model's tokenizer (vLLM's server accepts them), and the
server returns each prompt token's log-probability from one forward pass.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import requests
from lm_eval.api.instance import Instance
from lm_eval.api.model import LM
from lm_eval.models.api_models import JsonChatStr
from lm_eval.models.openai_completions import LocalChatCompletion, LocalCompletionsAPI

from instructeval.errors import InstructEvalError

DEFAULT_CONTEXT_LENGTH = 2048
"""lm-eval's default, for servers whose /models does not say `max_model_len` (longer contexts are left-cut)."""

PROBE_TEXT = "The capital of France is Paris."
"""Scored before the first log-likelihood request, to check that the server returns prompt log-probabilities."""


class ChatAndCompletionsLM(LM):
    """Routes each request type to the endpoint that serves it; `endpoints` is recorded in results.json."""

    def __init__(self, base_url: str, model: str, tokenizer: str | None, **common: Any) -> None:
        super().__init__()
        self.base_url = base_url
        self.model = model
        self.tokenizer_id = tokenizer or model
        self.chat = LocalChatCompletion(base_url=f"{base_url}/chat/completions", model=model, **common)
        self.common = {
            "max_length": served_context_length(base_url, model, self.chat.header) or DEFAULT_CONTEXT_LENGTH,
            **common,
        }
        self._completions: LocalCompletionsAPI | None = None
        self._logprobs_checked = False
        self.endpoints = {
            "generate_until": f"{base_url}/chat/completions (chat template off: {base_url}/completions)",
            "loglikelihood": f"{base_url}/completions (echo + logprobs, tokenizer {self.tokenizer_id}, "
            f"context {self.common['max_length']} tokens)",
        }

    @property
    def completions(self) -> LocalCompletionsAPI:
        """The /completions client, built on first use (it loads the tokenizer)."""
        if self._completions is None:
            self._completions = self._build_completions()
        return self._completions

    @property
    def scoring(self) -> LocalCompletionsAPI:
        """The /completions client, once the server has shown that it returns prompt log-probabilities."""
        lm = self.completions
        if not self._logprobs_checked:
            check_prompt_logprobs(lm.base_url, self.model, lm.tok_encode(PROBE_TEXT), lm.header)
            self._logprobs_checked = True
        return lm

    @property
    def tokenizer(self) -> Any:
        """The tokenizer that encodes log-likelihood prompts (and renders them when a chat template is asked for)."""
        return self.completions.tokenizer

    def _build_completions(self) -> LocalCompletionsAPI:
        try:
            lm = LocalCompletionsAPI(
                base_url=f"{self.base_url}/completions",
                model=self.model,
                tokenizer=self.tokenizer_id,
                tokenizer_backend="huggingface",
                tokenized_requests=True,
                **self.common,
            )
        except (OSError, ValueError) as exc:
            raise InstructEvalError(
                f"/completions prompts are encoded with {self.model}'s tokenizer, which could not be loaded "
                f"({str(exc).splitlines()[0][:120]}): pass --tokenizer <hub id or folder>"
            ) from exc
        lm.set_cache_hook(self.cache_hook)
        return lm

    def set_cache_hook(self, cache_hook: Any) -> None:
        """Answers from both endpoints reach the same hook (the run's request cache)."""
        super().set_cache_hook(cache_hook)
        self.chat.set_cache_hook(cache_hook)
        if self._completions is not None:
            self._completions.set_cache_hook(cache_hook)

    def loglikelihood(self, requests: list[Instance], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        """Scored through /completions; chat-formatted contexts are rendered with the tokenizer's template."""
        lm = self.scoring
        plain = [_rendered(lm, request) for request in requests]
        scored: list[tuple[float, bool]] = lm.loglikelihood(plain, disable_tqdm=disable_tqdm)
        return scored

    def loglikelihood_rolling(self, requests: list[Instance], disable_tqdm: bool = False) -> list[float]:
        """Scored through /completions."""
        scored: list[float] = self.scoring.loglikelihood_rolling(requests, disable_tqdm=disable_tqdm)
        return scored

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Chat messages through /chat/completions, plain prompts through /completions (seed and temperature in
        the payload)."""
        routes: dict[bool, list[int]] = {True: [], False: []}
        for index, request in enumerate(requests):
            routes[isinstance(request.args[0], JsonChatStr)].append(index)
        answers: dict[int, str] = {}
        for is_chat, indices in routes.items():
            if indices:
                lm = self.chat if is_chat else self.completions
                generated = lm.generate_until([requests[i] for i in indices], disable_tqdm=disable_tqdm)
                answers.update(zip(indices, generated, strict=True))
        return [answers[index] for index in range(len(requests))]

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> Any:
        """Messages travel as JSON to the chat endpoint, which applies the server's template."""
        return self.chat.apply_chat_template(chat_history, add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        """Identifies the prompt format in lm-eval's request fingerprints."""
        return self.tokenizer_id.replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        """None: the chat template is the server's (not known here)."""
        return None


def served_context_length(base_url: str, model: str, headers: dict[str, str]) -> int | None:
    """The context length a vLLM-style server announces for the model in /models (`max_model_len`), if any."""
    try:
        listed = requests.get(f"{base_url}/models", headers=headers, timeout=30).json()["data"]
    except (requests.RequestException, ValueError, LookupError, TypeError):
        return None
    lengths = [entry.get("max_model_len") for entry in listed if isinstance(entry, dict) and entry.get("id") == model]
    return int(lengths[0]) if lengths and isinstance(lengths[0], int) else None


def check_prompt_logprobs(url: str, model: str, prompt: list[int], headers: dict[str, str]) -> None:
    """One echo request: the server must return a log-probability for every prompt token after the first."""
    payload: dict[str, Any] = {
        "model": model,
        "prompt": prompt,
        "max_tokens": 1,
        "echo": True,
        "logprobs": 1,
        "temperature": 0,
    }
    try:
        response = requests.post(url, json=payload, headers=headers, timeout=60)
    except requests.RequestException as exc:
        raise InstructEvalError(
            f"could not reach {url} ({type(exc).__name__}): start the server or fix the URL"
        ) from exc
    try:
        values = response.json()["choices"][0]["logprobs"]["token_logprobs"]
        scored = values[1 : len(prompt)]
        given = len(scored) == len(prompt) - 1 and all(isinstance(value, float | int) for value in scored)
    except (ValueError, LookupError, TypeError):
        given = False
    if not (response.ok and given):
        raise InstructEvalError(
            f"{url} returned no prompt log-probabilities (HTTP {response.status_code}, echo + logprobs): "
            "serve the model where /completions returns them (vLLM does), or run generative tasks (mmlu_gen)"
        )


def _rendered(lm: LocalCompletionsAPI, request: Instance) -> Instance:
    """A log-likelihood request whose chat-formatted context is rendered to text by the tokenizer's template."""
    context = request.args[0]
    if not isinstance(context, JsonChatStr):
        return request
    messages = json.loads(context.prompt)
    continues = messages[-1]["role"] == "assistant"
    text = lm.tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=not continues, continue_final_message=continues
    )
    return dataclasses.replace(request, arguments=(text, *request.args[1:]))
