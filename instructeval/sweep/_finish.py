"""After a sweep: `compare` of every tuned model against its declared base, then `leaderboard build` over the
sweep's runs (the comparisons included), written beside them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from instructeval.errors import InstructEvalError
from instructeval.sweep._plan import Pair, pair_state


@dataclass(frozen=True)
class Finished:
    """Where the comparisons and the site went, and what could not be compared (with why)."""

    comparisons: list[Path]
    not_compared: list[str]
    site: Path | None


def compare_with_bases(pairs: list[Pair]) -> tuple[list[Path], list[str]]:
    """For each done pair with a base: the base's done pair of the same evaluation, compared paired by example."""
    from instructeval.compare import CompareOptions, compare_runs

    by_key = {(pair.key, pair.evaluation): pair for pair in pairs}
    written: list[Path] = []
    skipped: list[str] = []
    for pair in pairs:
        if pair.base is None or pair_state(pair.run_dir) != "done":
            continue
        base = by_key.get((pair.base, pair.evaluation))
        if base is None or pair_state(base.run_dir) != "done":
            skipped.append(f"{pair.label}: its base {pair.base[0]} has no finished run of {pair.evaluation}")
            continue
        try:
            outcomes = compare_runs(CompareOptions(runs=(base.run_dir, pair.run_dir)))
        except InstructEvalError as exc:
            skipped.append(f"{pair.label}: {exc}")
            continue
        written += [outcome.path for outcome in outcomes]
    return written, skipped


def finish_sweep(pairs: list[Pair], site: Path) -> Finished:
    """Compare tuned models with their bases, then build the leaderboard over every done pair's run."""
    from instructeval.leaderboard import build_site

    comparisons, not_compared = compare_with_bases(pairs)
    done = [pair.run_dir for pair in pairs if pair_state(pair.run_dir) == "done"]
    if not done:
        return Finished(comparisons, not_compared, None)
    built = build_site(done, site)
    return Finished(comparisons, not_compared, built.index)
