"""Adapters of one base on one load: on hf: each peft adapter is loaded onto the base once, then made the active
one for its pairs, and the base's own pairs run with every adapter disabled; on vllm: the engine is built with a
LoRA slot for each adapter and each request carries its pair's adapter (none for the base's pairs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from instructeval.models.spec import parse_model_spec

SWITCHING_KINDS = frozenset({"demo", "hf", "vllm"})
"""Backends whose adapters share one loaded base."""


class AdapterSwitch(Protocol):
    """Makes one adapter (or none: the base) active on a model loaded once."""

    def active(self, adapter: str | None) -> AbstractContextManager[None]: ...


def switches_adapters(model: str) -> bool:
    """True when the adapters of this model share one loaded base."""
    return parse_model_spec(model).kind in SWITCHING_KINDS


def base_settings(model: str, adapters: list[str]) -> dict[str, Any]:
    """Backend settings the shared base needs to serve these adapters (vLLM: its LoRA slots and rank)."""
    if not adapters or parse_model_spec(model).kind != "vllm":
        return {}
    from instructeval.models.vllm_lm import lora_settings

    return lora_settings(adapters)


def adapter_switch(model: str, lm: Any) -> AdapterSwitch:
    """The switch for this model's backend."""
    if parse_model_spec(model).kind == "vllm":
        return VllmSwitch(lm)
    return PeftSwitch(lm)


class VllmSwitch:
    """Each request of a vLLM engine built with `base_settings` carries the active adapter's LoRA request."""

    def __init__(self, lm: Any) -> None:
        from instructeval.models.vllm_lm import LoraSwitch

        self.switch = LoraSwitch(lm)

    @contextmanager
    def active(self, adapter: str | None) -> Iterator[None]:
        self.switch.activate(adapter)
        yield


class PeftSwitch:
    """Makes one adapter (or none) active on an lm-eval HF model built without one."""

    def __init__(self, lm: Any) -> None:
        self.lm = lm
        self.names: dict[str, str] = {}

    @contextmanager
    def active(self, adapter: str | None) -> Iterator[None]:
        """The model with `adapter` active for the duration (None: the base, adapters disabled)."""
        from peft import PeftModel

        model = self.lm._model
        if adapter is None:
            if isinstance(model, PeftModel):
                with model.disable_adapter():
                    yield
            else:
                yield
            return
        name = self.names.setdefault(adapter, f"adapter-{len(self.names)}")
        if not isinstance(model, PeftModel):
            model = self.lm._model = PeftModel.from_pretrained(model, adapter, adapter_name=name)
        elif name not in model.peft_config:
            model.load_adapter(adapter, adapter_name=name)
        model.set_adapter(name)
        model.eval()
        yield
