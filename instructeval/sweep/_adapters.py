"""peft adapters of one base on one load (hf: models): each adapter is loaded onto the base once, then made the
active one for its pairs; the base's own pairs run with every adapter disabled."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from instructeval.models.spec import parse_model_spec

SWITCHING_KINDS = frozenset({"demo", "hf"})
"""Backends whose model object peft can wrap and switch (vLLM takes its adapter when the engine is built)."""


def switches_adapters(model: str) -> bool:
    """True when the adapters of this model share one loaded base."""
    return parse_model_spec(model).kind in SWITCHING_KINDS


class AdapterSwitch:
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
