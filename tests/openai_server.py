"""A small OpenAI-compatible server on 127.0.0.1 backed by a real transformers model (vLLM's response shapes).

/v1/models, /v1/completions (text or token-id prompts; `echo` + `logprobs` give each prompt token's log-probability
from one forward pass, the first token's being null as in vLLM) and /v1/chat/completions (the tokenizer's chat
template, then generation). `prompt_logprobs=False` makes a server that ignores `echo` and returns no logprobs;
`delay_s` makes each request take at least that long, one at a time (so a test can stop a client midway).
Every request is kept in `exchanges` as (path, body, reply), so tests can check what travelled.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import torch
from loopback_http import LoopbackHTTPServer, StandInHandler
from transformers import AutoModelForCausalLM, AutoTokenizer


class ModelServer:
    """Serves one model folder under `name` (by default the folder path, as vLLM's --model does)."""

    def __init__(
        self, folder: Path, name: str | None = None, prompt_logprobs: bool = True, delay_s: float = 0.0
    ) -> None:
        self.name = name or str(folder)
        self.prompt_logprobs = prompt_logprobs
        self.delay_s = delay_s
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        self.exchanges: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self._lock = threading.Lock()
        self._pace = threading.Lock()
        self._in_flight = 0
        self._http = LoopbackHTTPServer(_handler(self))

    @property
    def base_url(self) -> str:
        """The OpenAI base URL (…/v1)."""
        return self._http.base_url

    def card(self) -> dict[str, Any]:
        """The model's /v1/models entry; `max_model_len` is the context length, as vLLM announces it."""
        length = self.model.config.max_position_embeddings
        return {"id": self.name, "object": "model", "owned_by": "test", "max_model_len": length}

    def wait_idle(self, timeout_s: float = 120.0) -> None:
        """Return once no request is being answered (a killed client's queued requests are still served)."""
        deadline = time.monotonic() + timeout_s
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not self._in_flight, f"{self._in_flight} requests still being answered after {timeout_s} s"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        """The request bodies sent to one route, in arrival order."""
        return [body for route, body, _ in self.exchanges if route == path]

    def __enter__(self) -> ModelServer:
        self._http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.stop()

    def handle(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """Answer one POST body (and keep both)."""
        with self._lock:
            self._in_flight += 1
        try:
            with self._pace:
                time.sleep(self.delay_s)
                reply = self._answer(path, body)
            self.exchanges.append((path, body, reply))  # kept before it counts as answered (see wait_idle)
            return reply
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if path == "/v1/completions":
            prompts = _prompt_list(body["prompt"])
            choices = [self._completion(index, prompt, body) for index, prompt in enumerate(prompts)]
            return _response("text_completion", self.name, choices)
        if path == "/v1/chat/completions":
            text = self.tokenizer.apply_chat_template(body["messages"], tokenize=False, add_generation_prompt=True)
            ids = self.tokenizer(text, add_special_tokens=False).input_ids
            generated, reason, _ = self._generate(ids, body)
            message = {"role": "assistant", "content": generated}
            return _response("chat.completion", self.name, [{"index": 0, "message": message, "finish_reason": reason}])
        raise KeyError(path)

    def _completion(self, index: int, prompt: str | list[int], body: dict[str, Any]) -> dict[str, Any]:
        ids = prompt if isinstance(prompt, list) else self.tokenizer(prompt).input_ids
        generated, reason, new_ids = self._generate(ids, body)
        choice: dict[str, Any] = {"index": index, "text": generated, "logprobs": None, "finish_reason": reason}
        top = body.get("logprobs")
        if not self.prompt_logprobs:
            return choice
        echo = bool(body.get("echo"))
        if echo:
            choice["text"] = self.tokenizer.decode(ids) + generated
        if top is not None:
            logprobs = self._logprobs(ids + new_ids, int(top))
            choice["logprobs"] = logprobs if echo else {k: v[len(ids) :] for k, v in logprobs.items()}
        return choice

    def _logprobs(self, ids: list[int], top: int) -> dict[str, list[Any]]:
        """Each token, its log-probability and the `top` likeliest alternatives (null for the first token)."""
        with self._lock, torch.no_grad():
            logits = self.model(torch.tensor([ids])).logits[0].float()
        table = torch.log_softmax(logits, dim=-1)
        chosen = table[:-1].gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1).tolist()
        best_values, best_ids = table[:-1].topk(top, dim=-1)
        names = self.tokenizer.batch_decode([[token] for token in ids + best_ids.flatten().tolist()])
        tokens, best_names = names[: len(ids)], names[len(ids) :]
        token_logprobs: list[float | None] = [None, *chosen]
        top_logprobs: list[dict[str, float] | None] = [None]
        for position in range(1, len(ids)):
            alternatives = {tokens[position]: chosen[position - 1]}  # the best token wins a shared text
            for rank, value in enumerate(best_values[position - 1].tolist()):
                alternatives[best_names[(position - 1) * top + rank]] = value
            top_logprobs.append(alternatives)
        offsets = [0, *itertools.accumulate(len(token) for token in tokens[:-1])]
        return {
            "tokens": tokens,
            "token_logprobs": token_logprobs,
            "top_logprobs": top_logprobs,
            "text_offset": offsets,
        }

    def _generate(self, ids: list[int], body: dict[str, Any]) -> tuple[str, str, list[int]]:
        """Greedy, or sampled with the request's seed; cut at the first stop string (not included, as vLLM)."""
        max_tokens = int(body.get("max_tokens", body.get("max_completion_tokens", 16)))
        if max_tokens == 0:
            return "", "length", []
        temperature = float(body.get("temperature") or 0)
        with self._lock, torch.no_grad():
            if body.get("seed") is not None:
                torch.manual_seed(int(body["seed"]))
            output = self.model.generate(
                torch.tensor([ids]),
                attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                max_new_tokens=max_tokens,
                do_sample=temperature > 0,
                temperature=temperature if temperature > 0 else None,
                top_p=None,
                top_k=None,
                pad_token_id=self.tokenizer.eos_token_id,
            )
        new_ids = output[0, len(ids) :].tolist()
        text = self.tokenizer.decode(new_ids, skip_special_tokens=True)
        reason = "stop" if len(new_ids) < max_tokens else "length"
        stops = body.get("stop") or []
        cuts = [text.index(stop) for stop in ([stops] if isinstance(stops, str) else stops) if stop and stop in text]
        if cuts:
            text, reason = text[: min(cuts)], "stop"
        return text, reason, new_ids


def _prompt_list(prompt: Any) -> list[str | list[int]]:
    """OpenAI's four prompt forms: a string, a list of strings, a token list, a list of token lists."""
    if isinstance(prompt, str):
        return [prompt]
    if prompt and isinstance(prompt[0], int):
        return [list(prompt)]
    return list(prompt)


def _response(kind: str, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"{kind}-{time.time_ns()}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }


def _handler(server: ModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(StandInHandler):
        def send_bytes(self, *args: Any, **kwargs: Any) -> None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # a client killed while it waited
                super().send_bytes(*args, **kwargs)

        def do_GET(self) -> None:
            if self.path == "/v1/models":
                self.send_json(200, {"object": "list", "data": [server.card()]})
            else:
                self.send_json(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            body = json.loads(self.read_body())
            try:
                self.send_json(200, server.handle(self.path, body))
            except KeyError as exc:
                self.send_json(404, {"error": {"message": f"unknown route or field {exc}"}})

    return Handler
