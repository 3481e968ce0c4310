"""lm-eval's logged samples -> our per-sample records (one per example, every filter's answer and score)."""

from __future__ import annotations

import math
from typing import Any

from instructeval.hashing import sha256_json
from instructeval.results import SampleRecord


def records_from_lm_eval(
    task: str,
    subtask: str,
    logged: list[dict[str, Any]],
    groups: dict[str, str],
    *,
    sample_fields: tuple[str, ...] = (),
    breakdown_fields: tuple[str, ...] = (),
    cluster_field: str | None = None,
) -> list[SampleRecord]:
    """Merge lm-eval's per-filter sample entries of one subtask into one record per example.

    `sample_fields` are copied from the example into the record (the rendered context moves to
    details['context'] if `prompt` is among them); `breakdown_fields` add per-example breakdown groups;
    `cluster_field` names the example field whose hash becomes the record's cluster.
    """
    merged: dict[int, SampleRecord] = {}
    for entry in logged:
        record = merged.get(entry["doc_id"])
        if record is None:
            doc = entry.get("doc") or {}
            own_groups = {**groups, **{name: str(doc[name]) for name in breakdown_fields if name in doc}}
            record = _base_record(task, subtask, entry, own_groups)
            if cluster_field is not None:
                record.cluster = cluster_id(doc, cluster_field)
            if "prompt" in sample_fields:
                record.details["context"] = record.prompt
            for name in sample_fields:
                if name in doc:
                    setattr(record, name, doc[name])
            merged[entry["doc_id"]] = record
        _add_filter(record, entry)
    return [merged[doc_id] for doc_id in sorted(merged)]


def cluster_id(doc: dict[str, Any], field: str) -> str:
    """A short hash of the example's `field` (a DROP passage is long): examples sharing it share the cluster."""
    if field not in doc:
        raise RuntimeError(f"the task declares cluster field {field!r}, which its examples lack")
    return sha256_json(doc[field])[:16]


def _base_record(task: str, subtask: str, entry: dict[str, Any], groups: dict[str, str]) -> SampleRecord:
    arguments = entry["arguments"]
    resps = entry["resps"]
    is_choice = bool(arguments) and len(arguments[0]) == 2 and isinstance(arguments[0][1], str) and len(arguments) > 1
    choice_ll = [float(r[0][0]) for r in resps] if is_choice else None
    greedy = [bool(r[0][1]) for r in resps] if is_choice else None
    responses = [] if is_choice else [str(text) for text in (resps[0] if resps else [])]
    return SampleRecord(
        task=task,
        subtask=subtask,
        doc_id=int(entry["doc_id"]),
        doc_hash=str(entry["doc_hash"]),
        prompt=_prompt_text(arguments[0][0]) if arguments else "",
        target=str(entry["target"]),
        responses=responses,
        response=responses[0] if responses else None,
        choice_loglikelihoods=choice_ll,
        choice_is_greedy=greedy,
        scores={},
        groups=groups,
        details={"prompt_hash": entry.get("prompt_hash"), "choices": [a[1] for a in arguments] if is_choice else None},
    )


def _prompt_text(prompt: Any) -> str:
    """The prompt as the model saw it: API chat requests carry their messages as JSON inside lm-eval's JsonChatStr."""
    return str(getattr(prompt, "prompt", prompt))


def _add_filter(record: SampleRecord, entry: dict[str, Any]) -> None:
    filter_name = entry.get("filter", "none")
    for metric in entry.get("metrics", []):
        value = entry.get(metric)
        key = f"{metric},{filter_name}"
        if isinstance(value, bool | int | float):
            record.scores[key] = None if isinstance(value, float) and math.isnan(value) else float(value)
        elif value is not None:
            record.details[key] = value
    if record.choice_loglikelihoods is None:
        filtered = entry.get("filtered_resps") or []
        record.details.setdefault("extracted_by_filter", {})[filter_name] = (
            filtered[0] if len(filtered) == 1 else filtered
        )
        if not record.extracted:
            record.extracted = [
                str(x) for x in (filtered[0] if filtered and isinstance(filtered[0], list) else filtered)
            ]
