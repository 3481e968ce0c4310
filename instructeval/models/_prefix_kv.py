"""A computed prefix's key/value states, shared read-only by every forward pass that runs on top of it.

transformers' `DynamicLayer.update` concatenates new states onto the stored ones (a new tensor), so a cache
built around a prefix's tensors never writes into them: one prefix serves any number of later passes, and a
batch of B suffixes uses B expanded views of it (no copy until the concatenation).
"""

from __future__ import annotations

import inspect
from typing import Any

import torch

from instructeval.models._packing import MASKED_ATTENTION

PrefixKV = tuple[tuple[torch.Tensor, torch.Tensor], ...]
"""Per decoder layer: (keys, values), each [1, kv_heads, prefix_length, head_dim]."""


def unsupported_reason(model: Any) -> str | None:
    """Why prefix reuse cannot be exact for this model (None when it can): it needs a plain growing cache on
    every layer (sliding-window, chunked, linear-attention and shared-KV layers are left to the plain path) and an
    attention that takes a custom mask, for packed suffixes."""
    try:
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer
    except ImportError:
        return "this transformers version has no per-layer DynamicCache"
    config = getattr(model, "config", None)
    if config is None:
        return "the model has no config"
    try:
        layers = DynamicCache(config=config).layers
    except Exception as exc:  # configs transformers cannot read a layer layout from
        return f"no cache layout for {type(model).__name__} ({type(exc).__name__})"
    kinds = {type(layer).__name__ for layer in layers if type(layer) is not DynamicLayer}
    if not layers or kinds:
        return f"its cache has {', '.join(sorted(kinds)) or 'no'} layers"
    attention = getattr(config, "_attn_implementation", None)
    if attention not in MASKED_ATTENTION:
        return f"its attention implementation ({attention}) takes no custom mask (use sdpa or eager)"
    return None


def accepts_logits_to_keep(model: Any) -> bool:
    """Whether the model's forward can project only selected positions onto the vocabulary."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # peft wraps the model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def cache_over(model: Any, prefix: PrefixKV | None, batch: int) -> Any:
    """A fresh DynamicCache holding `prefix` (read-only) for a batch of `batch` rows; empty when prefix is None."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config)
    if prefix is None:
        return cache
    layers: list[Any] = list(cache.layers)  # DynamicLayer each (checked by `unsupported_reason`)
    for layer, (keys, values) in zip(layers, prefix, strict=True):
        layer.lazy_initialization(keys, values)
        layer.keys = keys.expand(batch, -1, -1, -1)
        layer.values = values.expand(batch, -1, -1, -1)
    return cache


def snapshot(cache: Any) -> PrefixKV:
    """The states a cache holds now, as an immutable prefix."""
    return tuple((layer.keys, layer.values) for layer in cache.layers)


def crop(prefix: PrefixKV, length: int) -> PrefixKV:
    """The first `length` positions of a prefix (views, no copy)."""
    return tuple((keys[..., :length, :], values[..., :length, :]) for keys, values in prefix)


def prefix_length(prefix: PrefixKV | None) -> int:
    """How many positions a prefix covers."""
    return 0 if prefix is None else int(prefix[0][0].shape[-2])
