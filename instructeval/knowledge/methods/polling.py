"""Waiting for a provider's fine-tuning job: exponential backoff, transient errors only lengthen the wait."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from instructeval.errors import InstructEvalError


@dataclass(frozen=True)
class PollPolicy:
    """How to wait for a job: first interval, growth factor, ceiling, and an optional overall limit."""

    interval_s: float = 10.0
    factor: float = 1.5
    max_interval_s: float = 120.0
    timeout_s: float | None = None


DEFAULT_POLL = PollPolicy()


class TransientPollError(Exception):
    """A poll that failed in a way worth retrying (429, 5xx, a dropped connection)."""


def wait_for_job(
    job_id: str,
    fetch: Callable[[], Any],
    status_of: Callable[[Any], str],
    terminal: Collection[str],
    poll: PollPolicy,
    progress: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
) -> Any:
    """Call `fetch` until the job's status is terminal; return the last job. `fetch` raises
    TransientPollError for errors worth another try, InstructEvalError for the rest."""
    started = time.monotonic()
    interval = poll.interval_s
    last_status = None
    while True:
        try:
            job = fetch()
        except TransientPollError as exc:
            progress(f"  polling {job_id}: {exc}, retrying")
        else:
            status = status_of(job)
            if status != last_status:
                progress(f"  job {job_id}: {status}")
                last_status = status
            if status in terminal:
                return job
        if poll.timeout_s is not None and time.monotonic() - started > poll.timeout_s:
            raise InstructEvalError(
                f"fine-tuning job {job_id} is still {last_status} after {poll.timeout_s:g}s: "
                "rerun the same command with --resume to keep waiting"
            )
        sleep(interval)
        interval = min(poll.max_interval_s, interval * poll.factor)
