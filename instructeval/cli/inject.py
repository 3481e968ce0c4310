"""`instructeval inject`: does a method (base, icl, finetune, augmented-finetune) make new facts usable?

instructeval inject --model demo --knowledge invented:reversal --method base,icl,finetune,augmented-finetune
instructeval inject score --knowledge finetunebench:fictional_people --data-dir D --responses answers.csv
instructeval inject report runs/<model>/<run> [--format markdown]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from instructeval.cli.judge import add_judge_arguments, options_from_args
from instructeval.errors import InstructEvalError
from instructeval.judge.options import JudgeOptions
from instructeval.knowledge import (
    FORMATS,
    METHODS,
    NAMES_HELP,
    InjectOptions,
    PollPolicy,
    ScoreOptions,
    inject,
    knowledge_table,
    score_responses,
)
from instructeval.knowledge.injection import estimate_costs
from instructeval.knowledge.methods.augment import AUGMENT_CHOICES, AugmentSettings
from instructeval.knowledge.run_report import print_run_report
from instructeval.results import load_results


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `inject` (and its `score` action) on the CLI's subparsers; handlers are set as `func`."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "inject",
        help="knowledge injection: base vs in-context vs fine-tuning on new facts",
        description="Measure which method makes a knowledge set usable by a model: base (contamination "
        "control), icl (facts in context), finetune (local LoRA or a provider's fine-tuning API) and "
        "augmented-finetune "
        "(fine-tuning on facts plus the model's own in-context rephrasings, reversals and inferences).",
    )
    _common(parser)
    parser.add_argument("--model", metavar="SPEC", help="model spec: demo, hf:<id or folder>, openai:<model>, ...")
    parser.add_argument(
        "--method",
        default="base",
        metavar="M[,M...]",
        help=f"one or more of {', '.join(METHODS)}, comma-separated (default base)",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N probes of every split")
    training = parser.add_argument_group("fine-tuning")
    training.add_argument("--format", choices=FORMATS, help="training format (default: the set's, qa or documents)")
    training.add_argument("--epochs", type=int, metavar="N", help="epochs (local default 10; API: provider default)")
    training.add_argument("--learning-rate", type=float, default=1e-3, metavar="LR", help="local LoRA learning rate")
    training.add_argument("--lora-rank", type=int, default=8, metavar="R", help="local LoRA rank (alpha = 2R)")
    training.add_argument("--train-batch-size", type=int, default=8, metavar="N", help="local training batch size")
    training.add_argument("--lr-multiplier", type=float, metavar="X", help="API learning_rate_multiplier")
    training.add_argument(
        "--allow-overlap",
        action="store_true",
        help="train even when generalisation probes appear verbatim in the training text (recorded in results)",
    )
    augmenting = parser.add_argument_group("augmented-finetune (Lampinen et al.'s strategies)")
    augmenting.add_argument(
        "--augment",
        choices=tuple(AUGMENT_CHOICES),
        help="local: each fact rephrased and reversed alone; global: inferences across groups of facts; both (default)",
    )
    augmenting.add_argument("--augmentations-per-fact", type=int, metavar="N", help="local sentences per fact (3)")
    augmenting.add_argument("--facts-per-group", type=int, metavar="N", help="facts in one global prompt (12)")
    augmenting.add_argument("--statements-per-group", type=int, metavar="N", help="global statements per group (6)")
    augmenting.add_argument("--augment-max-tokens", type=int, metavar="N", help="generation length per prompt (96)")
    training.add_argument("--generator", metavar="SPEC", help="model that writes augmentations (default: --model)")
    training.add_argument(
        "--curve",
        metavar="E1,E2,...|all",
        help="also ask the checkpoints of these epochs (all: every epoch kept): a learning curve per split",
    )
    training.add_argument(
        "--estimate-cost",
        action="store_true",
        help="print what the provider would charge for fine-tuning (needs --epochs), start nothing",
    )
    training.add_argument("--project", help="vertex: Google Cloud project (default $GOOGLE_CLOUD_PROJECT)")
    training.add_argument("--location", help="vertex: region (default $GOOGLE_CLOUD_LOCATION, else us-central1)")
    training.add_argument(
        "--staging-bucket",
        metavar="GS_URI",
        help="vertex: gs://<bucket>[/<folder>] for the training file (default gs://<project>-instructeval, created)",
    )
    training.add_argument("--poll-interval", type=float, default=10.0, metavar="S", help="first API poll wait")
    training.add_argument("--poll-max-interval", type=float, default=120.0, metavar="S", help="longest API poll wait")
    training.add_argument("--poll-timeout", type=float, metavar="S", help="stop polling after S (resume later)")
    asking = parser.add_argument_group("asking")
    asking.add_argument("--icl-max-chars", type=int, default=12_000, metavar="N", help="facts budget for icl")
    asking.add_argument("--max-gen-toks", type=int, default=64, metavar="N", help="answer length limit (default 64)")
    asking.add_argument("--device", help="cpu, cuda, cuda:1 (default: cuda when available)")
    parser.add_argument("--resume", action="store_true", help="continue the unfinished run with the same settings")
    parser.set_defaults(func=run_inject_command)

    actions = parser.add_subparsers(dest="inject_action", metavar="{score,report}")
    score = actions.add_parser(
        "score",
        help="score answers made elsewhere",
        description="Score a CSV/JSONL of responses (key column id, prompt or question; answer column "
        "response or raw_response, or one <model>_response column per model as in FineTuneBench's released "
        "files, each scored as its own model) on a knowledge set, with the same scorers and table as `inject`.",
    )
    _common(score)
    score.add_argument("--responses", type=Path, required=True, metavar="FILE", help="CSV or JSONL of responses")
    score.add_argument("--label", help="name for these answers in runs/<label>/ (default: the file name)")
    score.add_argument(
        "--response-column",
        metavar="COLUMN",
        help="score only this answer column (default: response or raw_response, else every <model>_response)",
    )
    score.set_defaults(func=run_score_command)

    report = actions.add_parser(
        "report",
        help="FineTuneBench's table layout from runs, with CIs, and learning curves",
        description="Print FineTuneBench's table (model x split, new- and updated-knowledge sets, each cell with "
        "n and its 95 %% CI) from inject and inject-score runs, marking cells the paper's averages cannot be "
        "reproduced from, then each learning curve (--curve) per epoch.",
    )
    report.add_argument("runs", nargs="+", type=Path, metavar="RUN", help="run folders, or folders holding runs")
    report.add_argument("--format", dest="report_format", choices=("table", "markdown"), default="table")
    report.add_argument("--scorer", default=None, help="scorer of the cells (default strict where scored, else exact)")
    report.set_defaults(func=run_report_command)
    return parser


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--knowledge", metavar="SET", help=NAMES_HELP)
    parser.add_argument("--data-dir", type=Path, metavar="DIR", help="local FineTuneBench copy (never downloaded)")
    parser.add_argument("--size", type=int, metavar="N", help="facts per family of an invented set (default 8)")
    parser.add_argument("--seed", type=int, default=1234, help="seed for invented sets, sampling and training")
    parser.add_argument(
        "--scorers",
        metavar="S[,S...]",
        help="strict, exact, lenient, forced-choice (default: forced-choice for invented sets, "
        "strict,exact,lenient for FineTuneBench, exact,lenient otherwise); --judge adds the LLM grader",
    )
    parser.add_argument("--output", type=Path, default=Path("runs"), help="runs folder (default runs/)")
    parser.add_argument("--run-name", help="run folder name (default: a timestamp)")
    add_judge_arguments(parser)


def run_inject_command(args: argparse.Namespace) -> int:
    """Run the requested methods, then print the method x split table."""
    if not args.model or not args.knowledge:
        raise InstructEvalError("inject needs --model and --knowledge, e.g. --model demo --knowledge invented:reversal")
    options = InjectOptions(
        model=args.model,
        knowledge=args.knowledge,
        methods=_split(args.method) or (),
        data_dir=args.data_dir,
        size=args.size,
        limit=args.limit,
        seed=args.seed,
        format=args.format,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        lora_rank=args.lora_rank,
        train_batch_size=args.train_batch_size,
        lr_multiplier=args.lr_multiplier,
        generator=args.generator,
        scorers=_split(args.scorers),
        judge=_judge(args),
        icl_max_chars=args.icl_max_chars,
        max_gen_toks=args.max_gen_toks,
        device=args.device,
        poll=PollPolicy(args.poll_interval, 1.5, args.poll_max_interval, args.poll_timeout),
        project=args.project,
        location=args.location,
        staging_bucket=args.staging_bucket,
        curve=_curve(args.curve),
        allow_overlap=args.allow_overlap,
        augment=_augment(args),
        output=args.output,
        run_name=args.run_name,
        resume=args.resume,
        command=["instructeval", *sys.argv[1:]],
    )
    console = Console()
    if args.estimate_cost:
        for line in estimate_costs(options):
            console.print(line)
        return 0
    run_dir = inject(options, progress=console.print)
    _print_table(console, run_dir)
    return 0


def run_score_command(args: argparse.Namespace) -> int:
    """Score external answers, then print one table per answer column (model)."""
    if not args.knowledge:
        raise InstructEvalError("inject score needs --knowledge, e.g. --knowledge finetunebench:fictional_people")
    options = ScoreOptions(
        knowledge=args.knowledge,
        responses=args.responses,
        label=args.label,
        response_column=args.response_column,
        data_dir=args.data_dir,
        size=args.size,
        seed=args.seed,
        scorers=_split(args.scorers),
        judge=_judge(args),
        output=args.output,
        run_name=args.run_name,
        command=["instructeval", *sys.argv[1:]],
    )
    console = Console()
    for run_dir in score_responses(options, progress=console.print):
        _print_table(console, run_dir, by_model=True)
    return 0


def run_report_command(args: argparse.Namespace) -> int:
    """The paper's table from every knowledge result under the given runs, then the learning curves."""
    print_run_report(args.runs, markdown=args.report_format == "markdown", scorer=args.scorer)
    return 0


