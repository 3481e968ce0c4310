"""lm-eval's hf backend, computing every shared token prefix once (few-shot block, then question).

Log-likelihood requests arrive already tokenised by lm-eval (`_encode_pair`); we take exactly the token ids lm-eval
would feed its model (`(context + continuation)[-(max_length + 1):][:-1]`), so no boundary is ever re-tokenised.
Shared prefixes of those ids are planned over the sorted sequences (`_prefix_plan`), each is run once and its KV
cache kept, every sequence runs only its suffix on top of it (several suffixes packed into one row with a
block-causal mask, `_packing`: no padding, no per-row copy of the prefix), and only the scored positions are
projected onto the vocabulary. Answers, their order and the `cache_hook` calls are those of lm-eval's own path.

Greedy and sampled generation reuse the batch's shared prefix too: its KV is computed once (and kept while later
batches share it), and each row's padding moves from the left edge to between the prefix and the rest of the row
(masked out, positions counted from the mask), so the generated columns are where lm-eval expects them.
Sampled rows draw from generators of their own (`SeededHFLM`), seeded from their real tokens, which moving
the padding leaves unchanged.
"""

from __future__ import annotations

import contextlib
import logging
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from tqdm import tqdm

from instructeval.models._packing import PackedRow, pack, packs, row_budget
from instructeval.models._prefix_kv import (
    PrefixKV,
    accepts_logits_to_keep,
    cache_over,
    crop,
    prefix_length,
    snapshot,
    unsupported_reason,
)
from instructeval.models._prefix_plan import PrefixNode, common_prefix_length, plan_prefixes
from instructeval.models.seeded_sampling import SeededHFLM

Request = tuple[tuple[str, str] | None, list[int], list[int]]

RECENT_ENCODINGS = 4
"""Encodings kept (the context and its latest whole sequence are all lm-eval's pair encoding asks again)."""

MIN_GENERATION_PREFIX = 32
"""Generation batches reuse a prefix only when their rows share at least this many tokens."""

log = logging.getLogger(__name__)


@dataclass
class PrefixStats:
    """Tokens the model actually ran, for benchmarks and the closing note."""

    requests: int = 0
    sequences: int = 0
    prefix_tokens: int = 0
    suffix_tokens: int = 0
    forward_calls: int = 0
    generation_prefix_tokens: int = 0
    generation_prefix_hits: int = 0


