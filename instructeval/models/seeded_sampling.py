"""lm-eval's hf backend sampling with one random stream per batch row, so a row's sample ignores its neighbours.

lm-eval passes a request's `seed` on to `generate`, which refuses it, and transformers draws every row from the
global RNG. Here the sampling warpers and the draw run in a logits processor with a `torch.Generator` per row
(seeded from the request's seed and the row's prompt tokens); it leaves only the drawn token finite, so
`generate` runs greedy and picks exactly that token. Decoder-only and encoder-decoder models alike.
"""

from __future__ import annotations

from typing import Any

import torch
from lm_eval.models.huggingface import HFLM
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
    sampler = RowSeededSampler(
        seeds, float(kwargs.pop("temperature", 1.0)), kwargs.pop("top_k", None), kwargs.pop("top_p", None)
    )
    kwargs["logits_processor"] = LogitsProcessorList([*kwargs.get("logits_processor", []), sampler])
    kwargs["do_sample"] = False  # the sampler has drawn: generate takes its one finite token
    return kwargs


class SeededHFLM(HFLM):
    """`HFLM` whose sampled generation draws each row from its own generator, seeded by the request's `seed`.

    On encoder-decoder models lm-eval sets `max_length` to the padded prompt width plus `max_gen_toks`, which
    `generate` applies to the decoder alone: answers could run past the cap, further the longer a row's batch
    neighbours. Here the decoder gets `max_gen_toks` tokens after its start token, whatever the batch.
    """

    def _model_generate(
        self, context: torch.Tensor, max_length: int, stop: list[str], **generation_kwargs: Any
    ) -> torch.Tensor:
        if self.backend == "seq2seq":
            max_length = max_length - context.shape[1] + 1
        seed = generation_kwargs.pop("seed", None)
        if generation_kwargs.get("do_sample") and seed is not None:
            seeds = row_seeds(context, generation_kwargs.get("attention_mask"), int(seed))
            generation_kwargs = seeded_sampling(generation_kwargs, seeds)
        return super()._model_generate(context, max_length, stop, **generation_kwargs)
