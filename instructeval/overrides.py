"""Run-time changes to a task's decoding: self-consistency (maj@K), pass@k sampling, generation length."""

from __future__ import annotations

from typing import Any, Protocol

from lm_eval.filters import build_filter_ensemble

SELF_CONSISTENCY_TASKS = ("gsm8k",)
PASS_AT_K_TASKS = ("humaneval",)
DEFAULT_SC_TEMPERATURE = 0.7
DEFAULT_PASS_AT_K_TEMPERATURE = 0.8


class _Options(Protocol):
    @property
    def self_consistency(self) -> int | None: ...
    @property
    def samples(self) -> int | None: ...
    @property
    def temperature(self) -> float | None: ...
    @property
    def max_gen_toks(self) -> int | None: ...


def apply_overrides(tasks: dict[str, Any], options: _Options, *, seed: int) -> dict[str, Any]:
    """Change the loaded lm-eval tasks in place; return the decoding settings to record in results."""
    recorded: dict[str, Any] = {}
    for name, task in tasks.items():
        if task.get_config("output_type") != "generate_until":
            continue
        if options.max_gen_toks is not None:
            task.set_config(key="generation_kwargs", value={"max_gen_toks": options.max_gen_toks}, update=True)
        if options.self_consistency and name in SELF_CONSISTENCY_TASKS:
            _sample(task, options.self_consistency, options.temperature or DEFAULT_SC_TEMPERATURE, seed)
            task._filters = [_majority_filter(f, options.self_consistency) for f in task._filters]
        if options.samples and name in PASS_AT_K_TASKS:
            _sample(task, options.samples, options.temperature or DEFAULT_PASS_AT_K_TEMPERATURE, seed)
            task._filters = [build_filter_ensemble("none", [("take_first_k", {"k": options.samples})])]
        recorded = {**task.get_config("generation_kwargs"), "repeats": task.get_config("repeats") or 1}
    return recorded


def _sample(task: Any, repeats: int, temperature: float, seed: int) -> None:
    task.set_config(key="repeats", value=repeats)
    task.set_config(
        key="generation_kwargs", value={"do_sample": True, "temperature": temperature, "seed": seed}, update=True
    )


def _majority_filter(ensemble: Any, k: int) -> Any:
    """The same answer extraction, then a majority vote over the K samples (maj@K)."""
    components: list[tuple[str, dict[str, Any] | None]] = [
        ("regex", dict(step.keywords)) for step in ensemble.filters if "regex_pattern" in getattr(step, "keywords", {})
    ]
    components += [("majority_vote", None), ("take_first", None)]
    return build_filter_ensemble(f"maj@{k}-{ensemble.name}", components)
