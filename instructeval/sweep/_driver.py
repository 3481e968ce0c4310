"""The sweep's driver: one Ray task per model on a local or existing cluster, at most `workers` at once, one
progress bar over the pairs and a line per finished pair; every pair's outcome appended to the sweep journal."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from instructeval.errors import InstructEvalError
from instructeval.models.spec import parse_model_spec
from instructeval.results import load_results
from instructeval.score import MISSING
from instructeval.sweep._adapters import switches_adapters
from instructeval.sweep._plan import Pair, pair_state
from instructeval.sweep._worker import ModelJob, PairOutcome, PairsFailed, evaluate_model, one_line

JOURNAL = "sweep.jsonl"
"""Beside the run folders (in --output): one line per finished pair attempt, read by `sweep --status`."""
RAY_HINT = "instructeval sweep needs Ray: pip install 'instructeval[sweep]'"
POLL_S = 0.2


@dataclass
class SweepReport:
    """What one pass over the pairs did."""

    outcomes: dict[Path, PairOutcome] = field(default_factory=dict)
    already_done: int = 0
    wall_seconds: float = 0.0

    @property
    def failed(self) -> list[PairOutcome]:
        return [o for o in self.outcomes.values() if o.status == "failed"]

    @property
    def ran(self) -> list[PairOutcome]:
        return [o for o in self.outcomes.values() if o.status == "done"]


def import_ray() -> Any:
    """Ray, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise InstructEvalError(RAY_HINT) from None
    return ray


@contextmanager
def ray_cluster(address: str | None, cpus: int) -> Iterator[Any]:
    """Connect to the cluster at `address`, or start a local one with `cpus` CPUs; disconnect on exit."""
    ray = import_ray()
    kwargs: dict[str, Any] = {"log_to_driver": False, "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **kwargs)
    else:
        ray.init(num_cpus=cpus, include_dashboard=False, **kwargs)
    try:
        yield ray
    finally:
        ray.shutdown()


class SweepRunner:
    """Runs pairs on a connected Ray cluster: one task per model, `workers` models at a time, Ray's retries."""

    def __init__(self, ray: Any, workers: int, retries: int, console: Console, cpus_per_worker: float) -> None:
        self.ray = ray
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.retries = retries
        self.console = console
        self.remote = ray.remote(evaluate_model)

    def run(self, pairs: list[Pair]) -> SweepReport:
        """Evaluate the pairs not yet done; finished ones are skipped (and counted)."""
        started = time.perf_counter()
        todo = [pair for pair in pairs if pair_state(pair.run_dir) != "done"]
        report = SweepReport(already_done=len(pairs) - len(todo))
        if not todo:
            return report
        from ray.util.queue import Queue

        events = Queue()
        jobs = model_jobs(todo, self._gpus_available(), self.cpus_per_worker)
        by_dir = {pair.run_dir: pair for pair in todo}
        with Progress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("pairs"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        ) as bar:
            progress = bar.add_task("sweep", total=len(todo))
            in_flight: dict[Any, ModelJob] = {}
            while jobs or in_flight:
                while jobs and len(in_flight) < self.workers:
                    job, resources = jobs.pop(0)
                    ref = self.remote.options(
                        max_retries=self.retries, retry_exceptions=[PairsFailed], **resources
                    ).remote(job, events)
                    in_flight[ref] = job
                ready, _ = self.ray.wait(list(in_flight), num_returns=1, timeout=POLL_S)
                self._drain(events, by_dir, report, bar, progress)
                for ref in ready:
                    job = in_flight.pop(ref)
                    for outcome in self._outcomes(ref, job):
                        self._record(outcome, by_dir, report, bar, progress)
            self._drain(events, by_dir, report, bar, progress)
        report.wall_seconds = time.perf_counter() - started
        return report

    def _gpus_available(self) -> bool:
        return float(self.ray.cluster_resources().get("GPU", 0)) > 0

    def _outcomes(self, ref: Any, job: ModelJob) -> list[PairOutcome]:
        try:
            outcomes: list[PairOutcome] = self.ray.get(ref)
            return outcomes
        except self.ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, PairsFailed):
                return cause.outcomes
            error = one_line(cause or exc)
        except self.ray.exceptions.RayError as exc:  # the worker died more often than retries allow
            error = one_line(exc)
        return [PairOutcome(pair.run_dir, "failed", error=error) for pair in job.pairs]

    def _drain(self, events: Any, by_dir: dict[Path, Pair], report: SweepReport, bar: Progress, task: Any) -> None:
        while not events.empty():
            self._record(events.get(), by_dir, report, bar, task)

    def _record(
        self, outcome: PairOutcome, by_dir: dict[Path, Pair], report: SweepReport, bar: Progress, task: Any
    ) -> None:
        """A pair's line and journal entry, once per pair (a retried model reports its finished pairs again)."""
        pair = by_dir.get(outcome.run_dir)
        previous = report.outcomes.get(outcome.run_dir)
        if pair is None or outcome.status == "skipped" or (previous is not None and previous.status == "done"):
            return
        if previous == outcome:  # reported as it finished, and again in the model's returned outcomes
            return
        if previous is None:
            bar.advance(task)
        report.outcomes[outcome.run_dir] = outcome
        bar.console.print(pair_line(pair, outcome), highlight=False, markup=False, soft_wrap=True)
        append_journal(pair, outcome)


