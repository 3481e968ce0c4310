"""Training formats (named after FineTuneBench's ablation): how a fact becomes a fine-tuning example.

- qa: system prompt, the question as the user turn, the answer as the assistant turn.
- mask: the user turn is the fact with its answer replaced by [MASK]; the assistant names the answer.
- completion: the user turn is the fact up to its answer; the assistant turn completes it.
- no-prompt-completion: the fact as a plain document, no chat template (language modelling on the text).
Facts whose answer is not in their text cannot be masked or cut there: mask falls back to qa and completion
cuts at the middle word; both counts are recorded. Augmentations are always trained as documents.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from instructeval.errors import InstructEvalError
from instructeval.knowledge.types import Fact
from instructeval.models.vertex import gemini_contents

FORMATS = ("qa", "mask", "completion", "no-prompt-completion")
MASK = "[MASK]"


@dataclass(frozen=True)
class TrainingExample:
    """A chat conversation ending in the assistant's turn (the trained part), or a plain document."""

    source: str
    messages: tuple[dict[str, str], ...] = ()
    text: str | None = None


def check_format(name: str) -> str:
    """Validate a --format value."""
    if name not in FORMATS:
        raise InstructEvalError(f"unknown training format {name!r}: use one of {', '.join(FORMATS)}")
    return name


def training_examples(facts: Sequence[Fact], fmt: str, system: str) -> tuple[list[TrainingExample], dict[str, Any]]:
    """Examples for `facts` in format `fmt`, and counts of any fallbacks."""
    check_format(fmt)
    examples: list[TrainingExample] = []
    fallbacks = 0
    for fact in facts:
        at = fact.text.lower().find(fact.answer.lower()) if fact.answer else -1
        if fmt == "no-prompt-completion":
            examples.append(TrainingExample(fact.id, text=fact.text))
        elif fmt == "qa" or (fmt == "mask" and at < 0):
            fallbacks += fmt == "mask"
            examples.append(_chat(fact.id, system, fact.question, fact.answer))
        elif fmt == "mask":
            masked = fact.text[:at] + MASK + fact.text[at + len(fact.answer) :]
            examples.append(_chat(fact.id, None, f"Fill in {MASK}: {masked}", fact.answer))
        else:
            if at <= 0:
                fallbacks += 1
                words = fact.text.split()
                at = len(" ".join(words[: max(1, len(words) // 2)])) + 1
            examples.append(_chat(fact.id, None, fact.text[:at].rstrip(), fact.text[at:].lstrip()))
    return examples, {"examples": len(examples), "fallbacks": fallbacks}


def document_examples(sources: Sequence[tuple[str, str]]) -> list[TrainingExample]:
    """Plain-document examples from (source id, text) pairs (augmentations)."""
    return [TrainingExample(source, text=text) for source, text in sources]


def openai_rows(examples: Sequence[TrainingExample]) -> list[dict[str, Any]]:
    """OpenAI chat fine-tuning JSONL rows; a document becomes a lone assistant turn."""
    return [
        {"messages": list(example.messages) if example.messages else [{"role": "assistant", "content": example.text}]}
        for example in examples
    ]


def vertex_rows(examples: Sequence[TrainingExample]) -> list[dict[str, Any]]:
    """Vertex AI's Gemini tuning JSONL rows (systemInstruction + user/model contents); a document becomes a
    lone model turn."""
    rows = []
    for example in examples:
        turns = list(example.messages) or [{"role": "assistant", "content": example.text or ""}]
        row: dict[str, Any] = {"contents": gemini_contents(turns)}
        system = [t["content"] for t in turns if t["role"] == "system"]
        if system:
            row["systemInstruction"] = {"role": "system", "parts": [{"text": "\n".join(system)}]}
        rows.append(row)
    return rows


def _chat(source: str, system: str | None, user: str, assistant: str) -> TrainingExample:
    turns = [{"role": "system", "content": system}] if system else []
    turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return TrainingExample(source, messages=tuple(turns))
