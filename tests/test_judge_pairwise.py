"""Pairwise mode: both orders judged, a win only when both orders agree, answers aligned by doc_id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from judge_server import ChatRequest, JudgeServer, Reply, between, sample, write_run

from instructeval.judge import JudgeOptions, format_table, grade_pairwise, save_writing_report
from instructeval.judge.pairwise import combine_orders
from instructeval.results import load_results

# doc -> how the scripted judge decides: prefer the model's text, the reference's, position A, or tie.
BEHAVIOUR = {"p1": "model", "p2": "reference", "p3": "position", "p4": "tie", "p5": "garbled"}


def script(request: ChatRequest) -> Reply:
    a, b = between(request.prompt_text, "answer_a"), between(request.prompt_text, "answer_b")
    doc = a.split()[-1]
    behaviour = BEHAVIOUR[doc]
    model_is_a = a.startswith("MODEL")
    if behaviour == "model":
        winner = "A" if model_is_a else "B"
    elif behaviour == "reference":
        winner = "B" if model_is_a else "A"
    elif behaviour == "position":
        winner = "A"
    elif behaviour == "tie":
        winner = "tie"
    else:  # garbled only when the reference is shown first: that pair is missing
        return Reply("A is better" if not model_is_a else '{"winner": "A"}')
    assert doc == b.split()[-1]
    return Reply(json.dumps({"winner": winner, "reason": "scripted"}))


@pytest.fixture()
def runs(tmp_path: Path) -> tuple[Path, Path]:
    docs = list(BEHAVIOUR)
    model = write_run(tmp_path / "model", [sample(d, "creative", f"MODEL answer {d}") for d in [*docs, "only-model"]])
    reference = write_run(
        tmp_path / "reference", [sample(d, "creative", f"REFERENCE answer {d}") for d in [*docs, "only-ref"]]
    )
    return model, reference


def test_both_orders_and_win_only_when_they_agree(runs: tuple[Path, Path], tmp_path: Path) -> None:
    model, reference = runs
    with JudgeServer(script) as server:
        options = JudgeOptions(judges=(server.judge_spec(),), concurrency=4, cache_path=tmp_path / "c.sqlite")
        report = grade_pairwise(model, reference, options)
        firsts = [between(e.messages[1]["content"], "answer_a").split()[0] for e in server.log if len(e.messages) == 2]
    # Every pair was shown both ways round.
    assert sorted(firsts) == sorted(["MODEL", "REFERENCE"] * len(BEHAVIOUR))
    overall = {outcome: report.rates[outcome]["overall"] for outcome in ("win", "loss", "tie")}
    assert overall["win"].score.n == 4 and overall["win"].missing_answers == 1  # p5: one order never parsed
    assert overall["win"].score.value == pytest.approx(0.25)  # p1 only
    assert overall["loss"].score.value == pytest.approx(0.25)  # p2 only
    assert overall["tie"].score.value == pytest.approx(0.5)  # p3 (position bias cancels out) and p4
    assert overall["win"].score.ci_method == "wilson"
    assert report.order_consistency["overall"].score.value == pytest.approx(0.75)  # p3 disagreed with itself
    assert report.unaligned == {"only_in_run": 1, "only_in_reference": 1, "doc_hash_mismatch": 0}
    stored = [json.loads(line) for line in (model / "samples" / "writing.jsonl").read_text().splitlines()]
    p5 = next(s for s in stored if s["doc_id"] == "p5")["pairwise_judgments"]
    assert {j["order"]: j["status"] for j in p5} == {"model_first": "scored", "reference_first": "missing"}
    save_writing_report(model, report)
    assert load_results(model).writing.pairwise.rates["win"]["overall"].score.n == 4
    assert format_table(report).row_count == 2


def test_combine_orders() -> None:
    assert combine_orders("model", "model") == "win"
    assert combine_orders("reference", "reference") == "loss"
    assert combine_orders("model", "reference") == "tie"
    assert combine_orders("tie", "tie") == "tie"
    assert combine_orders("model", None) is None
