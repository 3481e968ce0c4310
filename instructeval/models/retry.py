"""Bounded retries with backoff: the one place an API request waits and tries again.

Each attempt holds one of the shared concurrency slots only while it is on the wire; waits happen outside
the slot so a throttled request does not block the others. A server's Retry-After is always honoured.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from instructeval.models.chat_client import ChatClient, ChatReply, PermanentError, TransientError


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts after the first, exponential backoff bounds, per-attempt timeout (remote
    clients only)."""

    max_retries: int = 4
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    timeout_s: float = 60.0
    max_retry_after_s: float = 600.0

    def backoff(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `retry` (0-based): the server's wish, else jittered backoff."""
        if retry_after is not None:
            return retry_after
        ceiling = min(self.max_delay_s, self.base_delay_s * 2**retry)
        return random.uniform(ceiling / 2, ceiling)


class RequestFailed(Exception):
    """A request that got no usable reply after all attempts (a judge records the judgment as failed)."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


async def complete_with_retries(
    client: ChatClient,
    messages: list[dict[str, str]],
    *,
    max_tokens: int,
    temperature: float,
    policy: RetryPolicy,
    slots: asyncio.Semaphore,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> tuple[ChatReply, int]:
    """Send one chat request with retries; return the reply and the number of attempts made."""
    errors: list[str] = []
    for attempt in range(policy.max_retries + 1):
        try:
            async with slots, asyncio.timeout(None if client.in_process else policy.timeout_s):
                reply = await client.complete(messages, max_tokens=max_tokens, temperature=temperature)
            return reply, attempt + 1
        except TimeoutError:
            errors.append(f"timed out after {policy.timeout_s:g}s")
            retry_after = None
        except TransientError as exc:
            errors.append(str(exc))
            retry_after = exc.retry_after
        except PermanentError as exc:
            raise RequestFailed(str(exc), attempt + 1) from exc
        if attempt == policy.max_retries:
            break
        wait = policy.backoff(attempt, retry_after)
        if wait > policy.max_retry_after_s:
            raise RequestFailed(f"server asked to wait {wait:.0f}s; gave up ({errors[-1]})", attempt + 1)
        await sleep(wait)
    raise RequestFailed(f"no reply after {len(errors)} attempts; last: {errors[-1]}", len(errors))
