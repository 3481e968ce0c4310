"""A task folder's `hooks.py`, imported by path: the functions a task adds to the engine (prompt settings,
extra scores) beyond what its YAML hands to lm-eval."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType


@cache
def task_hooks(folder: Path) -> ModuleType | None:
    """The folder's hooks module, or None when it has none."""
    path = folder / "hooks.py"
    if not path.is_file():
        return None
    spec = importlib.util.spec_from_file_location(f"instructeval_task_hooks_{folder.name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
