"""`instructeval sweep`: many models x many tasks on Ray, every `run` option passed to each (model, task) run."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from instructeval.cli.run import add_run_arguments, run_options
from instructeval.errors import InstructEvalError

SET_BY_SWEEP = ("run_name", "resume")
"""Run options the sweep chooses itself for each pair (its folder name; resuming what was begun)."""


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register `sweep`: its own flags, then every `run` flag (applied to all pairs, over the sweep file's)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "sweep",
        help="evaluate many models (checkpoints, adapters) on many tasks on a Ray cluster",
        description="Evaluate every (model, task) pair of a sweep file or of --models x --tasks, one Ray task per "
        "model (loaded once), each pair in the run folder `instructeval run` writes. Rerunning it runs only the "
        "missing or failed pairs. At the end, tuned models are compared with their base and the leaderboard is "
        "built. Every `run` option applies to all pairs, over the sweep file's. See docs/sweep.md.",
    )
    parser.add_argument("sweep_file", nargs="?", type=Path, help="sweep.yaml: models, tasks, options (docs/sweep.md)")
    parser.add_argument("--models", help="comma-separated model specs; a folder may be a glob (hf:./ckpt-*)")
    parser.add_argument("--base", help="the model every other model is compared against (added when missing)")
    parser.add_argument("--workers", type=int, help="models evaluated at once (default: the file's, else 1)")
    parser.add_argument("--address", help="an existing Ray cluster (auto, or host:port); default: a local one")
    parser.add_argument("--retries", type=int, default=2, help="Ray retries of a model's task (default 2)")
    parser.add_argument("--site", type=Path, help="where the leaderboard goes (default <output>/leaderboard)")
    parser.add_argument("--status", action="store_true", help="show what is done, running, failed or pending")
    watch = parser.add_argument_group("watching a training run")
    watch.add_argument("--watch", type=Path, metavar="DIR", help="evaluate each new checkpoint folder under DIR")
    watch.add_argument(
        "--marker", help="a checkpoint is complete once this file exists in it (default: its sizes are stable)"
    )
    watch.add_argument("--poll-seconds", type=float, default=30.0, help="how often DIR is looked at (default 30)")
    watch.add_argument(
        "--watch-backend", choices=("hf", "vllm"), default="hf", help="backend of the checkpoints (default hf)"
    )
    watch.add_argument(
        "--stop-after-idle", type=float, metavar="S", help="stop watching after S seconds without a new checkpoint"
    )
    add_run_arguments(parser)
    run_names = _run_defaults()
    for action in parser._actions:  # only the run flags given are kept, so the sweep file's values stand otherwise
        if action.dest in run_names:
            action.default = argparse.SUPPRESS
    parser.set_defaults(func=sweep_command)
    return parser


def sweep_command(args: argparse.Namespace) -> int:
    """Plan the pairs, then show their status, or run them (and watch), compare and build the leaderboard."""
    from rich.console import Console

    from instructeval.sweep import pair_state, plan_pairs, status_lines

    config, overrides = _config(args)
    pairs = plan_pairs(config, overrides, build_run_options)
    console = Console(stderr=True, highlight=False)
    if args.status:
        lines, counts = status_lines(pairs)
        print("\n".join(lines))
        print(", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no pairs", file=sys.stderr)
        return 0
    if not pairs and args.watch is None:
        raise InstructEvalError("the sweep has no models: list them in the sweep file or pass --models")
    workers = args.workers if args.workers is not None else config.workers or 1
    if workers < 1:
        raise InstructEvalError(f"--workers {workers} is not a number of workers: pass 1 or more")
    output = Path(overrides.get("output") or config.options.get("output") or "runs")
    site = args.site or output / "leaderboard"
    todo = [pair for pair in pairs if pair_state(pair.run_dir) != "done"]
    if not todo and args.watch is None:
        print(f"sweep: all {len(pairs)} pairs are already done under {output}; nothing to run", file=sys.stderr)
        return 0
    try:
        return _run(args, config, overrides, pairs, workers, site, console)
    except KeyboardInterrupt:
        print("sweep: interrupted; rerun the same command to continue where it stopped", file=sys.stderr)
        return 130


def _run(
    args: argparse.Namespace, config: Any, overrides: dict[str, Any], pairs: list[Any], workers: int, site: Path,
    console: Any,
) -> int:  # fmt: skip
    from instructeval.sweep import SweepRunner, ray_cluster

    local_cpus = max(1, (os.cpu_count() or 1) // workers)
    cpus_per_worker = 1.0 if args.address else float(local_cpus)
    requested = [pair.resources.num_cpus or cpus_per_worker for pair in pairs] or [cpus_per_worker]
    with ray_cluster(args.address, int(workers * max(requested))) as ray:
        runner = SweepRunner(ray, workers, args.retries, console, cpus_per_worker)
        code = _pass(runner, pairs, site)
        if args.watch is not None:
            code = max(code, _watch(args, config, overrides, runner, pairs, site))
    return code


def _pass(runner: Any, pairs: list[Any], site: Path) -> int:
    """Run the pairs not yet done, say what happened, compare and build the leaderboard; 1 if a pair failed."""
    from instructeval.sweep import finish_sweep

    report = runner.run(pairs)
    loads = [o.load_seconds for o in report.outcomes.values() if o.load_seconds]
    print(
        f"sweep: {len(report.ran)} pairs run, {report.already_done} already done, {len(report.failed)} failed "
        f"in {report.wall_seconds:.1f} s ({len(loads)} model loads, {sum(loads):.1f} s; evaluation "
        f"{sum(o.seconds for o in report.ran):.1f} s)",
        file=sys.stderr,
    )
    if not report.outcomes:
        return 0
    finished = finish_sweep(pairs, site)
    for path in finished.comparisons:
        print(f"comparison written to {path}", file=sys.stderr)
    for note in finished.not_compared:
        print(f"not compared: {note}", file=sys.stderr)
    if finished.site is not None:
        print(f"leaderboard: {finished.site}", file=sys.stderr)
    if report.failed:
        print("sweep: rerun the same command to retry the failed pairs", file=sys.stderr)
    return 1 if report.failed else 0


def _watch(
    args: argparse.Namespace, config: Any, overrides: dict[str, Any], runner: Any, pairs: list[Any], site: Path
) -> int:
    """Poll the training folder; each complete checkpoint is evaluated on the sweep's evaluations."""
    from instructeval.sweep import CheckpointWatcher, Resources, checkpoint_model, plan_pairs

    watcher = CheckpointWatcher(args.watch, args.marker)
    code, idle_since = 0, time.monotonic()
    print(f"sweep: watching {args.watch} for checkpoints (Ctrl-C stops)", file=sys.stderr)
    try:
        while args.stop_after_idle is None or time.monotonic() - idle_since < args.stop_after_idle:
            checkpoints = watcher.poll()
            if checkpoints:
                models = tuple(checkpoint_model(c, args.watch_backend, args.base, Resources()) for c in checkpoints)
                for checkpoint in checkpoints:
                    print(f"sweep: new checkpoint {checkpoint}", file=sys.stderr)
                pairs += plan_pairs(replace(config, models=models), overrides, build_run_options)
                code = max(code, _pass(runner, pairs, site))
                idle_since = time.monotonic()
            time.sleep(args.poll_seconds)
    except KeyboardInterrupt:
        pass
    print(f"sweep: stopped watching {args.watch}", file=sys.stderr)
    return code


