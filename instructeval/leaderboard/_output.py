"""The site's folder: refuse one that holds something else; rewrite an earlier build's files in place.

A model page is overwritten in place without truncating it first: on ext4 a file truncated to zero and written
again is flushed to disk when it is closed (the `auto_da_alloc` safeguard for replace-by-truncate), which costs a
build of thousands of pages far more than overwriting them. A page cut short by a killed build is harmless: the
page cache no longer vouches for it (`_page_cache.py`), so the next build writes it again. Every other file
(index.html, the downloads, the diff pages) is replaced atomically, so a killed build never leaves the index or
the data cut short. Only after writing does a build remove what an earlier build wrote and this one did not.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from contextlib import suppress
from pathlib import Path
from types import TracebackType

from instructeval import __version__
from instructeval.errors import InstructEvalError
from instructeval.forked import Forked

MARKER = ".instructeval-leaderboard"
FOLDERS = ("models", "diffs", "data", "assets")
"""Everything a build writes lives in these folders, beside index.html and the marker."""


def encoded(text: str) -> bytes:
    """Text as the site stores it: UTF-8, a lone surrogate (from a hostile file name) as '?'."""
    return text.encode("utf-8", errors="replace")


class SiteFolder:
    """An output folder being (re)built; `finish` removes what this build did not write."""

    def __init__(self, out: Path) -> None:
        if out.exists() and not out.is_dir():
            raise InstructEvalError(f"--out {out} is a file: pass a folder for the site")
        if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
            raise InstructEvalError(f"--out {out} is not empty and holds no earlier leaderboard: pass a new folder")
        out.mkdir(parents=True, exist_ok=True)
        self.root = out
        self._written: set[str] = set()
        """The paths (as text) of the files this build wrote or kept."""
        self.write(MARKER, [encoded(f"built by instructeval {__version__}; rebuild instead of editing\n")])
        for name in FOLDERS:
            folder = out / name
            if folder.exists() and not folder.is_dir():
                folder.unlink()
            folder.mkdir(exist_ok=True)

    def write(self, relative: str, chunks: Iterable[bytes]) -> Path:
        """Write (or replace) one file of the site atomically, from its bytes in order."""
        path = self.root / relative
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            with tmp.open("wb") as handle:
                handle.writelines(chunks)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, path)
        self._written.add(os.fspath(path))
        return path

    def overwrite(self, relative: str, chunks: Iterable[bytes]) -> os.stat_result:
        """Write one model page in place (see the module's docstring); its status after writing."""
        path = self.root / relative
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o666), "wb") as handle:
            handle.writelines(chunks)
            handle.truncate()
            handle.flush()
            status = os.fstat(handle.fileno())
        self._written.add(os.fspath(path))
        return status

    def read(self, relative: str) -> tuple[bytes, os.stat_result] | None:
        """A file an earlier build wrote and its status (None when it is not there)."""
        try:
            with (self.root / relative).open("rb") as handle:
                return handle.read(), os.fstat(handle.fileno())
        except OSError:
            return None

    def keep(self, relative: str) -> None:
        """Keep a file an earlier build wrote, as it is (this build would write the same bytes)."""
        self._written.add(os.fspath(self.root / relative))

    def copy_tree(self, source: Path, relative: str) -> None:
        """Copy a folder of static files (the assets) into the site."""
        target = self.root / relative
        for file in sorted(source.rglob("*")):
            destination = target / file.relative_to(source)
            if file.is_dir():
                destination.mkdir(exist_ok=True)
            else:
                shutil.copyfile(file, destination)
                self._written.add(os.fspath(destination))

    def finish(self) -> None:
        """Remove the files (and emptied folders) an earlier build left that this build did not write."""
        for name in FOLDERS:
            for top, folders, files in os.walk(self.root / name, topdown=False):
                for entry in files:
                    if (path := os.path.join(top, entry)) not in self._written:
                        os.unlink(path)
                for entry in folders:
                    path = os.path.join(top, entry)
                    if os.path.islink(path):
                        if path not in self._written:
                            os.unlink(path)
                    elif not os.listdir(path):
                        os.rmdir(path)


class ReservedFiles:
    """Empty files that a forked process makes in a folder while the build reads its results, for pages whose
    names are not known yet: on some filesystems making a file costs far more than writing it (on an ext4 without a
    journal, as on the machines we benchmark on, the kernel scans past every recently deleted inode for each new
    one: up to 4 s of CPU for 5,000 model pages, against 0.13 s on an ext4 with a journal). A page written where
    no file is yet takes one by renaming it, which costs next to nothing. Those not taken are removed by the
    build's `finish`, as anything else it did not write (by the next build's, when this one is killed), or on
    leaving the block with an error."""

    def __init__(self, folder: Path, count: int, *, fork: bool) -> None:
        self._paths = [folder / f".reserved-{i}" for i in range(count if fork else 0)]
        self._making: Forked[None] | None = Forked(_make_empty, self._paths) if self._paths else None

    def __enter__(self) -> ReservedFiles:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._making is not None:
            self._making.__exit__(kind, error, trace)
        if error is not None:
            for path in self._paths:
                path.unlink(missing_ok=True)

    def wait(self) -> None:
        """Wait until every reserved file is made (before taking any)."""
        if self._making is not None:
            self._making.result()
            self._making = None

    def take(self, index: int, path: Path) -> None:
        """Move reserved file `index` to `path` when no file is there yet (none reserved: the write makes one)."""
        if index < len(self._paths) and not os.path.lexists(path):
            with suppress(FileNotFoundError):  # the reserve could not make it
                os.rename(self._paths[index], path)


def _make_empty(paths: list[Path]) -> None:
    for path in paths:
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o666))
        except OSError:  # a full disk: the writes that need the file will say so
            return
