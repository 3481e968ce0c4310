"""The task registry: our lm-eval task YAMLs under tasks/, their declared metadata, and the suites they join."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from instructeval.data.declared import DataBlock
from instructeval.errors import InstructEvalError, UnknownTask
from instructeval.paths import TASKS_DIR
from instructeval.settings import Setting
from instructeval.task_metadata import TaskConfigError, TaskMetadata, parse_metadata

SUITES_FILE = "suites.yaml"
LOGLIKELIHOOD_OUTPUT_TYPES = frozenset({"multiple_choice", "loglikelihood", "loglikelihood_rolling"})
DEMO_LIMIT = 2
DEMO_MAX_GEN_TOKS = 128
"""`--suite demo` defaults: 2 examples per task, at most 128 generated tokens (so the demo stays small on a CPU)."""


@dataclass(frozen=True)
class TaskInfo:
    """A task users name on the command line (a single lm-eval task or a group of them)."""

    name: str
    yaml_path: Path
    output_type: str  # lm-eval's: generate_until, or multiple_choice / loglikelihood (scored by prompt logprobs)
    metadata: TaskMetadata
    members: tuple[str, ...] = ()  # a group's lm-eval subtasks
    selected: tuple[str, ...] = ()  # the members to run (empty: all)
    setting: Setting | None = None  # the prompt setting chosen by --shots/--reasoning (None: the protocol's own)

    @property
    def scores_loglikelihood(self) -> bool:
        """True when the task is scored from prompt log-probabilities rather than generated text."""
        return self.output_type in LOGLIKELIHOOD_OUTPUT_TYPES

    @property
    def lm_eval_names(self) -> list[str]:
        """What to ask lm-eval's TaskManager for."""
        return list(self.selected) if self.selected else [self.name]

    @property
    def local_files(self) -> list[str]:
        """Globs under --data-dir; one of them must match (the layout check)."""
        return self.metadata.data.local_patterns()

    # The declared metadata most readers want, by the names they have always used.
    @property
    def protocol(self) -> str:
        return self.metadata.protocol

    @property
    def version(self) -> str:
        return self.metadata.version

    @property
    def label(self) -> str:
        return self.metadata.label

    @property
    def description(self) -> str:
        return self.metadata.description

    @property
    def primary_metric(self) -> str:
        return self.metadata.primary_metric

    @property
    def aggregation(self) -> str:
        return self.metadata.aggregation

    @property
    def breakdown_kind(self) -> str | None:
        return self.metadata.breakdown_kind

    @property
    def data(self) -> DataBlock:
        return self.metadata.data

    @property
    def judged(self) -> str | None:
        return self.metadata.judged

    @property
    def sample_fields(self) -> tuple[str, ...]:
        return self.metadata.sample_fields

    @property
    def breakdown_fields(self) -> tuple[str, ...]:
        return self.metadata.breakdown_fields

    @property
    def cluster(self) -> str | None:
        return self.metadata.cluster

    @property
    def chat_template_default(self) -> bool:
        return self.metadata.chat_template


class _Loader(yaml.SafeLoader):
    """Reads our YAMLs for their metadata only: `!function` tags are kept as text."""


_Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")  # type: ignore[arg-type]


def _read_yaml(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}


def _output_type(path: Path) -> str:
    """A task YAML's output_type, following its `include:` chain."""
    config = _read_yaml(path)
    if "output_type" in config:
        return str(config["output_type"])
    if "include" not in config:
        raise TaskConfigError(f"{path} declares no output_type: add one to the YAML or to the file it includes")
    return _output_type(path.parent / config["include"])


@cache
def all_tasks() -> dict[str, TaskInfo]:
    """Every top-level task (group YAMLs such as mmlu, standalone task YAMLs such as gsm8k), in listing order."""
    found = []
    for folder in sorted(p for p in TASKS_DIR.iterdir() if p.is_dir()):
        path = folder / f"{folder.name}.yaml"
        if not path.is_file():
            continue
        config = _read_yaml(path)
        template = folder / "_template.yaml"
        found.append(
            TaskInfo(
                name=config.get("group") or config["task"],
                yaml_path=path,
                output_type=_output_type(template if template.is_file() else path),
                metadata=parse_metadata(path, config.get("metadata")),
                members=tuple(config.get("task", ())) if "group" in config else (),
            )
        )
    return {info.name: info for info in sorted(found, key=lambda info: (info.metadata.order, info.name))}


@cache
def suite_descriptions() -> dict[str, str]:
    """Suite -> what it is for, in listing order (tasks/suites.yaml)."""
    return {str(name): str(text) for name, text in _read_yaml(TASKS_DIR / SUITES_FILE).items()}


@cache
def suites() -> dict[str, tuple[str, ...]]:
    """Suite -> the tasks (or subtasks) it runs, from each task's declared `suites`, in listing order."""
    found: dict[str, list[str]] = {suite: [] for suite in suite_descriptions()}
    for info in all_tasks().values():
        for suite, members in info.metadata.suites.items():
            if suite not in found:
                raise TaskConfigError(
                    f"{info.yaml_path}: metadata.suites: unknown suite {suite!r}; "
                    f"choose one of {', '.join(found)} or declare it in {SUITES_FILE}"
                )
            found[suite].extend(members or [info.name])
    return {suite: tuple(names) for suite, names in found.items()}


def resolve_tasks(tasks: str | None, suite: str | None) -> list[TaskInfo]:
    """Turn --tasks a,b / --suite name into TaskInfos, naming any unknown entry and the fix."""
    known = all_tasks()
    declared = suites()
    if suite is not None:
        if suite not in declared:
            raise UnknownTask(f"unknown suite {suite!r}: choose one of {', '.join(declared)}")
        names = list(declared[suite])
    elif tasks:
        names = [t.strip() for t in tasks.split(",") if t.strip()]
    else:
        raise InstructEvalError(f"no tasks chosen: pass --tasks a,b or --suite {'|'.join(declared)}")
    owner = {member: info.name for info in known.values() for member in info.members}
    unknown = [n for n in names if n not in known and n not in owner]
    if unknown:
        raise UnknownTask(f"unknown task {', '.join(unknown)}: run `instructeval tasks` to list the available ones")
    chosen: dict[str, TaskInfo] = {}
    for name in names:
        if name in known:
            chosen[name] = known[name]
        elif (group := owner[name]) not in chosen or chosen[group].selected:
            previous = chosen[group].selected if group in chosen else ()
            chosen[group] = replace(known[group], selected=(*previous, name))
    return list(chosen.values())


def subtask_breakdown(config: dict[str, Any]) -> dict[str, str]:
    """The breakdown labels (subject, category, language...) a subtask's metadata declares."""
    breakdown = (config.get("metadata") or {}).get("breakdown") or {}
    return {str(k): str(v) for k, v in breakdown.items()}
