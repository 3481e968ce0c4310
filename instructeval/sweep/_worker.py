"""What one Ray task does: load one model once and evaluate each of its pairs with `evaluate`, reporting each
pair as it starts and finishes. A pair begun before (by a worker that died) resumes from its request cache.
The pairs of a base and of its adapters share the one load (hf: peft adapters switched on it; vllm: one engine
serving every adapter through LoRA requests)."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from instructeval.errors import InstructEvalError
from instructeval.sweep._adapters import AdapterSwitch, adapter_switch, base_settings, switches_adapters
from instructeval.sweep._plan import Pair, pair_state

ANSWERS = re.compile(r"answers: (\d+) computed, (\d+) from cache")


class Events(Protocol):
    """Where a worker reports each finished pair's outcome (a Ray queue read by the driver)."""

    def put(self, item: Any) -> None: ...


@dataclass(frozen=True)
class ModelJob:
    """One model's pairs, and where and how to run them."""

    pairs: tuple[Pair, ...]
    cwd: str
    threads: int


@dataclass(frozen=True)
class PairOutcome:
    """How one pair ended on a worker."""

    run_dir: Path
    status: Literal["done", "skipped", "failed"]
    error: str | None = None
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0
    load_seconds: float = 0.0
    retryable: bool = False


class PairsFailed(Exception):
    """Some pair of a model failed unexpectedly: Ray retries the model's task (finished pairs are skipped)."""

    def __init__(self, outcomes: list[PairOutcome]) -> None:
        super().__init__("; ".join(f"{o.run_dir.name}: {o.error}" for o in outcomes if o.status == "failed"))
        self.outcomes = outcomes

    def __reduce__(self) -> tuple[Any, ...]:
        return (PairsFailed, (self.outcomes,))


def evaluate_model(job: ModelJob, events: Events) -> list[PairOutcome]:
    """Evaluate each pair of one model on one load; raises PairsFailed (for Ray to retry) after trying them all
    when one failed by a bug or a crash, not by bad input."""
    if Path(job.cwd).is_dir():
        os.chdir(job.cwd)  # model folders, data and output paths mean what they meant where the sweep started
    _limit_threads(job.threads)
    lm: Any = None
    switch: AdapterSwitch | None = None
    outcomes: list[PairOutcome] = []
    for pair in job.pairs:
        if pair_state(pair.run_dir) == "done":
            outcomes.append(PairOutcome(pair.run_dir, "skipped"))
            continue
        load_seconds = 0.0
        try:
            if lm is None:
                started = time.perf_counter()
                lm = _load(pair, job)
                switch = adapter_switch(pair.model, lm) if switches_adapters(pair.model) else None
                load_seconds = time.perf_counter() - started
            if switch is None:
                outcome = _evaluate(pair, lm, load_seconds)
            else:
                with switch.active(pair.adapter):
                    outcome = _evaluate(pair, lm, load_seconds)
        except InstructEvalError as exc:
            outcome = PairOutcome(pair.run_dir, "failed", error=str(exc), load_seconds=load_seconds)
        except Exception as exc:  # a bug or a crash of the backend: retried by Ray, then reported in one line
            outcome = PairOutcome(pair.run_dir, "failed", one_line(exc), load_seconds=load_seconds, retryable=True)
        outcomes.append(outcome)
        if not outcome.retryable:  # a retryable failure is reported once Ray's retries are spent
            events.put(outcome)
    if lm is not None and callable(shutdown := getattr(lm, "shutdown", None)):
        shutdown()
    if any(outcome.retryable for outcome in outcomes):
        raise PairsFailed(outcomes)
    return outcomes


def _load(pair: Pair, job: ModelJob) -> Any:
    """The pair's model as `evaluate` would build it; where adapters are switched, the base without one, ready
    for the job's adapters."""
    from instructeval.evaluator import backend_options_for
    from instructeval.models.backends import build_lm
    from instructeval.models.spec import parse_model_spec

    spec = parse_model_spec(pair.options.model)
    if not switches_adapters(pair.model):
        return build_lm(spec, backend_options_for(pair.options, spec))
    backend = backend_options_for(replace(pair.options, adapter=None), spec)
    adapters = sorted({p.adapter for p in job.pairs if p.adapter is not None})
    backend = replace(backend, extra={**backend.extra, **base_settings(pair.model, adapters)})
    return build_lm(spec, backend)


def _evaluate(pair: Pair, lm: Any, load_seconds: float) -> PairOutcome:
    from instructeval.evaluator import evaluate

    lines: list[str] = []
    started = time.perf_counter()
    resume = pair.run_dir.is_dir()
    evaluate(replace(pair.options, resume=resume), progress=lines.append, lm=lm)
    counts = next((m for line in reversed(lines) if (m := ANSWERS.search(line))), None)
    return PairOutcome(
        pair.run_dir,
        "done",
        computed=int(counts.group(1)) if counts else 0,
        cached=int(counts.group(2)) if counts else 0,
        seconds=time.perf_counter() - started,
        load_seconds=load_seconds,
    )


def _limit_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(max(1, threads))


def one_line(exc: BaseException) -> str:
    """An exception as `Type: first line of its message`."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else 'no message'}"
