"""The test n-gram index and the single pass over a corpus that finds where each test n-gram occurs."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import NDArray

from instructeval.contamination._corpus import Block
from instructeval.contamination._examples import TestExample
from instructeval.contamination._ngrams import Words, block_words, ngram_hashes
from instructeval.results import OverlapLocation

FILTER_BITS = 25
"""log2 of the prefilter's size: a corpus n-gram whose top bits miss it is skipped without a search."""
LOCATIONS_PER_NGRAM = 1


@dataclass
class NgramIndex:
    """Every distinct n-gram of the test examples, hashed, with the examples that contain it."""

    n: int
    examples: Sequence[TestExample]
    words: Words  # the examples' normalised words: what a matching corpus n-gram is checked against
    hashes: NDArray[np.uint64]  # sorted, unique
    first_words: NDArray[np.int64]  # per hash: where its n-gram starts in `words`
    owner_bounds: NDArray[np.int64]  # per hash: its examples are owner_ids[bounds[i]:bounds[i + 1]]
    owner_ids: NDArray[np.int64]
    ngrams_per_example: list[int]
    prefilter: NDArray[np.bool_] = field(repr=False)

    @classmethod
    def build(cls, examples: Sequence[TestExample], n: int) -> NgramIndex:
        """Hash the n-grams of every example (question and answer, normalised like the corpus)."""
        if n < 1:
            raise ValueError(f"n must be positive, got {n}")
        words = block_words([example.text for example in examples])
        hashes, first = ngram_hashes(words, n)
        owners = words.records[first]
        order = np.lexsort((owners, hashes))
        hashes, first, owners = hashes[order], first[order], owners[order]
        repeated = np.zeros(hashes.size, dtype=bool)
        repeated[1:] = (hashes[1:] == hashes[:-1]) & (owners[1:] == owners[:-1])
        hashes, first, owners = hashes[~repeated], first[~repeated], owners[~repeated]
        new = np.ones(hashes.size, dtype=bool)
        new[1:] = hashes[1:] != hashes[:-1]
        starts = np.flatnonzero(new)
        prefilter = np.zeros(1 << FILTER_BITS, dtype=bool)
        prefilter[hashes >> np.uint64(64 - FILTER_BITS)] = True
        return cls(
            n,
            examples,
            words,
            hashes[starts],
            first[starts],
            np.append(starts, hashes.size),
            owners,
            np.bincount(owners, minlength=len(examples)).tolist(),
            prefilter,
        )

    def owners(self, position: int) -> list[int]:
        """The examples that contain the n-gram at `position`."""
        return [int(i) for i in self.owner_ids[self.owner_bounds[position] : self.owner_bounds[position + 1]]]

    def text(self, position: int) -> str:
        """The normalised n-gram at `position`."""
        return self.words.ngram_text(int(self.first_words[position]), self.n)


@dataclass
class Matches:
    """What one pass over a corpus found: per test n-gram, the first places it occurs."""

    locations: dict[int, list[OverlapLocation]] = field(default_factory=dict)  # hash index -> locations
    corpus_bytes: int = 0
    corpus_documents: int = 0


def scan(index: NgramIndex, blocks: Iterable[Block]) -> Matches:
    """Stream the corpus once, recording where each test n-gram occurs (verified word by word)."""
    matches = Matches()
    carry: tuple[str, int] | None = None  # the last n-1 words of a text document that goes on, and their line
    for block in blocks:
        matches.corpus_bytes += block.size
        matches.corpus_documents += block.new_documents
        if block.continues and carry is not None:
            block.texts[0] = carry[0] + block.texts[0]
            block.records[0] = replace(block.records[0], line=carry[1])
        words = block_words(block.texts)
        carry = _carry(words, block, index.n) if block.carries else None
        hashes, first = ngram_hashes(words, index.n)
        candidates = np.flatnonzero(index.prefilter[hashes >> np.uint64(64 - FILTER_BITS)])
        if candidates.size == 0:
            continue
        positions = np.searchsorted(index.hashes, hashes[candidates])
        positions = np.minimum(positions, index.hashes.size - 1)
        hit = index.hashes[positions] == hashes[candidates]
        for candidate, position in zip(candidates[hit].tolist(), positions[hit].tolist(), strict=True):
            _record(index, matches, words, block, int(first[candidate]), position)
    return matches


def _carry(words: Words, block: Block, n: int) -> tuple[str, int] | None:
    """The text from the (n-1)-th last word of the block's last record on, and the line it starts on."""
    last_record = len(block.texts) - 1
    first_of_last = int(np.searchsorted(words.records, last_record))
    if n == 1 or first_of_last == words.hashes.size:
        return None
    word = max(first_of_last, int(words.hashes.size) - (n - 1))
    return words.data[int(words.starts[word]) :].decode("utf-8"), block.locate(words, word)[1]


def _record(index: NgramIndex, matches: Matches, words: Words, block: Block, word: int, position: int) -> None:
    if len(matches.locations.get(position, ())) >= LOCATIONS_PER_NGRAM:
        return
    text = words.ngram_text(word, index.n)
    if text != index.text(position):
        return  # a hash collision: not the same words
    source, line = block.locate(words, word)
    matches.locations.setdefault(position, []).append(OverlapLocation(source=source, line=line, ngram=text))
