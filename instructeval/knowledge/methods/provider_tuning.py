"""What fine-tuning through any provider's API shares: the hyperparameters sent, the training file and its
digest, the job state file that lets `--resume` reuse a job, and the shipped training price table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instructeval.errors import InstructEvalError
from instructeval.hashing import sha256_bytes

PRICES_FILE = Path(__file__).resolve().parent.parent / "training_prices.json"


class FineTuneJobFailed(InstructEvalError):
    """The provider ended the job without a model."""


@dataclass(frozen=True)
class ApiSettings:
    """Hyperparameters sent to the provider (None: the provider's default)."""

    epochs: int | None = None
    learning_rate_multiplier: float | None = None
    batch_size: int | None = None
    seed: int = 1234
    suffix: str = "instructeval"


def training_file(rows: list[dict[str, Any]]) -> tuple[bytes, str]:
    """The training rows as the JSONL body a provider takes, and its SHA-256."""
    body = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows).encode()
    return body, sha256_bytes(body)


def load_job_state(path: Path, digest: str) -> dict[str, Any]:
    """The ids a run recorded for this training file (a fresh state when none); refuses another file's state."""
    if not path.is_file():
        return {"training_sha256": digest}
    state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if state.get("training_sha256") != digest:
        raise InstructEvalError(f"{path} belongs to other training data: start a new run instead of --resume")
    return state


def priced_cost(table: str, model: str, trained_tokens: int | None) -> float | None:
    """Approximate training cost in US$ from one table of the shipped prices; None when model or usage is unknown."""
    price = json.loads(PRICES_FILE.read_text(encoding="utf-8"))[table].get(model)
    if price is None or trained_tokens is None:
        return None
    return round(trained_tokens * float(price) / 1e6, 6)
