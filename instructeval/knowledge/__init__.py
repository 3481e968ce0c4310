"""Knowledge injection: does a method make new facts usable? Sets, methods, scorers and the table.

    from instructeval.knowledge import InjectOptions, inject, knowledge_table
    run_dir = inject(InjectOptions(model="demo", knowledge="invented:reversal",
                                   methods=("base", "icl", "finetune", "augmented-finetune")))

Sets: `invented:<reversal|syllogism|holdout|all>` (generated, seeded), `finetunebench:<task>` (local copy
only), `jsonl:<path>` (your own facts). Methods: base, icl, finetune (local LoRA or a provider's fine-tuning
API), augmented-finetune. Scorers: strict, exact, lenient, forced-choice, llm-grader:<judge>.
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instructeval.knowledge.external import ScoreOptions, match_responses, read_responses, score_responses
    from instructeval.knowledge.formats import FORMATS, TrainingExample, training_examples
    from instructeval.knowledge.injection import METHODS, InjectOptions, inject
    from instructeval.knowledge.methods.polling import PollPolicy
    from instructeval.knowledge.methods.provider_tuning import FineTuneJobFailed
    from instructeval.knowledge.report import knowledge_table, markdown_table
    from instructeval.knowledge.scorers import exact_match, forced_choice, lenient_match, normalise, strict_match
    from instructeval.knowledge.sets import NAMES_HELP, load_knowledge_set
    from instructeval.knowledge.types import SPLITS, Fact, KnowledgeSet, Probe

_HOMES = {
    "external": ("ScoreOptions", "match_responses", "read_responses", "score_responses"),
    "formats": ("FORMATS", "TrainingExample", "training_examples"),
    "injection": ("METHODS", "InjectOptions", "inject"),
    "methods.polling": ("PollPolicy",),
    "methods.provider_tuning": ("FineTuneJobFailed",),
    "report": ("knowledge_table", "markdown_table"),
    "scorers": ("exact_match", "forced_choice", "lenient_match", "normalise", "strict_match"),
    "sets": ("NAMES_HELP", "load_knowledge_set"),
    "types": ("SPLITS", "Fact", "KnowledgeSet", "Probe"),
}
"""Where each public name lives: imported from there when first used (`__getattr__`)."""
_HOME = {name: module for module, names in _HOMES.items() for name in names}

__all__ = [
    "FORMATS",
    "METHODS",
    "NAMES_HELP",
    "SPLITS",
    "Fact",
    "FineTuneJobFailed",
    "InjectOptions",
    "KnowledgeSet",
    "PollPolicy",
    "Probe",
    "ScoreOptions",
    "TrainingExample",
    "exact_match",
    "forced_choice",
    "inject",
    "knowledge_table",
    "lenient_match",
    "load_knowledge_set",
    "markdown_table",
    "match_responses",
    "normalise",
    "read_responses",
    "score_responses",
    "strict_match",
    "training_examples",
]


def __getattr__(name: str) -> Any:
    """A public name, its module imported on first use: reading knowledge results (the leaderboard does) needs
    none of the fine-tuning clients, scipy and the rest that `inject` and the tables import."""
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
