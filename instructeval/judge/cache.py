"""The judge-response cache: a paid reply is stored once and never paid for again.

Keyed on the judge spec, the rubric hash, the exact messages sent (which carry the prompt and answer the
rubric shows), the sampling settings and the repeat index. Failed requests are not stored: they cost nothing
and must be retried on the next run.
"""

from __future__ import annotations

import time
from pathlib import Path

from instructeval.hashing import sha256_json
from instructeval.models.chat_client import ChatReply
from instructeval.paths import cache_root
from instructeval.sqlite_store import open_store

CACHE_FILE = "judge.sqlite"


def default_cache_path() -> Path:
    """`judge.sqlite` in the user cache (INSTRUCTEVAL_CACHE_DIR or ~/.cache/instructeval)."""
    return cache_root() / CACHE_FILE


def cache_key(
    judge: str,
    rubric_sha256: str,
    messages: list[dict[str, str]],
    *,
    repeat: int,
    temperature: float,
    max_tokens: int,
) -> str:
    """A stable hash of everything that determines a judge's reply."""
    material = [judge, rubric_sha256, messages, repeat, temperature, max_tokens]
    return sha256_json(material)


class JudgeCache:
    """A small sqlite key-value store of replies; safe to share between runs and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = open_store(
            path,
            "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, judge TEXT, text TEXT,"
            " prompt_tokens INTEGER, completion_tokens INTEGER, created REAL)",
        )

    def get(self, key: str) -> ChatReply | None:
        row = self._db.execute(
            "SELECT text, prompt_tokens, completion_tokens FROM replies WHERE key = ?", (key,)
        ).fetchone()
        return ChatReply(text=row[0], prompt_tokens=row[1], completion_tokens=row[2]) if row else None

    def put(self, key: str, judge: str, reply: ChatReply) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO replies VALUES (?, ?, ?, ?, ?, ?)",
            (key, judge, reply.text, reply.prompt_tokens, reply.completion_tokens, time.time()),
        )

    def close(self) -> None:
        self._db.close()


class NoCache:
    """Stand-in when caching is switched off."""

    def get(self, key: str) -> ChatReply | None:
        return None

    def put(self, key: str, judge: str, reply: ChatReply) -> None:
        return None

    def close(self) -> None:
        return None
