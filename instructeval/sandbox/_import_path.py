"""Print, as a JSON list, the folders the Python running this script imports from (run it with `-I`).

Its `sys.path` (site-packages and what their .pth files add) and the source folders of editable installs
(PEP 610 `direct_url.json`), which an import hook may reach without a `sys.path` entry. The sandbox
exposes these to the program, so the interpreter's packages work wherever they live, /tmp included.
Standard library only.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from urllib.parse import unquote, urlparse


def editable_sources() -> list[str]:
    """The project folders of the editable installs this interpreter sees."""
    folders = []
    for distribution in metadata.distributions():
        text = distribution.read_text("direct_url.json")
        if not text:
            continue
        direct_url = json.loads(text)
        if direct_url.get("dir_info", {}).get("editable") and direct_url["url"].startswith("file:"):
            folders.append(unquote(urlparse(direct_url["url"]).path))
    return folders


if __name__ == "__main__":
    print(json.dumps([entry for entry in sys.path if entry] + editable_sources()))
