"""The shipped demo subset leaves every split `--suite demo` needs non-empty once a task takes its shots."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from instructeval.registry import DEMO_LIMIT

REPO = Path(__file__).resolve().parents[1]


def test_demo_drop_keeps_test_rows_after_its_exemplars() -> None:
    spec = importlib.util.spec_from_file_location("drop_hooks", REPO / "tasks" / "drop" / "hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    splits = hooks.load(data_source="embedded")
    assert len(splits["exemplars"]) == hooks.N_EXEMPLARS
    assert len(splits["test"]) >= DEMO_LIMIT
    assert not {r["passage"] for r in splits["test"]} & {e["passage"] for e in splits["exemplars"]}
