"""`sweep --status`: each pair's state from its run folder, and a failed pair's last error from the journal."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from instructeval.sweep._driver import JOURNAL
from instructeval.sweep._plan import Pair, PairState, pair_state


def last_errors(outputs: set[Path]) -> dict[str, str]:
    """run folder -> the error of its last journal entry, for pairs whose last attempt failed."""
    errors: dict[str, str] = {}
    for output in outputs:
        journal = output / JOURNAL
        if not journal.is_file():
            continue
        for line in journal.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry["status"] == "failed":
                errors[entry["run_dir"]] = entry["error"]
            else:
                errors.pop(entry["run_dir"], None)
    return errors


def status_lines(pairs: list[Pair]) -> tuple[list[str], Counter[str]]:
    """One line per pair: state (done, running, failed, stopped, pending), evaluation, model, run folder, and the
    last error of a failed pair; and how many pairs are in each state."""
    errors = last_errors({pair.options.output for pair in pairs})
    lines: list[str] = []
    counts: Counter[str] = Counter()
    for pair in pairs:
        state: PairState | str = pair_state(pair.run_dir)
        error = errors.get(str(pair.run_dir), "")
        if state in ("stopped", "pending") and error:
            state = "failed"
        counts[state] += 1
        line = f"{state:<8} {pair.label}  {pair.run_dir}"
        lines.append(f"{line}  {error}" if error else line)
    return lines, counts
