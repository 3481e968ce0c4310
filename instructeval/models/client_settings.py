"""How API clients behave (requests in flight, retries, timeout): one type for the judge, knowledge and `run`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from instructeval.models.retry import RetryPolicy


@dataclass(frozen=True)
class ClientSettings:
    """The defaults suit an evaluated model's long generations; the judge sets its own from --judge-* flags."""

    concurrency: int = 8
    max_retries: int = 5
    timeout_s: float = 300.0
    backoff_base_s: float = 1.0

    def retry_policy(self) -> RetryPolicy:
        """The policy our own retry loop (`retry.py`) follows."""
        return RetryPolicy(max_retries=self.max_retries, base_delay_s=self.backoff_base_s, timeout_s=self.timeout_s)

    def lm_eval_kwargs(self) -> dict[str, Any]:
        """The same settings for lm-eval's API models, which run their own retry loop."""
        return {"num_concurrent": self.concurrency, "max_retries": self.max_retries, "timeout": int(self.timeout_s)}
