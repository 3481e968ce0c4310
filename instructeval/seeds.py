"""Seeds derived from --seed: sampled generation is reproducible, and each sample draws from a stream of its own."""

from __future__ import annotations

import hashlib


def derive_seed(seed: int, *parts: object) -> int:
    """A 31-bit seed from `seed` and `parts` (a repeat's number, a prompt's tokens): same inputs, same seed."""
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1
