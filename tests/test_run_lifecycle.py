"""The run lifecycle: running -> complete | failed on every way out, the request cache closed, the lock dropped.

The crashes are injected (a task or a scorer raising, KeyboardInterrupt included) into real runs: `evaluate`
on the tiny random Llama and `inject score` on the invented knowledge set. A killed run then resumes.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import instructeval.evaluator as api
import instructeval.knowledge.external as external
from instructeval.cache import RequestCache
from instructeval.errors import InstructEvalError
from instructeval.evaluator import RunOptions, evaluate
from instructeval.knowledge.external import ScoreOptions, score_responses
from instructeval.knowledge.sets import load_knowledge_set
from instructeval.results import ModelInfo, RunResults, load_results
from instructeval.run import amend_run, run_info, start_run
from instructeval.run._folder import RunFolder

SETTINGS = {"feature": "lifecycle-test"}


class Boom(Exception):
    """The injected crash."""


def fresh() -> RunResults:
    return RunResults(run=run_info([], 1, SETTINGS, device="cpu"), model=ModelInfo(spec="m", backend="hf", name="m"))


@pytest.mark.parametrize("leave", ["return", Boom, KeyboardInterrupt])
def test_every_exit_sets_the_status_closes_the_cache_and_drops_the_lock(tmp_path: Path, leave: Any) -> None:
    leaving = pytest.raises(leave) if leave != "return" else contextlib.nullcontext()
    with leaving, start_run(tmp_path, "m", "r", SETTINGS, resume=False) as run:
        run.begin(fresh)
        cache = run.request_cache()
        cache.append("generate_until", "k", "answer")
        assert load_results(run.path).run.status == "running"
        if leave != "return":
            raise leave()
    results = load_results(tmp_path / "m" / "r")
    assert results.run.status == ("complete" if leave == "return" else "failed")
    assert results.run.finished_at is not None
    with pytest.raises(Exception, match="closed"):
        cache.count("generate_until", "k")
    with amend_run(tmp_path / "m" / "r") as again:  # the lock is free again
        assert again.results.run.status == results.run.status


def test_a_held_run_is_refused_and_amend_saves_only_what_finished(tmp_path: Path) -> None:
    with start_run(tmp_path, "m", "r", SETTINGS, resume=False) as run:
        run.begin(fresh)
        with (
            pytest.raises(InstructEvalError, match="being written by another instructeval process"),
            amend_run(run.path),
        ):
            pass
    with pytest.raises(Boom), amend_run(run.path) as amended:
        amended.results.run.seed = 99
        raise Boom()
    assert load_results(run.path).run.seed == 1
    with amend_run(run.path) as amended:
        amended.results.run.seed = 99
    assert load_results(run.path).run.seed == 99


@pytest.fixture()
def closed_caches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[RequestCache]]:
    """Every request cache closed during the test, in order."""
    closed: list[RequestCache] = []
    close = RequestCache.close

    def recording(self: RequestCache) -> None:
        closed.append(self)
        close(self)

    monkeypatch.setattr(RequestCache, "close", recording)
    yield closed


@pytest.mark.parametrize("crash", [Boom, KeyboardInterrupt])
def test_a_crashed_evaluate_is_failed_then_resumes(
    tiny_llama: Path,
    data_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    closed_caches: list[RequestCache],
    crash: type[BaseException],
) -> None:
    options = RunOptions(
        model=f"hf:{tiny_llama}", tasks="crass,hhh_mc", limit=1, output=tmp_path, run_name="r", data_dir=data_dir
    )
    run_task = api._run_task
    calls: list[str] = []

    def second_task_crashes(run: Any, info: Any, *args: Any) -> Any:
        calls.append(info.name)
        if len(calls) == 2:
            raise crash()
        return run_task(run, info, *args)

    monkeypatch.setattr(api, "_run_task", second_task_crashes)
    with pytest.raises(crash):
        evaluate(options, progress=lambda _line: None)
    (folder,) = tmp_path.iterdir()
    crashed = load_results(folder / "r")
    assert crashed.run.status == "failed" and crashed.run.finished_at is not None
    assert list(crashed.tasks) == ["crass"]
    assert len(closed_caches) == 1
    printed: list[str] = []
    monkeypatch.setattr(api, "_run_task", run_task)
    evaluate(options.__class__(**{**options.__dict__, "resume": True}), progress=printed.append)
    resumed = load_results(folder / "r")
    assert resumed.run.status == "complete" and list(resumed.tasks) == ["crass", "hhh_mc"]
    assert "crass: already complete, skipped" in printed
    assert len(closed_caches) == 2


def test_a_crashed_inject_score_is_failed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kset = load_knowledge_set("invented:reversal", size=4)
    responses = tmp_path / "answers.jsonl"
    responses.write_text("".join(json.dumps({"id": p.id, "response": p.answer}) + "\n" for p in kset.probes))

    def crash(*args: Any, **kwargs: Any) -> Any:
        raise Boom()

    monkeypatch.setattr(external, "sample_records", crash)
    options = ScoreOptions(knowledge="invented:reversal", size=4, responses=responses, output=tmp_path / "runs")
    with pytest.raises(Boom):
        score_responses(options, progress=lambda _line: None)
    (crashed,) = (tmp_path / "runs" / "answers").iterdir()
    results = load_results(crashed)
    assert results.run.status == "failed" and results.knowledge is None
    monkeypatch.undo()
    (scored,) = score_responses(
        ScoreOptions(knowledge="invented:reversal", size=4, responses=responses, output=tmp_path / "again"),
        progress=lambda _line: None,
    )
    assert load_results(scored).run.status == "complete"


def test_a_resumed_run_drops_the_temporary_files_a_killed_writer_left(tmp_path: Path) -> None:
    """A kill -9 between an atomic writer's temporary file and its rename leaves `.<name>.<random>.tmp` behind;
    the next process to lock the run deletes it, and the files it was replacing are untouched."""
    folder = tmp_path / "run"
    (folder / "samples").mkdir(parents=True)
    kept = folder / "samples" / "drop.jsonl"
    kept.write_text('{"doc_id": 0}\n')
    stale = [folder / "samples" / ".drop.jsonl.5teijocd.tmp", folder / ".results.json.x1y2z3.tmp"]
    for path in stale:
        path.write_text("half a file")
    run = RunFolder(folder, resumed=True)
    run.lock()
    try:
        assert not any(path.exists() for path in stale)
        assert kept.read_text() == '{"doc_id": 0}\n'
    finally:
        run.release()
