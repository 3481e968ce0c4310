"""A results file as a build reads it for the index: what the views and model pages show, in light records.

At 5,000 runs the index holds 150,000 task results and as many scores. As slotted records (no per-object
`__dict__` or fields-set) a run of 30 tasks takes 35 KB rather than 150 KB as models, which a build pays for in
page faults while it reads, and again in copy-on-write faults when its forked page workers touch them. They are
validated exactly as the models are; `tests/test_leaderboard_build.py` holds the records' fields to TaskResult's
and Score's.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, Field, GetPydanticSchema
from pydantic.dataclasses import dataclass
from pydantic_core import core_schema

from instructeval.results import RunResults


@dataclass(slots=True, frozen=True, kw_only=True)
class IndexScore:
    """A score (Score's fields, validated as Score validates them) as a slotted record."""

    value: float | None
    stderr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    ci_method: str | None = None
    confidence: float = 0.95
    resamples: int | None = None
    seed: int | None = None
    clusters: int | None = None
    naive: IndexScore | None = None


class _ShownBreakdowns(BaseModel):
    """The breakdowns the index's views show (HHH's categories): the only ones a run read for the index keeps."""

    category: dict[str, dict[str, IndexScore]] | None = None


def _as_breakdown(shown: _ShownBreakdowns) -> dict[str, dict[str, dict[str, IndexScore]]]:
    return {} if shown.category is None else {"category": shown.category}


ShownBreakdowns = Annotated[
    dict[str, dict[str, dict[str, IndexScore]]],
    GetPydanticSchema(
        lambda _type, handler: core_schema.no_info_after_validator_function(_as_breakdown, handler(_ShownBreakdowns))
    ),
]
"""TaskResult's `breakdown` (kind -> group -> metric -> score), read as `_ShownBreakdowns`."""


@dataclass(slots=True, frozen=True, kw_only=True)
class IndexTaskResult:
    """A task's result (TaskResult's fields, validated as TaskResult validates them, its scores as IndexScore)
    without the breakdowns only a model page shows (MMLU's 57 subjects...): they are skipped while parsing, never
    turned into objects."""

    task: str
    protocol: str
    protocol_version: str
    output_type: str
    num_fewshot: int
    reasoning: str | None = None
    self_consistency: int | None = None
    primary_metric: str
    metrics: dict[str, IndexScore]
    breakdown: ShownBreakdowns = Field(default_factory=dict)
    data_source: str
    data_hash: str
    prompt_hash: str
    chat_template_applied: bool
    chat_template_hash: str | None = None
    generation_kwargs: dict[str, Any] = Field(default_factory=dict)
    wall_seconds: float
    n_samples: int
    samples_file: str


class _Unread(BaseModel):
    """A section the leaderboard never shows: parsed past, never turned into objects."""


def _as_empty(_: _Unread) -> dict[str, Any]:
    return {}


Unread = Annotated[_Unread, AfterValidator(_as_empty)]
"""lm-eval's sections of a results file (its configs alone can outweigh our own tasks' results), for the index."""


class IndexRunResults(RunResults):
    """A results file as a build reads it: its tasks as IndexTaskResult, and everything else but lm-eval's
    sections, which the site does not show. The breakdowns only a model page shows are read apart
    (`_breakdowns.py`), in parallel when the build has workers."""

    tasks: dict[str, IndexTaskResult] = Field(default_factory=dict)  # type: ignore[assignment]
    results: Unread = Field(default_factory=dict)  # type: ignore[assignment]
    groups: Unread = Field(default_factory=dict)  # type: ignore[assignment]
    configs: Unread = Field(default_factory=dict)  # type: ignore[assignment]
    versions: Unread = Field(default_factory=dict)  # type: ignore[assignment]
    n_shot: Unread = Field(default_factory=dict, alias="n-shot")  # type: ignore[assignment]
    higher_is_better: Unread = Field(default_factory=dict)  # type: ignore[assignment]
    n_samples: Unread = Field(default_factory=dict, alias="n-samples")  # type: ignore[assignment]
