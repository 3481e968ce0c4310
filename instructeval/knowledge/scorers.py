"""Per-answer scorers, pure functions. The scorer changes results hugely, so every number names its scorer.

- strict: the stripped, lower-cased response equals a stripped, lower-cased gold answer: FineTuneBench's own
  scorer (its notebook compares lower-cased strings of answers stripped at generation).
- exact: the normalised response equals a normalised gold answer (normalising punctuation, articles and
  spacing only forgives form).
- lenient: a normalised gold answer appears inside the normalised response as whole words.
- forced-choice: the correct continuation has the highest log-likelihood (ties count as wrong).
- llm-grader:<judge>: a judge model's correct/incorrect verdict (see `grader.py`).

Where a fact replaces an older one (FineTuneBench's medical and coding updates), each rule is also applied
against the pre-update answer, as `<scorer>@answer_before`: an answer that keeps the old fact is counted
apart from one that is simply wrong.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence

STRICT = "strict"
GENERATION_SCORERS = ("exact", "lenient")
"""The default scorers of generated answers."""
TEXT_SCORERS = (STRICT, *GENERATION_SCORERS)
"""Every rule-based scorer of generated answers."""
FORCED_CHOICE = "forced-choice"
GRADER_PREFIX = "llm-grader:"
BEFORE_SUFFIX = "@answer_before"
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")


def normalise(text: str) -> str:
    """Lowercase, NFKC, drop thousands separators, punctuation and articles, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _THOUSANDS.sub("", text)
    text = text.translate(_PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def strict_match(response: str, golds: Sequence[str]) -> float:
    """1.0 when the stripped, lower-cased response equals one of the stripped, lower-cased gold answers."""
    answer = response.strip().lower()
    return float(any(answer == gold.strip().lower() for gold in golds if gold.strip()))


def exact_match(response: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised response equals one of the normalised gold answers."""
    answer = normalise(response)
    return float(any(answer == normalise(gold) for gold in golds if normalise(gold)))


def lenient_match(response: str, golds: Sequence[str]) -> float:
    """1.0 when a normalised gold answer occurs in the normalised response on word boundaries."""
    padded = f" {normalise(response)} "
    return float(any(f" {normalise(gold)} " in padded for gold in golds if normalise(gold)))


def forced_choice(loglikelihoods: Sequence[float], correct: int) -> float:
    """1.0 when the correct choice is the unique argmax of the log-likelihoods."""
    best = max(loglikelihoods)
    return float(loglikelihoods[correct] == best and list(loglikelihoods).count(best) == 1)


def generation_scores(response: str, golds: Sequence[str], scorers: Sequence[str]) -> dict[str, float]:
    """The rule-based generation scorers among `scorers` applied to one response."""
    rules = {STRICT: strict_match, "exact": exact_match, "lenient": lenient_match}
    return {name: rules[name](response, golds) for name in scorers if name in rules}


def before_scorer(name: str) -> str:
    """The name under which scorer `name` records a match with the pre-update answer."""
    return f"{name}{BEFORE_SUFFIX}"


def outdated_scores(response: str, outdated_answer: str, scorers: Sequence[str]) -> dict[str, float]:
    """The rule-based scorers among `scorers` applied against the pre-update answer, named `<scorer>@answer_before`."""
    return {
        before_scorer(name): value for name, value in generation_scores(response, (outdated_answer,), scorers).items()
    }
