"""One judge at work: cache first, then budget, then the wire; strict parsing with one reminder.

A verdict that cannot be parsed gets exactly one follow-up asking for the structured form; if that fails
too, the judgment is missing and every raw reply is kept. Usage is counted per paid reply, never twice:
concurrent identical requests share one call, and cached replies cost nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from instructeval.judge.cache import JudgeCache, NoCache, cache_key
from instructeval.judge.parsing import Parsed
from instructeval.judge.pricing import Budget, Price, worst_case_prompt_tokens
from instructeval.models.chat_client import ChatClient, ChatReply
from instructeval.models.retry import RequestFailed, RetryPolicy, complete_with_retries

Status = Literal["scored", "missing", "failed"]
"""scored: a valid verdict. missing: replies that are no valid verdict (final). failed: no usable reply yet
(request errors, or the budget ran out before the reminder); a later run tries again."""

REMINDER = (
    "Your reply could not be read as a verdict ({error}). Reply again with only the JSON object the "
    "instructions ask for, and nothing else."
)


@dataclass
class Usage:
    """What one judge's requests cost in this invocation."""

    requests: int = 0
    replies_paid: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: int = 0
    cost_usd: float | None = 0.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of one judgment, with everything needed to audit it."""

    status: Status
    value: int | str | None
    reason: str | None
    failure: str | None
    raw_replies: tuple[str, ...]
    requests: int
    cached: bool
    cost_usd: float | None


class BudgetExhausted(Exception):
    """The budget cannot cover another request."""


@dataclass
class _Fetched:
    reply: ChatReply
    requests: int
    cost_usd: float | None = 0.0


@dataclass
class JudgeSession:
    """Everything one judge needs to answer requests; shares slots, budget and cache with the others."""

    judge: str
    client: ChatClient
    price: Price | None
    cache: JudgeCache | NoCache
    budget: Budget
    slots: asyncio.Semaphore
    policy: RetryPolicy
    temperature: float
    max_tokens: int
    usage: Usage = field(default_factory=Usage, init=False)
    _in_flight: dict[str, asyncio.Future[ChatReply]] = field(default_factory=dict, init=False, repr=False)

    async def ask(
        self, messages: list[dict[str, str]], *, rubric_sha256: str, repeat: int, parse: Callable[[str], Parsed]
    ) -> Verdict | None:
        """Judge once; None when the budget ran out before anything was sent for this judgment."""
        raws: list[str] = []
        requests = 0
        cost: float | None = 0.0
        failure: str | None = None

        def verdict(status: Status, parsed: Parsed | None = None) -> Verdict:
            value, reason = (parsed.value, parsed.reason) if parsed else (None, None)
            cached = requests == 0 and bool(raws)
            return Verdict(status, value, reason, failure, tuple(raws), requests, cached, cost)

        for turn in range(2):
            try:
                fetched = await self._fetch(messages, rubric_sha256, repeat)
            except BudgetExhausted:
                if turn == 0:
                    return None
                failure = f"{failure}; budget exhausted before the reminder"
                return verdict("failed")
            except RequestFailed as exc:
                requests += exc.attempts
                failure = f"{failure}; request failed: {exc}" if failure else f"request failed: {exc}"
                return verdict("failed")
            requests += fetched.requests
            cost = None if cost is None or fetched.cost_usd is None else cost + fetched.cost_usd
            raws.append(fetched.reply.text)
            parsed = parse(fetched.reply.text)
            if parsed.ok:
                return verdict("scored", parsed)
            failure = f"unparseable verdict: {parsed.error}" if failure is None else f"{failure}; again: {parsed.error}"
            messages = [
                *messages,
                {"role": "assistant", "content": fetched.reply.text},
                {"role": "user", "content": REMINDER.format(error=parsed.error)},
            ]
        return verdict("missing")

    async def _fetch(self, messages: list[dict[str, str]], rubric_sha256: str, repeat: int) -> _Fetched:
        key = cache_key(
            self.judge, rubric_sha256, messages, repeat=repeat, temperature=self.temperature, max_tokens=self.max_tokens
        )
        stored = self.cache.get(key)
        if stored is not None:
            self.usage.cache_hits += 1
            return _Fetched(stored, requests=0)
        shared = self._in_flight.get(key)
        if shared is not None:
            reply = await asyncio.shield(shared)
            self.usage.cache_hits += 1
            return _Fetched(reply, requests=0)
        future: asyncio.Future[ChatReply] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            fetched = await self._send(messages)
        except asyncio.CancelledError:
            future.cancel()
            raise
        except Exception as exc:
            future.set_exception(exc)
            future.exception()  # waiters see the error; an unwaited future must not warn
            raise
        else:
            future.set_result(fetched.reply)
            self.cache.put(key, self.judge, fetched.reply)
            return fetched
        finally:
            del self._in_flight[key]

    async def _send(self, messages: list[dict[str, str]]) -> _Fetched:
        prompt_bound = worst_case_prompt_tokens(messages)
        reserved = self.price.cost(prompt_bound, self.max_tokens) if self.price else 0.0
        if not await self.budget.reserve(reserved):
            raise BudgetExhausted
        try:
            reply, attempts = await complete_with_retries(
                self.client,
                messages,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                policy=self.policy,
                slots=self.slots,
            )
        except BaseException as exc:
            if isinstance(exc, RequestFailed):
                self.usage.requests += exc.attempts
            await self.budget.settle(reserved, 0.0)
            raise
        self.usage.requests += attempts
        self.usage.replies_paid += 1
        prompt_tokens, completion_tokens = reply.prompt_tokens, reply.completion_tokens
        if prompt_tokens is None or completion_tokens is None:
            self.usage.usage_estimated += 1
            prompt_tokens, completion_tokens = prompt_bound, self.max_tokens
        self.usage.prompt_tokens += prompt_tokens
        self.usage.completion_tokens += completion_tokens
        cost = self.price.cost(prompt_tokens, completion_tokens) if self.price else None
        if self.usage.cost_usd is not None:
            self.usage.cost_usd = None if cost is None else self.usage.cost_usd + cost
        await self.budget.settle(reserved, cost or 0.0)
        return _Fetched(reply, requests=attempts, cost_usd=cost)
