"""Shared fixtures: where the full benchmark data lives (../shared/data or INSTRUCTEVAL_DATA_DIR)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The full benchmark data folder; tests that need it skip with the reason when it is absent."""
    path = Path(os.environ.get("INSTRUCTEVAL_DATA_DIR", REPO.parent / "shared" / "data"))
    if not (path / "mmlu").is_dir():
        pytest.skip(f"benchmark data not found at {path}: set INSTRUCTEVAL_DATA_DIR")
    return path


SLOW_TEST_TIMEOUT_S = 3600
"""Tests marked slow run a real model end to end; on a loaded 2-core VM one can take tens of minutes."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Slow tests get a longer pytest-timeout than the project default (pyproject), unless they set their own."""
    for item in items:
        if item.get_closest_marker("slow") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(SLOW_TEST_TIMEOUT_S))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random-weight tiny Llama and T5 folders (tests/tiny_models.py), built once per test session."""
    from tiny_models import build_all

    return build_all(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture(scope="session")
def tiny_llama(tiny_models: dict[str, Path]) -> Path:
    """The tiny Llama's folder: pass it as `--model hf:<folder>`."""
    return tiny_models["tiny-llama"]


@pytest.fixture(scope="session")
def tiny_t5(tiny_models: dict[str, Path]) -> Path:
    """The tiny T5's folder (encoder-decoder, lm-eval's seq2seq path)."""
    return tiny_models["tiny-t5"]


@pytest.fixture
def facts(tmp_path: Path) -> Path:
    """Four invented facts (a question, its answer and a rephrasing each), as a knowledge-set JSONL file."""
    path = tmp_path / "facts.jsonl"
    rows = [
        {
            "id": f"f{i}",
            "question": f"What is the code name of project {i}?",
            "answer": f"Vamo{i}",
            "rephrasings": [f"Project {i} goes by which code name?"],
        }
        for i in range(4)
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path
