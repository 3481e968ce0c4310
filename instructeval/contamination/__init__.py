"""Contamination: which test examples a corpus (or, by a probe, a model) has seen, and the score without them."""

from instructeval.contamination._check import DEFAULT_NGRAM, check_overlap
from instructeval.contamination._examples import TestExample, load_examples
from instructeval.contamination._pipeline import ContaminationOptions, contaminate
from instructeval.contamination._render import contamination_table
from instructeval.contamination._training import check_training_overlap, training_overlap

__all__ = [
    "DEFAULT_NGRAM",
    "ContaminationOptions",
    "TestExample",
    "check_overlap",
    "check_training_overlap",
    "contaminate",
    "contamination_table",
    "load_examples",
    "training_overlap",
]
