"""A page template of leaderboard/*.html, split around its embedded data (`$data`); its `$head` line stands for
leaderboard/head.html, the head every page shares (character set, Content-Security-Policy, style, data, scripts).

A page is written as the template's head, the data and its tail, each encoded once: the data of a large page
(the index, 8 MB at 5,000 models) is never copied into one string, and a model page's data can be read back from
the page an earlier build wrote by cutting off the same head and tail.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path
from string import Template

from instructeval import __version__
from instructeval.leaderboard._output import encoded

HEAD_FILE = "head.html"
HEAD = "$head\n"
DATA = re.compile(r"(?<!\$)\$data(?![A-Za-z0-9_])")
"""The one place in a template where the page's data goes."""


class PageTemplate:
    """A template file, as the text before and after its data."""

    def __init__(self, path: Path) -> None:
        shared_head = (path.parent / HEAD_FILE).read_text(encoding="utf-8")
        self.source = path.read_text(encoding="utf-8").replace(HEAD, shared_head, 1)
        parts = DATA.split(self.source)
        if len(parts) != 2:
            raise ValueError(f"{path} must hold $data exactly once")
        self._before, self._after = Template(parts[0]), Template(parts[1])

    def around(self, title: str, root: str) -> tuple[bytes, bytes]:
        """The page's bytes before and after its data, for a page titled `title` at `root` from the site's root."""
        names = {"title": html.escape(title), "root": root, "generator": f"instructeval {__version__}"}
        return encoded(self._before.substitute(names)), encoded(self._after.substitute(names))

    def page(self, title: str, root: str, data: Iterable[bytes]) -> list[bytes]:
        """A whole page, as the chunks to write in order."""
        before, after = self.around(title, root)
        return [before, *data, after]
