"""`--judge-batch`: the judgments a run still needs, asked through OpenAI's Batch API before the usual loop.

Each judge's first requests that the cache cannot answer go out as one batch; its id is saved in
`samples/<task>_judge_batches.json` the moment it exists, so a resumed run waits on that batch and never pays
for the same requests twice. Replies land in the judge cache at the batch price; the usual loop then reads them
from there (journalled as cached) and sends directly only the reminder after an unreadable verdict. A batch
that ends without completing stops the run in one line, keeping the replies it did return.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from instructeval.errors import InstructEvalError
from instructeval.judge.cache import cache_key
from instructeval.judge.pricing import worst_case_prompt_tokens
from instructeval.judge.session import JudgeSession
from instructeval.models.chat_batches import BATCH_DISCOUNT, BatchRequest, BatchResult, ChatBatches
from instructeval.models.spec import parse_model_spec
from instructeval.run import write_json_atomic

STATE_SUFFIX = "_judge_batches.json"


@dataclass
class SentBatch:
    """A batch this run folder created: for which judge, which requests (cache keys), how it ended so far."""

    judge: str
    batch_id: str
    keys: list[str]
    status: str = "submitted"


def state_path(journal: Path) -> Path:
    """The batch record beside a task's judgment journal (samples/<task>_judgments.jsonl)."""
    return journal.with_name(journal.name.removesuffix("_judgments.jsonl") + STATE_SUFFIX)


def load_batches(path: Path) -> list[SentBatch]:
    if not path.is_file():
        return []
    try:
        return [SentBatch(**entry) for entry in json.loads(path.read_text(encoding="utf-8"))]
    except (ValueError, TypeError) as exc:
        raise InstructEvalError(f"{path} is not a batch record ({exc}); was it edited by hand?") from exc


def save_batches(path: Path, batches: list[SentBatch]) -> None:
    write_json_atomic(path, [asdict(batch) for batch in batches])


async def prefetch_in_batches(
    requests_by_judge: dict[str, dict[str, BatchRequest]],
    sessions: dict[str, JudgeSession],
    record: Path,
    *,
    poll_s: float,
    key_env: str | None,
) -> None:
    """Fill the judge cache with each judge's batch replies: first from batches sent before, then one new batch."""
    sent = load_batches(record)
    for judge, wanted in requests_by_judge.items():
        session = sessions[judge]
        batches = ChatBatches(parse_model_spec(judge), role="judge", key_env=key_env, poll_s=poll_s)
        for earlier in [b for b in sent if b.judge == judge and b.status == "submitted"]:
            _store(await asyncio.to_thread(batches.wait, earlier.batch_id), session)
            earlier.status = "read"
            save_batches(record, sent)
            for key in earlier.keys:
                wanted.pop(key, None)
        wanted = {key: request for key, request in wanted.items() if session.cache.get(key) is None}
        chosen = _affordable(list(wanted.values()), session)
        if not chosen:
            continue
        batch = SentBatch(judge, await asyncio.to_thread(batches.submit, chosen), [r.custom_id for r in chosen])
        sent.append(batch)
        save_batches(record, sent)
        result = await asyncio.to_thread(batches.wait, batch.batch_id)
        _store(result, session)
        batch.status = result.status
        save_batches(record, sent)
        if result.status != "completed":
            reason = result.failures.get("*", result.status)
            raise InstructEvalError(
                f"judge batch {batch.batch_id} at {judge} ended {result.status}: {reason}; rerun the same command "
                "to send what it did not answer in a new batch (its replies are kept)"
            )


def batch_request(
    judge: str, rubric_sha256: str, messages: list[dict[str, str]], *, repeat: int, temperature: float, max_tokens: int
) -> tuple[str, BatchRequest]:
    """A judgment's first request as a batch line, under the cache key the session looks it up by."""
    key = cache_key(judge, rubric_sha256, messages, repeat=repeat, temperature=temperature, max_tokens=max_tokens)
    return key, BatchRequest(key, messages, max_tokens, temperature)


def _affordable(requests: list[BatchRequest], session: JudgeSession) -> list[BatchRequest]:
    """The requests whose worst-case batch cost fits what the budget has left, in order."""
    left = session.budget.left_usd()
    if left is None or session.price is None:
        return requests
    chosen = []
    for request in requests:
        worst = session.price.cost(worst_case_prompt_tokens(request.messages), request.max_tokens) * BATCH_DISCOUNT
        if worst > left:
            break
        left -= worst
        chosen.append(request)
    return chosen


def _store(result: BatchResult, session: JudgeSession) -> None:
    """Each reply into the cache, counted as paid at the batch price (unknown when the reply has no usage)."""
    usage = session.usage
    for key, reply in result.replies.items():
        session.cache.put(key, session.judge, reply)
        usage.requests += 1
        usage.replies_paid += 1
        if reply.prompt_tokens is None or reply.completion_tokens is None:
            usage.usage_estimated += 1
            usage.cost_usd = None
            continue
        usage.prompt_tokens += reply.prompt_tokens
        usage.completion_tokens += reply.completion_tokens
        if session.price is None:
            usage.cost_usd = None
            continue
        cost = session.price.cost(reply.prompt_tokens, reply.completion_tokens) * BATCH_DISCOUNT
        usage.cost_usd = None if usage.cost_usd is None else usage.cost_usd + cost
        session.budget.charge(cost)