def _print_table(console: Console, run_dir: Path, *, by_model: bool = False) -> None:
    results = load_results(run_dir)
    title = f"{results.model.name}: accuracy [95 % Wilson CI] (n)" if by_model else None
    console.print(knowledge_table(results.knowledge or [], title=title))
    console.print(f"results: {run_dir / 'results.json'}")


def _split(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _curve(text: str | None) -> tuple[int, ...] | Literal["all"] | None:
    if text is None or text.strip() == "all":
        return "all" if text else None
    try:
        return tuple(sorted({int(part) for part in _split(text) or ()}))
    except ValueError as exc:
        raise InstructEvalError(
            f"--curve {text!r} is not a list of epochs: write e.g. --curve 1,2,5,10 or --curve all"
        ) from exc


def _judge(args: argparse.Namespace) -> JudgeOptions | None:
    return options_from_args(args) if args.judge else None


def _augment(args: argparse.Namespace) -> AugmentSettings | None:
    """--augment and its amounts as settings; None when none was given (augmented-finetune's defaults)."""
    amounts = {
        "per_fact": args.augmentations_per_fact,
        "group_size": args.facts_per_group,
        "per_group": args.statements_per_group,
        "max_tokens": args.augment_max_tokens,
    }
    given = {name: value for name, value in amounts.items() if value is not None}
    if args.augment is None and not given:
        return None
    if any(value < 1 for value in given.values()):
        raise InstructEvalError(
            "--augmentations-per-fact, --facts-per-group, --statements-per-group and "
            "--augment-max-tokens must be positive"
        )
    return AugmentSettings(strategies=AUGMENT_CHOICES[args.augment or "both"], **given)
