"""Run-time changes to a task's decoding: self-consistency (maj@K), pass@k sampling, generation length."""

from __future__ import annotations

from functools import partial
from typing import Any, Protocol

from lm_eval.api.filter import FilterEnsemble
from lm_eval.filters import build_filter_ensemble
from lm_eval.filters.selection import MajorityVoteFilter, TakeFirstFilter, TakeKFilter

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
    """Change one task's loaded lm-eval (sub)tasks in place; return the decoding settings to record.
    `options` are the task's own: self-consistency and samples only where they apply to it."""
    votes = options.self_consistency
    samples = options.samples
    recorded: dict[str, Any] = {}
    for task in tasks.values():
        if task.get_config("output_type") != "generate_until":
            continue
        if options.max_gen_toks is not None:
            task.set_config(key="generation_kwargs", value={"max_gen_toks": options.max_gen_toks}, update=True)
        if votes:
            _sample(task, votes, options.temperature or DEFAULT_SC_TEMPERATURE, seed)
            task._filters = [_majority_filter(f, votes) for f in task._filters]
        if samples:
            _sample(task, samples, options.temperature or DEFAULT_PASS_AT_K_TEMPERATURE, seed)
            task._filters = [build_filter_ensemble("none", [("take_first_k", {"k": samples})])]
        recorded = {**task.get_config("generation_kwargs"), "repeats": task.get_config("repeats") or 1}
    return recorded


def primary_metric(declared: str, options: _Options) -> str:
    """The headline metric key (`metric,filter`): under --self-consistency K, the declared metric's maj@K vote."""
    metric, _, filter_name = declared.partition(",")
    filter_name = filter_name or "none"
    if options.self_consistency:
        filter_name = majority_filter_name(filter_name, options.self_consistency)
    return f"{metric},{filter_name}"


def majority_filter_name(filter_name: str, k: int) -> str:
    """`maj@K-<filter>` for the vote over a named extraction filter, `maj@K` over lm-eval's default one."""
    return f"maj@{k}" if filter_name == "none" else f"maj@{k}-{filter_name}"


def _sample(task: Any, repeats: int, temperature: float, seed: int) -> None:
    task.set_config(key="repeats", value=repeats)
    task.set_config(
        key="generation_kwargs", value={"do_sample": True, "temperature": temperature, "seed": seed}, update=True
    )


def _majority_filter(ensemble: FilterEnsemble, k: int) -> FilterEnsemble:
    """The same answer extraction steps, then a majority vote over the K samples (maj@K)."""
    selection = (TakeFirstFilter, TakeKFilter, MajorityVoteFilter)
    extraction = [step for step in ensemble.filters if getattr(step, "func", None) not in selection]
    return FilterEnsemble(
        name=majority_filter_name(ensemble.name, k),
        filters=[*extraction, partial(MajorityVoteFilter), partial(TakeFirstFilter)],
    )
