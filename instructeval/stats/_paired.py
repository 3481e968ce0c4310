"""How two models differ on the same examples: the mean difference with its interval, and win counts."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from instructeval.score import Score
from instructeval.stats._arrays import as_pairs
from instructeval.stats._estimate import summarize
from instructeval.stats._resample import DEFAULT_RESAMPLES


def paired_bootstrap_ci(
    a: ArrayLike,
    b: ArrayLike,
    *,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> Score:
    """Mean of b - a over paired examples, with a BCa bootstrap interval that resamples whole pairs.

    Resampling pairs keeps the correlation between the two models' scores on the same question, which
    makes the interval far narrower than one built from two independent intervals.
    """
    first, second = as_pairs(a, b)
    return summarize(second - first, kind="continuous", confidence=confidence, seed=seed, resamples=resamples)


@dataclass(frozen=True)
class WinsLossesTies:
    """Counts from b's side: `wins` where b scored higher than a, `losses` where lower."""

    wins: int
    losses: int
    ties: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict."""
        return dataclasses.asdict(self)


def wins_losses_ties(a: ArrayLike, b: ArrayLike, *, tolerance: float = 0.0) -> WinsLossesTies:
    """Count pairs where b beats a, loses to a, or is within `tolerance` of a (a tie)."""
    if tolerance < 0.0:
        raise ValueError(f"tolerance must be non-negative, got {tolerance}")
    first, second = as_pairs(a, b)
    differences = second - first
    wins = int(np.count_nonzero(differences > tolerance))
    losses = int(np.count_nonzero(differences < -tolerance))
    return WinsLossesTies(wins, losses, int(differences.size) - wins - losses)
