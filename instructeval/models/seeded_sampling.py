"""Sampling with one random stream per batch row, so a row's sample does not depend on its batch neighbours.

transformers draws every row from the global RNG and accepts no `seed`. Here the sampling warpers and the draw
run in a logits processor with a `torch.Generator` per row (seeded from --seed and the row's prompt tokens); it
leaves only the drawn token finite, so `generate` runs greedy and picks exactly that token.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import (
    LogitsProcessor,
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from instructeval.seeds import derive_seed


class RowSeededSampler(LogitsProcessor):
    """Temperature, top-k and top-p as in transformers' sampling, then one draw per row from that row's generator."""

    def __init__(self, row_seeds: list[int], temperature: float, top_k: int | None, top_p: float | None) -> None:
        self.row_seeds = row_seeds
        self.warpers = LogitsProcessorList()
        if temperature != 1.0:
            self.warpers.append(TemperatureLogitsWarper(temperature))
        if top_k:
            self.warpers.append(TopKLogitsWarper(top_k))
        if top_p is not None and top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p))
        self._generators: list[torch.Generator] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if not self._generators:
            self._generators = [torch.Generator(device=scores.device).manual_seed(s) for s in self.row_seeds]
        probs = self.warpers(input_ids, scores).float().softmax(dim=-1)
        picks = torch.cat(
            [torch.multinomial(row, 1, generator=g) for row, g in zip(probs, self._generators, strict=True)]
        )
        chosen = torch.full_like(scores, float("-inf"))
        chosen[torch.arange(scores.shape[0], device=scores.device), picks] = 0.0
        return chosen


def row_seeds(context: torch.Tensor, mask: torch.Tensor | None, seed: int) -> list[int]:
    """One seed per batch row, from `seed` and the row's real (unpadded) prompt tokens."""
    keep = mask.bool() if mask is not None else torch.ones_like(context, dtype=torch.bool)
    return [derive_seed(seed, ids[row_keep].tolist()) for ids, row_keep in zip(context, keep, strict=True)]


def seeded_sampling(kwargs: dict[str, Any], seeds: list[int]) -> dict[str, Any]:
    """`generate` kwargs that sample through `RowSeededSampler` instead of the global RNG."""
    kwargs = dict(kwargs)
    kwargs.pop("do_sample")
    sampler = RowSeededSampler(
        seeds, float(kwargs.pop("temperature", 1.0)), kwargs.pop("top_k", None), kwargs.pop("top_p", None)
    )
    kwargs["logits_processor"] = LogitsProcessorList([*kwargs.get("logits_processor", []), sampler])
    kwargs["do_sample"] = False
    return kwargs
