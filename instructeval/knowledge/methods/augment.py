"""Augmented fine-tuning (after Lampinen et al. 2025): a generator model writes extra training text by
in-context learning before the model is fine-tuned on the facts plus that text.

- local augmentation: each fact alone in context; the generator rephrases it and states it the other way
  round;
- global augmentation: groups of facts in context; the generator writes inferences that link them.
Replies are split into lines; list markers are stripped; lines that are too short, too long, repeated or
identical to a fact are dropped. Everything kept is logged, so the training data can be audited.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from instructeval.knowledge.answering import Answerer
from instructeval.knowledge.methods.base import facts_block
from instructeval.knowledge.types import KnowledgeSet

LOCAL_PROMPT = (
    "Here is a statement:\n{fact}\n\nWrite {n} new sentences that say the same thing: some in other words, "
    "and "
    "some that state it the other way round, starting from the other thing it mentions. Write one sentence per "
    "line and nothing else."
)
GLOBAL_PROMPT = (
    "{facts}\n\nWrite {n} new statements that follow from combining two or more of these facts. Write one "
    "statement per line and nothing else."
)
SYSTEM = "You restate and combine facts exactly, without adding anything that does not follow from them."
_MARKER = re.compile(r"^\s*(?:[-*•]|\d+[.)]|[a-z][.)])\s*")


STRATEGIES = ("local", "global")
AUGMENT_CHOICES = {"local": ("local",), "global": ("global",), "both": STRATEGIES}
"""--augment: Lampinen et al.'s two strategies alone (to measure them apart) or together."""


@dataclass(frozen=True)
class AugmentSettings:
    """Which strategies (local, global or both), sentences per fact, facts per global group, statements per group,
    reply length."""

    strategies: tuple[str, ...] = STRATEGIES
    per_fact: int = 3
    group_size: int = 12
    per_group: int = 6
    max_tokens: int = 96
    seed: int = 1234


@dataclass(frozen=True)
class Augmentation:
    """One generated training text and where it came from."""

    kind: str
    sources: tuple[str, ...]
    text: str


def augment(generator: Answerer, kset: KnowledgeSet, settings: AugmentSettings) -> list[Augmentation]:
    """The local and/or global augmentations (`settings.strategies`) of the set's facts, written by `generator`."""
    facts = list(kset.facts) if "local" in settings.strategies else []
    local_chats = [_chat(LOCAL_PROMPT.format(fact=fact.text, n=settings.per_fact)) for fact in facts]
    shuffled = list(kset.facts) if "global" in settings.strategies else []
    random.Random(f"augment:{settings.seed}").shuffle(shuffled)
    groups = [shuffled[i : i + settings.group_size] for i in range(0, len(shuffled), settings.group_size)]
    global_chats = [_chat(GLOBAL_PROMPT.format(facts=facts_block(group), n=settings.per_group)) for group in groups]
    replies = generator.generate(local_chats + global_chats, settings.max_tokens)
    known = {_key(fact.text) for fact in kset.facts}
    kept: list[Augmentation] = []
    for fact, reply in zip(facts, replies[: len(facts)], strict=True):
        kept += _keep("local", (fact.id,), reply, settings.per_fact, known)
    for group, reply in zip(groups, replies[len(facts) :], strict=True):
        kept += _keep("global", tuple(f.id for f in group), reply, settings.per_group, known)
    return kept


def split_lines(reply: str) -> list[str]:
    """Candidate statements of a reply: one per line, list markers stripped, 3 to 60 words."""
    lines = (_MARKER.sub("", line).strip() for line in reply.splitlines())
    return [line for line in lines if 3 <= len(line.split()) <= 60]


def _keep(kind: str, sources: tuple[str, ...], reply: str, limit: int, known: set[str]) -> list[Augmentation]:
    kept = []
    for line in split_lines(reply):
        if _key(line) in known:
            continue
        known.add(_key(line))
        kept.append(Augmentation(kind, sources, line))
        if len(kept) == limit:
            break
    return kept


def _chat(user: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", "", text.lower()).split())
