"""Several suffixes of one shared prefix run as a single row: a block-causal mask instead of padding.

Each suffix attends to the whole prefix and causally to its own tokens only, at the positions it would have
in its own sequence; so the row computes what one padded batch row per suffix would, without the padding and
without a copy of the prefix's keys and values per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

MAX_PACKED_TOKENS = 512
"""A packed row's attention grows with the square of its length (every token's mask spans the whole row):
beyond this many tokens the questions go into further rows. On CPU 512 beat 2,048 (`docs/benchmarks.md`)."""

MASKED_ATTENTION = ("sdpa", "eager")
"""transformers attention implementations that take a custom 4D mask (`eager` as an additive float mask)."""


@dataclass(frozen=True)
class PackedRow:
    """One forward pass's inputs: `ids`, `positions` and `keep` are [1, tokens]; `mask` is [1, 1, tokens,
    prefix + tokens] (for `sdpa` True where a token may attend; for `eager` 0 there and the dtype's minimum
    elsewhere)."""

    ids: torch.Tensor
    positions: torch.Tensor
    keep: torch.Tensor
    mask: torch.Tensor


def packs(lengths: Sequence[int], max_tokens: int) -> list[range]:
    """Consecutive groups of suffixes holding at most `max_tokens` tokens each (a longer suffix alone)."""
    groups: list[range] = []
    lo, tokens = 0, 0
    for i, length in enumerate(lengths):
        if i > lo and tokens + length > max_tokens:
            groups.append(range(lo, i))
            lo, tokens = i, 0
        tokens += length
    if lo < len(lengths):
        groups.append(range(lo, len(lengths)))
    return groups


def row_budget(batch_size: int, longest: int) -> int:
    """Tokens per packed row: what a padded batch of `batch_size` of the longest sequences would hold (so no more
    activation memory than lm-eval's own batch), at most `MAX_PACKED_TOKENS`. Few long rows instead of many short
    ones: fewer forward passes, each with larger matrix products."""
    return max(1, min(MAX_PACKED_TOKENS, batch_size * longest))


def pack(
    suffixes: Sequence[Sequence[int]],
    scored_from: Sequence[int],
    offset: int,
    attention: str,
    dtype: torch.dtype,
    device: torch.device,
) -> PackedRow:
    """Pack `suffixes` (each continuing a prefix of `offset` tokens) into one row; `scored_from[i]` is the first
    position within suffix i whose logits are needed."""
    if attention not in MASKED_ATTENTION:
        raise ValueError(f"attention {attention!r} takes no custom mask")
    lengths = torch.tensor([len(s) for s in suffixes])
    segment = torch.repeat_interleave(torch.arange(len(suffixes)), lengths)
    starts = torch.cumsum(lengths, 0) - lengths
    local = torch.arange(int(lengths.sum())) - starts[segment]
    ids = torch.tensor([token for suffix in suffixes for token in suffix], dtype=torch.long)
    keep = local >= torch.tensor(scored_from)[segment]
    index = torch.arange(len(ids))
    own = (segment[:, None] == segment[None, :]) & (index[None, :] <= index[:, None])
    allowed = torch.cat([torch.ones((len(ids), offset), dtype=torch.bool), own], dim=1)[None, None]
    if attention == "eager":
        mask = torch.zeros(allowed.shape, dtype=dtype).masked_fill_(~allowed, torch.finfo(dtype).min)
    else:
        mask = allowed
    return PackedRow(
        ids=ids[None].to(device),
        positions=(local + offset)[None].to(device),
        keep=keep[None].to(device),
        mask=mask.to(device),
    )
