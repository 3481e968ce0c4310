"""vLLM on CPU, every task: greedy against hf, maj@K and pass@k, and kill -9 / --resume, on the tiny Llama.

Each vLLM engine start is costly, so each scenario is one `instructeval run` from vLLM's venv holding all its
tasks: one greedy run of every task (one subject, BBH task, language or category each, the writing tasks graded
by the scripted judge server on 127.0.0.1), compared with hf's run of the same folder and flags, which is also
the straight run the resume test compares with; one sampled run (maj@K on BBH and MGSM, pass@k on HumanEval);
one run killed with SIGKILL once half its answers are stored, then resumed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from e2e_checks import (
    GENERATION_TASKS,
    LIMIT,
    MAX_GEN_TOKS,
    check_pointwise_grades,
    check_task,
    headline,
    run_cli,
    stored_answers,
)
from judge_server import JudgeServer
from test_e2e_resume import (
    JOURNALS,
    OTHER_NAMES,
    OTHER_TASKS,
    FinishedRun,
    ScriptedJudge,
    _answers,
    _check_resume_printed,
    _check_same_as_straight,
    _kill_when,
    _requests_per_task,
)
from test_sampling import BBH_ANSWER, K, _check_pass_at_k, _check_votes, _first_group, _last_number, _same_number
from test_sampling import LIMIT as SAMPLING_LIMIT
from test_vllm import compare_runs, needs_vllm_venv, records, vllm_cli, vllm_command
from transformers import AutoTokenizer
from vllm_server import vllm_env

from instructeval.results import load_results

pytestmark = needs_vllm_venv

MATRIX_TASKS = f"mmlu_anatomy,crass,gsm8k,{OTHER_TASKS}"
MATRIX_NAMES = ("mmlu", "crass", "gsm8k", *OTHER_NAMES)
GENERATED = (*GENERATION_TASKS, "writing", "writing_pairwise")
SUBTASKS = {"mmlu_gen": 2, "bbh": 2, "mgsm": 2, "hhh": 2, "hhh_mc": 2}  # the others: one


@dataclass
class Matrix:
    """What every run of MATRIX_TASKS shares: the model, its data, the scripted judge and the pairwise reference."""

    model: Path
    data_dir: Path
    env: dict[str, str]
    server: JudgeServer
    reference: Path

    def args(self, backend: str, output: Path, *extra: str) -> list[str]:
        """`run` of every task, answered one request at a time (each stored as it comes)."""
        return [
            "run", "--model", f"{backend}:{self.model}", "--tasks", MATRIX_TASKS, "--limit", str(LIMIT),
            "--max-gen-toks", str(MAX_GEN_TOKS), "--batch-size", "1", "--data-dir", str(self.data_dir),
            "--judge", self.server.judge_spec(), "--judge-cache", str(output / "judge.sqlite"),
            "--no-judge-calibration", "--reference", str(self.reference), "--output", str(output), "--run-name", "r",
            *extra,
        ]  # fmt: skip


def _run_dir(output: Path) -> Path:
    (folder,) = output.glob("*/r")
    return folder


@pytest.fixture(scope="module")
def matrix(tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    reference = tmp_path_factory.mktemp("reference")  # hf's writing answers, writing_pairwise's other side
    run_cli(
        ["run", "--model", f"hf:{tiny_llama}", "--tasks", "writing", "--limit", str(LIMIT), "--max-gen-toks",
         str(MAX_GEN_TOKS // 2), "--data-dir", str(data_dir), "--output", str(reference), "--run-name", "r"]
    )  # fmt: skip
    with JudgeServer(ScriptedJudge()) as server:
        yield Matrix(tiny_llama, data_dir, vllm_env(data_dir), server, _run_dir(reference))


def _finished_run(matrix: Matrix, backend: str, output: Path) -> FinishedRun:
    start = len(matrix.server.log)
    args = matrix.args(backend, output)
    printed = vllm_cli(args, matrix.env) if backend == "vllm" else run_cli(args)
    return FinishedRun(_run_dir(output), printed, matrix.server.billed_since(start))


@pytest.fixture(scope="module")
def hf_run(matrix: Matrix, tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    return _finished_run(matrix, "hf", tmp_path_factory.mktemp("hf"))


@pytest.fixture(scope="module")
def vllm_run(matrix: Matrix, tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    return _finished_run(matrix, "vllm", tmp_path_factory.mktemp("vllm"))


def _token_agreement(tokenizer: AutoTokenizer, ours: str, theirs: str) -> tuple[int, int]:
    """Positions where two generations have the same token, and the longer one's length in tokens."""
    a, b = (tokenizer(text, add_special_tokens=False)["input_ids"] for text in (ours, theirs))
    return sum(x == y for x, y in zip(a, b, strict=False)), max(len(a), len(b))


