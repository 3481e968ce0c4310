"""From scored answers to the method x split table: per-sample records, `KnowledgeResult`s, the printed table.

Every cell is `stats.summarize(values, kind="binary")` (mean, stderr, Wilson 95 % CI, n) and carries its
scorer's name; answers a scorer could not score (e.g. a judge verdict that never parsed) are left out of n.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rich.table import Table

from instructeval.knowledge.methods.base import Answered
from instructeval.knowledge.scorers import before_scorer
from instructeval.knowledge.types import SPLITS, KnowledgeSet
from instructeval.results import KnowledgeCell, KnowledgeResult, SampleRecord
from instructeval.score import Score
from instructeval.stats import summarize

METHOD_ORDER = ("base", "icl", "finetune", "augmented-finetune", "external")


def sample_records(
    kset: KnowledgeSet,
    method: str,
    answered: Sequence[Answered],
    scores: Mapping[str, Mapping[str, float | None]],
) -> list[SampleRecord]:
    """One record per probe for samples/knowledge_<set>_<method>.jsonl."""
    records = []
    for index, item in enumerate(answered):
        probe = item.probe
        records.append(
            SampleRecord(
                task=f"knowledge:{kset.name}",
                subtask=probe.split,
                doc_id=index,
                doc_hash=probe.digest(),
                prompt=item.prompt,
                target=probe.answer,
                responses=[item.response] if item.response is not None else [],
                response=item.response,
                choice_loglikelihoods=list(item.loglikelihoods) if item.loglikelihoods is not None else None,
                scores=dict(scores.get(probe.id, {})),
                groups={"split": probe.split, "method": method},
                details={
                    "probe_id": probe.id,
                    "choices": list(probe.choices) or None,
                    "correct_choice": probe.correct if probe.choices else None,
                    "facts_in_context": item.context_facts,
                    "outdated_answer": probe.outdated_answer,
                },
            )
        )
    return records


def knowledge_result(
    kset: KnowledgeSet,
    method: str,
    records: Sequence[SampleRecord],
    scorers: Sequence[str],
    *,
    training: dict[str, Any] | None = None,
    tuned_model: str | None = None,
    wall_seconds: float | None = None,
) -> KnowledgeResult:
    """Aggregate records into split -> scorer -> cell (and `<scorer>@answer_before` where probes have one)."""
    splits: dict[str, dict[str, KnowledgeCell]] = {}
    outdated = [before_scorer(s) for s in scorers if any(before_scorer(s) in r.scores for r in records)]
    for split in kset.splits:
        cells = {}
        for scorer in [*scorers, *outdated]:
            values = [value for r in records if r.subtask == split and (value := r.scores.get(scorer)) is not None]
            if values:
                cells[scorer] = KnowledgeCell(score=summarize(values, kind="binary"), scorer=scorer)
        if cells:
            splits[split] = cells
    return KnowledgeResult(
        knowledge_set=kset.name,
        method=method,
        splits=splits,
        tuned_model=tuned_model,
        training=training or {},
        wall_seconds=None if wall_seconds is None else round(wall_seconds, 2),
    )


def knowledge_table(results: Iterable[KnowledgeResult], title: str | None = None) -> Table:
    """A rich table: one row per (knowledge set, method, scorer), one column per split."""
    results = sorted(results, key=lambda r: (r.knowledge_set, _method_rank(r.method)))
    present = {split for r in results for split in r.splits}
    splits = [s for s in SPLITS if s in present] + sorted(present - set(SPLITS))
    table = Table(title=title or "knowledge injection: accuracy [95 % Wilson CI] (n)", title_justify="left")
    for column in ("set", "method", "scorer", *splits):
        table.add_column(column, justify="left" if column in ("set", "method", "scorer") else "right")
    for result in results:
        scorers = list(dict.fromkeys(s for cells in result.splits.values() for s in cells))
        for scorer in scorers:
            row = [result.knowledge_set, result.method, scorer]
            row += [cell_text(result.splits.get(split, {}).get(scorer)) for split in splits]
            table.add_row(*row)
    if any("forced-choice" in cells for r in results for cells in r.splits.values()):
        table.caption = "forced-choice probes have 2 options: chance is 0.50"
    return table


def markdown_table(results: Iterable[KnowledgeResult]) -> str:
    """The same table as Markdown (for READMEs and notes)."""
    results = sorted(results, key=lambda r: (r.knowledge_set, _method_rank(r.method)))
    present = {split for r in results for split in r.splits}
    splits = [s for s in SPLITS if s in present] + sorted(present - set(SPLITS))
    lines = ["| method | scorer | " + " | ".join(splits) + " |", "|---|---|" + "---|" * len(splits)]
    for result in results:
        for scorer in dict.fromkeys(s for cells in result.splits.values() for s in cells):
            cells = [cell_text(result.splits.get(split, {}).get(scorer)) for split in splits]
            lines.append(f"| {result.method} | {scorer} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cell_text(cell: KnowledgeCell | None) -> str:
    """'0.625 [0.31, 0.86] (8)', or '—' when the split has no score for this scorer."""
    return score_text(cell.score if cell is not None else None)


def score_text(score: Score | None) -> str:
    """'0.625 [0.31, 0.86] (8)', or '—' when nothing was scored."""
    if score is None or score.value is None:
        return "—"
    interval = (
        f" [{score.ci_low:.2f}, {score.ci_high:.2f}]" if score.ci_low is not None and score.ci_high is not None else ""
    )
    return f"{score.value:.3f}{interval} ({score.n})"


def _method_rank(method: str) -> int:
    return METHOD_ORDER.index(method) if method in METHOD_ORDER else len(METHOD_ORDER)
