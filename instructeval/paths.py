"""Where instructeval keeps things outside a run folder: caches and the project's own data folders."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
SHIPPED_FOLDERS = ("tasks", "writing_prompts", "leaderboard")
"""Top-level folders of the repository that a wheel carries inside the package as `instructeval/_<name>`."""
DATA_DIR_ENV = "INSTRUCTEVAL_DATA_DIR"
CACHE_DIR_ENV = "INSTRUCTEVAL_CACHE_DIR"


def shipped_folder(name: str) -> Path:
    """One of SHIPPED_FOLDERS: inside the package in an installed wheel, beside it in a checkout."""
    installed = PACKAGE_DIR / f"_{name}"
    return installed if installed.is_dir() else REPO_ROOT / name


TASKS_DIR = shipped_folder("tasks")
WRITING_PROMPTS_DIR = shipped_folder("writing_prompts")
LEADERBOARD_TEMPLATES_DIR = shipped_folder("leaderboard")


def cache_root() -> Path:
    """The user cache (converted demo model, judge responses): INSTRUCTEVAL_CACHE_DIR or ~/.cache/instructeval."""
    configured = os.environ.get(CACHE_DIR_ENV)
    root = Path(configured).expanduser() if configured else Path.home() / ".cache" / "instructeval"
    root.mkdir(parents=True, exist_ok=True)
    return root
