"""The task registry: our lm-eval task YAMLs under tasks/, the suites, and each task's protocol metadata."""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from instructeval.errors import InstructEvalError, UnknownTask
from instructeval.paths import TASKS_DIR
from instructeval.settings import Setting

PROBLEM_SOLVING = ("mmlu", "bbh", "gsm8k", "mgsm", "humaneval", "drop", "crass")
PROBLEM_SOLVING_GENERATIVE = ("mmlu_gen", "bbh", "gsm8k", "mgsm", "humaneval", "drop")
SUITES: dict[str, tuple[str, ...]] = {
    "problem-solving": PROBLEM_SOLVING,
    # Generation only: for chat models that give no prompt log-probabilities (openai:...).
    "problem-solving-generative": PROBLEM_SOLVING_GENERATIVE,
    # The demo ships a few subjects/tasks/languages of each benchmark (instructeval/demo_data).
    "demo": (
        "mmlu_high_school_geography",
        "mmlu_college_biology",
        "mmlu_gen_high_school_geography",
        "mmlu_gen_college_biology",
        "bbh_boolean_expressions",
        "bbh_sports_understanding",
        "gsm8k",
        "mgsm_en",
        "mgsm_de",
        "humaneval",
        "drop",
        "crass",
        "hhh",
    ),
}
LOGLIKELIHOOD_OUTPUT_TYPES = frozenset({"multiple_choice", "loglikelihood", "loglikelihood_rolling"})
DEMO_LIMIT = 2
DEMO_MAX_GEN_TOKS = 128
"""`--suite demo` defaults: 2 examples per task, at most 128 generated tokens (so the demo stays small on a CPU)."""


@dataclass(frozen=True)
class TaskInfo:
    """A task users name on the command line (a single lm-eval task or a group of them)."""

    name: str
    yaml_path: Path
    protocol: str
    version: str
    output_type: str  # lm-eval's: generate_until, or multiple_choice / loglikelihood (scored by prompt logprobs)
    primary_metric: str
    aggregation: str  # "micro" (pool every sample) or "macro" (mean of subtask means)
    breakdown_kind: str | None
    data: str
    description: str
    chat_template_default: bool
    judged: str | None = None  # "pointwise" / "pairwise": answers are graded by an LLM judge after generation
    sample_fields: tuple[str, ...] = ()  # doc fields copied into each sample record (e.g. category)
    breakdown_fields: tuple[str, ...] = ()  # doc fields that define breakdown groups
    cluster: str | None = None  # doc field shared by correlated examples (DROP: passage): clustered stderr and CI
    members: tuple[str, ...] = ()  # a group's lm-eval subtasks
    selected: tuple[str, ...] = ()  # the members to run (empty: all)
    local_files: tuple[str, ...] = ()  # globs under --data-dir; one of them must match (the layout check)
    setting: Setting | None = None  # the prompt setting chosen by --shots/--reasoning (None: the protocol's own)

    @property
    def scores_loglikelihood(self) -> bool:
        """True when the task is scored from prompt log-probabilities rather than generated text."""
        return self.output_type in LOGLIKELIHOOD_OUTPUT_TYPES

    @property
    def lm_eval_names(self) -> list[str]:
        """What to ask lm-eval's TaskManager for."""
        return list(self.selected) if self.selected else [self.name]


class _Loader(yaml.SafeLoader):
    """Reads our YAMLs for their metadata only: `!function` tags are kept as text."""


_Loader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")  # type: ignore[arg-type]


def _read_yaml(path: Path) -> dict[str, Any]:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader) or {}


def _first_comment(path: Path) -> str:
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith("# Generated"):
            lines.append(line.lstrip("# ").strip())
    return " ".join(lines)


def _output_type(path: Path) -> str:
    """A task YAML's output_type, following its `include:` chain."""
    config = _read_yaml(path)
    if "output_type" in config:
        return str(config["output_type"])
    if "include" not in config:
        raise InstructEvalError(f"{path} declares no output_type: add one to the YAML or to the file it includes")
    return _output_type(path.parent / config["include"])


@cache
def all_tasks() -> dict[str, TaskInfo]:
    """Every top-level task: group YAMLs (mmlu, bbh...) and standalone task YAMLs (gsm8k, humaneval...)."""
    found: dict[str, TaskInfo] = {}
    for folder in sorted(p for p in TASKS_DIR.iterdir() if p.is_dir()):
        path = folder / f"{folder.name}.yaml"
        if not path.is_file():
            continue
        config = _read_yaml(path)
        name = config.get("group") or config["task"]
        meta = config.get("metadata", {})
        template = folder / "_template.yaml"
        found[name] = TaskInfo(
            name=name,
            yaml_path=path,
            protocol=meta["protocol"],
            version=str(meta.get("version", "1.0")),
            output_type=_output_type(template if template.is_file() else path),
            primary_metric=meta["primary_metric"],
            aggregation=meta.get("aggregation", "micro"),
            breakdown_kind=meta.get("breakdown_kind"),
            data=meta.get("data", ""),
            local_files=tuple(meta.get("local_files", ())),
            description=_first_comment(template if template.is_file() else path),
            chat_template_default=bool(meta.get("chat_template", False)),
            judged=meta.get("judged"),
            sample_fields=tuple(meta.get("sample_fields", ())),
            breakdown_fields=tuple(meta.get("breakdown_fields", ())),
            cluster=meta.get("cluster"),
            members=tuple(config.get("task", ())) if "group" in config else (),
        )
    return found


def resolve_tasks(tasks: str | None, suite: str | None) -> list[TaskInfo]:
    """Turn --tasks a,b / --suite name into TaskInfos, naming any unknown entry and the fix."""
    known = all_tasks()
    if suite is not None:
        if suite not in SUITES:
            raise UnknownTask(f"unknown suite {suite!r}: choose one of {', '.join(SUITES)}")
        names = list(SUITES[suite])
    elif tasks:
        names = [t.strip() for t in tasks.split(",") if t.strip()]
    else:
        raise InstructEvalError(f"no tasks chosen: pass --tasks a,b or --suite {'|'.join(SUITES)}")
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
