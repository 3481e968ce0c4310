"""The statistics against known values: textbook tables, hand-worked examples, lm-eval, and simulation."""

from __future__ import annotations

import json
import math
from statistics import NormalDist

import numpy as np
import pytest
from lm_eval.api.metrics import mean_stderr
from scipy.stats import binom, binomtest, bootstrap

from instructeval.stats import (
    Score,
    holm_bonferroni,
    macro_average,
    mcnemar_exact,
    micro_average,
    paired_bootstrap_ci,
    paired_permutation_test,
    paired_test,
    summarize,
    wilcoxon_signed_rank,
    wins_losses_ties,
)

Z95 = NormalDist().inv_cdf(0.975)


def wilson_by_hand(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def pairs_from_table(table: list[list[int]]) -> tuple[list[int], list[int]]:
    """Expand a 2x2 table (rows: a right/wrong, columns: b right/wrong) into per-example outcomes."""
    a: list[int] = []
    b: list[int] = []
    for i, j in ((0, 0), (0, 1), (1, 0), (1, 1)):
        a += [1 - i] * table[i][j]
        b += [1 - j] * table[i][j]
    return a, b


# --- single scores -------------------------------------------------------------------------------------


def test_binary_uses_wilson_interval_and_sample_stderr():
    estimate = summarize([1] * 8 + [0] * 2, kind="binary")
    low, high = wilson_by_hand(8, 10)
    assert estimate.value == pytest.approx(0.8)
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    assert estimate.stderr == pytest.approx(math.sqrt(0.8 * 0.2 / 9))
    assert (estimate.n, estimate.ci_method, estimate.resamples, estimate.seed) == (10, "wilson", None, None)


def test_wilson_is_not_degenerate_at_zero_successes():
    estimate = summarize([False] * 10, kind="binary")
    assert estimate.value == 0.0
    assert estimate.ci_low == pytest.approx(0.0, abs=1e-12)
    assert estimate.ci_high == pytest.approx(Z95**2 / (10 + Z95**2))


@pytest.mark.parametrize("kind", ["binary", "bounded", "continuous"])
def test_stderr_matches_lm_eval(kind):
    rng = np.random.default_rng(7)
    values = rng.integers(0, 2, 137) if kind == "binary" else rng.gamma(2.0, size=137)
    assert summarize(values, kind=kind, resamples=200).stderr == pytest.approx(mean_stderr(list(values)))


def test_bounded_uses_student_t_interval():
    estimate = summarize([1, 2, 3, 4, 5], kind="bounded")
    half = 2.7764451051977987 * math.sqrt(2.5 / 5)  # t(0.975, df=4) from tables
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((3 - half, 3 + half))
    assert estimate.ci_method == "t"


@pytest.mark.parametrize(
    "values",
    [
        np.random.default_rng(1).lognormal(0.0, 1.0, 300),  # skewed, every value distinct
        np.random.default_rng(2).choice([1, 2, 3, 7, 9, 10], 400, p=[0.4, 0.2, 0.1, 0.1, 0.1, 0.1]),  # graded
    ],
    ids=["skewed", "graded"],
)
def test_continuous_bca_agrees_with_scipy(values):
    ours = summarize(values, kind="continuous", resamples=20_000, seed=3)
    theirs = bootstrap((values,), np.mean, n_resamples=20_000, method="BCa", rng=4).confidence_interval
    assert ours.stderr is not None
    assert ours.ci_low == pytest.approx(theirs.low, abs=0.1 * ours.stderr)
    assert ours.ci_high == pytest.approx(theirs.high, abs=0.1 * ours.stderr)
    assert (ours.ci_method, ours.resamples, ours.seed) == ("bootstrap-bca", 20_000, 3)


def test_bootstrap_is_deterministic_for_a_seed():
    values = np.random.default_rng(5).exponential(size=80)
    first = summarize(values, kind="continuous", seed=11, resamples=500)
    assert summarize(values, kind="continuous", seed=11, resamples=500) == first
    assert summarize(values, kind="continuous", seed=12, resamples=500) != first


@pytest.mark.parametrize("kind", ["binary", "bounded", "continuous"])
def test_no_examples_gives_no_value_not_zero(kind):
    estimate = summarize([], kind=kind)
    assert (estimate.value, estimate.stderr, estimate.ci_low, estimate.ci_high, estimate.n) == (
        None,
        None,
        None,
        None,
        0,
    )
    assert estimate.text() == "—"


def test_one_example_has_no_stderr():
    assert summarize([0.7], kind="continuous") == Score(
        value=0.7, stderr=None, ci_low=None, ci_high=None, n=1, ci_method=None
    )
    binary = summarize([1], kind="binary")
    assert binary.stderr is None
    assert (binary.ci_low, binary.ci_high) == pytest.approx(wilson_by_hand(1, 1))


def test_constant_scores_give_a_zero_width_interval():
    estimate = summarize([4.0] * 6, kind="continuous", resamples=100)
    assert (estimate.stderr, estimate.ci_low, estimate.ci_high) == (0.0, 4.0, 4.0)


def test_estimate_round_trips_through_json():
    estimate = summarize(np.random.default_rng(0).normal(size=20), kind="continuous", resamples=100)
    loaded = Score.from_dict(json.loads(json.dumps(estimate.to_dict())))
    assert loaded == estimate
    assert estimate.text(2).startswith(f"{estimate.value:.2f} ± ")


@pytest.mark.parametrize(
    ("values", "kind", "message"),
    [
        ([0, 1, 2], "binary", "0/1"),
        ([1.0, float("nan")], "continuous", "finite"),
        ([[1, 0]], "binary", "1-D"),
        ([1.0], "ordinal", "unknown kind"),
    ],
)
def test_bad_scores_are_rejected(values, kind, message):
    with pytest.raises(ValueError, match=message):
        summarize(values, kind=kind)


def test_confidence_must_be_a_fraction():
    with pytest.raises(ValueError, match="confidence"):
        summarize([1, 0], kind="binary", confidence=95)


# --- pooling sub-tasks -----------------------------------------------------------------------------------


def test_micro_average_pools_examples():
    groups = [[1, 1, 1, 0], [0, 0]]
    assert micro_average(groups, kind="binary") == summarize([1, 1, 1, 0, 0, 0], kind="binary")
    assert micro_average([], kind="binary").value is None


def test_macro_average_weighs_tasks_equally():
    first = Score(value=0.5, stderr=0.03, ci_low=None, ci_high=None, n=100, ci_method="wilson")
    second = Score(value=0.9, stderr=0.04, ci_low=None, ci_high=None, n=10, ci_method="wilson")
    estimate = macro_average([first, second])
    assert estimate.value == pytest.approx(0.7)
    assert estimate.stderr == pytest.approx(0.025)  # sqrt(0.03^2 + 0.04^2) / 2
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((0.7 - Z95 * 0.025, 0.7 + Z95 * 0.025))
    assert (estimate.n, estimate.ci_method) == (110, "macro-normal")


def test_macro_average_interval_stays_inside_the_metric_bounds():
    """Few examples near the ceiling: the normal interval would pass 1.0 for an accuracy (0.75 +- 0.35)."""
    parts = [
        Score(value=1.0, stderr=0.0, ci_low=1.0, ci_high=1.0, n=2, ci_method="wilson"),
        Score(value=0.5, stderr=0.354, ci_low=None, ci_high=None, n=2, ci_method="wilson"),
    ]
    unbounded = macro_average(parts)
    bounded = macro_average(parts, bounds=(0.0, 1.0))
    assert unbounded.ci_high is not None and unbounded.ci_high > 1.0
    assert (bounded.ci_low, bounded.ci_high) == pytest.approx((unbounded.ci_low, 1.0))
    assert (bounded.value, bounded.stderr) == (unbounded.value, unbounded.stderr)


def test_macro_average_of_tasks_all_at_zero_keeps_an_upper_limit():
    """Every language 0 of 4 (the demo's MGSM): stderrs are 0, but the MOVER interval keeps the Wilson upper limits."""
    parts = [summarize([0, 0, 0, 0], kind="binary") for _ in range(2)]
    estimate = macro_average(parts, bounds=(0.0, 1.0))
    upper = parts[0].ci_high
    assert upper is not None and upper > 0.4
    assert (estimate.value, estimate.stderr, estimate.ci_method) == (0.0, 0.0, "macro-mover")
    assert (estimate.ci_low, estimate.ci_high) == pytest.approx((0.0, (2 * upper**2) ** 0.5 / 2))


def test_macro_average_of_symmetric_intervals_is_the_normal_interval():
    parts = [Score(value=0.5, stderr=0.03, ci_low=0.5 - Z95 * 0.03, ci_high=0.5 + Z95 * 0.03, n=100, ci_method="t")] * 2
    parts.append(Score(value=0.2, stderr=0.04, ci_low=0.2 - Z95 * 0.04, ci_high=0.2 + Z95 * 0.04, n=50, ci_method="t"))
    mover = macro_average(parts)
    normal = macro_average(
        [Score(value=p.value, stderr=p.stderr, ci_low=None, ci_high=None, n=p.n, ci_method=None) for p in parts]
    )
    assert mover.ci_method == "macro-mover" and normal.ci_method == "macro-normal"
    assert (mover.ci_low, mover.ci_high) == pytest.approx((normal.ci_low, normal.ci_high))


def test_macro_average_interval_covers_near_the_edges():
    """400 simulated runs of 3 tasks (15 questions each, true rates 2 %, 10 %, 95 %): the MOVER interval from the
    tasks' Wilson intervals covers the true macro mean at least 93 % of the time (0.99 seen in 1,000 runs); the
    normal interval from the stderrs, which collapses whenever a task scores 0 or 15 of 15, covers far less (0.84)."""
    rng = np.random.default_rng(0)
    rates, truth = (0.02, 0.10, 0.95), (0.02 + 0.10 + 0.95) / 3
    covered = {"macro-mover": 0, "macro-normal": 0}
    runs = 400
    for _ in range(runs):
        parts = [summarize(rng.random(15) < rate, kind="binary") for rate in rates]
        plain = [Score(value=p.value, stderr=p.stderr, ci_low=None, ci_high=None, n=p.n, ci_method=None) for p in parts]
        for estimate in (macro_average(parts, bounds=(0.0, 1.0)), macro_average(plain, bounds=(0.0, 1.0))):
            assert estimate.ci_low is not None and estimate.ci_high is not None and estimate.ci_method
            covered[estimate.ci_method] += estimate.ci_low <= truth <= estimate.ci_high
    assert covered["macro-mover"] / runs >= 0.93
    assert covered["macro-normal"] / runs < 0.90


def test_macro_average_refuses_to_drop_missing_tasks():
    empty = Score(value=None, stderr=None, ci_low=None, ci_high=None, n=0, ci_method=None)
    single = Score(value=1.0, stderr=None, ci_low=None, ci_high=None, n=1, ci_method=None)
    full = Score(value=0.5, stderr=0.1, ci_low=0.3, ci_high=0.7, n=25, ci_method="wilson")
    assert macro_average([full, empty]).value is None
    assert macro_average([full, single]) == Score(
        value=0.75, stderr=None, ci_low=None, ci_high=None, n=26, ci_method=None
    )
    assert macro_average([]).value is None


# --- paired differences ----------------------------------------------------------------------------------


def test_paired_bootstrap_covers_a_known_difference():
    """200 simulated comparisons of correlated, skewed scores whose true mean difference is 0.3 (BCa covers
    about 0.95 at n = 80 in 1,000 runs; 0.93 at n = 40)."""
    covered = 0
    for trial in range(200):
        rng = np.random.default_rng(1000 + trial)
        skill = rng.normal(size=80)
        a = skill + rng.normal(size=80)
        b = skill + rng.exponential(size=80) - 1.0 + 0.3
        estimate = paired_bootstrap_ci(a, b, seed=trial, resamples=1000)
        assert estimate.ci_low is not None and estimate.ci_high is not None
        covered += estimate.ci_low <= 0.3 <= estimate.ci_high
    assert 0.90 <= covered / 200 <= 0.99


def test_paired_bootstrap_covers_a_known_accuracy_difference():
    """Binary outcomes, accuracy 0.6 vs 0.7 with b right whenever a is: true difference 0.1."""
    covered = 0
    for trial in range(200):
        u = np.random.default_rng(trial).random(300)
        estimate = paired_bootstrap_ci(u < 0.6, u < 0.7, seed=trial, resamples=1000)
        assert estimate.ci_low is not None and estimate.ci_high is not None
        covered += estimate.ci_low <= 0.1 <= estimate.ci_high
    assert 0.90 <= covered / 200 <= 0.99


def test_paired_bootstrap_reports_mean_difference_and_provenance():
    estimate = paired_bootstrap_ci([1, 2, 3, 4], [2, 4, 3, 8], seed=9, resamples=300)
    assert estimate.value == pytest.approx(1.75)
    assert (estimate.n, estimate.resamples, estimate.seed) == (4, 300, 9)
    assert paired_bootstrap_ci([1, 2, 3, 4], [2, 4, 3, 8], seed=9, resamples=300) == estimate
    assert paired_bootstrap_ci([], []).value is None
    with pytest.raises(ValueError, match="equal lengths"):
        paired_bootstrap_ci([1, 2], [1])


def test_wins_losses_ties_from_b_side():
    counts = wins_losses_ties([1, 2, 3, 4, 5], [2, 2, 1, 4.05, 9])
    assert counts.to_dict() == {"wins": 3, "losses": 1, "ties": 1}
    assert wins_losses_ties([1, 2, 3, 4, 5], [2, 2, 1, 4.05, 9], tolerance=0.1).to_dict() == {
        "wins": 2,
        "losses": 1,
        "ties": 2,
    }


# --- paired tests ----------------------------------------------------------------------------------------


def test_mcnemar_on_agresti_presidential_approval():
    """Agresti, An Introduction to Categorical Data Analysis (2007), table 8.1: 1600 people surveyed twice."""
    a, b = pairs_from_table([[794, 150], [86, 570]])
    result = mcnemar_exact(a, b)
    assert (result.b10, result.b01, result.n, result.statistic) == (150, 86, 1600, 86)
    assert result.p_value == pytest.approx(binomtest(86, 236, 0.5).pvalue, rel=1e-12)
    assert result.p_value < 1e-4  # Agresti: z = -4.17, P < 0.0001


def test_mcnemar_exact_small_table_by_hand():
    a, b = pairs_from_table([[10, 1], [7, 5]])
    assert mcnemar_exact(a, b).p_value == pytest.approx(2 * (1 + 8) / 2**8)  # P(X <= 1 | Bin(8, 1/2)) x 2


def test_mcnemar_without_discordant_pairs():
    result = mcnemar_exact([1, 0, 1], [1, 0, 1])
    assert (result.p_value, result.b01, result.b10) == (1.0, 0, 0)


def test_permutation_test_enumerates_small_samples_exactly():
    result = paired_permutation_test([0, 0, 0, 0, 0], [1, 2, 3, 4, 5], resamples=1000)
    assert result.p_value == pytest.approx(2 / 2**5)  # only all-positive and all-negative are as extreme
    assert (result.statistic, result.resamples, result.seed) == (3.0, None, None)


@pytest.mark.parametrize("n", [30, 200])  # random signs per pair; binomial counts per magnitude
def test_permutation_test_keeps_its_size_under_the_null(n):
    """300 null comparisons (judge scores from the same distribution): rejections at 5 % stay binomial."""
    trials, alpha = 300, 0.05
    rejections = 0
    for trial in range(trials):
        rng = np.random.default_rng(trial)
        a, b = rng.integers(1, 11, size=(2, n))
        rejections += paired_permutation_test(a, b, seed=trial, resamples=999).p_value <= alpha
    assert binom.ppf(0.001, trials, alpha) <= rejections <= binom.ppf(0.999, trials, alpha)


def test_permutation_test_has_power_against_a_clear_effect():
    rng = np.random.default_rng(0)
    a = rng.integers(1, 9, size=40)
    b = a + rng.choice([0, 1, 2], size=40)
    result = paired_permutation_test(a, b, seed=1, resamples=2000)
    assert result.p_value < 0.01
    assert result.p_value >= 1 / 2001  # the +1 correction: never zero
    assert (result.resamples, result.seed) == (2000, 1)
    assert paired_permutation_test(a, b, seed=1, resamples=2000) == result


def test_permutation_test_on_unit_differences_is_the_sign_test():
    a = [0] * 100
    b = [1] * 60 + [-1] * 40
    result = paired_permutation_test(a, b, seed=2, resamples=20_000)
    assert result.p_value == pytest.approx(binomtest(60, 100).pvalue, abs=0.006)  # 4 Monte Carlo sd


def test_sampled_permutation_p_approaches_the_exact_one():
    differences = np.random.default_rng(4).normal(0.5, 1.0, 12)
    exact = paired_permutation_test(np.zeros(12), differences, resamples=2**12)
    sampled = paired_permutation_test(np.zeros(12), differences, seed=5, resamples=4000)
    assert (exact.resamples, sampled.resamples) == (None, 4000)
    assert sampled.p_value == pytest.approx(exact.p_value, abs=4 * math.sqrt(exact.p_value / 4000))


def test_permutation_test_without_differences():
    assert paired_permutation_test([3, 4], [3, 4]).p_value == 1.0
    assert paired_permutation_test([], []).p_value == 1.0


def test_wilcoxon_on_darwin_maize_by_exact_enumeration():
    """Darwin's cross- vs self-fertilised Zea mays height differences (Fisher, Design of Experiments)."""
    d = np.array([6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75])
    # rank sums of the negative differences: |-48| ranks 10th, |-67| 14th
    ways = np.zeros(121, dtype=np.int64)
    ways[0] = 1
    for rank in range(1, 16):
        ways[rank:] = ways[rank:] + ways[:-rank].copy()
    exact_p = 2 * ways[:25].sum() / 2**15
    result = wilcoxon_signed_rank(np.zeros(15), d)
    assert result.statistic == 24
    assert result.p_value == pytest.approx(exact_p)
    assert wilcoxon_signed_rank([1, 2, 3], [1, 2, 3]).p_value == 1.0


def test_paired_test_picks_the_test_by_kind():
    assert paired_test([1, 0, 1], [1, 1, 1], "binary").name == "mcnemar_exact"
    assert paired_test([1, 3, 5], [2, 3, 4], "bounded").name == "paired_permutation"
    assert json.loads(json.dumps(paired_test([1, 0], [0, 1], "binary").to_dict()))["b01"] == 1


def test_holm_on_a_hand_worked_example():
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, max(0.04*1, 0.06) = 0.06
    result = holm_bonferroni([0.01, 0.04, 0.03, 0.005])
    assert result.adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert result.reject == (True, False, False, True)
    assert holm_bonferroni([]).adjusted == ()
    assert holm_bonferroni([0.6, 0.7]).adjusted == pytest.approx((1.0, 1.0))