class PrefixCachedHFLM(SeededHFLM):
    """`HFLM` whose log-likelihood path computes each shared prefix once; `prefix_cache=False` is lm-eval's path."""

    def __init__(self, *args: Any, prefix_cache: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prefix_cache = prefix_cache
        self.prefix_stats = PrefixStats()
        reason = unsupported_reason(self.model) if prefix_cache and self.backend == "causal" else None
        if prefix_cache and self.backend != "causal":
            reason = "it is not a decoder-only model"
        if reason:
            log.warning("prefix cache off for this model: %s; using lm-eval's plain path", reason)
        self._prefix_ok = prefix_cache and reason is None
        self._keep_positions = accepts_logits_to_keep(self.model)
        self._attention = str(getattr(self.model.config, "_attn_implementation", None))
        self._auto_batch: int | None = None
        self._recent_encodings: OrderedDict[tuple[str, bool | None, int | None], list[int]] = OrderedDict()
        self._generation_anchor: tuple[list[int], PrefixKV] | None = None

    @property
    def prefix_cache_active(self) -> bool:
        """Whether shared prefixes are computed once: False when asked off or when the model's cache cannot."""
        return self._prefix_ok

    # ---- log-likelihood -------------------------------------------------------------------------------------

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, left_truncate_len: int | None = None, **kwargs: Any
    ) -> list[int]:
        """lm-eval's encoding, the few latest kept: a context is encoded again for each of its answer choices."""
        if kwargs:
            encoded: list[int] = super().tok_encode(string, add_special_tokens, left_truncate_len, **kwargs)
            return encoded
        key = (string, add_special_tokens, left_truncate_len)
        ids = self._recent_encodings.pop(key, None)
        if ids is None:
            ids = super().tok_encode(string, add_special_tokens, left_truncate_len)
        self._recent_encodings[key] = ids
        while len(self._recent_encodings) > RECENT_ENCODINGS:
            self._recent_encodings.popitem(last=False)
        return list(ids)

    def _loglikelihood_tokens(
        self,
        requests: list[Request],
        disable_tqdm: bool = False,
        override_bs: int | None = None,
    ) -> list[tuple[float, bool]]:
        if not self._prefix_ok or not requests or all(req[0] is None for req in requests):
            # rolling windows (request key None) share no prefix: lm-eval's path scores them
            scored: list[tuple[float, bool]] = super()._loglikelihood_tokens(
                requests, disable_tqdm=disable_tqdm, override_bs=override_bs
            )
            return scored
        inputs = [self._model_input(ctx, cont) for _, ctx, cont in requests]
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, seq in enumerate(inputs):
            groups.setdefault(seq, []).append(i)
        sequences, members = list(groups), list(groups.values())
        starts = [
            len(seq) - max(len(requests[i][2]) for i in group) for seq, group in zip(sequences, members, strict=True)
        ]
        root = plan_prefixes(sequences, starts)
        self.prefix_stats.requests += len(requests)
        self.prefix_stats.sequences += len(sequences)
        batch_size = self._leaf_batch_size(requests, override_bs)
        answers: list[tuple[float, bool] | None] = [None] * len(requests)
        pbar = tqdm(total=len(requests), disable=disable_tqdm or self.rank != 0, desc="Running loglikelihood requests")
        with self._inference():
            for node, prefix in self._prefixes(root):
                leaves = sorted(node.leaves, key=lambda i: -len(sequences[i]))
                budget = row_budget(batch_size, len(sequences[leaves[0]])) if leaves else 1
                for group in packs([len(sequences[i]) - node.end for i in leaves], budget):
                    chunk = [leaves[k] for k in group]
                    rows = self._score_suffixes(
                        prefix, node.end, [sequences[i] for i in chunk], [starts[i] for i in chunk]
                    )
                    for seq_id, logprobs in zip(chunk, rows, strict=True):
                        for req_id in members[seq_id]:
                            answers[req_id] = self._answer(requests[req_id], logprobs)
                            pbar.update(1)
        pbar.close()
        assert all(answer is not None for answer in answers)
        return answers  # type: ignore[return-value]

    def _model_input(self, context: list[int], continuation: list[int]) -> tuple[int, ...]:
        """Exactly the ids lm-eval's causal path feeds the model (left-truncated to max_length)."""
        assert context and continuation and len(continuation) <= self.max_length
        return tuple((context + continuation)[-(self.max_length + 1) :][:-1])

    def _answer(self, request: Request, logprobs: torch.Tensor) -> tuple[float, bool]:
        """(log-likelihood, is greedy) of one continuation from its sequence's scored rows; records it like lm-eval."""
        key, _, continuation = request
        rows = logprobs[-len(continuation) :]
        targets = torch.tensor(continuation, dtype=torch.long, device=rows.device)
        answer = (
            float(rows.gather(1, targets.unsqueeze(1)).sum()),
            bool((rows.argmax(dim=-1) == targets).all()),
        )
        if key is not None:
            self.cache_hook.add_partial("loglikelihood", key, answer)
        return answer

    def _prefixes(self, root: PrefixNode) -> Iterator[tuple[PrefixNode, PrefixKV | None]]:
        """Each planned prefix with its KV, depth first, computing a child's KV on top of its parent's."""
        stack: list[tuple[PrefixNode, PrefixKV | None]] = [(root, None)]
        while stack:
            node, parent = stack.pop()
            prefix = self._extend(parent, node.tokens) if node.tokens else parent
            yield node, prefix
            stack.extend((child, prefix) for child in reversed(node.children))

    def _extend(self, prefix: PrefixKV | None, tokens: Sequence[int]) -> PrefixKV:
        """Run `tokens` on top of `prefix` and return the longer prefix."""
        cache = cache_over(self.model, prefix, 1)
        ids = torch.tensor([list(tokens)], dtype=torch.long, device=self.device)
        extra = {"logits_to_keep": 1} if self._keep_positions else {}
        self.model(input_ids=ids, past_key_values=cache, use_cache=True, **extra)
        self.prefix_stats.prefix_tokens += len(tokens)
        self.prefix_stats.forward_calls += 1
        return snapshot(cache)

    def _score_suffixes(
        self, prefix: PrefixKV | None, offset: int, sequences: list[tuple[int, ...]], starts: list[int]
    ) -> list[torch.Tensor]:
        """Log-softmax rows of each sequence's scored positions, running every `sequence[offset:]` on the prefix
        in one packed row."""
        suffixes = [seq[offset:] for seq in sequences]
        scored_from = [start - offset for start in starts]
        row = pack(suffixes, scored_from, offset, self._attention, self.model.dtype, self.device)
        logprobs = F.log_softmax(self._selected_logits(row, prefix), dim=-1, dtype=self.softmax_dtype)
        self.prefix_stats.suffix_tokens += row.ids.shape[1]
        self.prefix_stats.forward_calls += 1
        return list(torch.split(logprobs, [len(s) - k for s, k in zip(suffixes, scored_from, strict=True)]))

    def _selected_logits(self, row: PackedRow, prefix: PrefixKV | None) -> torch.Tensor:
        """Logits at the row's kept positions only, [n_kept, vocab], in order, running the row on `prefix`."""

        def run(**kwargs: Any) -> Any:
            cache = None if prefix is None else cache_over(self.model, prefix, 1)  # fresh: a failed call grows it
            return self.model(
                input_ids=row.ids,
                attention_mask=row.mask,
                position_ids=row.positions,
                past_key_values=cache,
                use_cache=cache is not None,
                **kwargs,
            ).logits

        if self._keep_positions:
            try:
                logits = run(logits_to_keep=row.keep)
            except (TypeError, IndexError, RuntimeError):  # a model that only slices by an int count
                logits = None
            if logits is not None and logits.dim() == 2 and logits.shape[0] == int(row.keep.sum()):
                return logits
            log.warning("this model cannot project selected positions only; projecting every position")
            self._keep_positions = False
        return run()[row.keep]

    def _leaf_batch_size(self, requests: list[Request], override_bs: int | None) -> int:
        if override_bs:
            return override_bs
        if isinstance(self.batch_size, int):
            return max(1, self.batch_size)
        if self._auto_batch is None:  # lm-eval's own search, on the longest request: an upper bound on our memory
            longest = max(requests, key=lambda req: len(req[1]) + len(req[2]))
            self._auto_batch = int(self._detect_batch_size([longest]))
        return self._auto_batch

    def _inference(self) -> contextlib.ExitStack:
        """no_grad plus lm-eval's optional autocast, as in `HFLM._model_call`."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.no_grad())
        stack.enter_context(
            torch.autocast(
                device_type=self.device.type,
                dtype=self.mixed_precision_dtype,
                enabled=self.mixed_precision_dtype is not None,
            )
        )
        return stack

    # ---- generation -----------------------------------------------------------------------------------------

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        try:
            generated: list[str] = super().generate_until(requests, disable_tqdm=disable_tqdm)
            return generated
        finally:
            self._generation_anchor = None  # free the kept prefix once the task's generations are done

    def _model_generate(
        self, context: torch.Tensor, max_length: int, stop: list[str], **generation_kwargs: Any
    ) -> torch.Tensor:
        mask = generation_kwargs.get("attention_mask")
        shared = self._generation_prefix(context, mask, generation_kwargs)
        if shared is None or mask is None:
            return super()._model_generate(context, max_length, stop, **generation_kwargs)
        prefix = self._generation_kv(shared)
        used = prefix_length(prefix)
        ids, new_mask = _pad_after_prefix(context, mask, used)
        generation_kwargs["attention_mask"] = new_mask
        generation_kwargs["past_key_values"] = cache_over(self.model, prefix, context.shape[0])
        return super()._model_generate(ids, max_length, stop, **generation_kwargs)

    def _generation_prefix(self, context: torch.Tensor, mask: Any, kwargs: dict[str, Any]) -> list[int] | None:
        """The leading tokens every row of a left-padded batch shares (None: generate the plain way)."""
        if not self._prefix_ok or mask is None or "past_key_values" in kwargs:
            return None
        if kwargs.get("num_beams", 1) > 1 or kwargs.get("num_return_sequences", 1) > 1:
            return None
        lengths = mask.sum(dim=1)
        width = context.shape[1]
        positions = torch.arange(width, device=mask.device).unsqueeze(0)
        if not bool((mask.bool() == (positions >= (width - lengths).unsqueeze(1))).all()):
            return None  # not plain left padding
        rows = [context[r, width - int(n) :].tolist() for r, n in enumerate(lengths)]
        shared = min(len(row) for row in rows) - 1  # every row keeps at least one token to run
        for row in rows[1:]:
            shared = min(shared, common_prefix_length(rows[0], row))
        return rows[0][:shared] if shared >= MIN_GENERATION_PREFIX else None

    def _generation_kv(self, tokens: list[int]) -> PrefixKV:
        """The KV of `tokens`, starting from the kept prefix when they share enough of it."""
        base: PrefixKV | None = None
        anchor = self._generation_anchor
        if anchor is not None:
            shared = common_prefix_length(anchor[0], tokens)
            if shared >= MIN_GENERATION_PREFIX:
                self.prefix_stats.generation_prefix_hits += 1
                base = crop(anchor[1], shared)
                if len(tokens) - shared < MIN_GENERATION_PREFIX:
                    return base
        start = prefix_length(base)
        with self._inference():
            prefix = self._extend(base, tokens[start:])
        self.prefix_stats.generation_prefix_tokens += len(tokens) - start
        self._generation_anchor = (tokens, prefix)
        return prefix


def _pad_after_prefix(context: torch.Tensor, mask: torch.Tensor, prefix: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Move each row's left padding to just after the shared prefix: same width, same real tokens, masked pads."""
    ids = context.clone()
    new_mask = torch.ones_like(mask)
    width = context.shape[1]
    for row, length in enumerate(mask.sum(dim=1).tolist()):
        pads = width - int(length)
        real = context[row, pads:]
        ids[row, :prefix] = real[:prefix]
        ids[row, prefix : prefix + pads] = context[row, :pads]
        ids[row, prefix + pads :] = real[prefix:]
        new_mask[row, prefix : prefix + pads] = 0
    return ids, new_mask
