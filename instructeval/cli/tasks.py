"""`instructeval tasks [NAME]`: one line per task and the suites, or one task's protocol, data and description."""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from rich.console import Console
from rich.table import Table

from instructeval.errors import UnknownTask
from instructeval.registry import TaskInfo, all_tasks, resolve_tasks, suite_descriptions, suites

WIDTH = 80


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `tasks`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "tasks", help="list tasks and suites, or describe one task", description=__doc__
    )
    parser.add_argument("name", nargs="?", help="a task or subtask: print its protocol, data sources and description")
    parser.set_defaults(func=list_tasks)
    return parser


def list_tasks(args: argparse.Namespace) -> int:
    """Without NAME: one row per task, then the suites; with NAME: that task in full."""
    console = Console(width=min(Console().width, WIDTH), highlight=False)
    if args.name:
        console.print(describe(task_named(args.name)), markup=False, soft_wrap=True)
        return 0
    known = all_tasks()
    name_width = max(len(name) for name in known)
    metric_width = max(len(info.primary_metric) for info in known.values())
    table = Table(title="instructeval tasks", pad_edge=False)
    table.add_column("task", no_wrap=True, min_width=name_width)
    # the protocol gives way (ellipsis) so that a row fits 80 columns: 4 borders and 2 x 2 padding
    table.add_column("protocol", no_wrap=True, overflow="ellipsis", max_width=WIDTH - name_width - metric_width - 8)
    table.add_column("metric", no_wrap=True, min_width=metric_width)
    for info in known.values():
        table.add_row(info.name, info.protocol, info.primary_metric)
    console.print(table)
    for suite, names in suites().items():
        scored = [name for info in resolve_tasks(None, suite) if info.scores_loglikelihood for name in _names(info)]
        note = f" ({', '.join(scored)}: log-likelihood, not on openai: chat models)" if scored else ""
        console.print(f"suite [bold]{suite}[/bold]: {', '.join(names)}{note}")
    console.print("`instructeval tasks NAME` shows a task's protocol, data sources and description.")
    return 0


def task_named(name: str) -> TaskInfo:
    """A task by its name, or the group a subtask belongs to (with that subtask selected)."""
    chosen = resolve_tasks(name, None)  # raises UnknownTask naming `instructeval tasks`
    if len(chosen) != 1:
        raise UnknownTask(f"name one task, not {name!r}: run `instructeval tasks` to list them")
    return chosen[0]


def describe(info: TaskInfo) -> str:
    """Protocol, metric, suites, data sources and description, wrapped to 80 columns."""
    in_suites = [suite for suite, names in suites().items() if {info.name, *info.selected} & set(names)]
    scoring = "log-likelihood of each choice" if info.scores_loglikelihood else "generated text"
    members = info.members
    subtasks = f"{len(members)}, {members[0]} ... {members[-1]}" if len(members) > 2 else ", ".join(members)
    rows = [
        ("protocol", f"{info.protocol} v{info.version} ({scoring})"),
        ("metric", f"{info.primary_metric} ({info.aggregation} average)" if info.members else info.primary_metric),
        ("suites", ", ".join(in_suites) or "none (run it with --tasks)"),
        *(("data" if i == 0 else "", line) for i, line in enumerate(info.data.sources())),
        ("subtasks", subtasks),
        ("yaml", str(info.yaml_path)),
    ]
    heading = f"{', '.join(info.selected) + ' (in ' + info.name + ')' if info.selected else info.name}: {info.label}"
    lines = [heading]
    for key, value in rows:
        if value:
            prefix = f"{key + ':' if key else '':<10}"
            lines += textwrap.wrap(value, WIDTH, initial_indent=prefix, subsequent_indent=" " * 10)
    lines += ["", *textwrap.wrap(info.description, WIDTH)]
    for suite in in_suites:
        lines += textwrap.wrap(f"suite {suite}: {suite_descriptions()[suite]}", WIDTH, subsequent_indent="  ")
    return "\n".join(lines)


def _names(info: TaskInfo) -> tuple[str, ...]:
    return info.selected or (info.name,)
