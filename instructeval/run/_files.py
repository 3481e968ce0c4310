"""The one atomic writer: a reader, or a kill -9, sees the old file or the new one, never half of either."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any


def write_atomic(path: Path, write: Callable[[IO[str]], object]) -> None:
    """Write through `write` into a temporary file beside `path`, fsync it, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


TEMPORARY = ".*.tmp"
"""What `write_atomic` names its temporary files (`.<name>.<random>.tmp`); a kill -9 mid-write leaves one."""


def remove_stale_temporaries(folder: Path) -> None:
    """Delete the temporary files a killed writer left under `folder` (call it holding the folder's lock)."""
    for stale in folder.rglob(TEMPORARY):
        if stale.is_file():
            stale.unlink(missing_ok=True)


def write_text_atomic(path: Path, text: str) -> None:
    """Replace a text file atomically."""
    write_atomic(path, lambda handle: handle.write(text))


def write_json_atomic(path: Path, payload: Any) -> None:
    """Replace a JSON file atomically (indented, UTF-8 unescaped)."""
    write_atomic(path, lambda handle: json.dump(payload, handle, indent=2, ensure_ascii=False, default=str))


def write_jsonl_atomic(path: Path, rows: Iterable[Any]) -> None:
    """Replace a JSONL file atomically, one JSON value per line."""

    def write(handle: IO[str]) -> None:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")

    write_atomic(path, write)
