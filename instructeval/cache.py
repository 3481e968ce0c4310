"""Request-level cache that makes a killed run resumable: every model answer is committed as it is computed.

lm-eval's own CachingLM skips sampled generations (so self-consistency and pass@k would be recomputed) and
commits once per call. Here each answer is stored under the hash of its request plus its occurrence number,
so the K samples of a repeated request are K entries, and a resumed run recomputes nothing that finished.
lm-eval repeats a sampled request K times with one `seed`; the k-th repeat is sent with a seed of its own
(derived from that seed and k), so every backend draws K different samples, the same ones on every rerun.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import threading
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from lm_eval.api.instance import Instance
from lm_eval.api.model import LM, hash_args

from instructeval.seeds import derive_seed
from instructeval.sqlite_store import open_store

CACHED_METHODS = ("loglikelihood", "loglikelihood_rolling", "generate_until")


class RequestCache:
    """An append-only sqlite store of model answers: (method, request hash) -> answers in order."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._db = open_store(
            path,
            "CREATE TABLE IF NOT EXISTS answers (method TEXT, key TEXT, seq INTEGER, value TEXT, "
            "PRIMARY KEY (method, key, seq))",
            any_thread=True,
        )

    def get(self, method: str, key: str) -> list[Any]:
        """All stored answers for one request, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT value FROM answers WHERE method = ? AND key = ? ORDER BY seq", (method, key)
            ).fetchall()
        return [_decode(method, row[0]) for row in rows]

    def count(self, method: str, key: str) -> int:
        """How many answers are stored for one request."""
        with self._lock:
            row = self._db.execute(
                "SELECT COUNT(*) FROM answers WHERE method = ? AND key = ?", (method, key)
            ).fetchone()
        return int(row[0])

    def append(self, method: str, key: str, value: Any) -> None:
        """Store one more answer for a request (committed at once)."""
        with self._lock:
            seq = self._db.execute(
                "SELECT COUNT(*) FROM answers WHERE method = ? AND key = ?", (method, key)
            ).fetchone()[0]
            self._db.execute("INSERT INTO answers VALUES (?, ?, ?, ?)", (method, key, seq, json.dumps(value)))

    def close(self) -> None:
        """Close the database."""
        self._db.close()


def _decode(method: str, text: str) -> Any:
    value = json.loads(text)
    return tuple(value) if method == "loglikelihood" else value


class AnswerObserver(Protocol):
    """Told how many requests a task asks of the model and how many answers have come back (a progress bar)."""

    def asked(self, count: int) -> None: ...

    def answered(self, count: int) -> None: ...


class _Hook:
    """Receives each answer from the backend as soon as it is computed (lm-eval's cache-hook protocol)."""

    def __init__(self, cache: RequestCache, observer: AnswerObserver | None) -> None:
        self._cache = cache
        self._observer = observer
        self.received = 0

    def add_partial(self, method: str, args: Any, result: Any) -> None:
        if method in CACHED_METHODS:
            self._cache.append(method, hash_args(method, args), result)
            self.received += 1
            if self._observer is not None:
                self._observer.answered(1)


class ResumableLM:
    """Wraps an lm-eval LM so that answers already in the cache are reused and new ones are stored at once."""

    def __init__(self, lm: LM, cache: RequestCache, observer: AnswerObserver | None = None) -> None:
        self.lm = lm
        self.cache = cache
        self.observer = observer
        self.stats: Counter[str] = Counter()
        self._hook = _Hook(cache, observer)
        lm.set_cache_hook(self._hook)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.lm, name)

    def loglikelihood(self, requests: list[Instance]) -> list[Any]:
        """Log-likelihood requests, cached."""
        return self._answer("loglikelihood", requests)

    def loglikelihood_rolling(self, requests: list[Instance]) -> list[Any]:
        """Rolling log-likelihood requests, cached."""
        return self._answer("loglikelihood_rolling", requests)

    def generate_until(self, requests: list[Instance]) -> list[Any]:
        """Generation requests (greedy or sampled), cached per occurrence; each sampled repeat has its own seed."""
        return self._answer("generate_until", seed_repeats(requests))

    def _answer(self, method: str, requests: list[Instance]) -> list[Any]:
        keys = [hash_args(method, request.args) for request in requests]
        stored = {key: self.cache.get(method, key) for key in set(keys)}
        occurrence: Counter[str] = Counter()
        answers: list[Any] = [None] * len(requests)
        pending: list[int] = []
        for index, key in enumerate(keys):
            seen = occurrence[key]
            occurrence[key] += 1
            if seen < len(stored[key]):
                answers[index] = stored[key][seen]
            else:
                pending.append(index)
        self.stats["cached"] += len(requests) - len(pending)
        self.stats["computed"] += len(pending)
        if self.observer is not None:
            self.observer.asked(len(requests))
            self.observer.answered(len(requests) - len(pending))
        if pending:
            hooked = self._hook.received
            fresh = self._call(method)([requests[i] for i in pending])
            for index, answer in zip(pending, fresh, strict=True):
                answers[index] = answer
            self._store_missing(method, keys, answers)
            if self.observer is not None:  # answers of backends that do not call the hook arrive all at once
                self.observer.answered(max(0, len(pending) - (self._hook.received - hooked)))
        return answers

    def _call(self, method: str) -> Callable[[list[Instance]], list[Any]]:
        """The backend's method; with an observer drawing the progress, without the backend's own tqdm bar."""
        call = getattr(self.lm, method)
        if self.observer is not None and "disable_tqdm" in inspect.signature(call).parameters:
            return functools.partial(call, disable_tqdm=True)
        return call  # type: ignore[no-any-return]

    def _store_missing(self, method: str, keys: list[str], answers: list[Any]) -> None:
        """Backends that do not call the hook still get their answers stored, once."""
        needed = Counter(keys)
        for key, count in needed.items():
            have = self.cache.count(method, key)
            extra = [answer for k, answer in zip(keys, answers, strict=True) if k == key][have:count]
            for answer in extra:
                self.cache.append(method, key, list(answer) if isinstance(answer, tuple) else answer)


def seed_repeats(requests: list[Instance]) -> list[Instance]:
    """Sampled generation requests with the k-th repeat of identical arguments carrying `derive_seed(seed, k)`."""
    occurrence: Counter[str] = Counter()
    seeded = []
    for request in requests:
        context, gen_kwargs = request.args
        if not (gen_kwargs.get("do_sample") and "seed" in gen_kwargs):
            seeded.append(request)
            continue
        key = hash_args("generate_until", request.args)
        repeat_kwargs = {**gen_kwargs, "seed": derive_seed(int(gen_kwargs["seed"]), occurrence[key])}
        occurrence[key] += 1
        seeded.append(dataclasses.replace(request, arguments=(context, repeat_kwargs)))
    return seeded
