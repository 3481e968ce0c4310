"""A judge whose weights load in this process (demo, hf:): chat completion with the model's own chat template."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from instructeval.judge.client import ChatReply
from instructeval.models.backends import load_failed, local_weights, resolve_device
from instructeval.models.spec import ModelSpec
from instructeval.preflight import check_model


class LocalChatBackend:
    """The `ChatBackend` protocol over a transformers model; one generation at a time, off the event loop."""

    in_process = True

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        check_model(spec, adapter=None)
        folder = local_weights(spec)
        self.device = resolve_device(device)
        try:  # the model first: its error names what is missing (config.json, weights)
            self.model = AutoModelForCausalLM.from_pretrained(folder).to(self.device).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(folder)
        except (OSError, ValueError) as exc:
            raise load_failed(spec, exc) from exc
        self._lock = threading.Lock()

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float) -> ChatReply:
        return await asyncio.to_thread(self._complete, messages, max_tokens, temperature)

    async def aclose(self) -> None:
        """Nothing to release: the weights go with the object."""

    def _complete(self, messages: list[dict[str, str]], max_tokens: int, temperature: float) -> ChatReply:
        import torch

        inputs: Any = self.tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        sampling = {"do_sample": True, "temperature": temperature} if temperature > 0 else {"do_sample": False}
        with self._lock, torch.no_grad():
            output = self.model.generate(
                **inputs, max_new_tokens=max_tokens, pad_token_id=self.tokenizer.eos_token_id, **sampling
            )
        prompt_length = int(inputs["input_ids"].shape[1])
        new_tokens = output[0][prompt_length:]
        text = self.tokenizer.decode(new_tokens, skip_special_tokens=True)
        return ChatReply(text=text, prompt_tokens=prompt_length, completion_tokens=int(new_tokens.shape[0]))
