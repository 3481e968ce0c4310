"""Does the judge reward length? Spearman correlation of score with answer length, per category."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.stats import spearmanr

from instructeval.writing.report import LengthCorrelation


def length_unit(samples: Sequence[Mapping[str, Any]]) -> str:
    """`tokens` when every answer has `answer_tokens`, else `words` (one unit for the whole run)."""
    return "tokens" if samples and all(isinstance(s.get("answer_tokens"), int) for s in samples) else "words"


def answer_length(sample: Mapping[str, Any], unit: str) -> int:
    """An answer's length in the run's unit."""
    return int(sample["answer_tokens"]) if unit == "tokens" else len(str(sample["response"]).split())


def length_correlation(scores: Sequence[float], lengths: Sequence[int], unit: str) -> LengthCorrelation:
    """Spearman's rho of score against length over the answers that have a score."""
    n = len(scores)
    if n < 3 or np.ptp(scores) == 0 or np.ptp(lengths) == 0:
        return LengthCorrelation(spearman_rho=None, p_value=None, n=n, unit=unit)
    result = spearmanr(lengths, scores)
    return LengthCorrelation(spearman_rho=float(result.statistic), p_value=float(result.pvalue), n=n, unit=unit)
