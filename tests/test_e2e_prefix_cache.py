"""`instructeval run --prefix-cache` and `--no-prefix-cache` on the tiny Llama give the same numbers.

Both runs score MMLU (5-shot: one shared block per subject), HHH responses (multi-token continuations) and
CRASS, and generate GSM8K (8-shot) and MMLU-generative answers greedily; every per-choice log-likelihood must
agree within TOLERANCE, and every prediction, score and generated text must be identical.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from e2e_checks import headline, run_cli

from instructeval.results import load_results, read_samples

TASKS = {"mmlu": 2, "hhh_mc": 1, "crass": 1, "gsm8k": 1, "mmlu_gen": 1}  # task: subtasks run
SELECTION = "mmlu_anatomy,mmlu_astronomy,hhh_mc_harmless,crass,gsm8k,mmlu_gen_anatomy"
TOLERANCE = 1e-5
"""float32 on CPU: the two paths add the same terms in a different order (prefix KV, then suffix)."""


@pytest.fixture(scope="module")
def runs(
    tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[bool, Path], list[str]]:
    """The same evaluation with the prefix cache on and off; and the warnings logged meanwhile."""
    output = tmp_path_factory.mktemp("e2e-prefix-cache")
    folders: dict[bool, Path] = {}
    warnings: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: warnings.append(record.getMessage())  # type: ignore[method-assign]
    logger = logging.getLogger("instructeval.models.prefix_cache")
    logger.addHandler(handler)
    try:
        for cached in (True, False):
            name = "cached" if cached else "plain"
            flag = "--prefix-cache" if cached else "--no-prefix-cache"
            run_cli(
                [
                    "run", "--model", f"hf:{tiny_llama}", "--tasks", SELECTION, "--data-dir", str(data_dir),
                    "--limit", "3", "--max-gen-toks", "8", "--output", str(output), "--run-name", name, flag,
                ]
            )  # fmt: skip
            (model_dir,) = list(output.iterdir())
            folders[cached] = model_dir / name
    finally:
        logger.removeHandler(handler)
    return folders, warnings


def max_loglikelihood_gap(ours: list[dict], theirs: list[dict]) -> float:
    """The largest |difference| between the two runs' per-choice log-likelihoods, sample by sample."""
    gaps = [
        abs(a - b)
        for mine, other in zip(ours, theirs, strict=True)
        for a, b in zip(mine["choice_loglikelihoods"], other["choice_loglikelihoods"], strict=True)
    ]
    return max(gaps)


def test_results_record_which_path_ran(runs: tuple[dict[bool, Path], list[str]]) -> None:
    folders, warnings = runs
    assert load_results(folders[True]).model.model_args["prefix_cache"] is True
    assert load_results(folders[False]).model.model_args["prefix_cache"] is False
    assert not [w for w in warnings if "prefix cache off" in w]  # the tiny Llama's cache supports the prefix path


@pytest.mark.parametrize("task", ["mmlu", "hhh_mc", "crass"])
def test_choice_loglikelihoods_agree(runs: tuple[dict[bool, Path], list[str]], task: str) -> None:
    folders, _ = runs
    ours, theirs = read_samples(folders[True], task), read_samples(folders[False], task)
    assert len(ours) == len(theirs) == 3 * TASKS[task]
    assert [(r["subtask"], r["doc_id"]) for r in ours] == [(r["subtask"], r["doc_id"]) for r in theirs]
    assert max_loglikelihood_gap(ours, theirs) < TOLERANCE
    for mine, other in zip(ours, theirs, strict=True):
        assert mine["scores"] == other["scores"] and mine["choice_is_greedy"] == other["choice_is_greedy"]


@pytest.mark.parametrize("task", ["gsm8k", "mmlu_gen"])
def test_greedy_generations_are_identical(runs: tuple[dict[bool, Path], list[str]], task: str) -> None:
    folders, _ = runs
    ours, theirs = read_samples(folders[True], task), read_samples(folders[False], task)
    assert len(ours) == 3 * TASKS[task]
    assert [r["responses"] for r in ours] == [r["responses"] for r in theirs]
    assert [r["scores"] for r in ours] == [r["scores"] for r in theirs]


def test_headline_scores_are_identical(runs: tuple[dict[bool, Path], list[str]]) -> None:
    folders, _ = runs
    assert headline(folders[True]) == headline(folders[False])
    assert set(headline(folders[True])) == set(TASKS)


def test_results_say_off_when_the_model_cache_cannot_share_prefixes(
    tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """A sliding-window model (a tiny random Mistral) runs lm-eval's plain path, and results.json says so."""
    import torch
    from transformers import AutoTokenizer, MistralConfig, MistralForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    torch.manual_seed(0)
    config = MistralConfig(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, sliding_window=64, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    folder = tmp_path / "tiny-mistral"
    MistralForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    args = ["run", "--model", f"hf:{folder}", "--tasks", "mmlu_anatomy", "--data-dir", str(data_dir), "--limit", "1"]
    run_cli([*args, "--output", str(tmp_path / "runs"), "--run-name", "m"])
    (model_dir,) = list((tmp_path / "runs").iterdir())
    model_args = load_results(model_dir / "m").model.model_args
    assert model_args == {**model_args, "architecture": "decoder-only", "prefix_cache": False}
