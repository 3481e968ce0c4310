"""Scorers on known values, and `inject score` reproducing the scoring of answers we construct ourselves."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from judge_server import ChatRequest, JudgeServer, Reply, between
from test_knowledge_sets import write_mini_finetunebench

from instructeval.cli import main
from instructeval.knowledge import exact_match, forced_choice, lenient_match, load_knowledge_set, normalise
from instructeval.results import load_results, samples_path
from instructeval.stats import summarize


def cli(*argv: str) -> int:
    """The `instructeval` command, in this process."""
    return main(list(argv))


def test_scorers_on_known_values():
    assert normalise("  The 400,000 Tons! ") == "400000 tons"
    assert exact_match("Rafael Nadal.", ["rafael nadal"]) == 1.0
    assert exact_match("It was Rafael Nadal", ["Rafael Nadal"]) == 0.0
    assert lenient_match("It was Rafael Nadal, I think", ["Rafael Nadal"]) == 1.0
    assert lenient_match("He is 14 years old", ["4"]) == 0.0  # whole words only
    assert lenient_match("Answer: none", ["Sometimes", "None"]) == 1.0
    assert exact_match("", [""]) == 0.0
    assert forced_choice([-1.0, -2.0], 0) == 1.0
    assert forced_choice([-3.0, -2.0], 0) == 0.0
    assert forced_choice([-2.0, -2.0], 0) == 0.0  # a tie is not knowledge


def write_answers(path: Path, rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_inject_score_reproduces_scoring_of_constructed_answers(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the printed table, unabridged
    write_mini_finetunebench(tmp_path)
    kset = load_knowledge_set("finetunebench:fictional_people", data_dir=tmp_path)
    # Our own answers, with a known pattern: exact, lenient only, wrong; keyed by question text like
    # FineTuneBench's response files (prompt + raw_response).
    plan = {
        "memorisation": ["181", "Sene Pado is 170 cm tall."],
        "rephrased": ["181 cm", "165"],
        "secondary": ["Yes", "no."],
        "comparison": ["I am not sure"],
    }
    rows = []
    for split, replies in plan.items():
        probes = [p for p in kset.probes if p.split == split]
        rows += [{"prompt": p.question, "raw_response": r} for p, r in zip(probes, replies, strict=True)]
    answers = tmp_path / "answers.csv"
    write_answers(answers, rows)
    code = cli(
        "inject",
        "score",
        "--knowledge",
        "finetunebench:fictional_people",
        "--data-dir",
        str(tmp_path),
        "--responses",
        str(answers),
        "--output",
        str(tmp_path / "runs"),
        "--run-name",
        "r",
    )
    assert code == 0
    run = next((tmp_path / "runs" / "answers").iterdir())
    result = load_results(run).knowledge[0]  # type: ignore[index]
    expected = {
        "memorisation": {"exact": [1, 0], "lenient": [1, 1]},
        "rephrased": {"exact": [0, 0], "lenient": [1, 0]},
        "secondary": {"exact": [1, 1], "lenient": [1, 1]},
        "comparison": {"exact": [0], "lenient": [0]},
    }
    assert result.method == "external" and set(result.splits) == set(expected)
    for split, by_scorer in expected.items():
        for scorer, values in by_scorer.items():
            cell = result.splits[split][scorer]
            reference = summarize(values, kind="binary")
            assert cell.scorer == scorer
            assert (cell.score.value, cell.score.n, cell.score.ci_low, cell.score.ci_high) == (
                reference.value,
                reference.n,
                reference.ci_low,
                reference.ci_high,
            )
    records = [
        json.loads(line) for line in samples_path(run, "knowledge_finetunebench-fictional_people_external").open()
    ]
    assert len(records) == 7 and all(r["groups"]["method"] == "external" for r in records)
    printed = capsys.readouterr().out
    assert "external" in printed and "lenient" in printed and "comparison" in printed


def test_inject_score_matches_ids_and_refuses_rows_that_match_nothing(tmp_path, capsys):
    kset = load_knowledge_set("invented:reversal", size=4)
    probes = [p for p in kset.probes if p.split == "reversal"]
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"id": p.id, "response": p.answer}) + "\n" for p in probes))
    score = ["inject", "score", "--knowledge", "invented:reversal", "--size", "4", "--responses", str(answers)]
    out = ["--output", str(tmp_path / "runs")]
    assert cli(*score, "--scorers", "exact", *out, "--label", "mine") == 0
    result = load_results(next((tmp_path / "runs" / "mine").iterdir())).knowledge[0]  # type: ignore[index]
    assert list(result.splits) == ["reversal"]
    assert result.splits["reversal"]["exact"].score.value == 1.0
    assert result.splits["reversal"]["exact"].score.n == len(probes)
    capsys.readouterr()
    answers.write_text(json.dumps({"id": "no-such-probe", "response": "x"}) + "\n")
    assert cli(*score, *out, "--run-name", "bad") == 2
    assert "1 of 1 responses match no probe" in capsys.readouterr().err
    answers.write_text(json.dumps({"question": "q", "text": "x"}) + "\n")
    assert cli(*score, *out, "--run-name", "worse") == 2
    assert "answer column" in capsys.readouterr().err
    assert cli("inject", "score", "--responses", str(answers)) == 2
    assert "inject score needs --knowledge" in capsys.readouterr().err


def grader_script(request: ChatRequest) -> Reply:
    """A judge that marks a response correct when it contains the reference, and misbehaves once."""
    response, reference = between(request.prompt_text, "response"), between(request.prompt_text, "reference")
    if "garbled" in response:
        return Reply("Correct, I would say 1" if not request.is_reminder else '{"score": 0, "reason": "no"}')
    return Reply(json.dumps({"score": int(reference.lower() in response.lower()), "reason": "checked"}))


@pytest.mark.slow
def test_llm_grader_scores_through_the_judge_package(tmp_path, monkeypatch):
    monkeypatch.setenv("INSTRUCTEVAL_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "facts.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"f{i}", "question": f"Q{i}?", "answer": f"A{i}"}) + "\n" for i in range(4))
    )
    answers = tmp_path / "answers.jsonl"
    replies = ["It is A0.", "A9", "garbled", ""]
    answers.write_text(
        "".join(json.dumps({"id": f"memorisation-f{i}", "response": r}) + "\n" for i, r in enumerate(replies))
    )
    with JudgeServer(grader_script) as server:
        args = [
            "inject",
            "score",
            "--knowledge",
            f"jsonl:{path}",
            "--responses",
            str(answers),
            "--output",
            str(tmp_path / "runs"),
            "--judge",
            server.judge_spec("grader"),
            "--judge-cache",
            str(tmp_path / "judge.sqlite"),
        ]
        assert cli(*args, "--run-name", "first") == 0
        first = len(server.log)
        assert cli(*args, "--run-name", "second") == 0  # the second grading comes from the cache
        assert len(server.log) == first
    run = tmp_path / "runs" / "answers" / "first"
    result = load_results(run).knowledge[0]  # type: ignore[index]
    name = f"llm-grader:{server.judge_spec('grader')}"
    cell = result.splits["memorisation"][name]
    assert cell.scorer == name
    # 1 (contains A0), 0 (A9), 0 (parsed only after the reminder), 0 (empty: not sent)
    assert (cell.score.value, cell.score.n) == (0.25, 4)
    assert result.splits["memorisation"]["lenient"].score.value == 0.25
    assert result.training["grader"]["rubric"] == "knowledge_grader@v1"
    assert first == 4  # three answers sent, one reminder; the empty answer costs nothing
    text = json.dumps(json.loads((run / "results.json").read_text()))
    assert re.search(r"knowledge_grader", text)
