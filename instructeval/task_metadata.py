"""The `metadata` block every top-level task YAML declares, validated into a typed object."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from instructeval.data.declared import DataBlock
from instructeval.errors import InstructEvalError


class TaskConfigError(InstructEvalError):
    """A task YAML whose metadata block is missing a field or has a wrong one."""


class TaskMetadata(BaseModel):
    """What instructeval needs to know about a task beyond lm-eval's own keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(description="the protocol's version: bump it when prompts, data or scoring change")
    protocol: str = Field(description="a short id of how the task is asked and scored, recorded in results")
    label: str = Field(description="the task's name on the leaderboard")
    description: str = Field(description="one or two sentences: what is asked, how it is scored")
    primary_metric: str = Field(description="the headline metric, as lm-eval names it (acc,none)")
    data: DataBlock = Field(description="where the examples come from")
    suites: dict[str, list[str]] = Field(
        default_factory=dict, description="suite -> the subtasks it runs (empty: the whole task)"
    )
    order: int = Field(100, description="position in listings, suites and the leaderboard (lower first)")
    aggregation: Literal["micro", "macro"] = Field("micro", description="pool every sample, or mean of subtasks")
    breakdown_kind: str | None = Field(None, description="what a group's subtasks are (subject, language...)")
    chat_template: bool = Field(False, description="whether the protocol prompts through the chat template")
    judged: Literal["pointwise", "pairwise"] | None = Field(None, description="graded by an LLM judge after")
    sample_fields: tuple[str, ...] = Field((), description="doc fields copied into each sample record")
    breakdown_fields: tuple[str, ...] = Field((), description="doc fields that define breakdown groups")
    cluster: str | None = Field(None, description="doc field shared by correlated examples: clustered stderr and CI")
    limit_per: str | None = Field(None, description="doc field --limit applies per (the task's hooks limit)")
    settings: dict[str, dict[str, Any]] = Field(default_factory=dict, description="named prompt settings")

    @field_validator("version", mode="before")
    @classmethod
    def _version_text(cls, value: Any) -> str:
        return str(value)

    @field_validator("suites", mode="before")
    @classmethod
    def _suite_list(cls, value: Any) -> Any:
        return {suite: [] for suite in value} if isinstance(value, list) else value


def parse_metadata(path: Path, raw: Any) -> TaskMetadata:
    """Validate a YAML's `metadata` block, or raise one line naming the file, the field and the problem."""
    try:
        return TaskMetadata.model_validate(raw if raw is not None else {})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in ("metadata", *error["loc"]))
        raise TaskConfigError(f"{path}: {where}: {error['msg'].lower()}; fix the task's YAML") from exc
