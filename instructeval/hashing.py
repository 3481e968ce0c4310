"""The one way we hash: sha256 hex digests of bytes, of files, of folders, and of canonical JSON."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_CHUNK = 1 << 22


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and unescaped text: equal values always give equal strings."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)


def sha256_json(value: Any) -> str:
    """sha256 of a value's canonical JSON (settings, probes, judge requests)."""
    return sha256_text(canonical_json(value))


def sha256_text(text: str) -> str:
    """sha256 of a string's UTF-8 bytes."""
    return sha256_bytes(text.encode())


def sha256_bytes(data: bytes) -> str:
    """sha256 of raw bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """sha256 of a file's bytes, read in chunks (weights files are gigabytes)."""
    digest = hashlib.sha256()
    _update_with_file(digest, path)
    return digest.hexdigest()


def sha256_tree(folder: Path, files: Iterable[Path]) -> str:
    """sha256 over files of a folder: each one's relative path then its bytes, in path order."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.relative_to(folder).as_posix().encode())
        _update_with_file(digest, path)
    return digest.hexdigest()


def _update_with_file(digest: Any, path: Path) -> None:
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
