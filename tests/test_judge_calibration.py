"""Judge calibration: the shipped answers with reference grades, kappa, drift from the cache, the flag, the CLI."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from judge_server import ChatRequest, JudgeServer, Reply, between, sample, write_run

from instructeval.cli.judge import add_parser
from instructeval.judge import JudgeOptions, format_table, grade_run
from instructeval.judge.calibration import KAPPA_THRESHOLD, SET_FILE, load_calibration_set
from instructeval.leaderboard._views import judge_warnings
from instructeval.results import load_results
from instructeval.writing.prompts import load_writing_prompts

ITEMS = load_calibration_set()
RUBRIC_OF = {"RELEVANT": "relevance", "COHERENT": "coherence"}


def graded_as(offset: dict[str, int] | None = None, constant: int | None = None) -> Callable[[ChatRequest], Reply]:
    """A judge that gives each calibration answer its reference grade (+ offset by id), or always `constant`."""

    def script(request: ChatRequest) -> Reply:
        text = between(request.prompt_text, "answer") or between(request.prompt_text, "text")
        rubric = next(name for word, name in RUBRIC_OF.items() if word in request.prompt_text)
        item = next((item for item in ITEMS if item.answer.strip() == text), None)
        if item is None:
            return Reply(json.dumps({"score": 4, "reason": "a run answer"}))
        grade = constant or min(5, max(1, item.reference[rubric] + (offset or {}).get(item.id, 0)))
        return Reply(json.dumps({"score": grade, "reason": "scripted"}))

    return script


def test_the_set_spans_every_level_on_shipped_prompts() -> None:
    shipped = {p.id: p for p in load_writing_prompts("embedded")}
    for rubric in ("relevance", "coherence"):
        assert sorted({item.reference[rubric] for item in ITEMS}) == [1, 2, 3, 4, 5]
    for item in ITEMS:
        prompt = shipped[item.prompt_id]
        assert (item.prompt, item.task_definition, item.category) == (
            prompt.prompt,
            prompt.task_definition,
            prompt.category,
        )
    assert len({item.id for item in ITEMS}) == len(ITEMS)
    assert "How they were made" in (SET_FILE.parent / "README.md").read_text(encoding="utf-8")


def test_agreement_drift_and_flag(tmp_path: Path) -> None:
    cache = tmp_path / "judge.sqlite"
    behaviour = {"offset": {}}  # the judge's grading, changed between runs
    script = graded_as(behaviour["offset"])
    first = write_run(tmp_path / "first", [sample("d0", "informative", "An answer.")])
    with JudgeServer(script) as server:
        options = JudgeOptions(judges=(server.judge_spec(),), cache_path=cache)
        report = grade_run(first, options)
        assert len(server.log) == 2 + 2 * len(ITEMS)  # the run's answer and every calibration answer, per rubric
        again = grade_run(first, options)  # a rerun of the same run: everything comes from its journals
        assert len(server.log) == 2 + 2 * len(ITEMS)
        (judge,) = report.calibration.judges
        assert judge.rubrics["relevance"].kappa == pytest.approx(1.0) and judge.rubrics["relevance"].n == len(ITEMS)
        assert judge.rubrics["coherence"].previous_kappa is None and not judge.flagged  # no earlier calibration
        assert again.calibration.judges[0].rubrics["coherence"].previous_kappa is None  # its own run is not earlier
        assert (first / report.calibration.judgments_file).is_file()

        # A later run: the same judge now grades three answers differently (calibration is asked afresh).
        behaviour["offset"].update({"cal-01": -2, "cal-06": 2, "cal-09": 1})
        second = write_run(tmp_path / "second", [sample("d0", "informative", "An answer.")])
        start = len(server.log)
        later = grade_run(second, options)
        assert len(server.log) - start == 2 * len(ITEMS)  # the run's answer from the cache, calibration asked
        relevance = later.calibration.judges[0].rubrics["relevance"]
        assert relevance.previous_kappa == pytest.approx(1.0) and relevance.changed == 3
        assert relevance.drift == pytest.approx(relevance.kappa - 1.0) and relevance.drift < 0
        assert relevance.mean_abs_error == pytest.approx(5 / len(ITEMS))
        assert "drift -" in str(format_table(later).caption)

    # A judge that gives every answer a 3 cannot tell good from bad: flagged in results, table and leaderboard.
    third = write_run(tmp_path / "third", [sample("d0", "informative", "An answer.")])
    with JudgeServer(graded_as(constant=3)) as server:
        flat = grade_run(third, JudgeOptions(judges=(server.judge_spec("flat"),), cache_path=cache))
    (flagged,) = flat.calibration.judges
    assert flagged.flagged and flagged.rubrics["relevance"].kappa < KAPPA_THRESHOLD
    assert "WARNING: judge" in str(format_table(flat).caption)
    assert any("below kappa 0.6" in line for line in judge_warnings(flat))

    # A judge that never gives a valid verdict has no kappa at all: flagged too, never trusted by default.
    fourth = write_run(tmp_path / "fourth", [sample("d0", "informative", "An answer.")])
    with JudgeServer(lambda request: Reply("I think it is fine.")) as server:
        mute = grade_run(fourth, JudgeOptions(judges=(server.judge_spec("mute"),), cache_path=cache))
    (unparsed,) = mute.calibration.judges
    assert unparsed.flagged and unparsed.rubrics["coherence"].kappa is None and unparsed.rubrics["coherence"].n == 0


def test_cli_announces_the_cost_and_can_skip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser(prog="instructeval")
    add_parser(parser.add_subparsers(dest="command"))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"judge": {"input_per_mtok": 1.0, "output_per_mtok": 1.0}}}))
    runs = {flag: write_run(tmp_path / flag, [sample("d0", "creative", "A poem.")]) for flag in ("on", "off")}
    with JudgeServer(graded_as()) as server:
        common = ["--judge", server.judge_spec(), "--judge-cache", str(tmp_path / "c"), "--judge-prices", str(prices)]
        args = parser.parse_args(["judge", str(runs["on"]), *common])
        assert args.func(args) == 0
        out = " ".join(capsys.readouterr().out.split())
        assert f"judge calibration: {2 * len(ITEMS)} judgments of the shipped calibration answers (at most $" in out
        assert "calibration (10 answers with reference grades" in out
        args = parser.parse_args(["judge", str(runs["off"]), *common, "--no-judge-calibration"])
        before = len(server.log)
        assert args.func(args) == 0
        assert len(server.log) == before  # the answer came from the cache, and no calibration was asked
    assert load_results(runs["on"]).writing.pointwise.calibration is not None
    assert load_results(runs["off"]).writing.pointwise.calibration is None
    assert "judge calibration" not in capsys.readouterr().out
