"""IFEval's checker (instructeval.ifeval) against lm-eval's own, on every instruction kind (five prompts each).

Fixed responses (written here: generic ones, and for each instruction one built to follow it and one built to
break it) are judged by both, strict and loose; verdicts must be equal everywhere, and every instruction kind must
meet both verdicts. lm-eval's checker splits sentences with nltk's Punkt data (`punkt_tab`), which no package
registry ships: for its `number_sentences` and `capital_word_frequency` checks, the sentence splitter is ours
(so those two compare the rest of the check), and `test_sentence_counts` checks our splitter on hand-counted text.
Two prompts (keys 1122 and 1129) ask for a count of '#' or '!' under `letter_frequency`, for which lm-eval's checker
draws a random letter instead: there our checker counts the character asked for, and that verdict is left out.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from instructeval.ifeval import CHECKERS, count_sentences, split_sentences, verdicts

PROMPTS_PER_KIND = 5
GENERIC = [
    "",
    "Sure.",
    "THE ANSWER IS YES. I AM VERY SURE ABOUT IT.",
    "the answer is yes, and i am very sure about it.",
    '"A quoted reply, with a comma."',
    '```json\n{"name": "value", "items": [1, 2, 3]}\n```',
    "<<A Title>>\n\n* first point\n* second point\n- third point\n\nP.S. one more thing",
    "Section 1\nHello there.\nSection 2\nGoodbye now.\n\n***\n\nAnother paragraph *highlighted part* here.",
    "My answer is yes.",
    "Ceci est une réponse entièrement écrite en français, sans aucun mot anglais.",
    "First answer here.\n******\nSecond answer here.",
    "Dear [name], we will meet at [address] on [date]. Is there anything else I can help with?",
    "Here is my response:\n*Intro*\nThe DOG and the CAT are FRIENDS. They play all day.\nHope that helps!",
]

IN_LANGUAGE = {  # "Hello, the weather is very nice today and I want to walk in the park."
    "vi": "Xin chào, hôm nay thời tiết rất đẹp và tôi muốn đi dạo trong công viên.",
    "fa": "سلام، امروز هوا بسیار خوب است و من می‌خواهم در پارک قدم بزنم.",
    "mr": "नमस्कार, आज हवामान खूप छान आहे आणि मला उद्यानात फिरायला जायचे आहे.",
    "kn": "ನಮಸ್ಕಾರ, ಇಂದು ಹವಾಮಾನ ತುಂಬಾ ಚೆನ್ನಾಗಿದೆ ಮತ್ತು ನಾನು ಉದ್ಯಾನದಲ್ಲಿ ನಡೆಯಲು ಬಯಸುತ್ತೇನೆ.",
    "pa": "ਸਤਿ ਸ੍ਰੀ ਅਕਾਲ, ਅੱਜ ਮੌਸਮ ਬਹੁਤ ਵਧੀਆ ਹੈ ਅਤੇ ਮੈਂ ਪਾਰਕ ਵਿੱਚ ਸੈਰ ਕਰਨਾ ਚਾਹੁੰਦਾ ਹਾਂ।",
}


def _following(instruction: str, kwargs: dict[str, Any], prompt: str) -> str:
    """A response written to follow one instruction."""
    body = "This is a simple reply. It has a few sentences. Nothing more is needed here."
    match instruction.split(":")[1]:
        case "existence":
            return body + " " + " ".join(kwargs["keywords"])
        case "frequency":
            return body + (" " + kwargs["keyword"]) * kwargs["frequency"]
        case "letter_frequency":
            return kwargs["letter"] * kwargs["let_frequency"]
        case "number_sentences":
            return " ".join(f"Sentence number {i} is here." for i in range(kwargs["num_sentences"]))
        case "number_words":
            return " ".join(["word"] * kwargs["num_words"])
        case "number_paragraphs":
            return "\n***\n".join(f"Paragraph {i}." for i in range(kwargs["num_paragraphs"]))
        case "nth_paragraph_first_word":
            paragraphs = [f"Paragraph {i}." for i in range(kwargs["num_paragraphs"])]
            paragraphs[kwargs["nth_paragraph"] - 1] = f"{kwargs['first_word'].capitalize()}, then more."
            return "\n\n".join(paragraphs)
        case "number_placeholders":
            return " ".join(f"[slot{i}]" for i in range(kwargs["num_placeholders"]))
        case "postscript":
            return f"{body}\n{kwargs['postscript_marker']} a note."
        case "number_bullet_lists":
            return "\n".join(f"* point {i}" for i in range(kwargs["num_bullets"]))
        case "number_highlighted_sections":
            return " ".join(f"*part {i}*" for i in range(kwargs["num_highlights"]))
        case "multiple_sections":
            return "\n".join(f"{kwargs['section_spliter']} {i}\ntext" for i in range(1, kwargs["num_sections"] + 1))
        case "json_format":
            return '{"answer": 42}'
        case "title":
            return f"<<Title>>\n{body}"
        case "two_responses":
            return "One.\n******\nTwo."
        case "repeat_prompt":
            return f"{kwargs['prompt_to_repeat']} And the answer."
        case "end_checker":
            return f"{body} {kwargs['end_phrase']}"
        case "english_capital":
            return body.upper()
        case "english_lowercase":
            return body.lower()
        case "capital_word_frequency":
            return " ".join(["WORD"] * kwargs["capital_frequency"]) + ". And more."
        case "no_comma":
            return body
        case "quotation":
            return f'"{body}"'
        case "response_language":
            return IN_LANGUAGE.get(kwargs["language"], prompt)
        case _:
            return "My answer is no."


def _breaking(instruction: str, kwargs: dict[str, Any], prompt: str) -> str:
    """A response near the instruction's boundary: off by one where the instruction counts."""
    followed = _following(instruction, kwargs, prompt)
    name = instruction.split(":")[1]
    if name in ("number_words", "number_sentences", "number_placeholders", "number_highlighted_sections"):
        return followed.rsplit(" ", 1)[0]
    if name in ("number_bullet_lists", "multiple_sections", "number_paragraphs"):
        return followed + "\n* one more\nSection 99\n***\nextra"
    return followed[::-1]


