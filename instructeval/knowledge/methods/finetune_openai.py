"""Fine-tuning through a provider's API (OpenAI's files + fine_tuning.jobs endpoints, or a compatible server).

Upload the training JSONL, create the job, poll with exponential backoff until it ends. Each step's id is
written to a state file in the run folder the moment it exists, so a run interrupted while polling resumes
on the same job (`--resume`) instead of paying for a second one. The client's own retries are off: polling
is the only loop that waits. The API key comes from the environment and is never written anywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai

from instructeval.errors import InstructEvalError
from instructeval.knowledge.methods.polling import DEFAULT_POLL, PollPolicy, TransientPollError, wait_for_job
from instructeval.knowledge.methods.provider_tuning import (
    PRICES_FILE,
    ApiSettings,
    FineTuneJobFailed,
    load_job_state,
    priced_cost,
    training_file,
)
from instructeval.models.openai_sdk import openai_sdk_client
from instructeval.models.spec import ModelSpec
from instructeval.run import write_json_atomic

TERMINAL_FAILURES = frozenset({"failed", "cancelled"})
FINISHED = TERMINAL_FAILURES | {"succeeded"}


def finetune_via_api(
    spec: ModelSpec,
    rows: list[dict[str, Any]],
    settings: ApiSettings,
    state_path: Path,
    *,
    poll: PollPolicy = DEFAULT_POLL,
    checkpoints: bool = False,
    progress: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Run (or resume) a fine-tuning job on `rows`; return the training record with the tuned model id
    (and, with `checkpoints`, the per-epoch checkpoints the provider kept)."""
    body, digest = training_file(rows)
    state = load_job_state(state_path, digest)
    client = openai_sdk_client(spec)
    try:
        if "file_id" not in state:
            uploaded = _call(lambda: client.files.create(file=("training.jsonl", body), purpose="fine-tune"))
            state["file_id"] = uploaded.id
            _save_state(state_path, state)
            progress(f"  uploaded {len(rows)} examples as {uploaded.id}")
        if "job_id" not in state:
            job = _call(
                lambda: client.fine_tuning.jobs.create(
                    model=spec.name,
                    training_file=state["file_id"],
                    method=_method(settings),
                    seed=settings.seed,
                    suffix=settings.suffix,
                )
            )
            state["job_id"] = job.id
            _save_state(state_path, state)
            progress(f"  created fine-tuning job {job.id}")
        else:
            progress(f"  resuming fine-tuning job {state['job_id']}")
        job = _wait(client, state["job_id"], poll, progress, sleep)
        state.update(status=job.status, fine_tuned_model=job.fine_tuned_model, trained_tokens=job.trained_tokens)
        _save_state(state_path, state)
        if job.status in TERMINAL_FAILURES or not job.fine_tuned_model:
            error = getattr(job, "error", None)
            reason = getattr(error, "message", None) or "no reason given"
            raise FineTuneJobFailed(
                f"fine-tuning job {job.id} {job.status}: {reason}; fix the cause and start a new run"
            )
        kept = _checkpoints(client, job) if checkpoints else []
    finally:
        client.close()
    return {
        "checkpoints": kept,
        "backend": "api",
        "base_url": spec.api_base_url,
        "base_model": spec.name,
        "file_id": state["file_id"],
        "job_id": job.id,
        "fine_tuned_model": job.fine_tuned_model,
        "trained_tokens": job.trained_tokens,
        "cost_usd": training_cost(spec.name, job.trained_tokens),
        "cost_source": f"trained_tokens x {PRICES_FILE.name} (approximate)",
        "hyperparameters": _hyperparameters(job),
        "examples": len(rows),
        "training_sha256": digest,
    }


def training_cost(model: str, trained_tokens: int | None) -> float | None:
    """Approximate training cost in US$ of a model (or a model tuned from it); None when unknown."""
    return priced_cost("training_per_mtok", model.split(":")[1] if model.startswith("ft:") else model, trained_tokens)


def _checkpoints(client: openai.OpenAI, job: Any) -> list[dict[str, Any]]:
    """The per-epoch checkpoints the provider kept (OpenAI keeps those of the last 3 epochs), by epoch.

    A checkpoint is made at the end of every epoch and only the latest ones are kept, so the last checkpoint
    is the final epoch and each earlier one is an epoch before it; the final epoch answers as the tuned model."""
    listed = _call(lambda: client.fine_tuning.jobs.checkpoints.list(job.id, limit=100))
    ordered = sorted(listed.data, key=lambda c: c.step_number)
    n_epochs = _hyperparameters(job).get("n_epochs")
    epochs = n_epochs if isinstance(n_epochs, int) else len(ordered)
    kept = [
        {"epoch": epochs - len(ordered) + 1 + i, "step": c.step_number, "model": c.fine_tuned_model_checkpoint}
        for i, c in enumerate(ordered)
    ]
    if kept:
        kept[-1]["model"] = job.fine_tuned_model
    return kept


def _method(settings: ApiSettings) -> Any:
    hyper: dict[str, Any] = {}
    if settings.epochs is not None:
        hyper["n_epochs"] = settings.epochs
    if settings.learning_rate_multiplier is not None:
        hyper["learning_rate_multiplier"] = settings.learning_rate_multiplier
    if settings.batch_size is not None:
        hyper["batch_size"] = settings.batch_size
    return {"type": "supervised", "supervised": {"hyperparameters": hyper}}


def _hyperparameters(job: Any) -> dict[str, Any]:
    method = getattr(job, "method", None)
    supervised = getattr(method, "supervised", None)
    hyper = getattr(supervised, "hyperparameters", None) or getattr(job, "hyperparameters", None)
    if hyper is None:
        return {}
    return {key: value for key, value in hyper.model_dump().items() if value is not None}


def _wait(
    client: openai.OpenAI,
    job_id: str,
    poll: PollPolicy,
    progress: Callable[[str], None],
    sleep: Callable[[float], None],
) -> Any:
    """Poll until the job ends; transient errors (429, 5xx, dropped connections) only lengthen the wait."""

    def fetch() -> Any:
        try:
            return client.fine_tuning.jobs.retrieve(job_id)
        except (openai.APIConnectionError, openai.RateLimitError, openai.InternalServerError) as exc:
            raise TransientPollError(type(exc).__name__) from exc
        except openai.APIStatusError as exc:
            raise InstructEvalError(
                f"polling fine-tuning job {job_id} failed: HTTP {exc.status_code} {exc.message}"
            ) from exc

    return wait_for_job(job_id, fetch, lambda job: str(job.status), FINISHED, poll, progress, sleep)


def _call(request: Callable[[], Any]) -> Any:
    try:
        return request()
    except openai.APIStatusError as exc:
        raise InstructEvalError(
            f"the fine-tuning API refused the request: HTTP {exc.status_code} {exc.message}"
        ) from exc
    except openai.APIConnectionError as exc:
        raise InstructEvalError(
            f"cannot reach the fine-tuning API ({exc}): check the URL, then rerun with --resume"
        ) from exc


def _save_state(path: Path, state: dict[str, Any]) -> None:
    write_json_atomic(path, state)
