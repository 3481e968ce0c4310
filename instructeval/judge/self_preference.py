"""Self-preference: a judge tends to favour answers from its own model family (Panickssery et al. 2024).

Families come from the leaderboard's name parsing (`identify`: 'Llama-3.1-8B-Instruct' -> 'Llama-3.1'); two
names share a lineage when their family's first word matches ('Llama-3.1' and 'Llama-3.3', 'gpt-4o' and
'gpt-4o-mini'). Names without a recognisable family are never flagged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from instructeval.leaderboard._meta import identify, name_stem
from instructeval.models.spec import parse_model_spec
from instructeval.writing.report import SelfPreference

_WORD = re.compile(r"[a-z]+")


def lineage(name: str) -> str | None:
    """The first word of a model's family, lower case: 'Meta-Llama-3-8B' -> 'meta', 'gpt-4o-mini' -> 'gpt'."""
    words = _WORD.findall((identify(name).family or name_stem(name)).lower())
    return words[0] if words else None


def self_preference(judges: Sequence[str], graded: dict[str, str]) -> list[SelfPreference]:
    """Each (judge, graded model) pair of one lineage; `graded` maps a role ('model', 'reference') to a name."""
    found = []
    for judge in judges:
        judge_name = parse_model_spec(judge).name
        family = lineage(judge_name)
        for role, name in graded.items():
            if family is not None and lineage(name) == family:
                found.append(SelfPreference(judge=judge, role=role, model=name, family=family))
    return found
