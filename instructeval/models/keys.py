"""API keys: resolved here only, from the environment only, never written anywhere.

Precedence, first match wins:
1. flag: a variable named on the command line (`--judge-api-key-env NAME`, for every judge of a run);
2. spec: a variable named in the model spec (`openai-compatible:<url>@<model>?key_env=NAME`);
3. env: the role's default variables: `INSTRUCTEVAL_JUDGE_API_KEY` then `OPENAI_API_KEY` for a judge,
   `OPENAI_API_KEY` for the evaluated or tuned model.
A variable named by a flag or a spec must be set. `openai:` needs a key; an `openai-compatible:` server with
none set gets the placeholder `EMPTY` (local servers ignore it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

from instructeval.errors import InstructEvalError
from instructeval.models.spec import ModelSpec

OPENAI_KEY_ENV = "OPENAI_API_KEY"
JUDGE_KEY_ENV = "INSTRUCTEVAL_JUDGE_API_KEY"
NO_KEY = "EMPTY"

Role = Literal["model", "judge"]
DEFAULT_KEY_ENVS: dict[Role, tuple[str, ...]] = {
    "model": (OPENAI_KEY_ENV,),
    "judge": (JUDGE_KEY_ENV, OPENAI_KEY_ENV),
}


@dataclass(frozen=True)
class ApiKey:
    """A resolved key and the variables a user would set to change it (named in authentication errors)."""

    value: str = NO_KEY
    source: str = " or ".join(DEFAULT_KEY_ENVS["model"])

    def __repr__(self) -> str:
        return f"ApiKey(source={self.source!r})"  # never the key itself, not even in a traceback


def resolve_api_key(spec: ModelSpec, *, role: Role = "model", flag_env: str | None = None) -> ApiKey:
    """The key for an API spec, by the precedence above."""
    named = flag_env or spec.key_env
    if named:
        value = os.environ.get(named)
        if not value:
            origin = "--judge-api-key-env" if flag_env else "?key_env"
            raise InstructEvalError(f"{origin} names {named} for {spec}'s key, but it is not set: export {named}=...")
        return ApiKey(value, named)
    candidates = DEFAULT_KEY_ENVS[role]
    source = " or ".join(candidates)
    for name in candidates:
        if value := os.environ.get(name):
            return ApiKey(value, source)
    if spec.kind == "openai":
        raise InstructEvalError(f"{spec} needs an API key: export {candidates[-1]}=...")
    return ApiKey(NO_KEY, source)
