"""`instructeval judge <run>`: (re)grade a run's stored writing answers without regenerating them.

`add_judge_arguments` is shared with `instructeval run --tasks writing --judge ...` so both commands take
the same --judge-* flags, turned into `JudgeOptions` by `options_from_args`.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from instructeval.judge.options import JudgeOptions


def add_judge_arguments(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    """The --judge and --judge-* flags."""
    group = parser.add_argument_group("LLM judge (writing)")
    group.add_argument(
        "--judge",
        required=required,
        metavar="SPEC[,SPEC...]",
        help="judge model spec(s), comma-separated: openai:<model>, openai-compatible:<base url>@<model>, "
        "or a local model loaded in-process (demo, hf:<id or folder>); "
        "the key comes from --judge-api-key-env, else the spec's ?key_env=NAME, else INSTRUCTEVAL_JUDGE_API_KEY "
        "or OPENAI_API_KEY",
    )
    group.add_argument(
        "--judge-api-key-env", metavar="NAME", help="read the judges' API key from this environment variable"
    )
    group.add_argument(
        "--judge-repeats", type=int, default=1, metavar="K", help="judge each answer K times (default 1)"
    )
    group.add_argument(
        "--judge-concurrency", type=int, default=16, metavar="N", help="requests in flight at once (default 16)"
    )
    group.add_argument(
        "--judge-timeout", type=float, default=60.0, metavar="S", help="per-request timeout (default 60)"
    )
    group.add_argument("--judge-retries", type=int, default=4, metavar="N", help="retries per request (default 4)")
    group.add_argument("--judge-temperature", type=float, default=0.0, metavar="T", help="judge sampling temperature")
    group.add_argument("--judge-max-tokens", type=int, default=256, metavar="N", help="judge reply limit (default 256)")
    group.add_argument(
        "--judge-budget-usd", type=float, metavar="USD", help="stop sending requests before spending more than this"
    )
    group.add_argument(
        "--judge-prices", type=Path, metavar="FILE", help="JSON price table overriding the shipped approximate one"
    )
    group.add_argument(
        "--judge-cache",
        type=Path,
        metavar="FILE",
        help="judge-response cache file (default: judge.sqlite in INSTRUCTEVAL_CACHE_DIR or ~/.cache/instructeval)",
    )
    group.add_argument("--no-judge-cache", action="store_true", help="do not read or write the judge-response cache")
    group.add_argument(
        "--no-judge-calibration",
        action="store_true",
        help="skip grading the shipped calibration answers (agreement with reference grades, drift, flag)",
    )
    group.add_argument(
        "--judge-batch",
        action="store_true",
        help="ask the judgments through OpenAI's Batch API (about half the price; replies within 24 h; a rerun "
        "waits on the batch already sent)",
    )
    group.add_argument(
        "--judge-batch-poll",
        type=float,
        default=30.0,
        metavar="S",
        help="first interval between batch status checks, growing to a minute (default 30)",
    )


def options_from_args(args: argparse.Namespace) -> JudgeOptions:
    """JudgeOptions from parsed --judge-* flags."""
    return JudgeOptions(
        judges=tuple(spec.strip() for spec in (args.judge or "").split(",") if spec.strip()),
        repeats=args.judge_repeats,
        concurrency=args.judge_concurrency,
        timeout_s=args.judge_timeout,
        max_retries=args.judge_retries,
        temperature=args.judge_temperature,
        max_tokens=args.judge_max_tokens,
        budget_usd=args.judge_budget_usd,
        prices_file=args.judge_prices,
        cache_path=args.judge_cache,
        use_cache=not args.no_judge_cache,
        api_key_env=args.judge_api_key_env,
        calibration=not args.no_judge_calibration,
        batch=args.judge_batch,
        batch_poll_s=args.judge_batch_poll,
    )


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `judge` on the CLI's subparsers; the handler is set as `func`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "judge",
        help="(re)grade a run's stored writing answers with an LLM judge",
        description="Grade the answers stored in a run folder (samples/<task>.jsonl) without regenerating them. "
        "Judgments already made (journal or cache) are reused, so a rerun after a stop costs nothing extra.",
    )
    parser.add_argument("run_dir", type=Path, help="a run folder, runs/<model>/<timestamp>")
    parser.add_argument("--task", default="writing", help="whose samples to grade (default writing)")
    parser.add_argument(
        "--reference", type=Path, metavar="RUN", help="pairwise mode: compare with this run's answers, both orders"
    )
    add_judge_arguments(parser, required=True)
    parser.set_defaults(func=run_judge_command)
    return parser


def run_judge_command(args: argparse.Namespace) -> int:
    """Grade, merge the report into results.json, print the table."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from instructeval.judge import format_table, grade_pairwise, grade_run, save_writing_report

    options = options_from_args(args)
    console = Console()
    if options.calibration and args.reference is None:
        from instructeval.judge.calibration import announce

        console.print(announce(options))
    columns = (TextColumn("judging"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("judging", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        if args.reference is not None:
            report = grade_pairwise(args.run_dir, args.reference, options, task=args.task, progress=progress)
        else:
            report = grade_run(args.run_dir, options, task=args.task, progress=progress)
    save_writing_report(args.run_dir, report)
    console.print(format_table(report))
    return 0
