"""Gemini supervised tuning on Vertex AI: training file to Cloud Storage, tuning job, poll, tuned endpoints.

The training set goes to Cloud Storage as Vertex's JSONL (`google-cloud-storage`), then `google-genai`
creates the supervised tuning job and polls it with exponential backoff. The upload's URI and the job's
resource name are written to a state file in the run folder the moment they exist, so a run interrupted
while polling resumes on the same job (`--resume`) instead of paying for a second one. Intermediate
checkpoints are kept (one per epoch, each on its own endpoint) so `--curve` can ask every epoch.
STORAGE_EMULATOR_HOST (google-cloud-storage's own) points uploads at another endpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
from instructeval.models.vertex import VertexTarget, api_error, is_transient, vertex_client
from instructeval.run import write_json_atomic

SUCCEEDED = "JOB_STATE_SUCCEEDED"
FINISHED = frozenset({SUCCEEDED, "JOB_STATE_FAILED", "JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"})


@dataclass(frozen=True)
class Staging:
    """Where the training file goes: `gs://<bucket>/<prefix>`; the bucket is created when missing."""

    bucket: str
    prefix: str = "instructeval"

    @classmethod
    def parse(cls, uri: str | None, target: VertexTarget) -> Staging:
        """`gs://bucket[/prefix]`, or `gs://<project>-instructeval` when none is given."""
        if uri is None:
            return cls(f"{target.project}-instructeval")
        if not uri.startswith("gs://") or len(uri) <= len("gs://"):
            raise InstructEvalError(f"--staging-bucket {uri!r} is not valid: write gs://<bucket>[/<folder>]")
        bucket, _, prefix = uri.removeprefix("gs://").partition("/")
        return cls(bucket, prefix.strip("/") or "instructeval")


def finetune_via_vertex(
    model: str,
    rows: list[dict[str, Any]],
    settings: ApiSettings,
    target: VertexTarget,
    staging: Staging,
    state_path: Path,
    *,
    poll: PollPolicy = DEFAULT_POLL,
    progress: Callable[[str], None] = print,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Run (or resume) a tuning job of `model` on `rows`; return the training record with the tuned endpoints."""
    body, digest = training_file(rows)
    state = load_job_state(state_path, digest)
    epochs = settings.epochs
    if "training_uri" not in state:
        state["training_uri"] = upload_training_file(body, f"{staging.prefix}/{digest[:16]}.jsonl", staging, target)
        write_json_atomic(state_path, state)
        progress(f"  uploaded {len(rows)} examples to {state['training_uri']}")
    client = vertex_client(target)
    try:
        if "job_name" not in state:
            job = _request(lambda: _create_job(client, model, state["training_uri"], settings), "creating the job")
            state["job_name"] = job.name
            write_json_atomic(state_path, state)
            progress(f"  created tuning job {job.name}")
        else:
            progress(f"  resuming tuning job {state['job_name']}")
        job = _wait(client, state["job_name"], poll, progress, sleep)
    finally:
        client.close()
    status = str(job.state.value if job.state else "")
    tuned = job.tuned_model
    state.update(status=status, endpoint=tuned.endpoint if tuned else None)
    write_json_atomic(state_path, state)
    if status != SUCCEEDED or tuned is None or not tuned.endpoint:
        reason = (job.error.message if job.error else None) or "no reason given"
        raise FineTuneJobFailed(f"tuning job {job.name} ended {status}: {reason}; fix the cause and start a new run")
    billable = _billable_tokens(job)
    epochs = _epochs_run(job) or epochs
    trained = billable * epochs if billable is not None and epochs is not None else None
    return {
        "backend": "vertex",
        "project": target.project,
        "location": target.location,
        "base_model": model,
        "training_uri": state["training_uri"],
        "job_name": job.name,
        "tuned_model": tuned.model,
        "endpoint": tuned.endpoint,
        "checkpoints": [
            {"epoch": c.epoch, "step": c.step, "checkpoint_id": c.checkpoint_id, "endpoint": c.endpoint}
            for c in tuned.checkpoints or []
        ],
        "billable_tokens_per_epoch": billable,
        "trained_tokens": trained,
        "cost_usd": training_cost(model, trained),
        "cost_source": f"billable tokens x epochs x {PRICES_FILE.name} (approximate)",
        "hyperparameters": {"epoch_count": epochs, "learning_rate_multiplier": settings.learning_rate_multiplier},
        "examples": len(rows),
        "training_sha256": digest,
    }


