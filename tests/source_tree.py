"""The project built or installed away from the checkout: a copy of its source tree, a venv to install into."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import venv
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_OUTPUTS = {"build", "dist", "runs", "site", "test-artifacts"}  # what a checkout may hold besides its source


def copy_source(target: Path) -> Path:
    """The source tree at `target`, without hidden folders (.git, .venv, caches), outputs and egg-info."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        top = Path(directory) == REPO
        return {n for n in names if n.endswith(".egg-info") or (top and (n.startswith(".") or n in _OUTPUTS))}

    shutil.copytree(REPO, target, ignore=ignore)
    return target


def venv_with_project_dependencies(target: Path) -> Path:
    """A new venv at `target` without instructeval, that imports its dependencies from the running venv.

    The running interpreter's import folders (`python -I`: no cwd, no PYTHONPATH) come in as plain sys.path
    entries, so the .pth files there (an editable install of the checkout) stay inactive; the checkout itself
    is left out. Returns the new venv's site-packages.
    """
    venv.EnvBuilder(with_pip=False).create(target)
    dependencies = json.loads(subprocess.check_output([sys.executable, "-I", "-c", _SYS_PATH], text=True))
    site_packages = Path(subprocess.check_output([target / "bin" / "python", "-c", _PURELIB], text=True).strip())
    folders = [entry for entry in dependencies if Path(entry).is_dir() and Path(entry).resolve() != REPO]
    (site_packages / "project-dependencies.pth").write_text("".join(f"{folder}\n" for folder in folders))
    return site_packages


_SYS_PATH = "import json, sys; print(json.dumps(sys.path))"
_PURELIB = "import sysconfig; print(sysconfig.get_path('purelib'))"
