"""`instructeval plan`: how many examples (and which --limit) a comparison needs to detect a paired difference."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `plan` and its flags."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plan",
        help="examples needed to detect a paired difference with 80%% power",
        description="For each task: how many paired examples a base-vs-tuned comparison needs to detect a "
        "difference of --effect with the paired t-test at --alpha and --power, the --limit that gives them, and "
        "the smallest difference the whole task can detect. Task sizes are read from the data; with --baseline "
        "RUN the spread of the differences comes from that run (its comparison file when it has one).",
    )
    parser.add_argument("--tasks", required=True, help="comma-separated tasks, e.g. mmlu,gsm8k")
    parser.add_argument("--effect", type=float, required=True, help="the paired difference to detect, e.g. 0.02")
    parser.add_argument("--baseline", type=Path, metavar="RUN", help="a run folder of the base model on the tasks")
    parser.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    parser.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    parser.add_argument("--data-dir", type=Path, help="local data folder (default INSTRUCTEVAL_DATA_DIR, else the hub)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="output (default table)")
    parser.set_defaults(func=plan_command)
    return parser


def plan_command(args: argparse.Namespace) -> int:
    """Plan each task and print the table (or JSON)."""
    from rich.console import Console
    from rich.table import Table

    from instructeval.compare import plan_task, subtask_sizes
    from instructeval.errors import InstructEvalError
    from instructeval.evaluator import RunOptions, resolve_source
    from instructeval.registry import resolve_tasks

    if not args.effect > 0.0:
        raise InstructEvalError(f"--effect {args.effect} is not a difference to detect: pass a positive one, e.g. 0.02")
    for name in ("alpha", "power"):
        if not 0.0 < getattr(args, name) < 1.0:
            raise InstructEvalError(f"--{name} {getattr(args, name)} must lie between 0 and 1, e.g. 0.05 or 0.8")
    infos = resolve_tasks(args.tasks, None)
    source = resolve_source(RunOptions(model="plan", tasks=args.tasks, data_dir=args.data_dir))
    plans = [
        plan_task(
            info, subtask_sizes(info, source), args.effect, baseline=args.baseline, alpha=args.alpha, power=args.power
        )
        for info in infos
    ]
    if args.format == "json":
        print(json.dumps([plan.to_dict() for plan in plans], indent=2))
        return 0
    table = Table(
        title=f"examples to detect a paired difference of {args.effect} (power {args.power}, alpha {args.alpha})",
        caption="sd: of one example's difference, from the worst case for scores in [0, 1], the baseline's "
        "comparison file (observed differences) or the baseline's own spread (errors taken as independent); "
        "needed: paired examples; MDE: the smallest difference the whole task detects",
        caption_justify="left",
    )
    for column in ("task", "metric", "available", "sd", "sd from", "design effect", "needed", "--limit", "MDE"):
        table.add_column(column, justify="left" if column in ("task", "metric", "sd from") else "right")
    for plan in plans:
        table.add_row(
            plan.task,
            plan.metric,
            str(plan.available),
            f"{plan.sd:.3f}",
            plan.sd_source,
            f"{plan.design_effect:.2f}",
            str(plan.needed),
            str(plan.limit) if plan.reachable else "> task",
            "—" if plan.mde_at_full_size is None else f"{plan.mde_at_full_size:.3f}",
        )
    Console().print(table)
    return 0
