"""Run a batch of judgments concurrently, journalling each one the moment it completes.

The journal (`samples/<task>_judgments.jsonl`) is append-only: a run killed mid-way keeps everything judged
so far, and the next run reuses those records without asking again. Requests that failed are journalled
too but retried by the next run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from instructeval.errors import InstructEvalError
from instructeval.hashing import sha256_json
from instructeval.judge.batching import batch_request, prefetch_in_batches, state_path
from instructeval.judge.cache import JudgeCache, NoCache, cache_key, default_cache_path
from instructeval.judge.options import JudgeOptions
from instructeval.judge.parsing import Parsed
from instructeval.judge.pricing import Budget, load_prices, price_for
from instructeval.judge.rubric import Rubric
from instructeval.judge.session import JudgeSession, Usage, Verdict
from instructeval.models.chat_batches import BatchRequest
from instructeval.models.chat_client import open_chat_client
from instructeval.models.spec import parse_model_spec

FINAL_STATUSES = frozenset({"scored", "missing"})
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Job:
    """One judgment to make: which judge, which rubric and messages, how to parse, what to record with it.

    `key` identifies the judgment across runs: the cache key of its first request plus the record's fields,
    so two documents with identical text get two records (the second reply comes from the cache).
    """

    key: str
    judge: str
    rubric: Rubric
    messages: list[dict[str, str]]
    repeat: int
    parse: Callable[[str], Parsed]
    value_field: str
    fields: dict[str, Any]

    @classmethod
    def create(
        cls,
        options: JudgeOptions,
        *,
        judge: str,
        rubric: Rubric,
        messages: list[dict[str, str]],
        repeat: int,
        parse: Callable[[str], Parsed],
        value_field: str,
        fields: dict[str, Any],
    ) -> Job:
        request = cache_key(
            judge,
            rubric.sha256,
            messages,
            repeat=repeat,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
        )
        return cls(sha256_json([request, fields]), judge, rubric, messages, repeat, parse, value_field, fields)


@dataclass(frozen=True)
class BudgetState:
    """How the run stood against its spending cap."""

    limit_usd: float | None
    spent_usd: float
    stopped: bool


@dataclass(frozen=True)
class Outcome:
    """Every judgment record of the batch (reused or new, in job order) and what the batch cost."""

    records: list[dict[str, Any]]
    not_graded: list[Job]
    usage: dict[str, Usage]
    reused: int
    budget: BudgetState


def read_journal(path: Path) -> dict[str, dict[str, Any]]:
    """Final records by key; a line cut short by a kill is skipped, and the latest record of a key wins."""
    found: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return found
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and record.get("status") in FINAL_STATUSES and "key" in record:
                found[record["key"]] = record
    return found


def run_jobs(jobs: Iterable[Job], options: JudgeOptions, journal: Path, progress: Progress | None = None) -> Outcome:
    """Judge every job not already in the journal; blocking wrapper around `run_jobs_async`."""
    return asyncio.run(run_jobs_async(list(jobs), options, journal, progress))


async def run_jobs_async(
    jobs: list[Job], options: JudgeOptions, journal: Path, progress: Progress | None = None
) -> Outcome:
    """Judge every job not already in the journal, with bounded concurrency and a shared budget."""
    previous = read_journal(journal)
    results: dict[str, dict[str, Any]] = {job.key: previous[job.key] for job in jobs if job.key in previous}
    pending = [job for job in jobs if job.key not in results]
    reused = len(results)
    budget = Budget(options.budget_usd)
    sessions = _open_sessions({job.judge for job in pending}, options, budget)
    not_graded: list[Job] = []
    done = reused
    if progress:
        progress(done, len(jobs))

    async def judge_one(session: JudgeSession, item: Job, sink: IO[str]) -> None:
        nonlocal done
        verdict = await session.ask(
            item.messages, rubric_sha256=item.rubric.sha256, repeat=item.repeat, parse=item.parse
        )
        if verdict is None:
            not_graded.append(item)
        else:
            record = _record(item, verdict)
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()
            results[item.key] = record
        done += 1
        if progress:
            progress(done, len(jobs))

    journal.parent.mkdir(parents=True, exist_ok=True)
    try:
        if options.batch and pending:
            await prefetch_in_batches(
                _first_requests(pending, options),
                sessions,
                state_path(journal),
                poll_s=options.batch_poll_s,
                key_env=options.api_key_env,
            )
        with journal.open("a", encoding="utf-8") as sink:
            async with asyncio.TaskGroup() as group:
                for item in pending:
                    group.create_task(judge_one(sessions[item.judge], item, sink))
    except ExceptionGroup as failures:
        first = failures.exceptions[0]
        if isinstance(first, InstructEvalError):
            raise first from None
        raise
    finally:
        await _close(sessions)
    return Outcome(
        records=[results[job.key] for job in jobs if job.key in results],
        not_graded=not_graded,
        usage={judge: session.usage for judge, session in sessions.items()},
        reused=reused,
        budget=BudgetState(options.budget_usd, budget.spent_usd, budget.exhausted),
    )


def _first_requests(jobs: list[Job], options: JudgeOptions) -> dict[str, dict[str, BatchRequest]]:
    """Each judge's first request per job, by cache key (identical requests once)."""
    found: dict[str, dict[str, BatchRequest]] = {}
    for job in jobs:
        key, request = batch_request(
            job.judge,
            job.rubric.sha256,
            job.messages,
            repeat=job.repeat,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
        )
        found.setdefault(job.judge, {})[key] = request
    return found


