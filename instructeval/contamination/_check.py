"""`instructeval contamination --corpus`: which test examples share an n-gram with a corpus, and where."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime

from instructeval.contamination._corpus import iter_blocks
from instructeval.contamination._examples import TestExample
from instructeval.contamination._ngrams import NORMALISATION
from instructeval.contamination._overlap import NgramIndex, scan
from instructeval.hashing import sha256_text
from instructeval.results import (
    ContaminatedExample,
    ContaminationResult,
    OverlapLocation,
    SubtaskOverlap,
    TaskContamination,
)
from instructeval.stats import summarize

DEFAULT_NGRAM = 13
LOCATIONS_PER_EXAMPLE = 3


def check_overlap(
    examples: Sequence[TestExample],
    corpus: list[str],
    n: int = DEFAULT_NGRAM,
    progress: Callable[[str], None] = print,
) -> ContaminationResult:
    """Hash every test n-gram once, stream the corpus once, and report per task which examples overlap it."""
    index = NgramIndex.build(examples, n)
    progress(f"{len(index.hashes)} distinct {n}-grams in {len(examples)} test examples; streaming the corpus")
    matches = scan(index, iter_blocks(corpus))
    matched: dict[int, list[int]] = defaultdict(list)  # example -> matched hash indices
    for position in matches.locations:  # in the order the corpus revealed them
        if matches.locations[position]:
            for owner in index.owners(position):
                matched[owner].append(position)
    by_task: dict[str, list[int]] = defaultdict(list)
    for number, example in enumerate(examples):
        by_task[example.task].append(number)
    tasks = {
        task: _task_contamination(task, members, index, matched, matches.locations) for task, members in by_task.items()
    }
    return ContaminationResult(
        method="ngram",
        ngram=n,
        normalisation=NORMALISATION,
        corpus=corpus,
        corpus_bytes=matches.corpus_bytes,
        corpus_documents=matches.corpus_documents,
        tasks=tasks,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def data_hash(doc_hashes: Iterable[str]) -> str:
    """sha256 of the sorted doc hashes: a run's `data_hash` for the same examples."""
    return sha256_text("\n".join(sorted(doc_hashes)))


def _subtasks(members: list[int], index: NgramIndex) -> dict[str, SubtaskOverlap]:
    by_subtask: dict[str, list[int]] = defaultdict(list)
    for member in members:
        by_subtask[index.examples[member].subtask].append(member)
    return {
        subtask: SubtaskOverlap(
            data_hash=data_hash(index.examples[m].doc_hash for m in chosen),
            examples=len(chosen),
            checkable=sum(index.ngrams_per_example[m] > 0 for m in chosen),
        )
        for subtask, chosen in by_subtask.items()
    }


def _task_contamination(
    task: str,
    members: list[int],
    index: NgramIndex,
    matched: dict[int, list[int]],
    locations: dict[int, list[OverlapLocation]],
) -> TaskContamination:
    checkable = [m for m in members if index.ngrams_per_example[m] > 0]
    contaminated = []
    for member in checkable:
        if member not in matched:
            continue
        example = index.examples[member]
        found = [loc for position in matched[member] for loc in locations[position]]
        contaminated.append(
            ContaminatedExample(
                subtask=example.subtask,
                doc_id=example.doc_id,
                doc_hash=example.doc_hash,
                matched_ngrams=len(matched[member]),
                ngrams=index.ngrams_per_example[member],
                locations=found[:LOCATIONS_PER_EXAMPLE],
            )
        )
    flags = [1.0 if m in matched else 0.0 for m in checkable]
    share = summarize(flags, kind="binary")
    return TaskContamination(
        task=task,
        examples=len(members),
        checkable=len(checkable),
        subtasks=_subtasks(members, index),
        contaminated=contaminated,
        contaminated_share=share,
    )
