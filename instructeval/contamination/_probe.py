"""Min-K% Prob (Shi et al. 2023) on a local model, calibrated against perturbed copies of each example.

An example's score is the mean log-probability of its k % least likely tokens. A raw score says little (short,
common text scores high whether seen or not), so each example is compared with copies of itself whose word
order is perturbed: text a model memorised verbatim loses more likelihood under perturbation than text it did
not. The null distribution comes from the copies alone (each copy against the median of the others), and an
example is flagged when its own margin exceeds that distribution's (1 - fpr) quantile.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from instructeval.contamination._examples import TestExample
from instructeval.errors import InstructEvalError
from instructeval.models.spec import ModelSpec
from instructeval.results import ContaminationResult, ProbeExample, ProbeTask
from instructeval.stats import summarize

DEFAULT_K_PERCENT = 20.0
DEFAULT_COPIES = 4
DEFAULT_FPR = 0.05
SWAP_SHARE = 0.15
MAX_TOKENS = 512
PERTURBATION = f"{SWAP_SHARE:.0%} of adjacent word pairs swapped (at least one), seeded by the example's hash"


def perturbed_copies(text: str, copies: int, seed: int) -> list[str]:
    """Copies of `text` with a few adjacent words swapped each; the same text and seed give the same copies."""
    words = text.split(" ")
    if len(words) < 2:
        return [text] * copies
    digest = int(hashlib.sha256(f"{seed}:{text}".encode()).hexdigest()[:16], 16)
    rng = np.random.default_rng(digest)
    swaps = max(1, round(SWAP_SHARE * (len(words) - 1)))
    made = []
    for _ in range(copies):
        copy = list(words)
        for position in rng.choice(len(words) - 1, size=min(swaps, len(words) - 1), replace=False).tolist():
            copy[position], copy[position + 1] = copy[position + 1], copy[position]
        made.append(" ".join(copy))
    return made


def min_k_score(logprobs: Sequence[float], k_percent: float) -> float:
    """Mean of the lowest ceil(k % of n) token log-probabilities."""
    values = np.sort(np.asarray(logprobs, dtype=np.float64))
    count = max(1, math.ceil(values.size * k_percent / 100.0))
    return float(values[:count].mean())


def check_probe_model(spec: ModelSpec) -> str:
    """The weights a probe can load (a local decoder-only model), or one line naming the fix."""
    from instructeval.models.backends import is_encoder_decoder
    from instructeval.models.local import local_weights

    if spec.kind not in ("demo", "hf"):
        raise InstructEvalError(
            f"--probe min-k reads token probabilities in this process: use demo or hf:<model> (not {spec.kind}:)"
        )
    weights = local_weights(spec)
    if is_encoder_decoder(weights):
        raise InstructEvalError(f"{spec.name} is an encoder-decoder model: --probe min-k needs a decoder-only one")
    return weights


class TokenScorer:
    """Per-token log-probabilities of texts under a local decoder-only model (transformers)."""

    def __init__(self, spec: ModelSpec, device: str | None, batch_size: int = 8) -> None:
        import torch

        from instructeval.models.local import load_causal_lm, resolve_device

        check_probe_model(spec)
        self.device = resolve_device(device)
        self.model, self.tokenizer = load_causal_lm(spec, self.device, dtype=torch.float32)
        self.model.eval()
        self.batch_size = batch_size

    def logprobs(self, texts: Sequence[str]) -> list[list[float]]:
        """For each text, the log-probability of every token after the first, given the ones before it."""
        import torch

        scored: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = [self._ids(text) for text in texts[start : start + self.batch_size]]
            width = max(len(ids) for ids in batch)
            pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
            ids = torch.tensor([row + [pad] * (width - len(row)) for row in batch], device=self.device)
            mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in batch], device=self.device)
            with torch.no_grad():
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
            token_logprobs = torch.log_softmax(logits[:, :-1], dim=-1).gather(2, ids[:, 1:, None])[..., 0]
            scored += [token_logprobs[i, : len(row) - 1].tolist() for i, row in enumerate(batch)]
        return scored

    def _ids(self, text: str) -> list[int]:
        ids: list[int] = self.tokenizer(text, truncation=True, max_length=MAX_TOKENS)["input_ids"]
        bos = self.tokenizer.bos_token_id
        return ids if bos is None or (ids and ids[0] == bos) else [bos, *ids][:MAX_TOKENS]


def probe_min_k(
    examples: Sequence[TestExample],
    scorer: Any,
    *,
    model: str,
    k_percent: float = DEFAULT_K_PERCENT,
    copies: int = DEFAULT_COPIES,
    fpr: float = DEFAULT_FPR,
    seed: int = 1234,
    progress: Callable[[str], None] = print,
) -> ContaminationResult:
    """Score every example and its perturbed copies; per task the flag rate at the copies' (1 - fpr) quantile."""
    if not 0 < k_percent <= 100:
        raise InstructEvalError(f"--k-percent must be in (0, 100], got {k_percent}")
    if copies < 2:
        raise InstructEvalError(f"--copies must be at least 2 (the null compares copies with each other), got {copies}")
    if not 0 < fpr < 1:
        raise InstructEvalError(f"--fpr must be between 0 and 1, got {fpr}")
    by_task: dict[str, list[TestExample]] = defaultdict(list)
    for example in examples:
        by_task[example.task].append(example)
    tasks = {}
    for task, members in by_task.items():
        progress(f"{task}: Min-K% Prob of {len(members)} examples and {copies} perturbed copies each")
        texts = [text for e in members for text in (e.text, *perturbed_copies(e.text, copies, seed))]
        scores = np.array([min_k_score(lp, k_percent) for lp in scorer.logprobs(texts)]).reshape(len(members), -1)
        tasks[task] = _task_probe(task, members, scores, k_percent, copies, fpr)
    return ContaminationResult(
        method="min-k", model=model, probe=tasks, created_at=datetime.now(UTC).isoformat(timespec="seconds")
    )


def _task_probe(
    task: str, members: list[TestExample], scores: np.ndarray, k_percent: float, copies: int, fpr: float
) -> ProbeTask:
    originals, perturbed = scores[:, 0], scores[:, 1:]
    medians = np.median(perturbed, axis=1)
    calibrated = originals - medians
    null = [
        perturbed[i, j] - float(np.median(np.delete(perturbed[i], j)))
        for i in range(len(members))
        for j in range(copies)
    ]
    threshold = float(np.quantile(null, 1.0 - fpr))
    flags = calibrated > threshold
    flagged = [
        ProbeExample(
            subtask=e.subtask,
            doc_id=e.doc_id,
            doc_hash=e.doc_hash,
            min_k=float(originals[i]),
            perturbed_median=float(medians[i]),
            calibrated=float(calibrated[i]),
        )
        for i, e in enumerate(members)
        if flags[i]
    ]
    return ProbeTask(
        task=task,
        examples=len(members),
        k_percent=k_percent,
        copies=copies,
        perturbation=PERTURBATION,
        threshold=threshold,
        false_positive_rate=fpr,
        flag_rate=summarize(flags.astype(float), kind="binary"),
        flagged=flagged,
    )
