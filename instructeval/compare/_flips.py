"""The examples two runs scored differently (base right, other wrong and the reverse), with both answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from instructeval.compare._pairing import PairedScores, SampleKey, keyed
from instructeval.judge.pointwise import JUDGMENTS_FIELD
from instructeval.results import FlippedExample, read_samples, samples_path

Rows = dict[SampleKey, dict[str, Any]]


class FlipFinder:
    """Reads each task's samples of both runs once and lists, per paired row, the examples that flipped."""

    def __init__(self, base: Path, other: Path) -> None:
        self._runs = (base, other)
        self._rows: dict[str, tuple[Rows, Rows]] = {}

    def __call__(self, paired: PairedScores) -> list[FlippedExample]:
        """Every pair whose scores differ, in the base run's order; none for breakdown rows or probe rows."""
        if paired.group is not None or not all(samples_path(run, paired.task).is_file() for run in self._runs):
            return []
        if paired.task not in self._rows:
            base_rows, other_rows = (dict(keyed(read_samples(run, paired.task))) for run in self._runs)
            self._rows[paired.task] = (base_rows, other_rows)
        base_rows, other_rows = self._rows[paired.task]
        found = []
        for key, base_score, other_score in zip(paired.keys, paired.base, paired.other, strict=True):
            if base_score != other_score and key in base_rows and key in other_rows:
                found.append(
                    _flipped(base_rows[key], other_rows[key], float(base_score), float(other_score), paired.metric)
                )
        return found


def _flipped(
    base: dict[str, Any], other: dict[str, Any], base_score: float, other_score: float, metric: str
) -> FlippedExample:
    choices = (base.get("details") or {}).get("choices")
    return FlippedExample(
        subtask=str(base["subtask"]),
        doc_id=int(base["doc_id"]),
        doc_hash=str(base["doc_hash"]),
        direction="improved" if other_score > base_score else "regressed",
        base_score=base_score,
        other_score=other_score,
        prompt=str(base.get("prompt", "")),
        target=str(base.get("target", "")),
        base_output=_output(base),
        other_output=_output(other),
        choices=[str(c) for c in choices] if choices else None,
        base_loglikelihoods=base.get("choice_loglikelihoods"),
        other_loglikelihoods=other.get("choice_loglikelihoods"),
        base_reasons=_reasons(base, metric),
        other_reasons=_reasons(other, metric),
    )


def _output(row: dict[str, Any]) -> str | None:
    """The generation, or for likelihood tasks the option with the highest log-likelihood."""
    likelihoods = row.get("choice_loglikelihoods")
    choices = (row.get("details") or {}).get("choices")
    if likelihoods and choices and len(likelihoods) == len(choices):
        return str(choices[max(range(len(likelihoods)), key=likelihoods.__getitem__)])
    response = row.get("response")
    return None if response is None else str(response)


def _reasons(row: dict[str, Any], rubric: str) -> list[str]:
    """The judge's stated reasons for this rubric's grades of the answer (writing), as 'judge: reason'."""
    return [
        f"{record.get('judge')}: {record['reason']}"
        for record in row.get(JUDGMENTS_FIELD) or []
        if record.get("rubric") == rubric and record.get("reason")
    ]
