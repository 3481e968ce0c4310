"""Normalised words and their n-gram hashes, computed with numpy over a whole block of text at once.

A block is many records (corpus lines, JSON records, test examples) joined by a separator byte that is
never part of a word; an n-gram counts only when all its words lie in one record. Word and n-gram hashes
are polynomial hashes modulo 2**64 (numpy's wrapping uint64 arithmetic): equal n-grams always get equal
hashes, and every hash match is then checked word by word, so a collision can never report an overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

NORMALISATION = (
    "lowercased (Unicode); words are runs of letters and digits: ASCII punctuation, whitespace and the Unicode "
    "punctuation of U+00A0-U+00BF and U+2000-U+206F separate them"
)
SEPARATOR = "\x1e"
"""Joins the records of a block; not a word character, so no word or n-gram crosses it unnoticed."""

_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[[*range(ord("0"), ord("9") + 1), *range(ord("a"), ord("z") + 1), *range(ord("A"), ord("Z") + 1)]] = True
_WORD_BYTE[0x80:] = True  # bytes of non-ASCII characters: letters unless marked below
_WORD_BASE = np.uint64(0x100000001B3)
_NGRAM_BASE = np.uint64(0x9E3779B97F4A7C15)
_U64 = np.uint64
_POWER_TABLES: dict[int, tuple[NDArray[np.uint64], NDArray[np.uint64]]] = {}


@dataclass(frozen=True)
class Words:
    """The words of a block: byte spans, hashes and the record each belongs to."""

    data: bytes
    starts: NDArray[np.int64]
    ends: NDArray[np.int64]
    hashes: NDArray[np.uint64]
    records: NDArray[np.int64]
    record_starts: NDArray[np.int64]

    def text(self, index: int) -> str:
        """The normalised word at `index`."""
        return self.data[self.starts[index] : self.ends[index]].decode("utf-8", errors="replace")

    def ngram_text(self, first: int, n: int) -> str:
        """The normalised n-gram starting at word `first`."""
        return " ".join(self.text(first + i) for i in range(n))


def block_words(texts: list[str]) -> Words:
    """Split records into normalised words (see NORMALISATION) and hash each word."""
    data = SEPARATOR.join(texts).lower().encode("utf-8")
    raw = np.frombuffer(data, dtype=np.uint8)
    is_word = _WORD_BYTE[raw]
    _mark_unicode_punctuation(raw, is_word)
    edges = np.diff(np.concatenate(([False], is_word, [False])).view(np.int8))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    powers, inverse = _powers(_WORD_BASE, raw.size + 1)
    prefix = np.zeros(raw.size + 1, dtype=_U64)
    np.cumsum(raw.astype(_U64) * powers[: raw.size], out=prefix[1:])
    hashes = (prefix[ends] - prefix[starts]) * inverse[starts]
    separators = np.flatnonzero(raw == ord(SEPARATOR))
    records = np.searchsorted(separators, starts)
    return Words(data, starts, ends, hashes, records, np.concatenate(([0], separators + 1)))


def ngram_hashes(words: Words, n: int) -> tuple[NDArray[np.uint64], NDArray[np.int64]]:
    """Hash of every n-gram that lies within one record, and the index of its first word."""
    count = words.hashes.size - n + 1
    if count <= 0:
        return np.zeros(0, dtype=_U64), np.zeros(0, dtype=np.int64)
    powers, inverse = _powers(_NGRAM_BASE, words.hashes.size + 1)
    prefix = np.zeros(words.hashes.size + 1, dtype=_U64)
    np.cumsum(words.hashes * powers[: words.hashes.size], out=prefix[1:])
    hashes = (prefix[n:] - prefix[:count]) * inverse[:count]
    first = np.flatnonzero(words.records[:count] == words.records[n - 1 :])
    return hashes[first], first


def _mark_unicode_punctuation(raw: NDArray[np.uint8], is_word: NDArray[np.bool_]) -> None:
    """Treat U+00A0-U+00BF (C2 A0..BF) and U+2000-U+206F (E2 80/81 xx) as separators, in place."""
    lead2 = np.flatnonzero(raw[:-1] == 0xC2)
    lead2 = lead2[(raw[lead2 + 1] >= 0xA0) & (raw[lead2 + 1] <= 0xBF)]
    is_word[lead2] = False
    is_word[lead2 + 1] = False
    lead3 = np.flatnonzero(raw[:-2] == 0xE2)
    lead3 = lead3[(raw[lead3 + 1] == 0x80) | (raw[lead3 + 1] == 0x81)]
    for offset in range(3):
        is_word[lead3 + offset] = False


def _powers(base: np.uint64, length: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """base**i and base**-i modulo 2**64 for i < length (each base's table grows to the longest block seen)."""
    table = _POWER_TABLES.get(int(base))
    if table is None or table[0].size < length:
        table = _POWER_TABLES[int(base)] = _power_table(int(base), 1 << max(10, (length - 1).bit_length()))
    return table[0][:length], table[1][:length]


def _power_table(base: int, size: int) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    inverse_base = pow(base, -1, 1 << 64)
    powers = np.full(size, base, dtype=_U64)
    powers[0] = 1
    inverse = np.full(size, inverse_base, dtype=_U64)
    inverse[0] = 1
    return np.cumprod(powers, dtype=_U64), np.cumprod(inverse, dtype=_U64)