@pytest.fixture(scope="module")
def lm_eval_checker(monkeypatch_module: pytest.MonkeyPatch) -> Any:
    """lm-eval's ifeval scorer, its missing Punkt data replaced by our sentence splitter."""
    import nltk
    from langdetect import DetectorFactory
    from lm_eval.tasks.ifeval import instructions_util, utils

    class Splitter:
        def tokenize(self, text: str) -> list[str]:
            return split_sentences(text)

    treebank = nltk.tokenize.NLTKWordTokenizer()
    monkeypatch_module.setattr(instructions_util, "_get_sentence_tokenizer", lambda: Splitter())
    monkeypatch_module.setattr(
        instructions_util.nltk,
        "word_tokenize",
        lambda text: [w for s in split_sentences(text) for w in treebank.tokenize(s)],
    )
    DetectorFactory.seed = 0
    return utils


@pytest.fixture(scope="module")
def monkeypatch_module() -> Any:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def prompts(data_dir: Path) -> list[dict[str, Any]]:
    lines = (data_dir / "ifeval" / "input_data.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_every_instruction_kind_is_checked(prompts: list[dict[str, Any]]) -> None:
    kinds = {kind for row in prompts for kind in row["instruction_id_list"]}
    assert kinds == set(CHECKERS) and len(kinds) == 25


def test_verdicts_equal_lm_evals_on_every_instruction(prompts: list[dict[str, Any]], lm_eval_checker: Any) -> None:
    seen: dict[str, set[bool]] = defaultdict(set)
    compared = 0
    for row in _per_kind(prompts, PROMPTS_PER_KIND):
        ids, kwargs = row["instruction_id_list"], row["kwargs"]
        example = lm_eval_checker.InputExample(
            key=row["key"], instruction_id_list=ids, prompt=row["prompt"], kwargs=kwargs
        )
        kept = [not _draws_a_random_letter(kind, kw) for kind, kw in zip(ids, kwargs, strict=True)]
        targeted = [
            make(kind, kw, row["prompt"])
            for kind, kw in zip(ids, kwargs, strict=True)
            for make in (_following, _breaking)
        ]
        for response in [*GENERIC, *targeted]:
            strict, loose = verdicts(ids, kwargs, response)
            theirs_strict = lm_eval_checker.test_instruction_following_strict(example, response).follow_instruction_list
            theirs_loose = lm_eval_checker.test_instruction_following_loose(example, response).follow_instruction_list
            for index, kind in enumerate(ids):
                if kept[index]:
                    assert strict[index] == theirs_strict[index], (row["key"], kind, "strict", response)
                    assert loose[index] == theirs_loose[index], (row["key"], kind, "loose", response)
                    seen[kind].add(strict[index])
                    compared += 1
    assert {kind: values for kind, values in seen.items() if values != {True, False}} == {}
    assert compared > 25 * PROMPTS_PER_KIND * len(GENERIC)


def _per_kind(prompts: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The first `count` prompts carrying each instruction kind (and whatever else they carry)."""
    chosen: dict[int, dict[str, Any]] = {}
    for kind in CHECKERS:
        for row in [r for r in prompts if kind in r["instruction_id_list"]][:count]:
            chosen[row["key"]] = row
    return list(chosen.values())


def _draws_a_random_letter(kind: str, kwargs: dict[str, Any]) -> bool:
    """lm-eval's letter_frequency check replaces a letter outside a-z by a random one."""
    letter = str(kwargs.get("letter", "a"))
    return kind == "keywords:letter_frequency" and not (len(letter) == 1 and "a" <= letter.lower() <= "z")


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("One sentence.", 1),
        ("First one. Second one! Third one? Fourth.", 4),
        ("Dr. Smith met Mr. Jones at 3 p.m. yesterday.", 1),
        ("Prices rose 3.5 percent in 2020. Then they fell.", 2),
        ('He said "stop." Then he left.', 2),
        ("A list:\n- apples\n- pears\nNo periods on the lines", 1),
        ("J. R. R. Tolkien wrote books. They sold well.", 2),
        ("Wait... what happened? Nothing... Really.", 3),
        ("Use e.g. this one, i.e. the first. Done.", 2),
        ("", 0),
    ],
)
def test_sentence_counts(text: str, sentences: int) -> None:
    assert count_sentences(text) == sentences
