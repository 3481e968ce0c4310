"""Kill -9 a real `instructeval run` of the tiny Llama midway, rerun it with --resume: the finished tasks are
skipped, the stored answers of the half-done task are reused, and every score and sample equals a straight run's.

The first test kills a run of MMLU, CRASS and GSM8K between GSM8K's two answers. The others run every remaining
task (two subjects, BBH tasks, languages or categories each), the writing tasks graded by the scripted judge
server on 127.0.0.1: one run is killed once half its answers are stored, one while the judge is halfway through
its grading; each judgment is paid for once over the killed run and its resume. A named run killed while its
model loads, before it wrote anything, resumes in its folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from e2e_checks import headline, run_cli
from judge_server import ChatRequest, JudgeServer, Reply

from instructeval.results import load_results, read_samples

TASKS = "mmlu_anatomy,crass,gsm8k"
MAX_GEN_TOKS = 48  # the last task's two generations take long enough to kill the run between them
OTHER_TASKS = (
    "mmlu_gen_anatomy,mmlu_gen_astronomy,bbh_boolean_expressions,bbh_sports_understanding,mgsm_en,mgsm_de,humaneval,"
    "drop,hhh_harmless,hhh_helpful,hhh_mc_harmless,hhh_mc_honest,writing,writing_pairwise"
)
OTHER_LIMIT, OTHER_MAX_GEN_TOKS = 1, 8
OTHER_NAMES = ("mmlu_gen", "bbh", "mgsm", "humaneval", "drop", "hhh", "hhh_mc", "writing", "writing_pairwise")
JOURNALS = ("writing_judgments.jsonl", "writing_pairwise_pairwise_judgments.jsonl")
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _args(
    model: Path, data_dir: Path, output: Path, tasks: str, limit: int, max_gen_toks: int, *extra: str
) -> list[str]:
    return [
        "run", "--model", f"hf:{model}", "--tasks", tasks, "--data-dir", str(data_dir), "--limit", str(limit),
        "--max-gen-toks", str(max_gen_toks), "--batch-size", "1", "--output", str(output), "--run-name", "r", *extra,
    ]  # fmt: skip


def _command(model: Path, data_dir: Path, output: Path, *extra: str) -> list[str]:
    """The arguments of the first test's runs (TASKS)."""
    return _args(model, data_dir, output, TASKS, 2, MAX_GEN_TOKS, *extra)


def _subprocess(args: list[str]) -> list[str]:
    """`instructeval <args>` as a command line for a process of its own."""
    return [sys.executable, "-m", "instructeval", *args]


def _start(args: list[str]) -> subprocess.Popen[bytes]:
    """`instructeval <args>` started in a process of its own, its output discarded."""
    return subprocess.Popen(_subprocess(args), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _rows(path: Path, table: str) -> int:
    """How many rows a run's sqlite store holds in `table` (0 before it exists)."""
    if not path.is_file():
        return 0
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=1)) as db:
            return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    except sqlite3.OperationalError:  # created but no table yet
        return 0


def _answers(run_dir: Path) -> int:
    """The model answers stored in the run's request cache."""
    return _rows(run_dir / "requests.sqlite", "answers")


def _samples(run_dir: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted((run_dir / "samples").iterdir())}


