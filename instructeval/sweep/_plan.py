"""The sweep's pairs: one (model, evaluation) run each, in a run folder whose name comes from its settings, and
what each pair's folder says about it (done, running, stopped, pending)."""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from instructeval.evaluator import RunOptions
from instructeval.models.spec import parse_model_spec
from instructeval.results import load_results
from instructeval.run import LOCK_FILE
from instructeval.sweep._config import Evaluation, ModelEntry, Resources, SweepConfig, expand_models

PairState = Literal["done", "running", "stopped", "pending"]
OptionsBuilder = Callable[[str, dict[str, Any]], RunOptions]
"""(model spec, run options by name) -> the RunOptions `instructeval run` would build from those flags."""

UNHASHED = ("output", "command", "resume", "run_name", "data_parallel_size")
"""RunOptions fields that do not change a run's answers, left out of its folder name (vLLM's replicas give one
engine's answers)."""


@dataclass(frozen=True)
class Pair:
    """One (model, evaluation) run of the sweep: its options (run_name set) and the folder it writes."""

    model: str
    adapter: str | None
    evaluation: str
    options: RunOptions
    resources: Resources
    base: tuple[str, str | None] | None = None

    @property
    def key(self) -> tuple[str, str | None]:
        """Which model this is: its spec and adapter."""
        return (self.model, self.adapter)

    @property
    def label(self) -> str:
        """How progress lines name the pair."""
        model = f"{self.model} + {self.adapter}" if self.adapter else self.model
        return f"{self.evaluation} on {model}"

    @property
    def run_dir(self) -> Path:
        """runs/<model-slug>/<evaluation>-<settings hash>: found again by the next sweep with the same settings."""
        assert self.options.run_name is not None
        return self.options.output / parse_model_spec(self.model).slug / self.options.run_name


def plan_pairs(config: SweepConfig, overrides: dict[str, Any], build: OptionsBuilder) -> list[Pair]:
    """Every (model, evaluation) pair; run options are the file's, then the model's, then the evaluation's, then
    `overrides` (the command line's)."""
    models = expand_models(config.models)
    return [
        pair_for(entry, evaluation, config, overrides, build) for entry in models for evaluation in config.evaluations
    ]


def pair_for(
    entry: ModelEntry, evaluation: Evaluation, config: SweepConfig, overrides: dict[str, Any], build: OptionsBuilder
) -> Pair:
    """One pair's RunOptions, named by a hash of the settings that shape its answers."""
    merged = {**config.options, **entry.options, **evaluation.options, **overrides}
    if entry.adapter is not None:
        merged["adapter"] = entry.adapter
    merged.update(tasks=evaluation.task, suite=evaluation.suite)
    options = build(entry.model, merged)
    options = replace(options, run_name=f"{evaluation.label}-{settings_digest(options)}", resume=False)
    base = (entry.base, None) if entry.base else None
    return Pair(entry.model, entry.adapter, evaluation.label, options, entry.resources, base)


def settings_digest(options: RunOptions) -> str:
    """Eight hex digits over the options that change a run's answers."""
    settings = {key: value for key, value in asdict(options).items() if key not in UNHASHED}
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()[:8]


def pair_state(run_dir: Path) -> PairState:
    """done: results.json complete; running: another process holds the folder's lock; stopped: begun but not
    finished (failed or killed: the next sweep resumes it); pending: not begun."""
    if not run_dir.is_dir():
        return "pending"
    if (run_dir / "results.json").is_file() and load_results(run_dir).run.status == "complete":
        return "done"
    return "running" if _locked(run_dir / LOCK_FILE) else "stopped"


def _locked(lock: Path) -> bool:
    if not lock.is_file():
        return False
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False
