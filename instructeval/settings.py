"""Prompt settings (Flan's grid): how many exemplars a task shows and whether the model answers directly or
reasons first. A task declares the settings it supports in its YAML (`metadata.settings`); its hooks module turns
a setting into lm-eval config overrides (`setting_overrides`)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instructeval.errors import InstructEvalError
from instructeval.hashing import sha256_json
from instructeval.task_hooks import task_hooks

if TYPE_CHECKING:
    from instructeval.registry import TaskInfo

KEY_SEPARATOR = "@"
REASONINGS = ("direct", "cot", "en-cot")
"""direct: answer at once; cot: chain of thought (native language for MGSM); en-cot: MGSM's English chains."""


@dataclass(frozen=True)
class Setting:
    """One prompt setting: the number of exemplars and the reasoning mode."""

    shots: int
    reasoning: str

    @property
    def label(self) -> str:
        """`8-shot cot`: how the setting is printed."""
        return f"{self.shots}-shot {self.reasoning}"


@dataclass(frozen=True)
class Reasoning:
    """One reasoning mode of a task: the shot counts it allows and how it is scored."""

    name: str
    shots: tuple[int, ...]
    few_shots: int  # the few-shot count of the grid (the protocol's usual one)
    protocol: str  # with `{shots}` for the number of exemplars
    primary_metric: str
    output_type: str


@dataclass(frozen=True)
class SettingSpace:
    """Every setting a task supports, and the one its protocol uses by default."""

    default: Setting
    reasoning: dict[str, Reasoning]

    def grid(self) -> list[Setting]:
        """Zero-shot and few-shot, each with every reasoning mode the task has (Flan's grid)."""
        found = []
        for mode in self.reasoning.values():
            for shots in sorted({0, mode.few_shots}):
                if shots in mode.shots:
                    found.append(Setting(shots, mode.name))
        return found


def setting_space(info: TaskInfo) -> SettingSpace | None:
    """The settings a task declares (`metadata.settings`), or None for a task with one fixed protocol."""
    declared = info.metadata.settings
    if not declared:
        return None
    modes = {}
    for name, mode in declared.items():
        if name == "default":
            continue
        shots = mode["shots"]
        allowed = tuple(shots) if isinstance(shots, list) else tuple(range(int(shots) + 1))
        modes[name] = Reasoning(
            name=name,
            shots=allowed,
            few_shots=int(mode.get("few_shots", max(allowed))),
            protocol=mode["protocol"],
            primary_metric=mode.get("primary_metric", info.metadata.primary_metric),
            output_type=mode.get("output_type", "generate_until"),
        )
    default = declared["default"]
    return SettingSpace(Setting(int(default["shots"]), default["reasoning"]), modes)


def choose_setting(info: TaskInfo, shots: int | None, reasoning: str | None) -> Setting | None:
    """The setting `--shots`/`--reasoning` ask of a task (unset parts keep its protocol's), refused in one line
    where the task has no such setting."""
    space = setting_space(info)
    if space is None:
        if shots is not None or reasoning is not None:
            flags = " ".join(f for f, v in (("--shots", shots), ("--reasoning", reasoning)) if v is not None)
            raise InstructEvalError(f"{info.name} has one fixed protocol ({info.protocol}): drop {flags} or the task")
        return None
    mode_name = reasoning or space.default.reasoning
    mode = space.reasoning.get(mode_name)
    if mode is None:
        raise InstructEvalError(
            f"{info.name} has no --reasoning {mode_name}: choose {' or '.join(space.reasoning)} for it"
        )
    if shots is None:
        shots = space.default.shots if mode_name == space.default.reasoning else mode.few_shots
    if shots not in mode.shots:
        allowed = ", ".join(map(str, mode.shots)) if len(mode.shots) < 4 else f"0 to {max(mode.shots)}"
        raise InstructEvalError(f"{info.name} ({mode_name}) takes --shots {allowed}, not {shots}")
    return Setting(shots, mode_name)


def with_setting(info: TaskInfo, setting: Setting | None) -> TaskInfo:
    """The task as it runs under `setting`: its protocol name, headline metric and output type follow it, and
    under a setting other than its protocol's default it is named `<task>@<N>shot-<reasoning>` (the results key),
    so that compare and the leaderboard never put two settings side by side as one task."""
    space = setting_space(info)
    if setting is None or space is None:
        return info
    mode = space.reasoning[setting.reasoning]
    declared = {"protocol": mode.protocol.format(shots=setting.shots), "primary_metric": mode.primary_metric}
    metadata = info.metadata.model_copy(update=declared)
    chosen = replace(info, setting=setting, output_type=mode.output_type, metadata=metadata)
    if setting == space.default:
        return chosen
    runs_as = info.selected or info.members or (info.name,)  # the lm-eval tasks, whatever the results key
    return replace(chosen, name=setting_key(info.name, setting), selected=runs_as)


def setting_key(name: str, setting: Setting) -> str:
    """The results key of a task under a setting other than its default: `gsm8k@0shot-cot`."""
    return f"{name}{KEY_SEPARATOR}{setting.shots}shot-{setting.reasoning}"


def base_name(key: str) -> str:
    """The task a results key belongs to (`gsm8k@0shot-cot` -> `gsm8k`)."""
    return key.partition(KEY_SEPARATOR)[0]


def reasons_in_chains(info: TaskInfo) -> bool:
    """True when the task generates a chain of thought, whose extracted answers --self-consistency can vote on."""
    return info.setting is not None and info.setting.reasoning != "direct" and info.output_type == "generate_until"


def lm_eval_specs(info: TaskInfo) -> list[str | dict[str, Any]]:
    """What to ask lm-eval's TaskManager for: the task names, or, under a setting other than the protocol's
    default, one inline group holding each (sub)task with that setting's config overrides."""
    from lm_eval.tasks._yaml_loader import load_yaml

    space = setting_space(info)
    if info.setting is None or space is None or info.setting == space.default:
        return list(info.lm_eval_names)
    folder = info.yaml_path.parent
    hooks = task_hooks(folder)
    members: list[dict[str, Any]] = []
    for member in info.selected or info.members or (info.name,):
        overrides: dict[str, Any] = {}
        if hooks is not None and hasattr(
            hooks, "setting_overrides"
        ):  # a task whose settings change only shots has none
            config = load_yaml(_member_yaml(folder, member), resolve_func=False)
            overrides = hooks.setting_overrides(member, config, info.setting)
        members.append({"task": member, "num_fewshot": info.setting.shots, **overrides})
    return [{"group": info.protocol, "task": members}]


def specs_hash(specs: list[str | dict[str, Any]]) -> str:
    """sha256 of the overrides a setting applies (part of the prompt hash)."""
    return sha256_json(specs)


def _member_yaml(folder: Path, task: str) -> Path:
    found = [p for p in folder.rglob(f"{task}.yaml") if "__pycache__" not in p.parts]
    if not found:
        raise InstructEvalError(f"no {task}.yaml under {folder}: regenerate the task configs")
    return found[0]
