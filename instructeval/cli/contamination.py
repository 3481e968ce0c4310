"""`instructeval contamination`: test examples found in a training corpus, and a run's score without them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from instructeval.paths import DATA_DIR_ENV


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `contamination` and its flags."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "contamination",
        help="test examples found in a training corpus (n-gram overlap), clean-subset scores",
        description="Find the test examples of tasks whose word n-grams (13 by default, normalised) occur in "
        "a corpus (text, JSONL, parquet files or folders of them, hf:<dataset>), streamed once; per task the "
        "contaminated share, which examples and where (file, line). With --run, re-score a finished run on each "
        "task's clean subset. With --model M --probe min-k, probe a local model without its corpus.",
    )
    parser.add_argument("--corpus", nargs="+", metavar="SOURCE", help="files, folders or hf:<dataset>[:config][@split]")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--tasks", help="comma-separated task names, as for `run` (see `instructeval tasks`)")
    which.add_argument("--suite", help="a suite, as for `run`")
    parser.add_argument("--ngram", type=int, help="words per n-gram (default 13, as GPT-3 and lm-eval)")
    parser.add_argument("--run", type=Path, help="a finished run folder to re-score on its clean subsets")
    parser.add_argument(
        "--report",
        type=Path,
        help="with --run and no --corpus: the --output folder of an earlier check (default: --output)",
    )
    parser.add_argument(
        "--output", type=Path, default=Path("contamination"), help="report folder (default contamination/)"
    )
    parser.add_argument(
        "--data-dir", type=Path, help=f"local data folder in the layout of shared/data (also {DATA_DIR_ENV})"
    )
    parser.add_argument("--limit", type=int, help="first N examples per (sub)task")
    probe = parser.add_argument_group("probe without a corpus (local models)")
    probe.add_argument("--model", help="with --probe: demo | hf:<id or folder> (a decoder-only model)")
    probe.add_argument("--probe", choices=("min-k",), help="min-k: Min-K%% Prob against perturbed copies")
    probe.add_argument("--k-percent", type=float, help="the k of Min-K%% (default 20)")
    probe.add_argument("--copies", type=int, help="perturbed copies per example (default 4)")
    probe.add_argument("--fpr", type=float, help="share of perturbed copies above the threshold (default 0.05)")
    probe.add_argument("--device", help="cpu | cuda | cuda:N (default: cuda when available)")
    probe.add_argument("--seed", type=int, help="seed of the perturbations (default 1234)")
    parser.set_defaults(func=contamination_command)
    return parser


PROBE_FLAGS = ("k_percent", "copies", "fpr", "seed", "device")


def contamination_command(args: argparse.Namespace) -> int:
    """Check, print the per-task table, say where the report went."""
    import logging

    from instructeval.contamination import DEFAULT_NGRAM, ContaminationOptions, contaminate, contamination_table
    from instructeval.errors import InstructEvalError

    logging.getLogger("lm_eval").setLevel(logging.ERROR)  # our own progress lines say what is read
    given = [f"--{name.replace('_', '-')}" for name in PROBE_FLAGS if getattr(args, name) is not None]
    if given and not args.probe:
        raise InstructEvalError(f"{', '.join(given)} set the probe: add --model M --probe min-k, or drop them")
    if args.probe and (args.ngram is not None or args.report is not None):
        raise InstructEvalError("--ngram and --report are for corpus overlap: drop them with --probe")
    if args.report is not None and (args.run is None or args.corpus):
        raise InstructEvalError("--report reads an earlier check for --run: pass it with --run and without --corpus")
    options = ContaminationOptions(
        corpus=tuple(args.corpus or ()),
        tasks=args.tasks,
        suite=args.suite,
        ngram=DEFAULT_NGRAM if args.ngram is None else args.ngram,
        run=args.run,
        report=args.report,
        output=args.output,
        data_dir=args.data_dir,
        limit=args.limit,
        model=args.model,
        probe=args.probe,
        **{name: getattr(args, name) for name in PROBE_FLAGS if getattr(args, name) is not None},
    )
    result = contaminate(options, progress=lambda line: print(line, file=sys.stderr))
    print(contamination_table(result))
    print(f"report: {options.output / 'contamination.json'}" + (f"; run updated: {args.run}" if args.run else ""))
    return 0
