"""`inject report`: FineTuneBench's table layout (model x split, new- and updated-knowledge sets) from our runs.

One row per model (and method, where it is not the model's only one), one column per FineTuneBench split,
grouped as the paper groups them: new knowledge (latest news, fictional people) and updated knowledge
(medical guidelines, code APIs), each group closed by its average. Every cell carries n and its 95 % CI.
FineTuneBench released model responses for the new-knowledge sets only, while its README averages include
medical and coding: a row scored from released responses has no updated-knowledge cells, and an average
over a group with splits missing is marked as one the paper's average cannot be compared with. Updated
knowledge cells also give the share of answers that kept the pre-update answer (`<scorer>@answer_before`).
Sets outside FineTuneBench get a group of their own, with their own splits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from instructeval.knowledge.report import score_text
from instructeval.knowledge.scorers import before_scorer
from instructeval.knowledge.types import SPLITS
from instructeval.results import KnowledgeResult
from instructeval.score import Score

PAPER_GROUPS: tuple[tuple[str, tuple[tuple[str, tuple[str, ...]], ...]], ...] = (
    (
        "new knowledge",
        (
            ("finetunebench:latest_news", ("memorisation", "rephrased", "date-changed")),
            ("finetunebench:fictional_people", ("memorisation", "rephrased", "secondary", "comparison")),
        ),
    ),
    (
        "updated knowledge",
        (
            ("finetunebench:medical", ("memorisation", "vignette")),
            ("finetunebench:coding", ("code-update",)),
        ),
    ),
)
UNRELEASED = frozenset({"finetunebench:medical", "finetunebench:coding"})
"""Sets whose model responses FineTuneBench never released, though its averages include them."""
MISSING_MARK = "†"
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Column:
    """One column: a set's split, or (split None) the average of a group."""

    group: str
    knowledge_set: str | None
    split: str | None

    @property
    def label(self) -> str:
        if self.split is None:
            return f"{self.group}: average"
        name = (self.knowledge_set or "").removeprefix("finetunebench:")
        return f"{name}: {self.split}"


@dataclass
class PaperRow:
    """One model's cells, keyed by column; `marked` holds the columns the paper's numbers cannot be matched on."""

    label: str
    cells: dict[Column, Score] = field(default_factory=dict)
    kept_old: dict[Column, Score] = field(default_factory=dict)
    marked: set[Column] = field(default_factory=set)


@dataclass(frozen=True)
class PaperTable:
    scorer: str
    columns: list[Column]
    rows: list[PaperRow]
    notes: list[str]


def paper_table(entries: Sequence[tuple[str, KnowledgeResult]], scorer: str) -> PaperTable:
    """Arrange (model label, result) pairs in FineTuneBench's layout; a later entry for the same cell wins."""
    present_sets = {result.knowledge_set for _label, result in entries}
    columns = _columns(present_sets, entries)
    rows: dict[str, PaperRow] = {}
    for model, result in entries:
        label = _row_label(model, result.method, entries)
        row = rows.setdefault(label, PaperRow(label))
        for column in columns:
            if column.knowledge_set != result.knowledge_set or column.split is None:
                continue
            cells = result.splits.get(column.split, {})
            if scorer in cells:
                row.cells[column] = cells[scorer].score
            if before_scorer(scorer) in cells:
                row.kept_old[column] = cells[before_scorer(scorer)].score
    notes = [f"accuracy under the {scorer} scorer, [95 % CI] (n); averages are unweighted means of the splits present"]
    for row in rows.values():
        for column in columns:
            if column.split is None:
                _average(row, column, [c for c in columns if c.group == column.group and c.split is not None])
            elif column not in row.cells and column.knowledge_set in UNRELEASED:
                row.marked.add(column)
    if any(row.marked for row in rows.values()):
        notes.append(
            f"{MISSING_MARK} not reproducible from released responses: FineTuneBench released no medical or coding "
            "responses, yet its README averages include them; an average marked so covers only the splits present"
        )
    if any(row.kept_old for row in rows.values()):
        notes.append(f"old: share of answers that kept the pre-update answer ({before_scorer(scorer)})")
    return PaperTable(scorer, columns, list(rows.values()), notes)


def table_cells(table: PaperTable) -> tuple[list[str], list[list[str]]]:
    """Header and text rows, the same for the terminal and for Markdown."""
    header = ["model", *(column.label for column in table.columns)]
    body = []
    for row in table.rows:
        texts = [row.label]
        for column in table.columns:
            text = score_text(row.cells.get(column))
            if column in row.kept_old:
                text += f"; old {score_text(row.kept_old[column])}"
            texts.append(text + (f" {MISSING_MARK}" if column in row.marked else ""))
        body.append(texts)
    return header, body


def markdown_table(table: PaperTable) -> str:
    """The table as Markdown, notes below it."""
    header, body = table_cells(table)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join([*lines, "", *(f"- {note}" for note in table.notes)]) + "\n"


def _columns(present_sets: set[str], entries: Sequence[tuple[str, KnowledgeResult]]) -> list[Column]:
    columns: list[Column] = []
    paper_sets = {name for _group, sets in PAPER_GROUPS for name, _splits in sets}
    if present_sets & paper_sets:
        for group, sets in PAPER_GROUPS:
            columns += [Column(group, name, split) for name, splits in sets for split in splits]
            columns.append(Column(group, None, None))
    for name in sorted(present_sets - paper_sets):
        splits = {split for _label, r in entries if r.knowledge_set == name for split in r.splits}
        ordered = [s for s in SPLITS if s in splits] + sorted(splits - set(SPLITS))
        columns += [Column(name, name, split) for split in ordered]
    return columns


def _row_label(model: str, method: str, entries: Sequence[tuple[str, KnowledgeResult]]) -> str:
    methods = {r.method for label, r in entries if label == model}
    return model if len(methods) == 1 else f"{model} · {method}"


def _average(row: PaperRow, column: Column, members: list[Column]) -> None:
    """The unweighted mean of the group's split accuracies present in the row, with a normal-approximation CI."""
    scores = [row.cells[c] for c in members if c in row.cells and row.cells[c].value is not None]
    if len(scores) < len(members):
        row.marked.add(column)
    if not scores:
        return
    k = len(scores)
    value = sum(s.value or 0.0 for s in scores) / k
    stderr = math.sqrt(sum((s.stderr or 0.0) ** 2 for s in scores)) / k
    row.cells[column] = Score(
        value=value,
        stderr=stderr,
        ci_low=max(0.0, value - Z95 * stderr),
        ci_high=min(1.0, value + Z95 * stderr),
        ci_method="normal",
        n=sum(s.n or 0 for s in scores),
    )
