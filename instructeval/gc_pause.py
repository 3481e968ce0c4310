"""Pausing Python's cyclic garbage collector around work that builds many objects and no reference cycles.

Every few hundred allocations the collector walks the young objects, and now and then all of them; a build
that keeps a few hundred thousand validated objects alive pays for those walks again and again. Reference
counting still frees everything as usual while paused; cycles made meanwhile wait for the next collection.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Turn the cyclic collector off for the block; on again after it (if it was on before), even on error."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