def _kill_when(process: subprocess.Popen[bytes], condition: Callable[[], bool], timeout_s: float = 240) -> None:
    """SIGKILL the run as soon as `condition` holds; fails if the run ended first."""
    deadline = time.monotonic() + timeout_s
    while not condition() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed midway"
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_kill_and_resume_gives_the_straight_runs_scores(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    straight_cmd = _command(tiny_llama, data_dir, tmp_path / "straight")
    straight = subprocess.run(_subprocess(straight_cmd), env=ENV, capture_output=True, text=True, timeout=300)
    assert straight.returncode == 0, straight.stderr[-2000:]
    straight_dir = tmp_path / "straight" / f"{tiny_llama.parent.name}--{tiny_llama.name}" / "r"
    total = _answers(straight_dir)
    assert total == 2 * 4 + 2 * 4 + 2  # mmlu and crass: four choices per question; gsm8k: one generation each

    killed_dir = tmp_path / "killed" / straight_dir.relative_to(tmp_path / "straight")
    process = _start(_command(tiny_llama, data_dir, tmp_path / "killed"))
    _kill_when(process, lambda: _answers(killed_dir) >= total - 1)
    assert _answers(killed_dir) == total - 1  # gsm8k's first answer stored, its second not
    assert (killed_dir / "samples" / "crass.jsonl").is_file() and not (killed_dir / "samples" / "gsm8k.jsonl").exists()

    again_cmd = _command(tiny_llama, data_dir, tmp_path / "killed", "--resume")
    again = subprocess.run(_subprocess(again_cmd), env=ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"run folder: {killed_dir} (resumed)" in again.stderr
    for task in ("mmlu", "crass"):
        assert f"{task}: already complete, skipped" in again.stderr
    assert "answers: 1 computed, 1 from cache" in again.stderr
    assert _answers(killed_dir) == total
    assert headline(killed_dir) == headline(straight_dir)
    assert _samples(killed_dir) == _samples(straight_dir)  # every answer, log-likelihood and score, byte for byte


# ---- every other task, the writing tasks judged: killed while answering, and while the judge grades ----------


class ScriptedJudge:
    """Verdicts that follow from the rendered rubric alone, so every run gets the same grade for the same
    judgment; requests from index `stall_from` on get no reply (a judge that stalls mid-grading)."""

    def __init__(self) -> None:
        self.stall_from: int | None = None

    def __call__(self, request: ChatRequest) -> Reply:
        if self.stall_from is not None and request.index >= self.stall_from:
            return Reply(hang_s=120)
        prompt = request.prompt_text
        digest = int(hashlib.sha256(prompt.encode()).hexdigest(), 16)
        if "Which answer better serves" in prompt:
            return Reply(json.dumps({"winner": "AB"[digest % 2], "reason": "scripted"}))
        if "how RELEVANT" in prompt:
            return Reply(json.dumps({"score": 1 + digest % 5, "reason": "scripted"}))
        return Reply(f"[[{1 + digest % 5}]]")


@dataclass
class OtherTasks:
    """What every run of OTHER_TASKS shares: the judge server and the pairwise reference run."""

    model: Path
    data_dir: Path
    judge: ScriptedJudge
    server: JudgeServer
    reference: Path

    def args(self, output: Path, *extra: str) -> list[str]:
        judging = ["--judge", self.server.judge_spec(), "--judge-cache", str(output / "judge.sqlite")]
        judging += ["--no-judge-calibration"]  # paid judgments counted are the run's (calibration: its own test)
        extra = (*judging, "--reference", str(self.reference), *extra)
        return _args(self.model, self.data_dir, output, OTHER_TASKS, OTHER_LIMIT, OTHER_MAX_GEN_TOKS, *extra)


@dataclass(frozen=True)
class FinishedRun:
    """A run that ended: its folder, what it printed and the judgments it paid for."""

    path: Path
    printed: str
    billed: Counter[str]


def _run_dir(output: Path, model: Path) -> Path:
    return output / f"{model.parent.name}--{model.name}" / "r"


@pytest.fixture(scope="module")
def other_tasks(tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[OtherTasks]:
    reference = tmp_path_factory.mktemp("reference")  # the answers writing_pairwise is judged against
    run_cli(_args(tiny_llama, data_dir, reference, "writing", OTHER_LIMIT, OTHER_MAX_GEN_TOKS // 2))
    judge = ScriptedJudge()
    with JudgeServer(judge) as server:
        yield OtherTasks(tiny_llama, data_dir, judge, server, _run_dir(reference, tiny_llama))


@pytest.fixture(scope="module")
def straight(other_tasks: OtherTasks, tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    output = tmp_path_factory.mktemp("straight")
    start = len(other_tasks.server.log)
    printed = run_cli(other_tasks.args(output))
    return FinishedRun(_run_dir(output, other_tasks.model), printed, other_tasks.server.billed_since(start))


def _requests_per_task(run_dir: Path) -> dict[str, int]:
    """How many model answers each task of a finished run asked for: one per choice, or per generation."""
    return {
        task: sum(
            len(r["choice_loglikelihoods"] or []) + len(r["responses"] or []) for r in read_samples(run_dir, task)
        )
        for task in load_results(run_dir).tasks
    }


def _records(run_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Every samples file's records, less what timing decides: how long each sandbox run took, whether a
    judgment's reply came from the judge cache (which of two identical requests in flight asks depends on timing)
    and how many HTTP attempts it took (a dropped connection is retried); the judgment journals, written as replies
    arrive, in a fixed order."""
    files: dict[str, list[dict[str, Any]]] = {}
    for name, text in _samples(run_dir).items():
        records = [json.loads(line) for line in text.splitlines()]
        for record in records:
            record.pop("cached", None)
            for judgment in (record, *record.get("judgments", []), *record.get("pairwise_judgments", [])):
                judgment.pop("requests", None)
            for verdict in record.get("details", {}).get("sandbox,none", []):
                verdict.pop("seconds")
        files[name] = sorted(records, key=str) if name in JOURNALS else records
    return files


def _check_resume_printed(
    printed: str,
    run_dir: Path,
    names: tuple[str, ...],
    finished: list[str],
    requests: dict[str, int],
    total: int,
    stored: int,
) -> int:
    """A resumed run names its folder, skips each finished task and prints the computed/from-cache split the rows
    stored before the kill imply; returns how many answers it computed."""
    computed = total - stored
    from_cache = sum(n for task, n in requests.items() if task not in finished) - computed
    assert f"run folder: {run_dir} (resumed)" in printed
    for task in names:
        assert (f"{task}: already complete, skipped" in printed) == (task in finished), task
    assert f"answers: {computed} computed, {from_cache} from cache" in printed
    return computed


def _check_same_as_straight(run_dir: Path, straight: Path) -> None:
    """Scores, samples (sandbox verdicts included), judgments and the writing report equal the straight run's."""
    assert headline(run_dir) == headline(straight)
    ours = _records(run_dir)
    assert ours == _records(straight) and set(JOURNALS) <= ours.keys()
    verdicts = [r["details"]["sandbox,none"][0]["status"] for r in ours["humaneval.jsonl"]]
    assert verdicts and set(verdicts) <= {"passed", "failed", "timeout", "error"}
    report = _writing_report(run_dir)
    assert set(report) == {"pointwise", "pairwise"} and report == _writing_report(straight)


def _writing_report(run_dir: Path) -> dict[str, dict[str, Any]]:
    """results.json's writing section (grades, rates, agreement, ...) less what the judge cost in the last call."""
    sections = load_results(run_dir).writing.model_dump(mode="json", exclude_none=True).items()
    return {mode: {k: v for k, v in section.items() if k != "usage"} for mode, section in sections}


def test_every_other_task_killed_while_answering_resumes_to_the_straight_run(
    other_tasks: OtherTasks, straight: FinishedRun, tmp_path: Path
) -> None:
    requests = _requests_per_task(straight.path)
    total = _answers(straight.path)  # fewer than the requests: writing_pairwise asks writing's questions again
    assert list(requests) == list(OTHER_NAMES)
    assert f"answers: {total} computed, {sum(requests.values()) - total} from cache" in straight.printed
    assert straight.billed and set(straight.billed.values()) == {1}

    run_dir = _run_dir(tmp_path, other_tasks.model)
    process = _start(other_tasks.args(tmp_path))
    _kill_when(process, lambda: _answers(run_dir) >= total // 2)
    stored = _answers(run_dir)
    finished = list(load_results(run_dir).tasks)
    assert stored < total and not any((run_dir / "samples" / name).exists() for name in JOURNALS)
    start = len(other_tasks.server.log)
    printed = run_cli(other_tasks.args(tmp_path, "--resume"))
    _check_resume_printed(printed, run_dir, OTHER_NAMES, finished, requests, total, stored)
    assert _answers(run_dir) == total  # nothing stored twice
    assert other_tasks.server.billed_since(start) == straight.billed  # every judgment asked for once
    assert len(other_tasks.server.log) - start == len(straight.billed)  # and nothing else asked
    _check_same_as_straight(run_dir, straight.path)


def _journaled(run_dir: Path) -> int:
    """How many judgments the run's journals hold."""
    paths = [run_dir / "samples" / name for name in JOURNALS]
    return sum(len(path.read_text(encoding="utf-8").splitlines()) for path in paths if path.is_file())


def test_every_other_task_killed_while_judged_resumes_without_asking_twice(
    other_tasks: OtherTasks, straight: FinishedRun, tmp_path: Path
) -> None:
    half = sum(straight.billed.values()) // 2
    start = len(other_tasks.server.log)
    other_tasks.judge.stall_from = start + half
    process = _start(other_tasks.args(tmp_path))
    try:  # killed once the judge has answered half the judgments and the run has stored those replies
        _kill_when(process, lambda: _rows(tmp_path / "judge.sqlite", "replies") >= half)
    finally:
        other_tasks.judge.stall_from = None
    killed = other_tasks.server.billed_since(start)
    run_dir = _run_dir(tmp_path, other_tasks.model)
    assert sum(killed.values()) == half and _answers(run_dir) == _answers(straight.path)  # killed while judging
    assert _journaled(run_dir) < _journaled(straight.path)

    start = len(other_tasks.server.log)
    printed = run_cli(other_tasks.args(tmp_path, "--resume"))
    for task in OTHER_NAMES:
        assert f"{task}: already complete, skipped" in printed
    assert "answers: 0 computed, 0 from cache" in printed
    resumed = other_tasks.server.billed_since(start)
    assert not killed & resumed and killed + resumed == straight.billed  # each judgment paid for once
    _check_same_as_straight(run_dir, straight.path)


def test_a_run_killed_while_loading_its_model_resumes(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    """Killed after its folder exists but before it wrote anything (the model loads): --resume starts it there."""
    args = _args(tiny_llama, data_dir, tmp_path, "mmlu_anatomy", 1, 8)
    run_dir = _run_dir(tmp_path, tiny_llama)
    _kill_when(_start(args), lambda: (run_dir / ".lock").is_file())
    assert not (run_dir / "results.json").exists() and not (run_dir / "requests.sqlite").exists()
    printed = run_cli([*args, "--resume"])
    assert f"run folder: {run_dir} (resumed)" in printed and "answers: 4 computed, 0 from cache" in printed
    assert load_results(run_dir).run.status == "complete" and len(read_samples(run_dir, "mmlu")) == 1
