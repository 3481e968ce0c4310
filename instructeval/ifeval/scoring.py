"""IFEval verdicts: strict (the response as given) and loose (also with its first and/or last line dropped and
markdown asterisks removed), per instruction and per prompt, as Zhou et al. 2023 define them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from instructeval.ifeval.checks import follows


def loose_variants(response: str) -> list[str]:
    """The response and its seven loosened forms: without the first line, the last line or both, each also
    without `*` characters."""
    lines = response.split("\n")
    trimmed = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(), "\n".join(lines[1:-1]).strip()]
    return [trimmed[0], trimmed[0].replace("*", ""), *trimmed[1:], *(t.replace("*", "") for t in trimmed[1:])]


def verdicts(
    instruction_ids: Sequence[str], kwargs: Sequence[dict[str, Any]], response: str
) -> tuple[list[bool], list[bool]]:
    """Per instruction: (strict, loose) whether the response follows it."""
    variants = loose_variants(response)
    strict = [follows(i, k, response) for i, k in zip(instruction_ids, kwargs, strict=True)]
    loose = [any(follows(i, k, v) for v in variants) for i, k in zip(instruction_ids, kwargs, strict=True)]
    return strict, loose
