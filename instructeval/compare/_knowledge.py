"""Knowledge-injection results compared probe by probe: two checkpoints on one set, or two methods of one run.

Probes pair by their digest within each split; every scorer both sides used gives one row per split.
"""

from __future__ import annotations

from pathlib import Path

from instructeval.compare._pairing import PairedScores, SampleKey, paired, sample_scores
from instructeval.knowledge.types import set_slug
from instructeval.results import KnowledgeResult, read_samples
from instructeval.run import LoadedRun

Measured = tuple[str, str]
"""(knowledge set, method)."""


def measured(run: LoadedRun) -> dict[Measured, KnowledgeResult]:
    """The run's knowledge results by (set, method)."""
    return {(r.knowledge_set, r.method): r for r in run.results.knowledge or []}


def shared_measurements(base: LoadedRun, other: LoadedRun) -> list[Measured]:
    """(set, method) both runs measured, in the base run's order."""
    theirs = measured(other)
    return [key for key in measured(base) if key in theirs]


def samples_name(kset: str, method: str) -> str:
    """The samples file of one method's answers: samples/knowledge_<set slug>_<method>.jsonl."""
    return f"knowledge_{set_slug(kset)}_{method}"


def probe_mismatches(base: LoadedRun, other: LoadedRun, shared: list[Measured]) -> list[str]:
    """Sets whose probes differ between the runs (another --size, --limit or seed draws other probes)."""
    found = []
    for kset, method in shared:
        first, second = (_probes(run.path, kset, method) for run in (base, other))
        if first != second:
            found.append(f"knowledge:{kset} {method} probes differ ({len(first ^ second)} in only one run)")
    return found


def _probes(run_dir: Path, kset: str, method: str) -> set[str]:
    return {str(row["doc_hash"]) for row in read_samples(run_dir, samples_name(kset, method))}


def checkpoint_pairs(
    base: LoadedRun, other: LoadedRun, shared: list[Measured], *, scorer: str | None
) -> list[PairedScores]:
    """Base checkpoint vs tuned checkpoint: the same set and method in two runs, per scorer (or the one named)
    and split."""
    found = []
    for kset, method in shared:
        first, second = measured(base)[(kset, method)], measured(other)[(kset, method)]
        files = [(run.path, samples_name(kset, method)) for run in (base, other)]
        found += _per_split(f"knowledge:{kset} {method}", files[0], files[1], first, second, scorer)
    return found


def method_pairs(run: LoadedRun, base_method: str, method: str, *, scorer: str | None) -> list[PairedScores]:
    """Two methods of one run on every set both measured, per scorer (or the one named) and split."""
    results = measured(run)
    found = []
    for kset in dict.fromkeys(k for k, m in results if m == base_method):
        if (kset, method) in results:
            found += _per_split(
                f"knowledge:{kset}",
                (run.path, samples_name(kset, base_method)),
                (run.path, samples_name(kset, method)),
                results[(kset, base_method)],
                results[(kset, method)],
                scorer,
            )
    return found


def _per_split(
    task: str,
    base: tuple[Path, str],
    other: tuple[Path, str],
    first: KnowledgeResult,
    second: KnowledgeResult,
    scorer: str | None,
) -> list[PairedScores]:
    scorers = [s for s in _scorers(first) if s in _scorers(second) and scorer in (None, s)]
    found = []
    for name in scorers:
        left, right = sample_scores(*base, name), sample_scores(*other, name)
        for split in first.splits:
            found.append(paired(task, name, _in_split(left, split), _in_split(right, split), group=split))
    return found


def _scorers(result: KnowledgeResult) -> list[str]:
    return list(dict.fromkeys(scorer for cells in result.splits.values() for scorer in cells))


def _in_split(values: dict[SampleKey, float], split: str) -> dict[SampleKey, float]:
    return {key: value for key, value in values.items() if key[0] == split}
