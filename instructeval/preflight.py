"""Checks that run before any model is loaded or folder created, so bad input fails in a second, in one line."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

from instructeval.data.source import DataSource
from instructeval.errors import DataError, InstructEvalError
from instructeval.models.keys import resolve_api_key
from instructeval.models.spec import ModelSpec
from instructeval.overrides import PASS_AT_K_TASKS
from instructeval.paths import DATA_DIR_ENV
from instructeval.registry import TaskInfo
from instructeval.settings import reasons_in_chains


def check_limit(limit: int | None) -> None:
    """--limit must be a positive number of examples."""
    if limit is not None and limit <= 0:
        raise InstructEvalError(f"--limit {limit} is not valid: pass a positive number of examples per task")


def check_max_gen_toks(max_gen_toks: int | None) -> None:
    """--max-gen-toks must leave room for at least one generated token."""
    if max_gen_toks is not None and max_gen_toks <= 0:
        raise InstructEvalError(f"--max-gen-toks {max_gen_toks} is not valid: pass a positive number of tokens")


def check_batch_size(requested: str) -> None:
    """--batch-size is `auto` or a positive integer."""
    if requested == "auto":
        return
    if not requested.isdigit() or int(requested) < 1:
        raise InstructEvalError(f"--batch-size {requested!r} is not valid: use auto or a positive integer")


def check_sampling(
    self_consistency: int | None, samples: int | None, temperature: float | None, tasks: list[TaskInfo]
) -> None:
    """--self-consistency and --samples apply to tasks that use them; --temperature only to their sampling."""
    names = [info.name for info in tasks]
    for flag, value, applies, users in (
        ("--self-consistency", self_consistency, reasons_in_chains, "gsm8k, mgsm, bbh and mmlu with --reasoning cot"),
        ("--samples", samples, lambda info: info.name in PASS_AT_K_TASKS, ", ".join(PASS_AT_K_TASKS)),
    ):
        if value is None:
            continue
        if value < 1:
            raise InstructEvalError(f"{flag} {value} is not valid: pass a positive number of samples")
        if not any(applies(info) for info in tasks):
            raise InstructEvalError(
                f"{flag} applies to {users}, not to {', '.join(names)}: drop it or add one of those tasks"
            )
    if temperature is not None:
        if self_consistency is None and samples is None:
            raise InstructEvalError(
                "--temperature only sets the sampling of --self-consistency K or --samples N (tasks decode "
                "greedily otherwise): add one of them or drop --temperature"
            )
        if temperature <= 0:
            raise InstructEvalError(f"--temperature {temperature} is not valid: sampling needs a temperature above 0")


def check_data_parallel(spec: ModelSpec, data_parallel_size: int) -> None:
    """--data-parallel-size: 1 or more vLLM engine replicas, read by vllm: models only."""
    if data_parallel_size < 1:
        raise InstructEvalError(f"--data-parallel-size {data_parallel_size} is not valid: pass 1 or more replicas")
    if data_parallel_size != 1 and spec.kind != "vllm":
        raise InstructEvalError(
            f"--data-parallel-size is a vLLM setting that {spec.kind} models ignore: use a vllm: model or drop it"
        )


def check_backend_flags(
    spec: ModelSpec, device: str | None, tensor_parallel_size: int, prefix_cache: bool | None, batch_size: str = "auto"
) -> None:
    """Each backend flag only where it is read: --device and the prefix cache by hf, --tensor-parallel-size by vllm,
    --batch-size by the local backends."""
    if batch_size != "auto" and not spec.is_local:
        raise InstructEvalError(
            f"--batch-size is read by local models only ({spec.kind} requests are sent concurrently, one prompt "
            "each): drop --batch-size"
        )
    if tensor_parallel_size < 1:
        raise InstructEvalError(f"--tensor-parallel-size {tensor_parallel_size} is not valid: pass 1 or more GPUs")
    if tensor_parallel_size != 1 and spec.kind != "vllm":
        raise InstructEvalError(
            f"--tensor-parallel-size is a vLLM setting that {spec.kind} models ignore: use a vllm: model or drop it"
        )
    if device is not None and spec.kind not in ("demo", "hf"):
        where = (
            "vLLM places the model on its GPUs itself (choose them with CUDA_VISIBLE_DEVICES)"
            if spec.kind == "vllm"
            else "the server runs the model"
        )
        raise InstructEvalError(f"--device applies to demo and hf: models: {where}; drop --device")
    if prefix_cache is not None and spec.kind not in ("demo", "hf"):
        flag = "--prefix-cache" if prefix_cache else "--no-prefix-cache"
        raise InstructEvalError(
            f"{flag} is read by demo and hf: models only (vLLM and API servers manage their own prefix caching): "
            f"drop {flag}"
        )


def check_model(spec: ModelSpec, adapter: Path | None) -> None:
    """Local folders exist, API keys are set and endpoints answer, before anything heavy starts."""
    if adapter is not None and not adapter.is_dir():
        raise InstructEvalError(f"adapter folder {adapter} does not exist: pass a peft LoRA output folder")
    check_model_folder(spec)
    if spec.kind == "vertex":
        raise InstructEvalError(
            f"{spec} is answered by `instructeval inject` only: run tasks through hf:, vllm: or openai:"
        )
    if spec.api_base_url is not None:
        resolve_api_key(spec)
    if spec.kind == "openai-compatible":
        assert spec.base_url is not None
        check_endpoint(spec.base_url)


def check_model_folder(spec: ModelSpec) -> None:
    """An hf: or vllm: model given as a path names an existing folder."""
    is_path = spec.kind in ("hf", "vllm") and spec.name.startswith((".", "/", "~"))
    if is_path and not Path(spec.name).expanduser().is_dir():
        raise InstructEvalError(f"model folder {spec.name} does not exist: check the path after {spec.kind}:")


def check_endpoint(base_url: str, timeout: float = 10.0) -> None:
    """Fail early, in one line, when an OpenAI-compatible server does not answer."""
    try:
        urllib.request.urlopen(f"{base_url}/models", timeout=timeout).close()
    except urllib.error.HTTPError:
        return  # the server answered (an error status still proves it is there)
    except (urllib.error.URLError, OSError) as exc:
        raise InstructEvalError(
            f"cannot reach {base_url} ({type(exc).__name__}): start the server or fix the URL in the model spec"
        ) from exc


def check_data_layout(source: DataSource, tasks: list[TaskInfo]) -> None:
    """Under a local data folder, each task finds one of the files its YAML declares (`local_files`)."""
    if source.kind != "local":
        return
    assert source.root is not None
    for info in tasks:
        if info.local_files and not any(any(source.root.glob(pattern)) for pattern in info.local_files):
            raise DataError(
                f"{info.name}: no {' or '.join(info.local_files)} under {source.root}: the data folder must follow "
                f"the layout of shared/data; fix --data-dir or {DATA_DIR_ENV}"
            )
