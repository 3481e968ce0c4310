"""IFEval (Zhou et al. 2023): 25 kinds of verifiable instruction, checked offline in the response."""

from instructeval.ifeval.checks import CHECKERS, follows
from instructeval.ifeval.scoring import loose_variants, verdicts
from instructeval.ifeval.text import count_sentences, count_words, split_sentences

__all__ = ["CHECKERS", "count_sentences", "count_words", "follows", "loose_variants", "split_sentences", "verdicts"]
