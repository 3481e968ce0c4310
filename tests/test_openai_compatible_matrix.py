"""openai-compatible: maj@K on BBH and MGSM, the judged writing tasks, and kill -9 / --resume for every task that
tests/test_openai_compatible.py does not resume (all but CRASS and GSM8K), in one run.

The model server (tests/openai_server.py) is a real HTTP server on 127.0.0.1 running the tiny random-weight Llama
with transformers; the writing tasks are graded by the scripted judge server (tests/judge_server.py). Votes are
recomputed from the written samples with tests/test_sampling.py's extraction, the writing answers are compared
with hf's (same folder, same chat template) and the grades recomputed from the judgment journals; the resume test
mirrors tests/test_e2e_resume.py's for hf on the API backend, and reuses its checks.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_checks import (
    check_pointwise_grades,
    check_position_biased_pairwise,
    check_task,
    run_cli,
    run_judged_writing,
)
from judge_server import JudgeServer
from openai_server import ModelServer
from test_e2e_resume import (
    JOURNALS,
    OTHER_LIMIT,
    OTHER_MAX_GEN_TOKS,
    OTHER_NAMES,
    OTHER_TASKS,
    ScriptedJudge,
    _answers,
    _check_resume_printed,
    _check_same_as_straight,
    _kill_when,
    _requests_per_task,
    _start,
)
from test_sampling import BBH_ANSWER, LIMIT, K, _check_votes, _first_group, _last_number, _same_number

from instructeval.results import load_results, read_samples

CHAT = "/v1/chat/completions"
WRITING_LIMIT, WRITING_MAX_GEN_TOKS = 2, 8
RESUME_TASKS = f"mmlu_anatomy,{OTHER_TASKS}"
RESUME_NAMES = ("mmlu", *OTHER_NAMES)


@pytest.fixture(scope="module")
def server(tiny_llama: Path) -> Iterator[ModelServer]:
    """The tiny Llama served under its folder path (vLLM's default served name, so its tokenizer is found)."""
    with ModelServer(tiny_llama) as running:
        yield running


def _api(server: ModelServer, folder: Path) -> str:
    return f"openai-compatible:{server.base_url}@{folder}"


def _model_requests(server: ModelServer, start: int) -> int:
    """The answers the server was asked for from exchange `start` on: one per chat request, one per prompt of a
    scoring batch (the one-off log-probability probe, a single token list, left out)."""
    asked = 0
    for path, body, _ in server.exchanges[start:]:
        if path == CHAT:
            asked += 1
        elif isinstance(body["prompt"][0], list):
            asked += len(body["prompt"])
    return asked


# ---- maj@K: K sampled chat requests per question, the vote recomputed from the samples ------------------------


def test_bbh_and_mgsm_report_the_vote_of_k_samples_drawn_by_the_server(
    server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    start = len(server.exchanges)
    run_cli(
        [
            "run", "--model", _api(server, tiny_llama), "--tasks", "bbh_navigate,mgsm_en", "--limit", str(LIMIT),
            "--max-gen-toks", "12", "--self-consistency", str(K), "--temperature", "1.0", "--data-dir", str(data_dir),
            "--output", str(tmp_path), "--run-name", "sampled",
        ]
    )  # fmt: skip
    (run_dir,) = tmp_path.glob("*/sampled")
    bbh_answer = _first_group(BBH_ANSWER)
    _check_votes(run_dir, "bbh", "exact_match", f"maj@{K}-get-answer", bbh_answer, lambda v, r: v == r["target"])
    _check_votes(run_dir, "mgsm", "acc", f"maj@{K}", _last_number, _same_number)
    drawn: dict[str, list[tuple[int, str]]] = defaultdict(list)  # per question (its messages): (seed, answer)
    for path, body, reply in server.exchanges[start:]:
        assert path == CHAT and body["temperature"] == 1.0
        drawn[json.dumps(body["messages"])].append((body["seed"], reply["choices"][0]["message"]["content"]))
    assert len(drawn) == 2 * LIMIT and all(len({seed for seed, _ in answers}) == K for answers in drawn.values())
    for task in ("bbh", "mgsm"):
        for record in read_samples(run_dir, task):
            answers = drawn[json.dumps(json.loads(record["prompt"]))]
            assert sorted(record["responses"]) == sorted(text for _, text in answers)
        assert load_results(run_dir).tasks[task].generation_kwargs["temperature"] == 1.0


# ---- writing and writing_pairwise: answered through chat completions, graded by the scripted judge ------------


def test_writing_tasks_answer_as_hf_and_are_graded_from_their_journals(
    server: ModelServer, tiny_llama: Path, tmp_path: Path
) -> None:
    start = len(server.exchanges)
    backend = f"openai-compatible:{server.base_url}@"
    api = run_judged_writing(tiny_llama, tmp_path / "api", WRITING_LIMIT, WRITING_MAX_GEN_TOKS, backend=backend)
    replies = [reply["choices"][0]["message"]["content"] for path, _, reply in server.exchanges[start:]]
    assert {path for path, _, _ in server.exchanges[start:]} == {CHAT}
    local = run_judged_writing(tiny_llama, tmp_path / "hf", WRITING_LIMIT, WRITING_MAX_GEN_TOKS)
    answers = []
    for run, task in (("writing", "writing"), ("pairwise", "writing_pairwise")):
        ours, theirs = (
            {r["doc_hash"]: r["response"] for r in read_samples(folders[run], task)} for folders in (api, local)
        )
        assert ours == theirs and len(ours) >= 2
        assert load_results(api[run]).tasks[task].chat_template_applied
        answers += ours.values()
    assert sorted(answers) == sorted(replies)  # each answer asked for once, through chat completions
    results = load_results(api["writing"])
    check_task(results, api["writing"], "writing", 1, len(read_samples(api["writing"], "writing")))
    check_pointwise_grades(api["writing"])
    check_position_biased_pairwise(api["pairwise"], api["writing"], api["billed"], WRITING_LIMIT)


# ---- kill -9 once half the answers are stored, then --resume: every task but CRASS and GSM8K -------------------


def _resume_args(model: str, data_dir: Path, output: Path, tasks: str, max_gen_toks: int, *extra: str) -> list[str]:
    return [
        "run", "--model", model, "--tasks", tasks, "--data-dir", str(data_dir), "--limit", str(OTHER_LIMIT),
        "--max-gen-toks", str(max_gen_toks), "--output", str(output), "--run-name", "r", *extra,
    ]  # fmt: skip


def test_every_task_killed_while_answering_resumes_asking_the_server_only_for_the_rest(
    server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    model = _api(server, tiny_llama)
    run_cli(_resume_args(model, data_dir, tmp_path / "reference", "writing", OTHER_MAX_GEN_TOKS // 2))
    (reference,) = tmp_path.glob("reference/*/r")
    judge = ScriptedJudge()
    with JudgeServer(judge) as graders:

        def args(output: Path, *extra: str) -> list[str]:
            judging = ("--judge", graders.judge_spec(), "--judge-cache", str(output / "judge.sqlite"))
            judging += ("--no-judge-calibration",)  # the journals compared are the run's (calibration: its own test)
            extra = (*judging, "--reference", str(reference), *extra)
            return _resume_args(model, data_dir, output, RESUME_TASKS, OTHER_MAX_GEN_TOKS, *extra)

        start, asked_from = len(graders.log), len(server.exchanges)
        printed = run_cli(args(tmp_path / "straight"))
        (straight,) = tmp_path.glob("straight/*/r")
        paid = graders.billed_since(start)
        requests = _requests_per_task(straight)
        total = _answers(straight)  # fewer than the requests: writing_pairwise asks writing's questions again
        assert list(requests) == list(RESUME_NAMES) and _model_requests(server, asked_from) == total
        assert f"answers: {total} computed, {sum(requests.values()) - total} from cache" in printed
        assert paid and set(paid.values()) == {1}
        check_pointwise_grades(straight)

        run_dir = tmp_path / "killed" / straight.relative_to(tmp_path / "straight")
        process = _start(args(tmp_path / "killed"))
        _kill_when(process, lambda: _answers(run_dir) >= total // 2)
        server.wait_idle()
        stored = _answers(run_dir)
        finished = list(load_results(run_dir).tasks)
        assert 0 < stored < total and not any((run_dir / "samples" / name).exists() for name in JOURNALS)
        start, asked_from = len(graders.log), len(server.exchanges)
        printed = run_cli(args(tmp_path / "killed", "--resume"))
        computed = _check_resume_printed(printed, run_dir, RESUME_NAMES, finished, requests, total, stored)
        assert _model_requests(server, asked_from) == computed  # the server asked only for the missing answers
        assert _answers(run_dir) == total  # nothing stored twice
        assert graders.billed_since(start) == paid and len(graders.log) - start == len(paid)  # each judgment asked once
    _check_same_as_straight(run_dir, straight)
