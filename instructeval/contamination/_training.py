"""Knowledge injection's own contamination: do the generalisation probes appear in the training text it built?

Memorisation probes ask the trained facts back, so they are meant to be there. Every other probe measures
generalisation, and one whose question appears verbatim (normalised) in the training text measures recall.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from instructeval.contamination._check import DEFAULT_NGRAM
from instructeval.contamination._corpus import Block, Record
from instructeval.contamination._examples import TestExample
from instructeval.contamination._ngrams import Words, block_words
from instructeval.contamination._overlap import NgramIndex, scan
from instructeval.errors import InstructEvalError
from instructeval.knowledge.formats import TrainingExample
from instructeval.knowledge.types import Probe

MEMORISATION = "memorisation"


@dataclass(frozen=True)
class TrainingOverlap:
    """Generalisation probes found in the training text: whole questions (verbatim) or a shared n-gram."""

    checked: int
    verbatim: tuple[str, ...]
    ngram: tuple[str, ...]

    def to_dict(self, *, allowed: bool) -> dict[str, Any]:
        """The `overlap` entry of the knowledge result's training record."""
        return {
            "checked_probes": self.checked,
            "ngram": DEFAULT_NGRAM,
            "verbatim": list(self.verbatim),
            "ngram_overlap": list(self.ngram),
            "allowed": allowed,
        }


def training_overlap(examples: Sequence[TrainingExample], probes: Sequence[Probe]) -> TrainingOverlap:
    """Check every non-memorisation probe's question against every training text."""
    texts = [example.text or "\n".join(m["content"] for m in example.messages) for example in examples]
    checked = [p for p in probes if p.split != MEMORISATION]
    training = " \x1e ".join(_normalised(block_words(texts)))
    questions = _normalised(block_words([p.question for p in checked]))
    verbatim = tuple(p.id for p, q in zip(checked, questions, strict=True) if q and f" {q} " in f" {training} ")
    index = NgramIndex.build(
        [TestExample("knowledge", p.split, i, p.id, p.question, "") for i, p in enumerate(checked)], DEFAULT_NGRAM
    )
    block = Block(texts, [Record(example.source, 1) for example in examples], sum(map(len, texts)), len(texts))
    matches = scan(index, [block])
    found = sorted(
        {owner for position, where in matches.locations.items() if where for owner in index.owners(position)}
    )
    return TrainingOverlap(len(checked), verbatim, tuple(checked[i].id for i in found if checked[i].id not in verbatim))


def check_training_overlap(
    examples: Sequence[TrainingExample], probes: Sequence[Probe], *, allow: bool
) -> dict[str, Any]:
    """The overlap record; a set whose generalisation probes appear verbatim is refused unless `allow`."""
    overlap = training_overlap(examples, probes)
    if overlap.verbatim and not allow:
        shown = ", ".join(overlap.verbatim[:3]) + (" ..." if len(overlap.verbatim) > 3 else "")
        raise InstructEvalError(
            f"{len(overlap.verbatim)} generalisation probe(s) appear verbatim in the training text ({shown}): they "
            "would measure recall, not generalisation; fix the knowledge set, or pass --allow-overlap to train "
            "anyway with the overlap recorded"
        )
    return overlap.to_dict(allowed=allow)


def _normalised(words: Words) -> list[str]:
    """Each record's normalised words joined by single spaces."""
    records: list[list[str]] = [[] for _ in range(len(words.record_starts))]
    for index in range(words.hashes.size):
        records[int(words.records[index])].append(words.text(index))
    return [" ".join(record) for record in records]