def _open_sessions(judges: set[str], options: JudgeOptions, budget: Budget) -> dict[str, JudgeSession]:
    prices = load_prices(options.prices_file)
    specs = {judge: parse_model_spec(judge) for judge in sorted(judges)}
    if options.budget_usd is not None:
        unpriced = [judge for judge, spec in specs.items() if price_for(spec, prices) is None]
        if unpriced:
            raise InstructEvalError(
                f"--judge-budget-usd needs a price for {', '.join(unpriced)}: pass --judge-prices FILE with "
                '{"models": {"<model>": {"input_per_mtok": ..., "output_per_mtok": ...}}}'
            )
    cache: JudgeCache | NoCache = NoCache()
    if options.use_cache and judges:
        cache = JudgeCache(options.cache_path or default_cache_path())
    settings = options.client_settings()
    slots = asyncio.Semaphore(settings.concurrency)
    policy = settings.retry_policy()
    sessions: dict[str, JudgeSession] = {}
    for judge, spec in specs.items():
        sessions[judge] = JudgeSession(
            judge=judge,
            client=open_chat_client(spec, concurrency=settings.concurrency, role="judge", key_env=options.api_key_env),
            price=price_for(spec, prices),
            cache=cache,
            budget=budget,
            slots=slots,
            policy=policy,
            temperature=options.temperature,
            max_tokens=options.max_tokens,
        )
    return sessions


async def _close(sessions: dict[str, JudgeSession]) -> None:
    caches = {id(session.cache): session.cache for session in sessions.values()}
    for session in sessions.values():
        await session.client.aclose()
    for cache in caches.values():
        cache.close()


def _record(job: Job, verdict: Verdict) -> dict[str, Any]:
    return {
        "key": job.key,
        **job.fields,
        "judge": job.judge,
        "rubric": job.rubric.name,
        "rubric_version": job.rubric.version,
        "rubric_sha256": job.rubric.sha256,
        "repeat": job.repeat,
        "status": verdict.status,
        job.value_field: verdict.value,
        "reason": verdict.reason,
        "failure": verdict.failure,
        "raw_replies": list(verdict.raw_replies),
        "requests": verdict.requests,
        "cached": verdict.cached,
        "cost_usd": verdict.cost_usd,
    }
