"""Bias and cost controls: repeats, several judges, length correlation, the budget stop, the CLI."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from judge_server import ChatRequest, JudgeServer, Reply, between, sample, write_run

from instructeval.cli.judge import add_parser
from instructeval.errors import InstructEvalError
from instructeval.judge import JudgeOptions, format_table, grade_run
from instructeval.judge.self_preference import lineage
from instructeval.results import load_results


def words_score(request: ChatRequest) -> Reply:
    """Longer answers score higher, whoever asks."""
    text = between(request.prompt_text, "answer") or between(request.prompt_text, "text")
    return Reply(json.dumps({"score": min(5, len(text.split()) // 4 + 1), "reason": "length"}))


def answers(n: int = 8) -> list[dict]:
    categories = ["informative", "creative"]
    return [sample(f"d{i}", categories[i % 2], " ".join(["word"] * (4 * (i % 4) + 1)) + f" #{i}") for i in range(n)]


def test_repeats_give_mean_and_spread(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", [sample("d0", "informative", "one two three")])
    with JudgeServer(lambda r: Reply(json.dumps({"score": 3 + r.seen}))) as server:
        report = grade_run(
            run, JudgeOptions(judges=(server.judge_spec(),), repeats=3, cache_path=tmp_path / "c", calibration=False)
        )
        assert len(server.log) == 6  # 2 rubrics x 3 repeats, each a separate paid request
    assert report.scores["relevance"]["overall"].score.value == pytest.approx(4.0)  # mean of 3, 4, 5
    assert report.repeat_spread[report.judges[0]]["relevance"] == pytest.approx(1.0)  # their stdev
    assert len(report.self_agreement[report.judges[0]]["coherence"].pairs) == 3  # repeat pairs 0-1, 0-2, 1-2


def test_several_judges_agreement_and_length_bias(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", answers())
    with JudgeServer(words_score) as server:
        judges = (server.judge_spec("judge-a"), server.judge_spec("judge-b"))
        report = grade_run(run, JudgeOptions(judges=judges, cache_path=tmp_path / "c"))
        models = {e.model for e in server.log}
    assert models == {"judge-a", "judge-b"}
    pair = report.agreement["relevance"].pairs[0]
    assert pair.kappa == pytest.approx(1.0) and pair.n == 8  # same script: full agreement on all 8 answers
    assert set(report.by_judge) == set(report.judges)
    rho = report.length_correlation["relevance"]["overall"]
    assert rho.unit == "tokens" and rho.spearman_rho is not None and rho.spearman_rho > 0.9


def test_budget_stops_cleanly_and_keeps_what_was_graded(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", answers(12))
    prices = tmp_path / "prices.json"
    prices.write_text(json.dumps({"models": {"judge": {"input_per_mtok": 10.0, "output_per_mtok": 10.0}}}))
    with JudgeServer(words_score) as server:
        spec = server.judge_spec()
        base = dict(
            judges=(spec,),
            concurrency=4,
            prices_file=prices,
            cache_path=tmp_path / "c",
            max_tokens=64,
            calibration=False,
        )
        report = grade_run(run, JudgeOptions(**base, budget_usd=0.03))  # type: ignore[arg-type]
        billed = server.billed()
        paid = sum(e.prompt_tokens + e.completion_tokens for e in billed) * 10.0 / 1e6
        assert report.budget.stopped and 0 < paid <= 0.03
        assert report.usage.cost_usd == pytest.approx(paid)
        graded = report.scores["relevance"]["overall"].score.n + report.scores["coherence"]["overall"].score.n
        assert 0 < graded == len(billed) < 24
        assert (
            report.scores["relevance"]["overall"].not_graded + report.scores["coherence"]["overall"].not_graded
            == 24 - graded
        )
        assert not report.complete
        # A second run with room to spare grades only the rest: nothing already paid is asked again.
        before = len(server.log)
        rest = grade_run(run, JudgeOptions(**base, budget_usd=1.0))  # type: ignore[arg-type]
        assert len(server.log) - before == 24 - graded
        assert rest.complete and not rest.budget.stopped
        assert rest.scores["relevance"]["overall"].score.n == 12


def test_budget_needs_a_price(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", answers(2))
    with JudgeServer(words_score) as server, pytest.raises(InstructEvalError, match="--judge-prices"):
        grade_run(run, JudgeOptions(judges=(server.judge_spec(),), budget_usd=1.0, cache_path=tmp_path / "c"))


def test_options_refuse_nonsense() -> None:
    with pytest.raises(InstructEvalError, match="no judge"):
        JudgeOptions(judges=())
    with pytest.raises(InstructEvalError, match="--judge-repeats"):
        JudgeOptions(judges=("openai:gpt-4o-mini",), repeats=0)
    with pytest.raises(InstructEvalError, match="unknown model"):
        JudgeOptions(judges=("gpt-4o",))


def test_judge_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = write_run(tmp_path / "run", answers(4))
    parser = argparse.ArgumentParser(prog="instructeval")
    add_parser(parser.add_subparsers(dest="command"))
    with JudgeServer(words_score) as server:
        args = parser.parse_args(
            ["judge", str(run), "--judge", server.judge_spec(), "--judge-concurrency", "2", "--judge-repeats", "1",
             "--judge-cache", str(tmp_path / "cache.sqlite")]
        )  # fmt: skip
        assert args.func(args) == 0
    assert (tmp_path / "cache.sqlite").is_file()  # the given cache, not the user's
    section = load_results(run).writing
    assert section is not None and section.pointwise.scores["relevance"]["overall"].score.n == 4
    out = capsys.readouterr().out
    assert "relevance" in out and "overall" in out and "cost unknown" in out


def test_self_preference_is_flagged_in_results_and_table(tmp_path: Path) -> None:
    run = write_run(tmp_path / "run", answers(2), model="meta-llama/Llama-3.1-8B-Instruct")
    with JudgeServer(words_score) as server:
        judges = (server.judge_spec("Llama-3.3-70B-Instruct"), server.judge_spec("gpt-4o-mini"))
        report = grade_run(run, JudgeOptions(judges=judges, cache_path=tmp_path / "c"))
    (found,) = report.self_preference
    assert (found.judge, found.role, found.family) == (judges[0], "model", "llama")
    assert f"WARNING: self-preference risk: judge {judges[0]}" in str(format_table(report).caption)


def test_lineage() -> None:
    assert lineage("meta-llama/Llama-3.1-8B-Instruct") == lineage("Llama-3.3-70B-Instruct") == "llama"
    assert lineage("gpt-4o-mini") == lineage("gpt-4.1") == "gpt"
    assert lineage("Qwen2.5-7B-Instruct") == "qwen"
    assert lineage("HuggingFaceTB/SmolLM2-135M-Instruct") == "smollm"
    assert lineage("12345") is None
