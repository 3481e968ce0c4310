"""Encoder-decoder models (Flan-T5's family) end to end: the tiny random T5 through `hf:` and lm-eval's seq2seq path.

One run scores every log-likelihood task (HHH_MC: whole responses as continuations) and every generation
task; the scores are recomputed from the samples, and one choice's log-likelihood is recomputed with transformers
directly (encoder: the prompt, decoder: the choice). The prefix cache is a decoder-only optimisation: results
say it is off, and an explicit `--prefix-cache` is refused. A copy of the model without a chat template shows
what `--chat-template` does there (refused) and what a task that defaults to the template does (runs plain,
recorded as not applied). Its writing answers are judged pairwise by the scripted judge.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from e2e_checks import (
    CHOICE_TASKS,
    GENERATION_TASKS,
    LIMIT,
    MAX_GEN_TOKS,
    check_cached_loglikelihoods,
    check_choice_accuracy,
    check_position_biased_pairwise,
    check_task,
    refusal,
    run_args,
    run_cli,
    run_judged_writing,
)

from instructeval.results import RunResults, load_results, read_samples

SUBTASKS = {
    "mmlu": ("mmlu_anatomy", "mmlu_astronomy"),
    "mmlu_gen": ("mmlu_gen_anatomy",),
    "bbh": ("bbh_boolean_expressions",),
    "gsm8k": ("gsm8k",),
    "mgsm": ("mgsm_en",),
    "humaneval": ("humaneval",),
    "drop": ("drop",),
    "crass": ("crass",),
    "hhh": ("hhh_harmless",),
    "hhh_mc": ("hhh_mc_harmless",),
}


def _run_dir(output: Path, name: str) -> Path:
    (model_dir,) = [p for p in output.iterdir() if p.is_dir()]
    return model_dir / name


@pytest.fixture(scope="module")
def t5_run(tiny_t5: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny T5 on every task of SUBTASKS, run once for the module."""
    output = tmp_path_factory.mktemp("e2e-t5")
    tasks = ",".join(name for names in SUBTASKS.values() for name in names)
    run_cli(run_args(tiny_t5, output, "t5", tasks, "--data-dir", str(data_dir)))
    return _run_dir(output, "t5")


@pytest.fixture(scope="module")
def t5_results(t5_run: Path) -> RunResults:
    return load_results(t5_run)


def test_results_state_the_seq2seq_choices(t5_results: RunResults) -> None:
    assert t5_results.run.status == "complete" and list(t5_results.tasks) == list(SUBTASKS)
    args = t5_results.model.model_args
    assert args["architecture"] == "encoder-decoder" and args["prefix_cache"] is False
    for name, result in t5_results.tasks.items():
        assert result.chat_template_applied is False, name


@pytest.mark.parametrize("task", list(SUBTASKS))
def test_scores_recomputed_from_samples(t5_run: Path, t5_results: RunResults, task: str) -> None:
    check_task(t5_results, t5_run, task, len(SUBTASKS[task]), len(SUBTASKS[task]) * LIMIT)


@pytest.mark.parametrize("task", CHOICE_TASKS)
def test_choice_tasks_pick_the_most_likely_choice(t5_run: Path, task: str) -> None:
    records = read_samples(t5_run, task)
    check_choice_accuracy(records)
    check_cached_loglikelihoods(t5_run, records)


def test_loglikelihood_is_the_decoders_score_of_the_choice(t5_run: Path, tiny_t5: Path) -> None:
    import torch
    from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5)
    model = AutoModelForSeq2SeqLM.from_pretrained(tiny_t5, dtype=torch.float32).eval()
    record = read_samples(t5_run, "hhh_mc")[0]  # whole responses: multi-token continuations
    for choice, logged in zip(record["details"]["choices"], record["choice_loglikelihoods"], strict=True):
        encoder = torch.tensor([tokenizer.encode(record["prompt"])])
        labels = torch.tensor([tokenizer.encode(choice)])
        with torch.no_grad():
            logits = model(input_ids=encoder, labels=labels).logits
        expected = torch.log_softmax(logits, dim=-1).gather(2, labels.unsqueeze(2)).sum().item()
        assert logged == pytest.approx(expected, abs=1e-4)


