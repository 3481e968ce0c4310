"""Pairwise mode: both orders judged, a win only when both orders agree, answers aligned by doc_id."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from judge_server import ChatRequest, JudgeServer, Reply, between, sample, write_run

from instructeval.judge import JudgeOptions, format_table, grade_pairwise, save_writing_report
from instructeval.judge.length_control import length_controlled
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
    lc = report.length_controlled
    assert lc is not None and (lc.n, lc.unit) == (4, "tokens")  # p5 never parsed in one order: not judged
    assert lc.raw == pytest.approx(0.5) and lc.controlled == pytest.approx(0.5)  # equal lengths: nothing to remove
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


# q0-q11: the model's answer is the longer one, q12-q15 the shorter; the judge prefers the longer answer
# except on CONTRARY, so the model wins 9 of 12 when longer and 1 of 4 when shorter: raw 10/16, no edge.
CONTRARY = {"q0", "q1", "q2", "q12"}


def longer_wins(request: ChatRequest) -> Reply:
    a, b = between(request.prompt_text, "answer_a"), between(request.prompt_text, "answer_b")
    doc = a.split()[-1]
    a_longer = len(a.split()) > len(b.split())
    winner = "A" if a_longer != (doc in CONTRARY) else "B"
    return Reply(json.dumps({"winner": winner, "reason": "scripted"}))


def test_length_controlled_win_rate_removes_what_length_explains(tmp_path: Path) -> None:
    long, short = " ".join(["word"] * 30), "word"
    docs = [f"q{i}" for i in range(16)]
    model = write_run(
        tmp_path / "m", [sample(d, "creative", f"{long if i < 12 else short} {d}") for i, d in enumerate(docs)]
    )
    reference = write_run(
        tmp_path / "r", [sample(d, "creative", f"{short if i < 12 else long} {d}") for i, d in enumerate(docs)]
    )
    with JudgeServer(longer_wins) as server:
        report = grade_pairwise(
            model, reference, JudgeOptions(judges=(server.judge_spec(),), cache_path=tmp_path / "c")
        )
    assert report.rates["win"]["overall"].score.value == pytest.approx(10 / 16)
    lc = report.length_controlled
    assert lc is not None and lc.n == 16 and lc.raw == pytest.approx(10 / 16)
    # P(win) is 3/4 at +d and 1/4 at -d: the fitted logit is symmetric about 0, so at equal length it is 1/2
    assert lc.controlled == pytest.approx(0.5, abs=0.01) and lc.slope > 0
    assert "length-controlled 50" in str(format_table(report).caption)


def test_length_controlled_recovers_the_intercept_of_known_probabilities() -> None:
    rng = np.random.default_rng(0)
    diffs = rng.normal(40, 60, size=400)  # the model is mostly longer
    x = np.tanh(diffs / diffs.std())
    outcomes = 1 / (1 + np.exp(-(0.4 + 2.0 * x)))  # expected outcomes: at equal length the win rate is sigmoid(0.4)
    controlled, slope = length_controlled(list(outcomes), list(diffs))
    assert controlled == pytest.approx(1 / (1 + np.exp(-0.4)), abs=1e-3) and slope == pytest.approx(2.0, abs=0.01)
    assert float(outcomes.mean()) > 0.7  # the raw rate length inflates
    assert length_controlled([1.0, 0.0, 0.5], [0, 0, 0]) == pytest.approx((0.5, 0.0), abs=1e-6)
    assert length_controlled([1.0, 1.0], [5, -5]) == (1.0, 0.0)  # all wins: nothing to control
