"""The report as the terminal shows it: one row per task, then where each contaminated example was found."""

from __future__ import annotations

from instructeval.results import ContaminationResult

EXAMPLES_SHOWN = 10


def contamination_table(result: ContaminationResult) -> str:
    """Per task the contaminated share (and clean-subset scores when a run was re-scored); a few locations."""
    if result.method == "min-k":
        return probe_table(result)
    rows: list[tuple[str, ...]] = [("task", "examples", "checkable", "contaminated", "share [95% CI]")]
    scored = any(task.clean_subset for task in result.tasks.values())
    if scored:
        rows[0] += ("metric", "full", "clean", "dirty - clean", "test p")
    for task in result.tasks.values():
        row: tuple[str, ...] = (
            task.task,
            str(task.examples),
            str(task.checkable),
            str(len(task.contaminated)),
            task.contaminated_share.text(stderr=False),
        )
        if scored:
            clean = task.clean_subset
            row += (
                (
                    clean.metric,
                    clean.full.text(),
                    clean.clean.text(),
                    clean.dirty_minus_clean.text(),
                    f"{clean.p_value:.3g} ({clean.test})" if clean.p_value is not None else clean.test,
                )
                if clean
                else ("", "", "", "", "")
            )
        rows.append(row)
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(0, f"{result.ngram}-gram overlap with {', '.join(result.corpus)} ({_size(result.corpus_bytes)})")
    shown = [e for t in result.tasks.values() for e in t.contaminated][:EXAMPLES_SHOWN]
    for example in shown:
        where = example.locations[0] if example.locations else None
        found = f" first at {where.source}:{where.line}: {where.ngram!r}" if where else ""
        lines.append(f"  {example.subtask} #{example.doc_id}: {example.matched_ngrams}/{example.ngrams} n-grams{found}")
    total = sum(len(t.contaminated) for t in result.tasks.values())
    if total > len(shown):
        lines.append(f"  ... and {total - len(shown)} more in the report")
    return "\n".join(lines)


def _size(size: int | None) -> str:
    return "size unknown" if size is None else f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size} bytes"


def probe_table(result: ContaminationResult) -> str:
    """Per task the Min-K% flag rate, with the threshold and false-positive rate it was set at."""
    rows = [("task", "examples", "k %", "copies", "threshold", "fpr", "flagged", "flag rate [95% CI]")]
    for task in result.probe.values():
        rows.append(
            (
                task.task,
                str(task.examples),
                f"{task.k_percent:g}",
                str(task.copies),
                f"{task.threshold:.3f}",
                f"{task.false_positive_rate:g}",
                str(len(task.flagged)),
                task.flag_rate.text(stderr=False),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(0, f"Min-K% Prob of {result.model}, calibrated against perturbed copies (not a proof either way)")
    return "\n".join(lines)
