"""Model pages an earlier build wrote, kept beside the site so that a rebuild renders only the models that changed.

A model's page is a pure function of its runs' results files, the comparison files, the models-meta file, the
build's title and options, and this version's templates. The fingerprint of those keys the page's embedded data
as the earlier build wrote it: a model whose fingerprint is unchanged keeps its page file untouched, and its data
(for `data/leaderboard.json`) is read back from here instead of being computed again.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import orjson

CACHE_FILE = ".instructeval-pages.json"
"""Beside index.html: {page: [fingerprint, embedded JSON]}. Deleting it only makes the next build slower."""


class PageCache:
    """Embedded page data by page path and fingerprint; `save` keeps only what this build used."""

    def __init__(self, out: Path) -> None:
        self.path = out / CACHE_FILE
        self._before: dict[str, tuple[str, str]] = {}
        self._now: dict[str, tuple[str, str]] = {}
        try:
            loaded = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            loaded = {}
        if isinstance(loaded, dict):
            self._before = {
                page: (entry[0], entry[1])
                for page, entry in loaded.items()
                if isinstance(entry, list) and len(entry) == 2 and all(isinstance(x, str) for x in entry)
            }

    def get(self, page: str, fingerprint: str) -> str | None:
        """The page's embedded data when an earlier build wrote it from the same inputs."""
        held = self._before.get(page)
        if held is None or held[0] != fingerprint:
            return None
        self._now[page] = held
        return held[1]

    def put(self, page: str, fingerprint: str, data: str) -> None:
        self._now[page] = (fingerprint, data)

    def save(self) -> None:
        """Write the entries this build used (atomically; unchanged, nothing is written)."""
        if self._now == self._before:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_bytes(orjson.dumps({page: list(entry) for page, entry in self._now.items()}))
        os.replace(tmp, self.path)


def fingerprint(*parts: str) -> str:
    """A short digest of a page's inputs."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