def _config(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The sweep (from its file, --models and --tasks/--suite) and the run options given on the command line."""
    from instructeval.sweep import SweepConfig, evaluations_from_flags, load_sweep_file, models_from_specs

    given = {name: value for name, value in vars(args).items() if name in _run_defaults()}
    for name in SET_BY_SWEEP:
        if name in given:
            raise InstructEvalError(f"--{name.replace('_', '-')} is chosen by the sweep for each pair: drop it")
    tasks, suite = given.pop("tasks", None), given.pop("suite", None)
    names = frozenset(_run_defaults()) - {"tasks", "suite"}
    config = load_sweep_file(args.sweep_file, names) if args.sweep_file else SweepConfig((), ())
    if args.models:
        config = replace(config, models=models_from_specs(args.models))
    if tasks or suite:
        config = replace(config, evaluations=evaluations_from_flags(tasks, suite))
    if args.base:
        models = tuple(m if m.base or m.model == args.base else replace(m, base=args.base) for m in config.models)
        config = replace(config, models=models)
    if not config.evaluations:
        raise InstructEvalError("the sweep has no tasks: list them under `tasks:` in the sweep file or pass --tasks")
    return config, given


def build_run_options(model: str, options: dict[str, Any]) -> Any:
    """The RunOptions `instructeval run --model <model>` would build from these options given as flags (a
    data-parallel size the model's backend would not read is refused before the sweep starts)."""
    from instructeval.models.spec import parse_model_spec
    from instructeval.preflight import check_data_parallel

    parser = _run_parser()
    try:
        args = parser.parse_args(_as_flags(options))
    except argparse.ArgumentError as exc:
        raise InstructEvalError(f"run option {exc}: fix its value in the sweep file or on the command line") from exc
    built = run_options(args, model)
    check_data_parallel(parse_model_spec(model), built.data_parallel_size)
    return built


def _as_flags(options: dict[str, Any]) -> list[str]:
    """{"max_gen_toks": 8, "chat_template": False, ...} as ["--max-gen-toks", "8", "--no-chat-template", ...]."""
    defaults = _run_defaults()
    flags: list[str] = []
    for name, value in options.items():
        flag = "--" + name.replace("_", "-")
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                flags.append(flag)
            elif defaults[name] is not False:  # --no-X of an on/off option; a plain switch is off by default
                flags.append("--no-" + name.replace("_", "-"))
            continue
        text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
        flags += [flag, text]
    return flags


def _run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="instructeval run", add_help=False, exit_on_error=False, allow_abbrev=False)
    add_run_arguments(parser)
    return parser


def _run_defaults() -> dict[str, Any]:
    """Each run option's name and default."""
    return vars(_run_parser().parse_args([]))
