"""Krippendorff's ordinal alpha against the worked example of Krippendorff (2011) and the `krippendorff` package."""

from __future__ import annotations

import krippendorff
import numpy as np
import pytest

from instructeval.judge.agreement import agreement, krippendorff_alpha_ordinal

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers, 12 units, some
# units left unrated (None); alpha = 0.815 with the ordinal metric.
EXAMPLE = {
    "A": [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    "B": [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    "C": [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    "D": [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
}


def _ratings(table: dict[str, list[int | None]]) -> dict[str, dict[int, int]]:
    return {rater: {unit: v for unit, v in enumerate(row) if v is not None} for rater, row in table.items()}


def _package_alpha(table: dict[str, list[int | None]]) -> float:
    data = np.array([[np.nan if v is None else v for v in row] for row in table.values()], dtype=float)
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="ordinal"))


def test_alpha_on_krippendorffs_worked_example() -> None:
    alpha = krippendorff_alpha_ordinal(_ratings(EXAMPLE))
    assert alpha == pytest.approx(0.815, abs=5e-4)
    assert alpha == pytest.approx(_package_alpha(EXAMPLE))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_alpha_matches_the_krippendorff_package_on_judge_like_grades(seed: int) -> None:
    """Three judges grade 40 answers 1-5 around a shared quality, each skipping some."""
    rng = np.random.default_rng(seed)
    quality = rng.integers(1, 6, 40)
    table: dict[str, list[int | None]] = {}
    for judge in ("a", "b", "c"):
        grades = np.clip(quality + rng.integers(-1, 2, 40), 1, 5)
        table[judge] = [None if rng.random() < 0.15 else int(g) for g in grades]
    assert krippendorff_alpha_ordinal(_ratings(table)) == pytest.approx(_package_alpha(table))


def test_alpha_is_undefined_without_variation_or_pairs() -> None:
    assert krippendorff_alpha_ordinal({"a": {1: 3, 2: 3}, "b": {1: 3, 2: 3}}) is None
    assert krippendorff_alpha_ordinal({"a": {1: 3}, "b": {2: 4}}) is None  # no unit rated twice


def test_agreement_reports_alpha_beside_kappa() -> None:
    report = agreement(_ratings(EXAMPLE))
    assert report.krippendorff_alpha == pytest.approx(0.815, abs=5e-4)
    assert len(report.pairs) == 6 and report.mean_kappa is not None
