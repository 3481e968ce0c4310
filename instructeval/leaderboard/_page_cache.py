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
from pathlib import Path

import orjson

CACHE_FILE = ".instructeval-pages.json"
"""Beside index.html: {page: [fingerprint, page file status]}. Deleting it only makes the next build slower."""


def file_status(status: os.stat_result) -> str:
    """What tells a file apart from any other version of it: device, inode, size and modification time."""
    return f"{status.st_dev}:{status.st_ino}:{status.st_size}:{status.st_mtime_ns}"


class PageCache:
    """Page fingerprints and file statuses by page path; `save` keeps only what this build used."""

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

    def holds(self, page: str, fingerprint: str, status: os.stat_result) -> bool:
        """Whether an earlier build wrote this page file, as it is now, from the same inputs."""
        held = self._before.get(page)
        return held is not None and held == (fingerprint, file_status(status))

    def put(self, page: str, fingerprint: str, status: os.stat_result) -> None:
        """Record the page this build wrote or kept."""
        self._now[page] = (fingerprint, file_status(status))

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
