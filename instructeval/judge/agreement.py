"""Agreement between raters (judges, or one judge's repeats): quadratic-weighted Cohen's kappa and Krippendorff's
ordinal alpha.

Kappa is computed by scikit-learn for every pair of raters over the units both rated, on the fixed 1-5 scale,
and averaged over pairs; it is undefined (None) with fewer than two paired units or no expected disagreement.
Alpha takes every rater at once and tolerates units some raters skipped (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability"), with the ordinal distance, which counts how many ratings lie between two
grades rather than how far apart their numbers are.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np
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


def krippendorff_alpha_ordinal(ratings: Mapping[str, Mapping[Unit, int]]) -> float | None:
    """Krippendorff's alpha with the ordinal metric over every rater (rater -> unit -> score).

    alpha = 1 - (n - 1) * sum_ck o_ck d_ck / sum_ck n_c n_k d_ck, where o is the coincidence matrix of units
    rated at least twice (each unit's pairs weighted 1 / (m_u - 1)), n_c its margins, n their total and
    d_ck = (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2. None when fewer than two pairable values or no variation.
    """
    by_unit: dict[Hashable, list[int]] = {}
    for rater in ratings.values():
        for unit, score in rater.items():
            by_unit.setdefault(unit, []).append(int(score))
    values = sorted({v for scores in by_unit.values() if len(scores) > 1 for v in scores})
    if len(values) < 2:
        return None
    index = {value: i for i, value in enumerate(values)}
    coincidences = np.zeros((len(values), len(values)))
    for scores in by_unit.values():
        if len(scores) < 2:
            continue
        counts = np.bincount([index[v] for v in scores], minlength=len(values)).astype(float)
        coincidences += (np.outer(counts, counts) - np.diag(counts)) / (len(scores) - 1)
    margins = coincidences.sum(axis=1)
    total = float(margins.sum())
    cumulative = np.concatenate([[0.0], np.cumsum(margins)])
    grades = np.arange(len(values))
    low, high = np.minimum.outer(grades, grades), np.maximum.outer(grades, grades)
    distance = (cumulative[high + 1] - cumulative[low] - (margins[low] + margins[high]) / 2.0) ** 2
    expected = float(np.sum(np.outer(margins, margins) * distance))
    if expected == 0.0:
        return None
    return 1.0 - (total - 1.0) * float(np.sum(coincidences * distance)) / expected


def agreement(ratings: Mapping[str, Mapping[Unit, int]]) -> AgreementReport:
    """Kappa for every pair of raters over the units both rated, and alpha over all (rater -> unit -> score)."""
    pairs = []
    for first, second in itertools.combinations(ratings, 2):
        shared = [unit for unit in ratings[first] if unit in ratings[second]]
        kappa = weighted_kappa([ratings[first][u] for u in shared], [ratings[second][u] for u in shared])
        pairs.append(PairAgreement(rater_a=first, rater_b=second, kappa=kappa, n=len(shared)))
    defined = [pair.kappa for pair in pairs if pair.kappa is not None]
    return AgreementReport(
        mean_kappa=sum(defined) / len(defined) if defined else None,
        pairs=pairs,
        krippendorff_alpha=krippendorff_alpha_ordinal(ratings),
    )
