"""The site's folder: refuse one that holds something else; rewrite an earlier build's files in place.

Rewriting a file in place costs far less than deleting the old site and creating every file anew (on the
development VM, 500 model pages of 30 KB: 0.6-2.0 s against 1.9-15 s), so a build overwrites what it writes
again and only then removes what an earlier build wrote and this one did not (a model no longer shown).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from instructeval import __version__
from instructeval.errors import InstructEvalError

MARKER = ".instructeval-leaderboard"
FOLDERS = ("models", "diffs", "data", "assets")
"""Everything a build writes lives in these folders, beside index.html and the marker."""


class SiteFolder:
    """An output folder being (re)built; `finish` removes what this build did not write."""

    def __init__(self, out: Path) -> None:
        if out.exists() and not out.is_dir():
            raise InstructEvalError(f"--out {out} is a file: pass a folder for the site")
        if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
            raise InstructEvalError(f"--out {out} is not empty and holds no earlier leaderboard: pass a new folder")
        out.mkdir(parents=True, exist_ok=True)
        self.root = out
        self._written: set[Path] = set()
        self.write(MARKER, f"built by instructeval {__version__}; rebuild instead of editing\n")
        for name in FOLDERS:
            folder = out / name
            if folder.exists() and not folder.is_dir():
                folder.unlink()
            folder.mkdir(exist_ok=True)

    def write(self, relative: str, text: str) -> Path:
        """Write (or overwrite) one file of the site."""
        path = self.root / relative
        path.write_text(text, encoding="utf-8", errors="replace")
        self._written.add(path)
        return path

    def keep(self, relative: str) -> None:
        """Keep a file an earlier build wrote, as it is (this build would write the same bytes)."""
        self._written.add(self.root / relative)

    def copy_tree(self, source: Path, relative: str) -> None:
        """Copy a folder of static files (the assets) into the site."""
        target = self.root / relative
        for file in sorted(source.rglob("*")):
            destination = target / file.relative_to(source)
            if file.is_dir():
                destination.mkdir(exist_ok=True)
            else:
                shutil.copyfile(file, destination)
                self._written.add(destination)

    def finish(self) -> None:
        """Remove the files (and emptied folders) an earlier build left that this build did not write."""
        for name in FOLDERS:
            for path in sorted((self.root / name).rglob("*"), reverse=True):
                if path.is_dir() and not path.is_symlink():
                    if not any(path.iterdir()):
                        path.rmdir()
                elif path not in self._written:
                    path.unlink()
