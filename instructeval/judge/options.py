"""What a grading run is asked to do: judges, repeats, limits. One frozen object shared by CLI and API."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from instructeval.errors import InstructEvalError
from instructeval.models.client_settings import ClientSettings
from instructeval.models.spec import ModelSpec, check_key_env_name, parse_model_spec

DEFAULT_RUBRICS = ("relevance", "coherence")


@dataclass(frozen=True)
class JudgeOptions:
    """Settings for grading a run's writing answers with one or more LLM judges.

    `judges` are model specs (openai:<model>, openai-compatible:<url>@<model>, or a local spec once a local
    backend is wired). `timeout_s` bounds each request; `max_retries` bounds the retries after it;
    `budget_usd` caps new spending (None: no cap); `cache_path` None means the user cache; `api_key_env`
    names the variable that holds the judges' key (None: see `models/keys.py`); `batch` asks the judgments
    through OpenAI's Batch API (`judge/batching.py`), polled every `batch_poll_s` seconds at first;
    `calibration` also grades the shipped calibration answers (`judge/calibration.py`).
    """

    judges: tuple[str, ...]
    repeats: int = 1
    concurrency: int = 16
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_base_s: float = 1.0
    temperature: float = 0.0
    max_tokens: int = 256
    budget_usd: float | None = None
    prices_file: Path | None = None
    cache_path: Path | None = None
    use_cache: bool = True
    rubrics: tuple[str, ...] = DEFAULT_RUBRICS
    api_key_env: str | None = None
    batch: bool = False
    batch_poll_s: float = 30.0
    calibration: bool = True

    def __post_init__(self) -> None:
        if not self.judges:
            raise InstructEvalError("no judge given: pass --judge <spec>, e.g. --judge openai:gpt-4o-mini")
        if len(set(self.judges)) != len(self.judges):
            raise InstructEvalError(f"--judge lists a judge twice ({', '.join(self.judges)}): list each once")
        for name, value in (("--judge-repeats", self.repeats), ("--judge-concurrency", self.concurrency)):
            if value < 1:
                raise InstructEvalError(f"{name} must be at least 1, got {value}")
        if self.max_retries < 0 or self.timeout_s <= 0 or self.max_tokens < 1:
            raise InstructEvalError("--judge-retries must be >= 0, --judge-timeout > 0 and --judge-max-tokens >= 1")
        if self.budget_usd is not None and self.budget_usd <= 0:
            raise InstructEvalError(f"--judge-budget-usd must be positive, got {self.budget_usd}")
        if self.api_key_env is not None:
            check_key_env_name(self.api_key_env, "--judge-api-key-env")
        specs = self.judge_specs()
        if self.batch:
            local = [str(spec) for spec in specs if spec.api_base_url is None]
            if local:
                raise InstructEvalError(
                    f"--judge-batch sends requests through OpenAI's Batch API; {', '.join(local)} is not an API "
                    "judge: drop --judge-batch or judge with openai: / openai-compatible:"
                )
            if not self.use_cache:
                raise InstructEvalError(
                    "--judge-batch hands its replies to the judgments through the judge cache: drop --no-judge-cache"
                )
            if self.batch_poll_s <= 0:
                raise InstructEvalError(f"--judge-batch-poll must be positive, got {self.batch_poll_s}")

    def client_settings(self) -> ClientSettings:
        """The --judge-* flags as the API clients' settings."""
        return ClientSettings(self.concurrency, self.max_retries, self.timeout_s, self.backoff_base_s)

    def judge_specs(self) -> list[ModelSpec]:
        """The parsed judge specs (raises UnknownModelSpec with the accepted forms)."""
        return [parse_model_spec(judge) for judge in self.judges]