def training_cost(model: str, trained_tokens: int | None) -> float | None:
    """Approximate tuning cost in US$ from the shipped Vertex price table; None when model or usage is unknown."""
    return priced_cost("vertex_training_per_mtok", model, trained_tokens)


def upload_training_file(body: bytes, name: str, staging: Staging, target: VertexTarget) -> str:
    """Write the JSONL to Cloud Storage (creating the bucket in the job's region if missing); return its gs:// URI."""
    try:
        from google.cloud import storage
    except ImportError as exc:
        raise InstructEvalError("vertex: tuning needs Google's SDKs: pip install 'instructeval[vertex]'") from exc
    from google.api_core import exceptions

    try:
        client = storage.Client(project=target.project)
        bucket = client.lookup_bucket(staging.bucket) or client.create_bucket(staging.bucket, location=target.location)
        bucket.blob(name).upload_from_string(body, content_type="application/jsonl")
    except exceptions.GoogleAPICallError as exc:
        raise InstructEvalError(
            f"uploading the training file to gs://{staging.bucket} failed: {exc.message}; "
            "check the bucket's permissions or pass --staging-bucket gs://<your bucket>"
        ) from exc
    except Exception as exc:
        raise api_error(exc, f"uploading the training file to gs://{staging.bucket}") from exc
    return f"gs://{staging.bucket}/{name}"


def _create_job(client: Any, model: str, training_uri: str, settings: ApiSettings) -> Any:
    from google.genai import types

    config = types.CreateTuningJobConfig(
        epoch_count=settings.epochs,
        learning_rate_multiplier=settings.learning_rate_multiplier,
        tuned_model_display_name=f"{settings.suffix}-{model}"[:128],
        export_last_checkpoint_only=False,
    )
    return client.tunings.tune(
        base_model=model, training_dataset=types.TuningDataset(gcs_uri=training_uri), config=config
    )


def _wait(
    client: Any, job_name: str, poll: PollPolicy, progress: Callable[[str], None], sleep: Callable[[float], None]
) -> Any:
    def fetch() -> Any:
        try:
            return client.tunings.get(name=job_name)
        except Exception as exc:
            if is_transient(exc):
                raise TransientPollError(str(exc).splitlines()[0][:120]) from exc
            raise api_error(exc, f"polling tuning job {job_name}") from exc

    def status_of(job: Any) -> str:
        return str(job.state.value) if job.state else "JOB_STATE_UNSPECIFIED"

    return wait_for_job(job_name, fetch, status_of, FINISHED, poll, progress, sleep)


def _request(call: Callable[[], Any], doing: str) -> Any:
    try:
        return call()
    except InstructEvalError:
        raise
    except Exception as exc:
        raise api_error(exc, doing) from exc


def _billable_tokens(job: Any) -> int | None:
    stats = job.tuning_data_stats.supervised_tuning_data_stats if job.tuning_data_stats else None
    return int(stats.total_billable_token_count) if stats and stats.total_billable_token_count else None


def _epochs_run(job: Any) -> int | None:
    """The epoch count the job ran with (the provider's default when none was asked)."""
    spec = job.supervised_tuning_spec
    hyper = spec.hyper_parameters if spec else None
    return int(hyper.epoch_count) if hyper and hyper.epoch_count else None
