"""Knowledge injection: does a method make new facts usable? Sets, methods, scorers and the table.

    from instructeval.knowledge import InjectOptions, inject, knowledge_table
    run_dir = inject(InjectOptions(model="demo", knowledge="invented:reversal",
                                   methods=("base", "icl", "finetune", "augmented-finetune")))

Sets: `invented:<reversal|syllogism|holdout|all>` (generated, seeded), `finetunebench:<task>` (local copy
only), `jsonl:<path>` (your own facts). Methods: base, icl, finetune (local LoRA or a provider's fine-tuning
API), augmented-finetune. Scorers: strict, exact, lenient, forced-choice, llm-grader:<judge>.
"""

from instructeval.knowledge.external import ScoreOptions, match_responses, read_responses, score_responses
from instructeval.knowledge.formats import FORMATS, TrainingExample, training_examples
from instructeval.knowledge.inject import METHODS, InjectOptions, inject
from instructeval.knowledge.methods.polling import PollPolicy
from instructeval.knowledge.methods.provider_tuning import FineTuneJobFailed
from instructeval.knowledge.report import knowledge_table, markdown_table
from instructeval.knowledge.scorers import exact_match, forced_choice, lenient_match, normalise, strict_match
from instructeval.knowledge.sets import NAMES_HELP, load_knowledge_set
from instructeval.knowledge.types import SPLITS, Fact, KnowledgeSet, Probe

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
