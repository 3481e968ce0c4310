"""The 25 verifiable instructions of IFEval (Zhou et al. 2023), each a pure check of one response.

Each checker takes the response and the instruction's kwargs as the data gives them and returns whether the
response follows it; the rules are the paper's, with the thresholds and patterns of its reference checker.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from instructeval.ifeval.text import count_sentences, count_words, split_sentences

Checker = Callable[..., bool]
CONSTRAINED_RESPONSES = ("My answer is yes.", "My answer is no.", "My answer is maybe.")


def _compare(count: int, relation: str, threshold: int) -> bool:
    """`less than` or `at least`, the two relations IFEval uses."""
    if relation == "less than":
        return count < threshold
    if relation == "at least":
        return count >= threshold
    raise ValueError(f"unknown relation {relation!r}: IFEval uses 'less than' or 'at least'")


def _detect_language(text: str) -> str | None:
    """langdetect's language code, None when it cannot tell (no letters); seeded, so verdicts are reproducible."""
    import langdetect
    from langdetect import DetectorFactory

    DetectorFactory.seed = 0
    try:
        return str(langdetect.detect(text))
    except langdetect.LangDetectException:
        return None


def response_language(response: str, *, language: str) -> bool:
    detected = _detect_language(response)
    return detected is None or detected == language  # undetectable text counts as followed, as in the paper's code


def number_sentences(response: str, *, num_sentences: int, relation: str) -> bool:
    return _compare(count_sentences(response), relation, num_sentences)


def number_placeholders(response: str, *, num_placeholders: int) -> bool:
    return len(re.findall(r"\[.*?\]", response)) >= num_placeholders


def number_bullet_lists(response: str, *, num_bullets: int) -> bool:
    stars = re.findall(r"^\s*\*[^\*].*$", response, flags=re.MULTILINE)
    dashes = re.findall(r"^\s*-.*$", response, flags=re.MULTILINE)
    return len(stars) + len(dashes) == num_bullets


def constrained_response(response: str) -> bool:
    return any(option in response.strip() for option in CONSTRAINED_RESPONSES)


def number_highlighted_sections(response: str, *, num_highlights: int) -> bool:
    single = [h for h in re.findall(r"\*[^\n\*]*\*", response) if h.strip("*").strip()]
    double = [h for h in re.findall(r"\*\*[^\n\*]*\*\*", response) if h[2:-2].strip()]
    return len(single) + len(double) >= num_highlights


def multiple_sections(response: str, *, section_spliter: str, num_sections: int) -> bool:
    parts = re.split(r"\s?" + section_spliter.strip() + r"\s?\d+\s?", response)
    return len(parts) - 1 >= num_sections


def _blocks(response: str, separator: str) -> list[str] | None:
    """Blocks between separators; None when an empty block sits between two others (not a valid layout)."""
    parts = re.split(separator, response)
    kept = []
    for index, part in enumerate(parts):
        if part.strip():
            kept.append(part)
        elif 0 < index < len(parts) - 1:
            return None
    return kept


def number_paragraphs(response: str, *, num_paragraphs: int) -> bool:
    paragraphs = _blocks(response, r"\s?\*\*\*\s?")
    return paragraphs is not None and len(paragraphs) == num_paragraphs


def nth_paragraph_first_word(response: str, *, num_paragraphs: int, nth_paragraph: int, first_word: str) -> bool:
    parts = response.split("\n\n")
    count = sum(1 for part in parts if part.strip())
    if nth_paragraph > count or not parts[nth_paragraph - 1].strip():
        return False
    word = parts[nth_paragraph - 1].strip().split()[0].strip().lstrip("'").lstrip('"')
    letters = re.match(r"[^.,?!'\"]*", word)
    found = letters.group(0).lower() if letters else ""
    return count == num_paragraphs and found == first_word.lower()


def postscript(response: str, *, postscript_marker: str) -> bool:
    marker = postscript_marker.strip()
    pattern = {"P.P.S": r"\s*p\.\s?p\.\s?s.*$", "P.S.": r"\s*p\.\s?s\..*$"}.get(
        marker, r"\s*" + marker.lower() + r".*$"
    )
    return bool(re.findall(pattern, response.lower(), flags=re.MULTILINE))


