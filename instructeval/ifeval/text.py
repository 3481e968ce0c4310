"""Text units the IFEval checkers count: words, sentences, paragraphs. Offline: no tokenizer data to download."""

from __future__ import annotations

import re

_WORD = re.compile(r"\w+")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "inc",
        "ltd",
        "co",
        "corp",
        "u.s",
        "u.k",
        "a.m",
        "p.m",
        "no",
        "vol",
        "fig",
        "approx",
        "dept",
        "est",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mt",
        "ave",
        "blvd",
        "rd",
    ]
)
_BREAK = re.compile(r"(?P<end>[.!?]+)(?P<close>[\"'\u201d\u2019)\]]*)(?P<space>\s+)(?=\S)")


def count_words(text: str) -> int:
    """Runs of word characters (letters, digits, underscore), as IFEval counts words."""
    return len(_WORD.findall(text))


def split_sentences(text: str) -> list[str]:
    """Sentences as English Punkt splits them, by rule: a break after `.`, `!` or `?` (and any closing quote or
    bracket) before whitespace, except after a known abbreviation, a single-letter initial, or an ellipsis before a
    lowercase word. Line breaks alone do not end a sentence."""
    sentences: list[str] = []
    start = 0
    for found in _BREAK.finditer(text):
        if found.group("end") == "." and not _period_ends_sentence(text, found.start(), found.end()):
            continue
        if found.group("end").startswith("..") and text[found.end()].islower():
            continue
        sentence = text[start : found.end("close")].strip()
        if sentence:
            sentences.append(sentence)
        start = found.end()
    if text[start:].strip():
        sentences.append(text[start:].strip())
    return sentences


def count_sentences(text: str) -> int:
    """The number of sentences in `text` (see split_sentences)."""
    return len(split_sentences(text))


def _period_ends_sentence(text: str, period: int, following: int) -> bool:
    token = text[:period].rsplit(None, 1)[-1] if text[:period].strip() else ""
    token = token.lstrip("\"'(\u201c\u2018[").lower()
    if token in _ABBREVIATIONS:
        return False
    is_initial = len(token) == 1 and token.isalpha()
    return not (is_initial and text[following].isupper())
