"""openai-compatible: log-likelihood through /v1/completions and generation through chat completions agree with
the hf backend on the same weights; sampling, resume and the refusals of what a server or flag cannot do.

The server (tests/openai_server.py) is a real HTTP server on 127.0.0.1 running the tiny random-weight Llama with
transformers; the `hf:` runs load the same folder in-process. Only api.openai.com cannot exist here: the `openai:`
refusals are checked to happen before any backend is built (no run folder appears).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openai_server import ModelServer

from instructeval.cli import main
from instructeval.registry import resolve_tasks

LOGLIKELIHOOD_TASKS = "mmlu_anatomy,mmlu_astronomy,crass,hhh_harmless,hhh_mc_harmless"
GENERATIVE_TASKS = "mmlu_gen_anatomy,bbh_boolean_expressions,gsm8k,mgsm_en,humaneval,drop"


@pytest.fixture(scope="module")
def server(tiny_llama: Path) -> Iterator[ModelServer]:
    """The tiny Llama served under its folder path (vLLM's default served name, so its tokenizer is found)."""
    with ModelServer(tiny_llama) as running:
        yield running


def _run(tmp_path: Path, data_dir: Path, name: str, model: str, *flags: str) -> Path:
    code = main(
        [
            *("run", "--model", model, "--output", str(tmp_path), "--run-name", name, "--data-dir", str(data_dir)),
            *("--limit", "2", "--max-gen-toks", "8", *flags),
        ]
    )
    assert code == 0
    (folder,) = tmp_path.glob(f"*/{name}")
    return folder


def _samples(run: Path, task: str) -> dict[tuple[str, int], dict[str, Any]]:
    lines = (run / "samples" / f"{task}.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return {(r["subtask"], r["doc_id"]): r for r in records}


def _token_ids(prompt: list[Any]) -> list[Any]:
    """A /completions prompt sent as one token list or a batch of one."""
    return prompt if isinstance(prompt[0], int) else prompt[0]


def _failure(*args: str) -> str:
    """Run the CLI expecting exit 2; return the one error line it printed."""
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(list(args))
    lines = [line for line in stderr.getvalue().splitlines() if line.startswith("instructeval: error:")]
    assert code == 2 and len(lines) == 1 and "Traceback" not in stderr.getvalue(), stderr.getvalue()[-1500:]
    return lines[0]


def test_loglikelihood_tasks_agree_with_hf(
    server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    mark = len(server.exchanges)
    api = _run(
        tmp_path, data_dir, "api", f"openai-compatible:{server.base_url}@{tiny_llama}", "--tasks", LOGLIKELIHOOD_TASKS
    )
    local = _run(tmp_path, data_dir, "hf", f"hf:{tiny_llama}", "--tasks", LOGLIKELIHOOD_TASKS)
    api_results, hf_results = (json.loads((run / "results.json").read_text()) for run in (api, local))
    for task in ("mmlu", "crass", "hhh", "hhh_mc"):
        ours, theirs = _samples(api, task), _samples(local, task)
        assert ours.keys() == theirs.keys() and len(ours) >= 2
        for key, record in ours.items():
            expected = theirs[key]
            assert record["choice_loglikelihoods"] == pytest.approx(expected["choice_loglikelihoods"], abs=1e-3)
            assert record["choice_is_greedy"] == expected["choice_is_greedy"]
            assert record["scores"] == expected["scores"]
            if task != "hhh":  # hhh scores both answer orders together (tasks/hhh/hooks.py)
                likelihoods = record["choice_loglikelihoods"]
                best = max(range(len(likelihoods)), key=likelihoods.__getitem__)
                assert record["scores"]["acc,none"] == float(str(best) == record["target"])
        if task != "hhh":
            accuracy = sum(r["scores"]["acc,none"] for r in ours.values()) / len(ours)
            assert api_results["tasks"][task]["metrics"]["acc,none"]["value"] == pytest.approx(accuracy)
        assert api_results["tasks"][task]["metrics"] == hf_results["tasks"][task]["metrics"]
    scored = [body for path, body, _ in server.exchanges[mark:] if path == "/v1/completions"]
    assert len(scored) > 1 and all(body["echo"] and body["logprobs"] == 1 for body in scored)
    assert all(isinstance(token, int) for body in scored for token in _token_ids(body["prompt"]))
    endpoints = api_results["model"]["model_args"]["endpoints"]
    assert endpoints["generate_until"].startswith(f"{server.base_url}/chat/completions")
    assert endpoints["loglikelihood"].startswith(f"{server.base_url}/completions")


def test_chat_formatted_loglikelihood_agrees_with_hf(
    server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    flags = ("--tasks", "mmlu_anatomy", "--chat-template")
    api = _run(tmp_path, data_dir, "api", f"openai-compatible:{server.base_url}@{tiny_llama}", *flags)
    local = _run(tmp_path, data_dir, "hf", f"hf:{tiny_llama}", *flags)
    ours, theirs = _samples(api, "mmlu"), _samples(local, "mmlu")
    assert ours.keys() == theirs.keys()
    for key, record in ours.items():
        assert record["choice_loglikelihoods"] == pytest.approx(theirs[key]["choice_loglikelihoods"], abs=1e-3)
    prompt = _token_ids(server.bodies("/v1/completions")[-1]["prompt"])
    assert server.tokenizer.decode(prompt).startswith("<|im_start|>")


def test_greedy_generation_matches_hf_with_its_chat_template(
    server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """Every generative task through /chat/completions answers as hf does with the same chat template."""
    flags = ("--tasks", GENERATIVE_TASKS)
    mark = len(server.exchanges)
    api = _run(tmp_path, data_dir, "api", f"openai-compatible:{server.base_url}@{tiny_llama}", *flags)
    local = _run(tmp_path, data_dir, "hf", f"hf:{tiny_llama}", *flags, "--chat-template")
    api_results, hf_results = (json.loads((run / "results.json").read_text()) for run in (api, local))
    sent = [body["messages"] for _, body, _ in server.exchanges[mark:]]
    replies = sorted(reply["choices"][0]["message"]["content"] for _, _, reply in server.exchanges[mark:])
    answers = []
    for task in ("mmlu_gen", "bbh", "gsm8k", "mgsm", "humaneval", "drop"):
        ours, theirs = _samples(api, task), _samples(local, task)
        assert ours.keys() == theirs.keys() and len(ours) >= 2
        for key, record in ours.items():
            assert record["responses"] == theirs[key]["responses"] and record["scores"] == theirs[key]["scores"]
            assert json.loads(record["prompt"]) in sent  # the chat messages as sent, not their Python repr
            answers += record["responses"]
        assert api_results["tasks"][task]["metrics"] == hf_results["tasks"][task]["metrics"]
        assert api_results["tasks"][task]["chat_template_applied"]
    assert sorted(answers) == replies


def test_plain_generation_goes_to_completions_and_matches_hf(
    server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """--no-chat-template: the prompts hf generates from, sent as token ids to /v1/completions."""
    flags = ("--tasks", "mmlu_gen_anatomy,gsm8k", "--no-chat-template")
    mark = len(server.exchanges)
    api = _run(tmp_path, data_dir, "api", f"openai-compatible:{server.base_url}@{tiny_llama}", *flags)
    local = _run(tmp_path, data_dir, "hf", f"hf:{tiny_llama}", *flags)
    sent = [(path, body) for path, body, _ in server.exchanges[mark:]]
    assert {path for path, _ in sent} == {"/v1/completions"} and len(sent) == 4  # no echo probe: nothing scored
    generated = [body for _, body in sent]
    assert not any(body.get("echo") for body in generated)
    assert all(isinstance(token, int) for body in generated for token in _token_ids(body["prompt"]))
    results = json.loads((api / "results.json").read_text())
    for task in ("mmlu_gen", "gsm8k"):
        ours, theirs = _samples(api, task), _samples(local, task)
        assert ours.keys() == theirs.keys() and len(ours) == 2
        for key, record in ours.items():
            assert record["responses"] == theirs[key]["responses"] and record["scores"] == theirs[key]["scores"]
        assert results["tasks"][task]["chat_template_applied"] is False


@pytest.mark.parametrize(
    ("task", "flags"),
    [
        ("gsm8k", ("--self-consistency", "3", "--temperature", "0.9")),
        ("humaneval", ("--samples", "3", "--temperature", "0.9")),
    ],
    ids=["gsm8k", "humaneval"],
)
def test_sampled_repeats_reach_the_server_with_their_own_seeds(
    task: str, flags: tuple[str, ...], server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """maj@K and pass@k: K chat requests with the temperature and K seeds; K answers stored and recorded."""
    mark = len(server.exchanges)
    run = _run(
        tmp_path, data_dir, "sampled", f"openai-compatible:{server.base_url}@{tiny_llama}",
        "--tasks", task, *flags, "--seed", "7", "--limit", "1",
    )  # fmt: skip
    sent = [(body, reply) for path, body, reply in server.exchanges[mark:] if path == "/v1/chat/completions"]
    assert len(sent) == 3 and all(body["temperature"] == 0.9 for body, _ in sent)
    assert len({body["seed"] for body, _ in sent}) == 3
    (record,) = _samples(run, task).values()
    assert sorted(record["responses"]) == sorted(reply["choices"][0]["message"]["content"] for _, reply in sent)
    assert _stored(run, "generate_until") == 3


def test_openai_chat_models_are_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    common = ("--model", "openai:gpt-4o-mini", "--output", str(tmp_path / "runs"), "--data-dir", str(data_dir))
    line = _failure("run", *common, "--tasks", "mmlu_anatomy,gsm8k,crass")
    assert "gives no prompt log-probabilities (chat completions only), which mmlu_anatomy, crass need" in line
    assert "run mmlu_gen_anatomy instead of mmlu_anatomy; drop crass (no generative version)" in line
    line = _failure("run", *common, "--suite", "problem-solving")
    assert line.startswith("instructeval: error: --suite problem-solving:")
    assert "--suite problem-solving-generative (mmlu_gen, bbh, gsm8k, mgsm, humaneval, drop)" in line
    assert not (tmp_path / "runs").exists()


def test_the_generative_suite_is_listed_and_has_no_loglikelihood_task(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["tasks"]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines at the terminal's width
    assert "suite problem-solving-generative: mmlu_gen, bbh, gsm8k, mgsm, humaneval, drop suite" in out
    assert "drop, crass (mmlu, crass: log-likelihood, not on openai: chat models)" in out
    assert not [info.name for info in resolve_tasks(None, "problem-solving-generative") if info.scores_loglikelihood]


def test_a_server_without_prompt_logprobs_fails_in_one_line(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    with ModelServer(tiny_llama, prompt_logprobs=False) as bare:
        line = _failure(
            "run",
            "--model",
            f"openai-compatible:{bare.base_url}@{tiny_llama}",
            "--tasks",
            "mmlu_anatomy",
            "--limit",
            "2",
            "--output",
            str(tmp_path),
            "--data-dir",
            str(data_dir),
        )
        assert len(bare.bodies("/v1/completions")) == 1
    assert f"{bare.base_url}/completions returned no prompt log-probabilities" in line


def test_a_served_name_that_is_no_tokenizer_needs_the_tokenizer_flag(
    tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """The refusal runs as a real process with the hub offline (the hub libraries read HF_HUB_OFFLINE at import)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    with ModelServer(tiny_llama, name="tiny-chat") as named:
        model = f"openai-compatible:{named.base_url}@tiny-chat"
        command = [sys.executable, "-m", "instructeval", "run", "--model", model, "--tasks", "mmlu_anatomy"]
        refused = subprocess.run(
            [*command, "--limit", "2", "--output", str(tmp_path), "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        run = _run(tmp_path, data_dir, "named", model, "--tasks", "mmlu_anatomy", "--tokenizer", str(tiny_llama))
    errors = [line for line in refused.stderr.splitlines() if line.startswith("instructeval: error:")]
    assert refused.returncode == 2 and len(errors) == 1 and "Traceback" not in refused.stderr, refused.stderr[-1500:]
    assert "tiny-chat's tokenizer" in errors[0] and "pass --tokenizer <hub id or folder>" in errors[0]
    endpoint = json.loads((run / "results.json").read_text())["model"]["model_args"]["endpoints"]["loglikelihood"]
    assert endpoint.endswith(f"tokenizer {tiny_llama}, context 8192 tokens)")
    assert len(_samples(run, "mmlu")) == 2


@pytest.mark.parametrize(
    ("model", "flags", "expected"),
    [
        ("hf:{folder}", ("--tasks", "mmlu_anatomy", "--tokenizer", "{folder}"), "applies to openai-compatible: models"),
        ("openai-compatible:{url}@m", ("--tasks", "gsm8k", "--tokenizer", "{folder}"), "this run has neither"),
        ("openai:gpt-4o-mini", ("--tasks", "gsm8k", "--no-chat-template"), "drop --no-chat-template"),
    ],
    ids=["tokenizer-on-hf", "tokenizer-without-use", "plain-prompts-on-a-chat-model"],
)
def test_a_flag_that_would_do_nothing_is_refused(
    model: str,
    flags: tuple[str, ...],
    expected: str,
    server: ModelServer,
    tiny_llama: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-key")
    spec = model.format(folder=tiny_llama, url=server.base_url)
    output = tmp_path / "runs"
    line = _failure(
        "run", "--model", spec, *(flag.format(folder=tiny_llama) for flag in flags), "--output", str(output),
        "--data-dir", str(data_dir),
    )  # fmt: skip
    assert expected in line and not output.exists()


def test_a_prompt_longer_than_2048_tokens_is_scored_whole(
    server: ModelServer, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """The context length comes from the server's /v1/models (`max_model_len`), not lm-eval's 2048 default."""
    flags = ("--tasks", "mmlu_high_school_european_history", "--limit", "1")
    before = len(server.bodies("/v1/completions"))
    api = _run(tmp_path, data_dir, "api", f"openai-compatible:{server.base_url}@{tiny_llama}", *flags)
    local = _run(tmp_path, data_dir, "hf", f"hf:{tiny_llama}", *flags)
    sent = [body["prompt"] for body in server.bodies("/v1/completions")[before:]]
    lengths = [len(prompt) for batch in sent if isinstance(batch[0], list) for prompt in batch]  # not the probe
    assert len(lengths) == 4 and min(lengths) > 2048
    (ours,), (theirs,) = _samples(api, "mmlu").values(), _samples(local, "mmlu").values()
    assert ours["choice_loglikelihoods"] == pytest.approx(theirs["choice_loglikelihoods"], abs=1e-3)
    context = json.loads((api / "results.json").read_text())["model"]["model_args"]["endpoints"]["loglikelihood"]
    assert context.endswith("context 8192 tokens)")


@pytest.mark.parametrize(
    ("method", "route", "total", "at_least"),
    [("loglikelihood", "/v1/completions", 12, 3), ("generate_until", "/v1/chat/completions", 3, 1)],
    ids=["crass", "gsm8k"],
)
def test_a_killed_run_resumes_without_asking_the_server_again(
    method: str, route: str, total: int, at_least: int, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """kill -9 midway through CRASS's (3 docs x 4 choices) or GSM8K's (3 docs) answers, then --resume.

    Both endpoints' answers reach the run's request cache as they arrive, so the kill keeps some but not all, and
    the resumed run asks the server only for the missing ones; its samples equal a straight run's.
    """
    with ModelServer(tiny_llama, delay_s=0.15) as slow:
        model = f"openai-compatible:{slow.base_url}@{tiny_llama}"
        flags = ("--tasks", "crass,gsm8k", "--limit", "3")
        args = ["run", "--model", model, *flags, "--max-gen-toks", "8", "--output", str(tmp_path), "--run-name", "r"]
        args += ["--data-dir", str(data_dir)]
        killed = subprocess.Popen([sys.executable, "-m", "instructeval", *args], stderr=subprocess.DEVNULL)
        _wait_for_stored_answers(tmp_path, killed, method, at_least)
        killed.kill()
        killed.wait()
        (run,) = tmp_path.glob("*/r")
        kept = _stored(run, method)
        assert 0 < kept < total, kept
        slow.delay_s = 0.0
        slow.wait_idle()
        mark = len(slow.exchanges)
        assert main([*args, "--resume"]) == 0
        asked = [body for path, body, _ in slow.exchanges[mark:] if path == route]
        if method == "loglikelihood":
            asked = [body for body in asked if isinstance(body["prompt"][0], list)]  # not the one-off probe
        assert len(asked) == total - kept
        straight = _run(tmp_path, data_dir, "straight", model, *flags)
    for task in ("crass", "gsm8k"):
        ours, theirs = _samples(run, task), _samples(straight, task)
        assert {k: (r["choice_loglikelihoods"], r["responses"]) for k, r in ours.items()} == {
            k: (r["choice_loglikelihoods"], r["responses"]) for k, r in theirs.items()
        }


def _stored(run: Path, method: str) -> int:
    """How many answers of one request type the run's request cache holds."""
    with contextlib.closing(sqlite3.connect(run / "requests.sqlite")) as db:
        return int(db.execute("SELECT COUNT(*) FROM answers WHERE method = ?", (method,)).fetchone()[0])


def _wait_for_stored_answers(output: Path, process: subprocess.Popen[bytes], method: str, at_least: int) -> None:
    """Poll the run's request cache until it holds `at_least` answers of `method` (the run still going)."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run finished before it could be killed midway"
        for cache in output.glob("*/r/requests.sqlite"):
            with contextlib.suppress(sqlite3.Error):
                if _stored(cache.parent, method) >= at_least:
                    return
        time.sleep(0.02)
    raise AssertionError(f"fewer than {at_least} {method} answers were stored within 300 s")