def keywords_existence(response: str, *, keywords: list[str]) -> bool:
    return all(re.search(keyword, response, flags=re.IGNORECASE) for keyword in keywords)


def keyword_frequency(response: str, *, keyword: str, frequency: int, relation: str) -> bool:
    return _compare(len(re.findall(keyword.strip(), response, flags=re.IGNORECASE)), relation, frequency)


def number_words(response: str, *, num_words: int, relation: str) -> bool:
    return _compare(count_words(response), relation, num_words)


def json_format(response: str) -> bool:
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def forbidden_words(response: str, *, forbidden_words: list[str]) -> bool:
    return not any(re.search(r"\b" + word + r"\b", response, flags=re.IGNORECASE) for word in forbidden_words)


def two_responses(response: str) -> bool:
    answers = _blocks(response, re.escape("******"))
    return answers is not None and len(answers) == 2 and answers[0].strip() != answers[1].strip()


def repeat_prompt(response: str, *, prompt_to_repeat: str) -> bool:
    return response.strip().lower().startswith(prompt_to_repeat.strip().lower())


def end_checker(response: str, *, end_phrase: str) -> bool:
    return response.strip().strip('"').lower().endswith(end_phrase.strip().lower())


def title(response: str) -> bool:
    return any(found.lstrip("<").rstrip(">").strip() for found in re.findall(r"<<[^\n]+>>", response))


def letter_frequency(response: str, *, letter: str, let_frequency: int, let_relation: str) -> bool:
    count = Counter(response.lower())[letter.strip().lower()]
    return count < let_frequency if let_relation == "less than" else count >= let_frequency


def english_capital(response: str) -> bool:
    return response.isupper() and _detect_language(response) in (None, "en")


def english_lowercase(response: str) -> bool:
    return response.islower() and _detect_language(response) in (None, "en")


def no_comma(response: str) -> bool:
    return "," not in response


def capital_word_frequency(response: str, *, capital_frequency: int, capital_relation: str) -> bool:
    from nltk.tokenize import NLTKWordTokenizer  # the Treebank rules of nltk.word_tokenize; they need no data

    tokenizer = NLTKWordTokenizer()
    words = [word for sentence in split_sentences(response) for word in tokenizer.tokenize(sentence)]
    count = sum(1 for word in words if word.isupper())
    return count < capital_frequency if capital_relation == "less than" else count >= capital_frequency


def quotation(response: str) -> bool:
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


CHECKERS: dict[str, Checker] = {
    "keywords:existence": keywords_existence,
    "keywords:frequency": keyword_frequency,
    "keywords:forbidden_words": forbidden_words,
    "keywords:letter_frequency": letter_frequency,
    "language:response_language": response_language,
    "length_constraints:number_sentences": number_sentences,
    "length_constraints:number_paragraphs": number_paragraphs,
    "length_constraints:number_words": number_words,
    "length_constraints:nth_paragraph_first_word": nth_paragraph_first_word,
    "detectable_content:number_placeholders": number_placeholders,
    "detectable_content:postscript": postscript,
    "detectable_format:number_bullet_lists": number_bullet_lists,
    "detectable_format:constrained_response": constrained_response,
    "detectable_format:number_highlighted_sections": number_highlighted_sections,
    "detectable_format:multiple_sections": multiple_sections,
    "detectable_format:json_format": json_format,
    "detectable_format:title": title,
    "combination:two_responses": two_responses,
    "combination:repeat_prompt": repeat_prompt,
    "startend:end_checker": end_checker,
    "change_case:capital_word_frequency": capital_word_frequency,
    "change_case:english_capital": english_capital,
    "change_case:english_lowercase": english_lowercase,
    "punctuation:no_comma": no_comma,
    "startend:quotation": quotation,
}


def follows(instruction_id: str, kwargs: dict[str, Any], response: str) -> bool:
    """Whether a non-blank response follows one instruction (a blank response follows none)."""
    given = {key: value for key, value in kwargs.items() if value is not None}
    return bool(response.strip()) and CHECKERS[instruction_id](response, **given)