def test_generations_stay_within_the_cap(t5_run: Path, t5_results: RunResults, tiny_t5: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_t5)
    for task in GENERATION_TASKS:
        assert t5_results.tasks[task].generation_kwargs["do_sample"] is False
        for record in read_samples(t5_run, task):
            assert len(record["responses"]) == 1
            assert len(tokenizer(record["response"], add_special_tokens=False).input_ids) <= MAX_GEN_TOKS


def test_explicit_prefix_cache_is_refused_in_one_line(tiny_t5: Path, tmp_path: Path) -> None:
    assert refusal(run_args(tiny_t5, tmp_path, "pc", "mmlu_anatomy", "--prefix-cache")) == (
        f"instructeval: error: {tiny_t5} is an encoder-decoder model and the prefix cache is for decoder-only "
        "models: drop --prefix-cache"
    )


def test_chat_template_is_applied_and_hashed_when_the_tokenizer_has_one(
    tiny_t5: Path, data_dir: Path, tmp_path: Path
) -> None:
    run_cli(run_args(tiny_t5, tmp_path, "chat", "mmlu_anatomy", "--data-dir", str(data_dir), "--chat-template"))
    result = load_results(_run_dir(tmp_path, "chat")).tasks["mmlu"]
    template = (tiny_t5 / "chat_template.jinja").read_text(encoding="utf-8")
    assert result.chat_template_applied is True
    assert result.chat_template_hash == hashlib.sha256(template.encode()).hexdigest()
    assert all(r["prompt"].startswith("<|im_start|>") for r in read_samples(_run_dir(tmp_path, "chat"), "mmlu"))


@pytest.fixture(scope="module")
def t5_without_template(tiny_t5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny T5 with its chat template removed, as Flan-T5 ships."""
    folder = tmp_path_factory.mktemp("t5-no-template") / "tiny-t5-plain"
    shutil.copytree(tiny_t5, folder)
    (folder / "chat_template.jinja").unlink()
    return folder


def test_chat_template_on_a_model_without_one_is_refused(t5_without_template: Path, tmp_path: Path) -> None:
    assert refusal(run_args(t5_without_template, tmp_path, "c", "mmlu_anatomy", "--chat-template")) == (
        f"instructeval: error: {t5_without_template} has no chat template: drop --chat-template"
    )


def test_a_task_defaulting_to_the_template_runs_plain_and_says_so(t5_without_template: Path, tmp_path: Path) -> None:
    printed = run_cli(run_args(t5_without_template, tmp_path, "w", "writing"))  # writing's protocol: chat template on
    run_dir = _run_dir(tmp_path, "w")
    result = load_results(run_dir).tasks["writing"]
    assert result.chat_template_applied is False and result.chat_template_hash is None
    records = read_samples(run_dir, "writing")
    assert records and not any("<|im_start|>" in r["prompt"] for r in records)
    assert "answers stored" in printed


def test_writing_pairwise_counts_a_position_biased_judge_as_ties(
    tiny_t5: Path, tiny_llama: Path, tmp_path: Path
) -> None:
    """Judged against the tiny Llama's writing answers: the tiny T5's greedy answers are all empty (its tied
    embeddings echo the decoder's start token, which is end-of-sequence), so against its own no pair differs."""
    judged = run_judged_writing(tiny_t5, tmp_path, LIMIT, MAX_GEN_TOKS, writer=tiny_llama)
    check_position_biased_pairwise(judged["pairwise"], judged["writing"], judged["billed"], LIMIT)
    assert load_results(judged["pairwise"]).tasks["writing_pairwise"].chat_template_applied is True
