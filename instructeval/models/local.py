"""Weights loaded in this process (demo, hf:): where they are, which device, loading, and chat with them.

`run` hands the folder to lm-eval's hf backend; the judge and fine-tuning load it here with `load_causal_lm`.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from instructeval.errors import InstructEvalError
from instructeval.models.chat_client import ChatReply, Messages
from instructeval.models.demo import demo_model_dir
from instructeval.models.spec import ModelSpec
from instructeval.preflight import check_model


def resolve_device(requested: str | None) -> str:
    """cuda when available, else cpu (lm-eval's hf backend defaults to cuda, which fails on CPU machines)."""
    if requested:
        return requested
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def local_weights(spec: ModelSpec) -> str:
    """The folder or hub id the local backend loads (the demo model is converted on first use)."""
    if spec.kind == "demo":
        return str(demo_model_dir())
    check_model(spec, adapter=None)
    path = Path(spec.name).expanduser()
    return str(path.resolve()) if path.is_dir() else spec.name


def load_failed(spec: ModelSpec, exc: Exception) -> InstructEvalError:
    """The one-line error for weights that could not be read (a hub id offline, a folder without a model)."""
    return InstructEvalError(
        f"could not load {spec.name} ({str(exc).splitlines()[0][:160]}): pass a local folder (hf:./path) "
        "or run where the hub is reachable"
    )


def load_causal_lm(spec: ModelSpec, device: str, **model_kwargs: Any) -> tuple[Any, Any]:
    """(model on `device`, tokenizer) for a decoder-only spec; unreadable weights fail in one line."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = local_weights(spec)
    try:  # the model first: its error names what is missing (config.json, weights)
        model = AutoModelForCausalLM.from_pretrained(folder, **model_kwargs).to(device)
        tokenizer = AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as exc:
        raise load_failed(spec, exc) from exc
    return model, tokenizer


class LocalChatClient:
    """The `ChatClient` protocol over a transformers model; one generation at a time, off the event loop."""

    in_process = True

    def __init__(self, spec: ModelSpec, device: str | None = None) -> None:
        self.device = resolve_device(device)
        model, self.tokenizer = load_causal_lm(spec, self.device)
        self.model = model.eval()
        self._lock = threading.Lock()

    async def complete(self, messages: Messages, *, max_tokens: int, temperature: float) -> ChatReply:
        return await asyncio.to_thread(self._complete, messages, max_tokens, temperature)

    async def aclose(self) -> None:
        """Nothing to release: the weights go with the object."""

    def _complete(self, messages: Messages, max_tokens: int, temperature: float) -> ChatReply:
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
