"""What a results.json records about how its run was made: package versions, device, the run's settings hash."""

from __future__ import annotations

import platform
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from typing import Any

from instructeval import __version__
from instructeval.hashing import sha256_json
from instructeval.results import RunInfo

TRACKED_PACKAGES = ("instructeval", "lm_eval", "torch", "transformers", "datasets", "peft", "vllm", "openai")


def now() -> str:
    """UTC time as results.json writes it."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def config_hash(settings: dict[str, Any]) -> str:
    """A stable hash of everything that changes a run's answers (model, tasks, data, limits, decoding)."""
    return sha256_json(settings)[:16]


def package_versions() -> dict[str, str]:
    """Versions of the packages that shape the numbers, plus Python and the platform."""
    versions = {"python": platform.python_version(), "platform": platform.platform()}
    for name in TRACKED_PACKAGES:
        try:
            versions[name] = importlib_metadata.version(name.replace("_", "-"))
        except importlib_metadata.PackageNotFoundError:
            continue
    return versions


def default_device() -> str:
    """cuda when torch sees a GPU, else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run_info(
    command: list[str],
    seed: int,
    settings: dict[str, Any],
    *,
    device: str | None,
    limit: int | None = None,
    batch_size: str = "auto",
) -> RunInfo:
    """The `run` section of a fresh results.json (status running)."""
    return RunInfo(
        status="running",
        started_at=now(),
        command=command,
        seed=seed,
        limit=limit,
        batch_size=batch_size,
        config_hash=config_hash(settings),
        instructeval_version=__version__,
        packages=package_versions(),
        device=device or default_device(),
    )
