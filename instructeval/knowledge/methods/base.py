"""Asking every probe of a set: the one evaluation all methods share (base, icl and the tuned models).

A method only decides which model answers and which facts (if any) sit in the context; the prompts are
otherwise identical, so differences between methods are differences in what the model knows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from instructeval.knowledge.answering import Answerer
from instructeval.knowledge.types import Fact, KnowledgeSet, Probe
from instructeval.models.chat_client import Messages

FactsFor = Callable[[Probe], Sequence[Fact]]


@dataclass(frozen=True)
class Answered:
    """One probe's outcome: the prompt shown, the reply (generation) and/or the choices' log-likelihoods."""

    probe: Probe
    prompt: str
    response: str | None = None
    loglikelihoods: tuple[float, ...] | None = None
    context_facts: int = 0


def facts_block(facts: Sequence[Fact]) -> str:
    """Facts placed in context, one per line."""
    return "Here are some facts:\n" + "\n".join(f"- {fact.text}" for fact in facts)


def chat_for(kset: KnowledgeSet, probe: Probe, facts: Sequence[Fact]) -> Messages:
    """The conversation for a generation probe: the set's system prompt, then (facts and) the question."""
    question = f"{facts_block(facts)}\n\n{probe.question}" if facts else probe.question
    return [{"role": "system", "content": kset.system}, {"role": "user", "content": question}]


def choice_context_for(probe: Probe, facts: Sequence[Fact]) -> str:
    """The plain-text context a forced-choice probe's continuations are scored after."""
    assert probe.choice_context is not None
    return f"{facts_block(facts)}\n\n{probe.choice_context}" if facts else probe.choice_context


def answer_probes(
    answerer: Answerer,
    kset: KnowledgeSet,
    probes: Sequence[Probe],
    *,
    generate: bool,
    choose: bool,
    max_tokens: int,
    facts_for: FactsFor | None = None,
) -> list[Answered]:
    """Ask every probe: generate replies and/or score the forced choices, in one batch each."""
    contexts = {probe.id: list(facts_for(probe)) if facts_for else [] for probe in probes}
    replies: dict[str, str] = {}
    if generate:
        chats = [chat_for(kset, probe, contexts[probe.id]) for probe in probes]
        replies = dict(zip((p.id for p in probes), answerer.generate(chats, max_tokens), strict=True))
    scored: dict[str, tuple[float, ...]] = {}
    if choose and answerer.supports_choices:
        with_choices = [probe for probe in probes if probe.has_choices]
        requests = [(choice_context_for(probe, contexts[probe.id]), probe.choices) for probe in with_choices]
        for probe, values in zip(with_choices, answerer.choice_loglikelihoods(requests), strict=True):
            scored[probe.id] = tuple(values)
    answered = []
    for probe in probes:
        facts = contexts[probe.id]
        shown = chat_for(kset, probe, facts)[-1]["content"] if generate or not probe.has_choices else None
        prompt = shown if shown is not None else choice_context_for(probe, facts)
        answered.append(Answered(probe, prompt, replies.get(probe.id), scored.get(probe.id), len(facts)))
    return answered
