"""Agreement between raters (judges, or one judge's repeats): quadratic-weighted Cohen's kappa.

Computed by scikit-learn for every pair of raters over the units both rated, on the fixed 1-5 scale, and
averaged over pairs. Kappa is undefined (None) with fewer than two paired units or no expected disagreement.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

from sklearn.metrics import cohen_kappa_score

from instructeval.writing.report import AgreementReport, PairAgreement

Unit = TypeVar("Unit", bound=Hashable)
"""What raters score: an answer id, or (answer id, repeat)."""

SCALE = (1, 2, 3, 4, 5)


def weighted_kappa(a: Sequence[int], b: Sequence[int], labels: Sequence[int] = SCALE) -> float | None:
    """Quadratic-weighted kappa of two raters' paired scores."""
    if len(a) != len(b):
        raise ValueError(f"paired ratings need equal lengths, got {len(a)} and {len(b)}")
    if len(a) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 0/0 when neither rater varies: undefined (None), not an error
        value = float(cohen_kappa_score(a, b, labels=list(labels), weights="quadratic"))
    return None if math.isnan(value) else value


def agreement(ratings: Mapping[str, Mapping[Unit, int]]) -> AgreementReport:
    """Kappa for every pair of raters over the units both rated (rater -> unit -> score)."""
    pairs = []
    for first, second in itertools.combinations(ratings, 2):
        shared = [unit for unit in ratings[first] if unit in ratings[second]]
        kappa = weighted_kappa([ratings[first][u] for u in shared], [ratings[second][u] for u in shared])
        pairs.append(PairAgreement(rater_a=first, rater_b=second, kappa=kappa, n=len(shared)))
    defined = [pair.kappa for pair in pairs if pair.kappa is not None]
    return AgreementReport(mean_kappa=sum(defined) / len(defined) if defined else None, pairs=pairs)
