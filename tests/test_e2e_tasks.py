"""Every task end to end through `instructeval run` on the tiny random Llama (hf backend, greedy decoding).

One run covers the ten problem-solving and alignment tasks (two subjects, BBH tasks, languages or categories
where a task has them; two examples each); a second run writes answers that the scripted judge server grades
(writing), and a third is judged pairwise against the second (writing_pairwise). Several tests read each run
folder: the scores are recomputed from the samples files, not taken from the run's own summary.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

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
    run_args,
    run_cli,
    run_judged_writing,
    stored_answers,
)

from instructeval.results import RunResults, load_results, read_samples
from instructeval.stats import clustered_stderr, summarize
from instructeval.writing.report import OVERALL

SUBTASKS = {
    "mmlu": ("mmlu_anatomy", "mmlu_astronomy"),
    "mmlu_gen": ("mmlu_gen_anatomy", "mmlu_gen_astronomy"),
    "bbh": ("bbh_boolean_expressions", "bbh_sports_understanding"),
    "gsm8k": ("gsm8k",),
    "mgsm": ("mgsm_en", "mgsm_de"),
    "humaneval": ("humaneval",),
    "drop": ("drop",),
    "crass": ("crass",),
    "hhh": ("hhh_harmless", "hhh_helpful"),
    "hhh_mc": ("hhh_mc_harmless", "hhh_mc_honest"),
}


def _run_dir(output: Path, model: Path, name: str) -> Path:
    (model_dir,) = [p for p in output.iterdir() if p.is_dir() and p.name.endswith(model.name)]
    return model_dir / name


@pytest.fixture(scope="module")
def matrix(tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The run of every non-judged task, made once for the module: (run folder, what it printed)."""
    output = tmp_path_factory.mktemp("e2e-matrix")
    tasks = ",".join(name for names in SUBTASKS.values() for name in names)
    printed = run_cli(run_args(tiny_llama, output, "matrix", tasks, "--data-dir", str(data_dir)))
    return _run_dir(output, tiny_llama, "matrix"), printed


@pytest.fixture(scope="module")
def matrix_results(matrix: tuple[Path, str]) -> RunResults:
    return load_results(matrix[0])


def test_every_task_is_scored_and_recorded(matrix: tuple[Path, str], matrix_results: RunResults) -> None:
    run_dir, printed = matrix
    assert matrix_results.run.status == "complete"
    assert list(matrix_results.tasks) == list(SUBTASKS)
    assert sorted(p.name for p in (run_dir / "samples").iterdir()) == sorted(f"{t}.jsonl" for t in SUBTASKS)
    assert matrix_results.model.backend == "hf"
    assert matrix_results.model.model_args["architecture"] == "decoder-only"
    assert matrix_results.model.model_args["prefix_cache"] is True
    for name, result in matrix_results.tasks.items():
        assert result.chat_template_applied is False and result.chat_template_hash is None, name
        assert result.data_source.startswith("local:"), name
        assert name in printed  # the closing table lists it


@pytest.mark.parametrize("task", list(SUBTASKS))
def test_scores_recomputed_from_samples(matrix: tuple[Path, str], matrix_results: RunResults, task: str) -> None:
    check_task(matrix_results, matrix[0], task, len(SUBTASKS[task]), len(SUBTASKS[task]) * LIMIT)


def test_drop_is_clustered_by_passage(matrix: tuple[Path, str], matrix_results: RunResults) -> None:
    """Each DROP sample's cluster is its passage's hash, and the headline's stderr is the clustered one recomputed
    from the samples, with the naive score beside it."""
    records = read_samples(matrix[0], "drop")
    for record in records:
        passage = record["prompt"].rpartition("Passage: ")[2].rpartition("\nQuestion: ")[0]
        assert record["cluster"] == hashlib.sha256(json.dumps(passage).encode()).hexdigest()[:16]
    clusters = [record["cluster"] for record in records]
    for metric, score in matrix_results.tasks["drop"].metrics.items():
        values = [record["scores"][metric] for record in records]
        assert score.clusters == len(set(clusters)) and score.naive is not None
        assert score.stderr == pytest.approx(clustered_stderr(values, clusters))
        assert score.naive.stderr == pytest.approx(summarize(values, kind="bounded").stderr)


