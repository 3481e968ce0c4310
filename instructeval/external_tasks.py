"""Tasks from outside tasks/: any lm-eval built-in task or group (`lm-eval:<name>`) and a user's own lm-eval YAML
tasks (`--include-path DIR`). They run through the same engine as ours (results schema, stderr and CI, samples,
provenance, resume, prefix cache); their protocol is lm-eval's YAML as written."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from instructeval.data.declared import DataBlock
from instructeval.errors import DataError, InstructEvalError, UnknownTask
from instructeval.paths import TASKS_DIR
from instructeval.registry import TaskInfo, all_tasks, resolve_tasks
from instructeval.task_metadata import TaskMetadata

LM_EVAL_PREFIX = "lm-eval:"
LOCAL_BUILDERS = frozenset({"json", "csv", "parquet", "text", "arrow"})
"""`dataset_path` values that read local files (the rest name a hub dataset)."""


def resolve_all_tasks(tasks: str | None, suite: str | None, include_path: Path | None) -> list[TaskInfo]:
    """Our tasks (names, subtasks, suites), then `lm-eval:<name>` built-ins and the --include-path folder's tasks
    (a name of ours stays ours), in the order given."""
    if include_path is not None and not include_path.is_dir():
        raise InstructEvalError(f"--include-path {include_path} is not a folder: pass the folder of your task YAMLs")
    if suite is not None or not tasks:
        return resolve_tasks(tasks, suite)
    names = [t.strip() for t in tasks.split(",") if t.strip()]
    user_names = set(_manager(include_path, ()).all_tasks) if include_path is not None else set()
    if include_path is not None and not user_names:
        raise InstructEvalError(f"--include-path {include_path} holds no lm-eval task YAML: add one or drop the flag")
    known = {name for info in all_tasks().values() for name in (info.name, *info.members)}
    ours = [n for n in names if not n.startswith(LM_EVAL_PREFIX) and (n in known or n not in user_names)]
    infos = resolve_tasks(",".join(ours), None) if ours else []
    return infos + [external_task(name, include_path) for name in names if name not in ours]


def is_external(info: TaskInfo) -> bool:
    """True for an lm-eval built-in or a user's task (not one of tasks/)."""
    return not info.yaml_path.resolve().is_relative_to(TASKS_DIR.resolve())


def task_manager(info: TaskInfo, metadata: dict[str, Any], include_path: Path | None) -> Any:
    """The lm-eval TaskManager that knows the task: tasks/ for ours, with the run's metadata (data source, limit)
    their hooks read; for the others, the built-in families and the include path that define it."""
    from lm_eval.tasks import TaskManager

    if not is_external(info):
        return TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    return _manager_for(info.name, include_path)


def external_task(name: str, include_path: Path | None) -> TaskInfo:
    """A TaskInfo for an lm-eval built-in (`lm-eval:<name>`) or an --include-path task, read from lm-eval's own
    loaded config. Loading it fetches its data, so a task whose data is not reachable fails here, in one line."""
    builtin = name.startswith(LM_EVAL_PREFIX)
    lm_name = name.removeprefix(LM_EVAL_PREFIX)
    manager = _manager_for(name, include_path)
    if lm_name not in manager.all_tasks:
        where = "lm-eval's built-in tasks (`lm-eval ls tasks`)" if builtin else f"the YAMLs under {include_path}"
        raise UnknownTask(f"unknown task {name}: it is not among {where}")
    loaded = _load(manager, name, lm_name)
    leaves = list(loaded["tasks"].values())
    config = leaves[0].config
    version = str((config.metadata or {}).get("version", "unknown"))
    filters = config.filter_list or [{"name": "none"}]
    metrics = config.metric_list or [{"metric": "acc"}]
    group = loaded["groups"].get(lm_name)
    weighted = (
        [m.get("weight_by_size", True) for m in (getattr(group.config, "aggregate_metric_list", None) or [])]
        if group
        else []
    )
    dataset = str(config.dataset_path or "")
    source = Path(str((config.metadata or {}).get("config_source", TASKS_DIR / "unknown.yaml")))
    metadata = TaskMetadata(
        version=version,
        protocol=f"{'lm-eval' if builtin else 'user'}:{lm_name}",
        label=name,
        description=f"{'lm-eval built-in' if builtin else 'user'} task {lm_name} ({source.name}), as its YAML asks",
        primary_metric=f"{metrics[0]['metric']},{_filter_name(filters[0])}",
        aggregation="macro" if weighted and not any(weighted) else "micro",
        breakdown_kind="task" if group is not None else None,
        data=DataBlock(hub=None if dataset in LOCAL_BUILDERS else dataset or None, hub_config=config.dataset_name),
    )
    return TaskInfo(
        name=name,
        yaml_path=source,
        output_type=str(config.output_type),
        metadata=metadata,
        selected=(lm_name,),
    )


def _filter_name(entry: Any) -> str:
    return str(entry.get("name", "none") if isinstance(entry, dict) else getattr(entry, "name", "none"))


def _load(manager: Any, name: str, lm_name: str) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = manager.load([lm_name])
    except (ConnectionError, OSError) as exc:  # datasets' hub errors (offline: ConnectionError, LocalEntryNotFound)
        reason = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
        raise DataError(
            f"{name}: its data is not on this machine and the Hugging Face hub cannot be reached ({reason}): "
            "connect to the hub, or copy the task's YAML into an --include-path folder pointing dataset_path at "
            "local files (--data-dir serves instructeval's own tasks only)"
        ) from exc
    except KeyError as exc:  # lm-eval reads a declared split (few-shot exemplars: training_split) the data lacks
        raise DataError(
            f"{name}: its data has no {exc.args[0]!r} (a split the task's YAML declares, such as training_split for "
            "few-shot exemplars, or a field it reads): add it to dataset_kwargs.data_files, or set that split to null"
        ) from exc
    return loaded


def _manager_for(name: str, include_path: Path | None) -> Any:
    """The include path's tasks, plus for `lm-eval:<name>` the built-in families that declare the name (indexing
    every built-in takes seconds; a family, a fraction of one), or all of them when no YAML names it plainly."""
    if not name.startswith(LM_EVAL_PREFIX):
        return _manager(include_path, ())
    families = _builtin_families(name.removeprefix(LM_EVAL_PREFIX))
    manager = _manager(include_path, families)
    return (
        manager if families and name.removeprefix(LM_EVAL_PREFIX) in manager.all_tasks else _manager(include_path, None)
    )


@cache
def _builtin_families(lm_name: str) -> tuple[Path, ...]:
    """The top-level folders of lm-eval's tasks/ holding a YAML whose `task:`, `group:` or `tag:` is `lm_name`."""
    import lm_eval

    root = Path(lm_eval.__file__).parent / "tasks"
    declares = re.compile(rf"^[\"']?(?:task|group|tag)[\"']?:\s*[\"']?{re.escape(lm_name)}[\"']?\s*$", re.M)
    found = {
        root / path.relative_to(root).parts[0]
        for path in root.rglob("*.yaml")
        if declares.search(path.read_text(encoding="utf-8", errors="ignore"))
    }
    return tuple(sorted(found))


@cache
def _manager(include_path: Path | None, builtin: tuple[Path, ...] | None) -> Any:
    """A TaskManager over the include path and the given built-in folders (None: every built-in)."""
    from lm_eval.tasks import TaskManager

    paths = [*(str(folder) for folder in builtin or ()), *([str(include_path)] if include_path is not None else [])]
    return TaskManager(include_path=paths or None, include_defaults=builtin is None)
