"""Statistics every consumer uses: a score's stderr and CI (clustered where examples share a source), paired
differences and tests, Holm's correction.

Pure functions over per-example scores (sequences or 1-D arrays of floats, 0/1 for binary metrics);
results are frozen dataclasses with `to_dict()` for results.json.
"""

from instructeval.score import Score
from instructeval.stats._arrays import KINDS, Kind
from instructeval.stats._cluster import (
    cluster_bootstrap_means,
    clustered_stderr,
    paired_cluster_bootstrap_ci,
    summarize_clustered,
)
from instructeval.stats._estimate import macro_average, micro_average, summarize
from instructeval.stats._paired import WinsLossesTies, paired_bootstrap_ci, wins_losses_ties
from instructeval.stats._power import (
    POWER,
    Equivalence,
    equivalence_test,
    minimum_detectable_effect,
    pairs_needed,
    t_test_power,
)
from instructeval.stats._resample import DEFAULT_RESAMPLES
from instructeval.stats._significance import (
    HolmResult,
    TestResult,
    holm_bonferroni,
    mcnemar_exact,
    paired_permutation_test,
    paired_test,
    wilcoxon_signed_rank,
)
from instructeval.stats._two_sample import difference_of_independent_means, two_sample_test

__all__ = [
    "DEFAULT_RESAMPLES",
    "KINDS",
    "POWER",
    "Equivalence",
    "HolmResult",
    "Kind",
    "Score",
    "TestResult",
    "WinsLossesTies",
    "cluster_bootstrap_means",
    "clustered_stderr",
    "difference_of_independent_means",
    "equivalence_test",
    "holm_bonferroni",
    "macro_average",
    "mcnemar_exact",
    "micro_average",
    "minimum_detectable_effect",
    "paired_bootstrap_ci",
    "paired_cluster_bootstrap_ci",
    "paired_permutation_test",
    "paired_test",
    "pairs_needed",
    "summarize",
    "summarize_clustered",
    "t_test_power",
    "two_sample_test",
    "wilcoxon_signed_rank",
    "wins_losses_ties",
]