def test_every_task_greedy_matches_hf(matrix: Matrix, hf_run: FinishedRun, vllm_run: FinishedRun) -> None:
    """Log-likelihoods within 1e-3 of hf's, scores equal where the generations agree (their token-by-token
    agreement printed), and every score of the vLLM run recomputed from its samples and journal."""
    assert list(load_results(vllm_run.path).tasks) == list(MATRIX_NAMES)
    agreement = compare_runs(hf_run.path, vllm_run.path, MATRIX_NAMES)
    tokenizer = AutoTokenizer.from_pretrained(matrix.model)
    tokens = Counter[str]()
    for task in GENERATED:
        ours, theirs = records(hf_run.path, task), records(vllm_run.path, task)
        for key, record in ours.items():
            for a, b in zip(record["responses"], theirs[key]["responses"], strict=True):
                same, length = _token_agreement(tokenizer, a, b)
                tokens["same"] += same
                tokens["all"] += length
    print(f"greedy generations identical to hf: {agreement}; tokens agreeing: {tokens['same']}/{tokens['all']}")
    assert agreement.keys() == set(GENERATED)
    results = load_results(vllm_run.path)
    assert results.model.backend == "vllm"
    assert stored_answers(vllm_run.path) == stored_answers(hf_run.path)  # each answer stored once, under its key
    for task in MATRIX_NAMES:
        check_task(results, vllm_run.path, task, SUBTASKS.get(task, 1), len(records(vllm_run.path, task)))
    check_pointwise_grades(vllm_run.path)
    assert vllm_run.billed and set(vllm_run.billed.values()) == {1}  # each judgment asked for once


def test_bbh_and_mgsm_vote_and_humaneval_passes_at_k(matrix: Matrix, tmp_path: Path) -> None:
    """One sampled run: maj@K on BBH and MGSM recomputed from the K samples, pass@k from HumanEval's verdicts."""
    flags = ["--tasks", "bbh_navigate,mgsm_en,humaneval", "--limit", str(SAMPLING_LIMIT), "--max-gen-toks", "12"]
    flags += ["--self-consistency", str(K), "--samples", str(K), "--temperature", "1.0"]
    vllm_cli(["run", "--model", f"vllm:{matrix.model}", *flags, "--output", str(tmp_path), "--run-name", "r"],
             matrix.env)  # fmt: skip
    run_dir = _run_dir(tmp_path)
    bbh_answer = _first_group(BBH_ANSWER)
    _check_votes(run_dir, "bbh", "exact_match", f"maj@{K}-get-answer", bbh_answer, lambda v, r: v == r["target"])
    _check_votes(run_dir, "mgsm", "acc", f"maj@{K}", _last_number, _same_number)
    _check_pass_at_k(run_dir, temperature=1.0)
    assert load_results(run_dir).model.backend == "vllm"


def test_every_task_killed_while_answering_resumes_to_the_straight_run(
    matrix: Matrix, vllm_run: FinishedRun, tmp_path: Path
) -> None:
    """Killed once half the answers are stored: the resume skips the finished tasks, computes only the missing
    answers (the printed split matches the rows stored), asks each judgment once, and equals the straight run."""
    requests = _requests_per_task(vllm_run.path)
    total = _answers(vllm_run.path)  # fewer than the requests: writing_pairwise asks writing's questions again
    assert f"answers: {total} computed, {sum(requests.values()) - total} from cache" in vllm_run.printed

    output = tmp_path / "killed"
    run_dir = output / vllm_run.path.relative_to(vllm_run.path.parents[1])
    command = vllm_command(matrix.args("vllm", output))
    process = subprocess.Popen(
        command, env=matrix.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _kill_when(process, lambda: _answers(run_dir) >= total // 2)
    finally:  # the engine's own processes too
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
    stored = _answers(run_dir)
    finished = list(load_results(run_dir).tasks)
    assert 0 < stored < total and not any((run_dir / "samples" / name).exists() for name in JOURNALS)
    start = len(matrix.server.log)
    printed = vllm_cli(matrix.args("vllm", output, "--resume"), matrix.env)
    _check_resume_printed(printed, run_dir, MATRIX_NAMES, finished, requests, total, stored)
    assert _answers(run_dir) == total  # nothing stored twice
    assert matrix.server.billed_since(start) == vllm_run.billed  # every judgment asked for once
    assert headline(run_dir) == headline(vllm_run.path)
    _check_same_as_straight(run_dir, vllm_run.path)
