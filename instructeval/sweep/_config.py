"""What a sweep evaluates: models (specs, adapters, checkpoint globs, their base) x evaluations (tasks or suites).

A sweep file is YAML. Its top level holds `models`, `tasks`, optional `resources` and `workers`, and any
`instructeval run` option (`limit`, `judge`, `output`, ...) for every pair; a model entry or a task entry may add
run options of its own. docs/sweep.md shows the format.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from instructeval.errors import InstructEvalError

MODEL_KEYS = ("model", "adapter", "base", "resources")
RESOURCE_KEYS = ("num_cpus", "num_gpus")
SWEEP_KEYS = ("models", "tasks", "resources", "workers")
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Resources:
    """What one model's Ray task asks of the cluster (its CPUs are also its torch threads). None: the cores of
    this machine shared among the workers (one CPU on an existing cluster); GPUs: the tensor-parallel size times
    the data-parallel size where the cluster has GPUs."""

    num_cpus: float | None = None
    num_gpus: float | None = None


@dataclass(frozen=True)
class ModelEntry:
    """One model of the sweep: a spec (its folder may be a glob of checkpoints), an adapter, the base it is
    compared against, its resources and its own run options."""

    model: str
    adapter: str | None = None
    base: str | None = None
    resources: Resources = Resources()
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Evaluation:
    """One evaluation run per model: a task (or a suite) and its own run options."""

    label: str
    task: str | None = None
    suite: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SweepConfig:
    """A parsed sweep: its models, its evaluations and the run options every pair shares."""

    models: tuple[ModelEntry, ...]
    evaluations: tuple[Evaluation, ...]
    options: dict[str, Any] = field(default_factory=dict)
    workers: int | None = None


def load_sweep_file(path: Path, run_options: frozenset[str]) -> SweepConfig:
    """Parse a sweep file; `run_options` are the option names `instructeval run` accepts (underscored)."""
    if not path.is_file():
        raise InstructEvalError(f"sweep file {path} does not exist: pass the path of your sweep.yaml")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise InstructEvalError(f"{path} is not valid YAML ({str(exc).splitlines()[0]}): fix the file") from exc
    if not isinstance(document, dict):
        raise InstructEvalError(f"{path} must be a mapping with `models:` and `tasks:` (see docs/sweep.md)")
    where = str(path)
    top = _options(document, where, run_options, allowed=SWEEP_KEYS)
    resources = _resources(document.get("resources", {}), f"{where}: resources", Resources())
    entries = document.get("models") or []
    if not isinstance(entries, list):
        raise InstructEvalError(f"{where}: models: must be a list of model specs or mappings (see docs/sweep.md)")
    models = tuple(_model(entry, f"{where}: models", run_options, resources) for entry in entries)
    evaluations = tuple(
        evaluation
        for entry in _list(document, "tasks")
        for evaluation in _evaluations(entry, f"{where}: tasks", run_options)
    )
    workers = document.get("workers")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InstructEvalError(f"{where}: workers: {workers!r} is not a positive integer")
    return SweepConfig(models, evaluations, top, workers)


def models_from_specs(specs: str) -> tuple[ModelEntry, ...]:
    """--models a,b,c: comma-separated specs, each folder possibly a glob."""
    return tuple(ModelEntry(spec.strip()) for spec in specs.split(",") if spec.strip())


def evaluations_from_flags(tasks: str | None, suite: str | None) -> tuple[Evaluation, ...]:
    """--tasks a,b: one evaluation per task; --suite S: one evaluation of the whole suite."""
    if suite:
        return (Evaluation(label=suite, suite=suite),)
    return tuple(Evaluation(label=name.strip(), task=name.strip()) for name in (tasks or "").split(",") if name.strip())


def expand_models(entries: tuple[ModelEntry, ...]) -> list[ModelEntry]:
    """Each glob in a model's folder or adapter replaced by the folders it matches (sorted); bases added when
    they are not models of the sweep themselves, so every tuned model has its base's runs to be compared with."""
    expanded: list[ModelEntry] = []
    for entry in entries:
        kind, sep, name = entry.model.partition(":")
        models = [entry.model]
        if sep and _is_glob(name):
            models = [f"{kind}:{folder}" for folder in _folders(name, entry.model)]
        adapters: list[str | None] = [entry.adapter]
        if entry.adapter and _is_glob(entry.adapter):
            adapters = list(_folders(entry.adapter, entry.adapter))
        expanded += [
            ModelEntry(model, adapter, entry.base, entry.resources, entry.options)
            for model in models
            for adapter in adapters
        ]
    known = {(entry.model, entry.adapter) for entry in expanded}
    for entry in list(expanded):
        if entry.base and (entry.base, None) not in known:
            expanded.append(ModelEntry(entry.base, resources=entry.resources, options=entry.options))
            known.add((entry.base, None))
    return expanded


