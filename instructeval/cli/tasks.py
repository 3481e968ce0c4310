"""`instructeval tasks`: the available tasks, their protocols and data sources."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.table import Table

from instructeval.registry import SUITES, all_tasks, resolve_tasks


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `tasks`."""
    parser: argparse.ArgumentParser = subparsers.add_parser("tasks", help="list tasks, protocols and data sources")
    parser.set_defaults(func=list_tasks)
    return parser


def list_tasks(args: argparse.Namespace) -> int:
    """Print one row per task, then the suites."""
    table = Table(title="instructeval tasks", show_lines=True)
    for column in ("task", "protocol", "metric", "data sources", "description"):
        table.add_column(column, overflow="fold")
    for info in all_tasks().values():
        table.add_row(info.name, f"{info.protocol} v{info.version}", info.primary_metric, info.data, info.description)
    console = Console()
    console.print(table)
    for suite, names in SUITES.items():
        chosen = resolve_tasks(None, suite)
        scored = [name for info in chosen if info.scores_loglikelihood for name in info.selected or (info.name,)]
        note = f" ({', '.join(scored)}: log-likelihood, not on openai: chat models)" if scored else ""
        console.print(f"suite [bold]{suite}[/bold]: {', '.join(names)}{note}", highlight=False)
    return 0
