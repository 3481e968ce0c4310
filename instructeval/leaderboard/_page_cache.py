"""Model pages an earlier build wrote, kept beside the site so that a rebuild renders only the models that changed.

A model's page is a pure function of its runs' results files, the comparison files, the models-meta file, the
build's title and options, and this version's templates. The fingerprint of those, with the page file's status as
the build left it (inode, size, modification time), is all the cache holds: a model whose fingerprint is unchanged
and whose page is still the file that build wrote keeps its page untouched, and its data (for
`data/leaderboard.json`) is read back from the page itself. A page changed since (by hand, or cut short by a
killed build) no longer matches its status, and is rendered again.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path

import orjson

CACHE_FILE = ".instructeval-pages.json"
"""Beside index.html: {page: [fingerprint, page file status, [its results files' stamps]]}. Deleting it only
makes the next build slower."""


def file_status(status: os.stat_result) -> str:
    """What tells a file apart from any other version of it: device, inode, size and modification time."""
    return f"{status.st_dev}:{status.st_ino}:{status.st_size}:{status.st_mtime_ns}"


class PageCache:
    """Page fingerprints and file statuses by page path; `save` keeps only what this build used."""

    def __init__(self, out: Path) -> None:
        self.path = out / CACHE_FILE
        self._before: dict[str, Entry] = {}
        self._now: dict[str, Entry] = {}
        try:
            loaded = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            loaded = {}
        if isinstance(loaded, dict):
            self._before = {page: entry for page, raw in loaded.items() if (entry := _entry(raw)) is not None}

    def stamps(self) -> frozenset[str]:
        """The results files (by stamp) behind the pages an earlier build wrote."""
        return frozenset(stamp for entry in self._before.values() for stamp in entry[2])

    def written_as(self, page: str, fingerprint: str) -> str | None:
        """The `file_status` of the page as an earlier build left it, when it wrote it from the same inputs."""
        held = self._before.get(page)
        return held[1] if held is not None and held[0] == fingerprint else None

    def put(self, page: str, fingerprint: str, status: str, stamps: Sequence[str]) -> None:
        """Record the page this build wrote or kept (its `file_status`), and the stamps of the results files it
        shows."""
        self._now[page] = (fingerprint, status, tuple(stamps))

    def save(self) -> None:
        """Write the entries this build used (atomically; unchanged, nothing is written)."""
        if self._now == self._before:
            return
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        tmp.write_bytes(orjson.dumps({page: [*entry[:2], list(entry[2])] for page, entry in self._now.items()}))
        os.replace(tmp, self.path)


Entry = tuple[str, str, tuple[str, ...]]
"""A page's fingerprint, its file status, and its results files' stamps."""


def _entry(raw: object) -> Entry | None:
    if not (isinstance(raw, list) and len(raw) == 3 and isinstance(raw[2], list)):
        return None
    fingerprint, status, stamps = raw
    if isinstance(fingerprint, str) and isinstance(status, str) and all(isinstance(s, str) for s in stamps):
        return (fingerprint, status, tuple(stamps))
    return None


def fingerprint(*parts: str) -> str:
    """A short digest of a page's inputs."""
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:32]