def test_breakdowns_name_the_selected_groups(matrix_results: RunResults) -> None:
    breakdown = {
        name: {kind: sorted(groups) for kind, groups in result.breakdown.items()}
        for name, result in matrix_results.tasks.items()
    }
    assert breakdown["mmlu"]["subject"] == ["anatomy", "astronomy"]
    assert breakdown["mmlu_gen"]["subject"] == ["anatomy", "astronomy"]
    assert breakdown["bbh"]["task"] == ["boolean_expressions", "sports_understanding"]
    assert breakdown["mgsm"]["language"] == ["de", "en"]
    assert breakdown["hhh"]["category"] == ["harmless", "helpful"]
    assert breakdown["hhh_mc"]["category"] == ["harmless", "honest"]


@pytest.mark.parametrize("task", CHOICE_TASKS)
def test_choice_tasks_pick_the_most_likely_choice(matrix: tuple[Path, str], task: str) -> None:
    records = read_samples(matrix[0], task)
    check_choice_accuracy(records)
    check_cached_loglikelihoods(matrix[0], records)


def test_hhh_combines_both_orders(matrix: tuple[Path, str]) -> None:
    for record in read_samples(matrix[0], "hhh"):
        assert record["details"]["choices"] == [" A", " B", " A", " B"]  # the right response shown first, then second
        a_first, b_first, a_second, b_second = record["choice_loglikelihoods"]
        first, second = a_first - b_first, b_second - a_second
        assert record["scores"] == {
            "acc,none": float(first + second > 0),
            "acc_chosen_a,none": float(first > 0),
            "acc_chosen_b,none": float(second > 0),
        }


@pytest.mark.parametrize("task", GENERATION_TASKS)
def test_generation_tasks_decode_greedily_within_the_cap(
    matrix: tuple[Path, str], matrix_results: RunResults, tiny_llama: Path, task: str
) -> None:
    from transformers import AutoTokenizer

    kwargs = matrix_results.tasks[task].generation_kwargs
    assert kwargs["do_sample"] is False and kwargs["max_gen_toks"] == MAX_GEN_TOKS and kwargs["repeats"] == 1
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    records = read_samples(matrix[0], task)
    for record in records:
        assert len(record["responses"]) == 1 and record["response"] == record["responses"][0]
        assert len(tokenizer(record["response"], add_special_tokens=False).input_ids) <= MAX_GEN_TOKS
    assert any(record["response"] for record in records)


def test_humaneval_pass_at_1_is_the_sandbox_verdict(matrix: tuple[Path, str]) -> None:
    for record in read_samples(matrix[0], "humaneval"):
        (verdict,) = record["details"]["sandbox,none"]
        assert verdict["status"] in ("passed", "failed", "timeout", "error") and verdict["isolation"]
        assert record["scores"]["pass@1,none"] == float(verdict["status"] == "passed")


def test_request_cache_holds_every_answer(matrix: tuple[Path, str]) -> None:
    run_dir, printed = matrix
    stored = stored_answers(run_dir)
    choices = sum(len(r["choice_loglikelihoods"]) for t in (*CHOICE_TASKS, "hhh") for r in read_samples(run_dir, t))
    generations = sum(len(read_samples(run_dir, t)) for t in GENERATION_TASKS)
    assert stored == {"loglikelihood": choices, "generate_until": generations}
    assert f"answers: {choices + generations} computed, 0 from cache" in printed


# ---- judged tasks: writing (pointwise) and writing_pairwise, graded by the scripted judge on 127.0.0.1 ----------


@pytest.fixture(scope="module")
def judged(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The writing and writing_pairwise runs, graded by the scripted judge."""
    return run_judged_writing(tiny_llama, tmp_path_factory.mktemp("e2e-judged"), LIMIT, MAX_GEN_TOKS)


def test_writing_is_judged_pointwise(judged: dict[str, Any]) -> None:
    run_dir = judged["writing"]
    results = load_results(run_dir)
    answers = LIMIT * len(results.tasks["writing"].breakdown["category"])  # --limit N: N prompts per category
    check_task(results, run_dir, "writing", 1, answers)
    assert results.tasks["writing"].chat_template_applied is True and results.tasks["writing"].chat_template_hash
    assert len(read_samples(run_dir, "writing_judgments")) == answers * 2  # two rubrics
    pointwise = results.writing.pointwise
    assert pointwise.n_answers == answers and pointwise.complete is True
    overall = {rubric: cells[OVERALL].score for rubric, cells in pointwise.scores.items()}
    assert {rubric: cell.value for rubric, cell in overall.items()} == {"relevance": 4.0, "coherence": 2.0}
    assert all(cell.n == answers and cell.ci_low <= cell.value <= cell.ci_high for cell in overall.values())


def test_writing_pairwise_counts_a_position_biased_judge_as_ties(judged: dict[str, Any]) -> None:
    check_position_biased_pairwise(judged["pairwise"], judged["writing"], judged["billed"], LIMIT)
