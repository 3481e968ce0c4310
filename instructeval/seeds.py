"""Seeds derived from --seed: sampled generation is reproducible, and each sample draws from a stream of its own."""

from __future__ import annotations

from instructeval.hashing import sha256_text


def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed from `seed` and `parts` (a repeat's number, a prompt's tokens): same inputs, same seed."""
    return int(sha256_text(repr((seed, *parts)))[:8], 16) >> 1