def _is_glob(text: str) -> bool:
    return any(char in GLOB_CHARS for char in text)


def _folders(pattern: str, spec: str) -> list[str]:
    folders = sorted(match for match in glob.glob(pattern) if Path(match).is_dir())
    if not folders:
        raise InstructEvalError(f"{spec} matches no folder: check the path (globs are relative to this folder)")
    return folders


def _list(document: dict[str, Any], key: str) -> list[Any]:
    value = document.get(key)
    if not isinstance(value, list) or not value:
        raise InstructEvalError(f"the sweep file needs a non-empty `{key}:` list (see docs/sweep.md)")
    return value


def _options(mapping: dict[str, Any], where: str, run_options: frozenset[str], allowed: tuple[str, ...]) -> dict:
    """The run options in a mapping (keys may use - or _); any other key but `allowed` is refused."""
    options: dict[str, Any] = {}
    for key, value in mapping.items():
        name = str(key).replace("-", "_")
        if name in allowed:
            continue
        if name in ("tasks", "suite", "model", "run_name", "resume"):
            raise InstructEvalError(f"{where}: `{key}` is set by the sweep itself: remove it (see docs/sweep.md)")
        if name not in run_options:
            known = ", ".join(sorted({*allowed, *run_options}))
            raise InstructEvalError(f"{where}: unknown key `{key}`: use one of {known}")
        options[name] = value
    return options


def _resources(value: Any, where: str, default: Resources) -> Resources:
    if not isinstance(value, dict) or any(key not in RESOURCE_KEYS for key in value):
        raise InstructEvalError(f"{where}: must be a mapping of {' and '.join(RESOURCE_KEYS)}")
    try:
        cpus = value.get("num_cpus", default.num_cpus)
        num_cpus = None if cpus is None else float(cpus)
        gpus = value.get("num_gpus", default.num_gpus)
        num_gpus = None if gpus is None else float(gpus)
    except (TypeError, ValueError) as exc:
        raise InstructEvalError(f"{where}: num_cpus and num_gpus must be numbers") from exc
    if (num_cpus is not None and num_cpus <= 0) or (num_gpus is not None and num_gpus < 0):
        raise InstructEvalError(f"{where}: num_cpus must be positive and num_gpus at least 0")
    return Resources(num_cpus, num_gpus)


def _model(entry: Any, where: str, run_options: frozenset[str], resources: Resources) -> ModelEntry:
    if isinstance(entry, str):
        return ModelEntry(entry, resources=resources)
    if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
        raise InstructEvalError(f"{where}: each entry is a model spec, or a mapping with `model: <spec>`")
    where = f"{where}: {entry['model']}"
    return ModelEntry(
        model=entry["model"],
        adapter=None if entry.get("adapter") is None else str(entry["adapter"]),
        base=None if entry.get("base") is None else str(entry["base"]),
        resources=_resources(entry.get("resources", {}), f"{where}: resources", resources),
        options=_options(entry, where, run_options, allowed=MODEL_KEYS),
    )


def _evaluations(entry: Any, where: str, run_options: frozenset[str]) -> list[Evaluation]:
    if isinstance(entry, str):
        return list(evaluations_from_flags(entry, None))
    if isinstance(entry, dict) and ("task" in entry) != ("suite" in entry):
        options = _options(entry, where, run_options, allowed=("task", "suite"))
        if "suite" in entry:
            return [Evaluation(label=str(entry["suite"]), suite=str(entry["suite"]), options=options)]
        named = evaluations_from_flags(str(entry["task"]), None)
        return [Evaluation(label=e.label, task=e.task, options=options) for e in named]
    raise InstructEvalError(f"{where}: each entry is a task name, or a mapping with `task:` or `suite:` (+ options)")
