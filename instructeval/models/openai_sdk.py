"""The `openai` SDK's client, for endpoints beyond chat (files, fine-tuning jobs), with the shared key."""

from __future__ import annotations

import openai

from instructeval.errors import InstructEvalError
from instructeval.models.keys import Role, resolve_api_key
from instructeval.models.spec import ModelSpec


def openai_sdk_client(
    spec: ModelSpec, *, timeout_s: float = 120.0, role: Role = "model", key_env: str | None = None
) -> openai.OpenAI:
    """A sync client for an API spec (its key resolved for `role`); its own retries are off (callers decide
    when to wait)."""
    if spec.api_base_url is None:
        raise InstructEvalError(f"{spec} is not an API model: use openai:<model> or openai-compatible:<url>@<model>")
    return openai.OpenAI(
        base_url=spec.api_base_url,
        api_key=resolve_api_key(spec, role=role, flag_env=key_env).value,
        max_retries=0,
        timeout=timeout_s,
    )