def pair_line(pair: Pair, outcome: PairOutcome) -> str:
    """`done   <task> on <model>: <metric> <score> (N computed, M from cache, T s) -> <run folder>`."""
    if outcome.status == "failed":
        return f"failed {pair.label}: {outcome.error}"
    results = load_results(outcome.run_dir)
    scores = ", ".join(
        f"{name} {task.primary_metric} {score.text() if (score := task.metrics.get(task.primary_metric)) else MISSING}"
        for name, task in results.tasks.items()
    )
    load = f", model load {outcome.load_seconds:.1f} s" if outcome.load_seconds else ""
    return (
        f"done   {pair.label}: {scores} ({outcome.computed} computed, {outcome.cached} from cache, "
        f"{outcome.seconds:.1f} s{load}) -> {outcome.run_dir}"
    )


def append_journal(pair: Pair, outcome: PairOutcome) -> None:
    """One JSON line per finished attempt, in the sweep's output folder."""
    entry = {
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model": pair.model,
        "adapter": pair.adapter,
        "evaluation": pair.evaluation,
        "run_dir": str(outcome.run_dir),
        "status": outcome.status,
        "error": outcome.error,
        "computed": outcome.computed,
        "cached": outcome.cached,
        "seconds": round(outcome.seconds, 3),
        "load_seconds": round(outcome.load_seconds, 3),
    }
    pair.options.output.mkdir(parents=True, exist_ok=True)
    with (pair.options.output / JOURNAL).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\n")


def model_jobs(pairs: list[Pair], gpus: bool, cpus_per_worker: float) -> list[tuple[ModelJob, dict[str, float]]]:
    """One job per loaded model (spec, backend settings, and the adapter where adapters are not switched on one
    base), in the sweep's order, with its Ray resources."""
    grouped: dict[tuple[Any, ...], list[Pair]] = {}
    for pair in pairs:
        options = pair.options
        adapter = None if switches_adapters(pair.model) else pair.adapter
        key: tuple[Any, ...] = (pair.model, adapter, options.batch_size, options.device)
        key += (options.tensor_parallel_size, options.data_parallel_size, options.prefix_cache)
        grouped.setdefault(key, []).append(pair)
    jobs = []
    for group in grouped.values():
        first = group[0]
        cpus = first.resources.num_cpus or cpus_per_worker
        resources = {"num_cpus": cpus, "num_gpus": _gpus(first, gpus)}
        jobs.append((ModelJob(tuple(group), os.getcwd(), max(1, int(cpus))), resources))
    return jobs


def _gpus(pair: Pair, available: bool) -> float:
    if pair.resources.num_gpus is not None:
        return pair.resources.num_gpus
    if not available or not parse_model_spec(pair.model).is_local or pair.options.device == "cpu":
        return 0.0
    return float(pair.options.tensor_parallel_size * pair.options.data_parallel_size)
