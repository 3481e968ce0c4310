"""vLLM data parallelism for a model that fits one device: N engines of one model, each in its own process on its
own share of the machine (its GPUs, or on CPU its cores), the requests of each call split among them and their
outputs put back in the callers' order.

vLLM 0.32's offline `LLM(data_parallel_size=N)` refuses single-process use, and lm-eval's data-parallel path
starts N engines through Ray on every call, so the replicas here are N plain `LLM` objects started once; each
starts its engine process with its own `CUDA_VISIBLE_DEVICES` (GPU) or `VLLM_CPU_OMP_THREADS_BIND` (CPU).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

from instructeval.errors import InstructEvalError

T = TypeVar("T")


def cpu_binds(replicas: int, tensor_parallel_size: int, cpus: Sequence[int]) -> list[str]:
    """Each replica's VLLM_CPU_OMP_THREADS_BIND: the cores split into `replicas` equal runs, each run split again
    among its tensor-parallel ranks (`0-3|4-7`); cores left over by the division go unused."""
    ranks = replicas * tensor_parallel_size
    if len(cpus) < ranks:
        raise InstructEvalError(
            f"--data-parallel-size x --tensor-parallel-size = {ranks} engines need a CPU core each; this process "
            f"may use {len(cpus)}: lower --data-parallel-size"
        )
    per_rank = len(cpus) // ranks
    lists = [sorted(cpus)[rank * per_rank : (rank + 1) * per_rank] for rank in range(ranks)]
    binds = [",".join(map(str, cores)) for cores in lists]
    return ["|".join(binds[r * tensor_parallel_size : (r + 1) * tensor_parallel_size]) for r in range(replicas)]


def gpu_sets(replicas: int, tensor_parallel_size: int, devices: Sequence[str]) -> list[str]:
    """Each replica's CUDA_VISIBLE_DEVICES: `tensor_parallel_size` devices each, in order."""
    needed = replicas * tensor_parallel_size
    if len(devices) < needed:
        raise InstructEvalError(
            f"--data-parallel-size {replicas} x --tensor-parallel-size {tensor_parallel_size} needs {needed} GPUs; "
            f"{len(devices)} visible: lower --data-parallel-size"
        )
    return [",".join(devices[r * tensor_parallel_size : (r + 1) * tensor_parallel_size]) for r in range(replicas)]


def replica_envs(replicas: int, tensor_parallel_size: int, on_cpu: bool) -> list[dict[str, str]]:
    """The environment each replica's engine process starts with, so the replicas share no cores or GPUs."""
    if on_cpu:
        binds = cpu_binds(replicas, tensor_parallel_size, sorted(os.sched_getaffinity(0)))
        return [{"VLLM_CPU_OMP_THREADS_BIND": bind} for bind in binds]
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    devices = visible.split(",") if visible else [str(i) for i in range(_cuda_devices())]
    return [{"CUDA_VISIBLE_DEVICES": chosen} for chosen in gpu_sets(replicas, tensor_parallel_size, devices)]


def _cuda_devices() -> int:
    import torch

    return int(torch.cuda.device_count())


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` set for the duration (an engine process copies the environment it starts with)."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def split(items: Sequence[T], parts: int) -> list[list[T]]:
    """Items dealt round-robin into `parts` lists (long and short prompts spread evenly)."""
    return [list(items[part::parts]) for part in range(parts)]


def merge(parts: Sequence[Sequence[T]]) -> list[T]:
    """The inverse of `split`: the items back in their first order."""
    merged: list[T] = []
    for index in range(sum(map(len, parts))):
        merged.append(parts[index % len(parts)][index // len(parts)])
    return merged


def generate_across(
    engines: Sequence[Any], prompts: list[Any], sampling_params: list[Any], one_by_one: bool, **kwargs: Any
) -> list[Any]:
    """`LLM.generate` over the engines at once, each on its share of the prompts (`one_by_one`: one prompt per
    call); the outputs in prompt order. The calling threads only wait on their engine processes, which do the
    work side by side."""
    prompt_parts, param_parts = split(prompts, len(engines)), split(sampling_params, len(engines))

    def one(index: int) -> list[Any]:
        engine, part, params = engines[index], prompt_parts[index], param_parts[index]
        calls = [([p], [q]) for p, q in zip(part, params, strict=True)] if one_by_one else [(part, params)]
        outputs: list[Any] = []
        for batch, batch_params in calls:
            if batch:
                outputs += engine.generate(batch, batch_params, **kwargs)
        return outputs

    if len(engines) == 1:
        return one(0)
    with ThreadPoolExecutor(max_workers=len(engines)) as pool:
        parts = list(pool.map(one, range(len(engines))))
    return merge(parts)
