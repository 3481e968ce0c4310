"""What a knowledge set is: facts to inject (training units) and probes that test them, split by kind.

Every set (FineTuneBench, invented words, a user's JSONL) becomes these frozen objects; methods and scorers
see nothing else.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from instructeval.hashing import sha256_json

SPLITS = (
    "memorisation",
    "rephrased",
    "secondary",
    "comparison",
    "date-changed",
    "reversal",
    "syllogism",
    "holdout",
    "vignette",
    "code-update",
)
"""Split names in table order: memorisation first (the fact as trained), then the generalisation tests."""

DEFAULT_SYSTEM = "Answer the question with a short phrase: a number, a word or a few words."


@dataclass(frozen=True)
class Fact:
    """One unit of new knowledge: the statement itself and the question/answer that asks for it."""

    id: str
    text: str
    question: str
    answer: str


@dataclass(frozen=True)
class Probe:
    """One test item. `question`/`answer` is the generation form; `choice_context`/`choices` the forced-choice
    form (full continuations, `correct` indexes the right one). `context` is what the LLM grader sees as the
    source; `outdated_answer` is the pre-update answer where a fact replaces an older one."""

    id: str
    split: str
    question: str
    answer: str
    aliases: tuple[str, ...] = ()
    choice_context: str | None = None
    choices: tuple[str, ...] = ()
    correct: int = 0
    fact_ids: tuple[str, ...] = ()
    context: str = ""
    outdated_answer: str | None = None

    @property
    def has_choices(self) -> bool:
        return self.choice_context is not None and len(self.choices) > 1

    @property
    def golds(self) -> tuple[str, ...]:
        """Every accepted answer, the canonical one first."""
        return (self.answer, *self.aliases)

    def digest(self) -> str:
        """sha256 of the probe's canonical JSON: the key that pairs answers across runs and methods."""
        return sha256_json(asdict(self))


@dataclass(frozen=True)
class KnowledgeSet:
    """Facts to inject, the probes that test them; `source` says where they came from and their license."""

    name: str
    facts: tuple[Fact, ...]
    probes: tuple[Probe, ...]
    source: str
    system: str = DEFAULT_SYSTEM
    default_format: str = "qa"
    default_scorers: tuple[str, ...] = ("exact", "lenient")
    params: dict[str, object] = field(default_factory=dict)

    @property
    def splits(self) -> list[str]:
        """The splits present, in table order."""
        present = {probe.split for probe in self.probes}
        return [s for s in SPLITS if s in present] + sorted(present - set(SPLITS))

    def facts_by_id(self) -> dict[str, Fact]:
        return {fact.id: fact for fact in self.facts}

    @property
    def slug(self) -> str:
        """A file-safe name (`invented:reversal` -> `invented-reversal`)."""
        return set_slug(self.name)


def set_slug(name: str) -> str:
    """A knowledge set's file-safe name, as its samples files use it (`invented:reversal` -> `invented-reversal`)."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)
