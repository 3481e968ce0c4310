"""Local LoRA fine-tuning with peft + transformers: a plain, seeded torch loop (CPU fp32 or GPU).

LoRA goes on the attention projections (q/k/v/o where the model names them so, peft's default otherwise).
Loss covers only the trained part of each example: the assistant turn of a chat example, every token of a
document. The adapter is saved with `save_pretrained`, so `instructeval run --adapter <folder>` loads it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from instructeval.errors import InstructEvalError
from instructeval.knowledge.formats import TrainingExample
from instructeval.models.local import load_causal_lm
from instructeval.models.spec import ModelSpec

ATTENTION_PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj")
IGNORE = -100


@dataclass(frozen=True)
class LoraSettings:
    """Everything that shapes a LoRA run; recorded in results.json as given."""

    epochs: int = 10
    learning_rate: float = 1e-3
    rank: int = 8
    alpha: int = 16
    batch_size: int = 8
    max_length: int = 512
    seed: int = 1234

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.rank < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise InstructEvalError("--epochs, --lora-rank and --train-batch-size must be >= 1 and --learning-rate > 0")


def train_lora(
    spec: ModelSpec,
    examples: Sequence[TrainingExample],
    settings: LoraSettings,
    out_dir: Path,
    *,
    device: str = "cpu",
    save_epochs: Collection[int] = (),
    progress: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Fine-tune a LoRA adapter on `examples`, save it to `out_dir`, return the training record.

    The adapter after each epoch in `save_epochs` is also saved, to `out_dir/epoch-<E>/` (the last epoch's is
    `out_dir` itself); the record's `checkpoints` lists every saved epoch."""
    import torch
    from peft import LoraConfig, get_peft_model

    if not examples:
        raise InstructEvalError("nothing to fine-tune on: the knowledge set has no facts")
    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    started = time.perf_counter()
    model, tokenizer = load_causal_lm(spec, device, dtype=torch.float32)
    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    targets = [name for name in ATTENTION_PROJECTIONS if name in names] or None
    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=0.0,
        target_modules=targets,
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(model, config)
    encoded = [encode(tokenizer, example, settings.max_length) for example in examples]
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    order = random.Random(settings.seed)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    losses: list[float] = []
    checkpoints: list[dict[str, Any]] = []
    model.train()
    for epoch in range(settings.epochs):
        indices = list(range(len(encoded)))
        order.shuffle(indices)
        total, tokens = 0.0, 0
        for start in range(0, len(indices), settings.batch_size):
            batch = [encoded[i] for i in indices[start : start + settings.batch_size]]
            input_ids, labels, mask = _collate(batch, pad, torch)
            loss = model(input_ids=input_ids.to(device), attention_mask=mask.to(device), labels=labels.to(device)).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            counted = int((labels[:, 1:] != IGNORE).sum())
            total += float(loss.detach()) * counted
            tokens += counted
        losses.append(round(total / max(tokens, 1), 4))
        progress(f"  epoch {epoch + 1}/{settings.epochs}: loss {losses[-1]:.4f}")
        if epoch + 1 in save_epochs and epoch + 1 < settings.epochs:
            model.save_pretrained(out_dir / f"epoch-{epoch + 1}")
            checkpoints.append({"epoch": epoch + 1, "adapter": str(out_dir / f"epoch-{epoch + 1}")})
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    checkpoints.append({"epoch": settings.epochs, "adapter": str(out_dir)})
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        **asdict(settings),
        "backend": "peft-lora",
        "target_modules": list(targets or ["peft default"]),
        "trainable_parameters": trainable,
        "examples": len(examples),
        "steps": settings.epochs * -(-len(examples) // settings.batch_size),
        "loss_per_epoch": losses,
        "device": device,
        "train_seconds": round(time.perf_counter() - started, 2),
        "adapter": str(out_dir),
        "checkpoints": checkpoints,
    }


def encode(tokenizer: Any, example: TrainingExample, max_length: int) -> tuple[list[int], list[int]]:
    """Token ids and labels: the prompt part is masked out, the trained part (and its end token) is kept."""
    if example.messages:
        messages = list(example.messages)
        full = tokenizer.apply_chat_template(messages, tokenize=False)
        prompt = tokenizer.apply_chat_template(messages[:-1], tokenize=False, add_generation_prompt=True)
        if not full.startswith(prompt):
            raise InstructEvalError(
                "the model's chat template renders the answer turn oddly: use --format no-prompt-completion"
            )
        prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        target_ids = tokenizer(full[len(prompt) :], add_special_tokens=False)["input_ids"]
    else:
        bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None and _adds_bos(tokenizer) else []
        prompt_ids = bos
        target_ids = tokenizer(example.text or "", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    ids = (prompt_ids + target_ids)[:max_length]
    labels = ([IGNORE] * len(prompt_ids) + target_ids)[:max_length]
    return ids, labels


def _adds_bos(tokenizer: Any) -> bool:
    probe = tokenizer("a")["input_ids"]
    return bool(probe) and probe[0] == tokenizer.bos_token_id


def _collate(batch: list[tuple[list[int], list[int]]], pad: int, torch: Any) -> tuple[Any, Any, Any]:
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((len(batch), width), pad, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(batch):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return input_ids, labels, mask
