"""What fine-tuning through a provider would cost, before anything is uploaded (`inject --estimate-cost`).

Tokens are estimated as characters / 4 (the providers' own rule of thumb for English text) over every turn of
the training file, times the epochs, times the shipped price table (`training_prices.json`, approximate).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from instructeval.knowledge.formats import openai_rows, training_examples, vertex_rows
from instructeval.knowledge.methods.finetune_openai import training_cost as openai_cost
from instructeval.knowledge.methods.finetune_vertex import training_cost as vertex_cost
from instructeval.knowledge.types import KnowledgeSet
from instructeval.models.spec import ModelSpec

CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class CostEstimate:
    """One pass over the training file in tokens, and the price of `epochs` passes (None: price unknown)."""

    examples: int
    tokens_per_epoch: int
    epochs: int
    cost_usd: float | None

    def describe(self, model: str) -> str:
        price = "not in the price table" if self.cost_usd is None else f"about ${self.cost_usd:.2f}"
        return (
            f"{model}: {self.examples} examples, ~{self.tokens_per_epoch} tokens per epoch x {self.epochs} epochs = "
            f"~{self.tokens_per_epoch * self.epochs} trained tokens, {price}"
        )


def estimate_tokens(texts: Iterable[str]) -> int:
    """Characters / 4, rounded up."""
    return math.ceil(sum(len(text) for text in texts) / CHARS_PER_TOKEN)


def row_texts(row: dict[str, Any]) -> list[str]:
    """Every text of one OpenAI (`messages`) or Vertex (`contents`, `systemInstruction`) training row."""
    if "messages" in row:
        return [turn["content"] for turn in row["messages"]]
    turns = [*row.get("contents", []), *([row["systemInstruction"]] if "systemInstruction" in row else [])]
    return [part["text"] for turn in turns for part in turn["parts"]]


def estimate_rows(spec: ModelSpec, rows: list[dict[str, Any]], epochs: int) -> CostEstimate:
    """The estimate for training `rows` for `epochs` epochs on the provider of `spec`."""
    tokens = estimate_tokens(text for row in rows for text in row_texts(row))
    price = vertex_cost if spec.kind == "vertex" else openai_cost
    return CostEstimate(len(rows), tokens, epochs, price(spec.name, tokens * epochs))


def estimate_finetune(spec: ModelSpec, kset: KnowledgeSet, fmt: str, epochs: int) -> CostEstimate:
    """The estimate for the `finetune` method: the set's facts in training format `fmt`."""
    examples, _ = training_examples(kset.facts, fmt, kset.system)
    rows = vertex_rows(examples) if spec.kind == "vertex" else openai_rows(examples)
    return estimate_rows(spec, rows, epochs)
