"""The project built or installed away from the checkout: a copy of its source tree, a venv to install into."""

from __future__ import annotations

import shutil
import subprocess
import sysconfig
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

    They come in as a plain sys.path entry, so the .pth files there (an editable install of the checkout)
    stay inactive. Returns the new venv's site-packages.
    """
    venv.EnvBuilder(with_pip=False).create(target)
    probe = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site_packages = Path(subprocess.check_output([target / "bin" / "python", "-c", probe], text=True).strip())
    (site_packages / "project-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    return site_packages
