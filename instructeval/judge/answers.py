"""The answers a run stored (`samples/<task>.jsonl`), and writing the judgments back beside them."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from instructeval.errors import DataError
from instructeval.results import read_samples, samples_path
from instructeval.run import write_jsonl_atomic

REQUIRED_FIELDS = ("doc_id", "doc_hash", "category", "prompt", "response")


def load_answers(run_dir: Path, task: str) -> list[dict[str, Any]]:
    """Every stored answer of `task`, checked for the fields grading needs."""
    path = samples_path(run_dir, task)
    if not path.is_file():
        raise DataError(
            f"{path} does not exist: run `instructeval run ... --tasks {task}` first, or check the run folder"
        )
    samples = read_samples(run_dir, task)
    for number, sample in enumerate(samples, start=1):
        absent = [name for name in REQUIRED_FIELDS if name not in sample]
        if absent:
            raise DataError(f"{path} line {number} lacks {', '.join(absent)}: was it written by an older version?")
    ids = [str(sample["doc_id"]) for sample in samples]
    if len(set(ids)) != len(ids):
        raise DataError(f"{path} repeats a doc_id: each answer needs its own id")
    return samples


def judged_prompt(sample: dict[str, Any]) -> str:
    """What the model was asked: the task definition (when there is one) followed by the prompt."""
    definition = str(sample.get("task_definition") or "").strip()
    prompt = str(sample["prompt"]).strip()
    return f"{definition}\n\n{prompt}" if definition else prompt


def attach_judgments(run_dir: Path, task: str, field: str, records: Iterable[dict[str, Any]]) -> None:
    """Rewrite `samples/<task>.jsonl` atomically with each answer's judgment records under `field`."""
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_doc.setdefault(str(record["doc_id"]), []).append({k: v for k, v in record.items() if k != "doc_id"})
    samples = read_samples(run_dir, task)
    write_jsonl_atomic(samples_path(run_dir, task), ({**s, field: by_doc.get(str(s["doc_id"]), [])} for s in samples))
