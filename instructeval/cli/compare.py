"""`instructeval compare`: paired comparison of a base run with one or more other runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

REGRESSION_EXIT = 3
"""Exit status of `compare --fail-on-regression` when a task regressed (2 is bad input, 1 an internal error)."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `compare` and its flags."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "compare",
        help="compare runs example by example, with paired tests",
        description="Compare each run against the first (the base) on the examples both scored: both scores, the "
        "difference with a paired bootstrap CI, a paired test (exact McNemar for 0/1 scores, permutation for graded "
        "ones) with Holm-Bonferroni across rows. Writing runs compare the judge's grades (per rubric, category and "
        "overall) and pairwise win rates; knowledge-injection runs compare per probe, per scorer and split. One "
        "knowledge-injection run alone compares its methods against --base-method. Writes "
        "<run>/comparison-vs-<base>.json beside each compared run.",
    )
    parser.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders runs/<model>/<run>; base first")
    parser.add_argument(
        "--metric",
        help="metric to compare, e.g. acc or acc_norm,none, a knowledge scorer, or answer_words for writing "
        "(default: each task's primary metric, the judge's grades, every scorer)",
    )
    parser.add_argument(
        "--base-method",
        help="with one knowledge-injection run: the method the others are compared against (default base)",
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="family-wise significance level (default 0.05)")
    parser.add_argument(
        "--margin",
        type=float,
        help="equivalence margin in the metric's units: a task is 'equivalent' when two one-sided tests show "
        "|difference| < M (default 0.02, two points of accuracy)",
    )
    parser.add_argument(
        "--fail-on-regression",
        action="store_true",
        help=f"exit {REGRESSION_EXIT} when any task is significantly worse after Holm (a CI gate for checkpoints)",
    )
    parser.add_argument(
        "--format", choices=("table", "markdown", "json"), default="table", help="output (default table)"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="compare even when data, prompt, protocol, judging or probes differ (recorded)",
    )
    parser.add_argument("--seed", type=int, default=1234, help="seed for bootstrap and permutation (default 1234)")
    parser.add_argument("--resamples", type=int, help="bootstrap and permutation resamples (default 10,000)")
    parser.set_defaults(func=compare_command)
    return parser


def compare_command(args: argparse.Namespace) -> int:
    """Compare, print in the chosen format, say where the comparison files went."""
    from rich.console import Console

    from instructeval.compare import (
        DEFAULT_MARGIN,
        CompareOptions,
        compare_runs,
        comparison_markdown,
        comparison_table,
        comparisons_json,
        regressions,
    )
    from instructeval.stats import DEFAULT_RESAMPLES

    outcomes = compare_runs(
        CompareOptions(
            runs=tuple(args.runs),
            metric=args.metric,
            alpha=args.alpha,
            force=args.force,
            seed=args.seed,
            resamples=DEFAULT_RESAMPLES if args.resamples is None else args.resamples,
            base_method=args.base_method,
            margin=DEFAULT_MARGIN if args.margin is None else args.margin,
        )
    )
    if args.format == "json":
        sys.stdout.write(comparisons_json([outcome.comparison for outcome in outcomes]))
    for outcome in outcomes:
        if args.format == "table":
            Console().print(comparison_table(outcome.comparison))
        elif args.format == "markdown":
            sys.stdout.write(comparison_markdown(outcome.comparison))
        for note in outcome.skipped:
            print(f"not compared: {note}", file=sys.stderr)
        print(f"comparison written to {outcome.path}", file=sys.stderr)
    regressed = [
        f"{outcome.comparison.other_model}: {row}" for outcome in outcomes for row in regressions(outcome.comparison)
    ]
    if args.fail_on_regression and regressed:
        print(f"regression: {'; '.join(regressed)} significantly worse than the base", file=sys.stderr)
        return REGRESSION_EXIT
    return 0
