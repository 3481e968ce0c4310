"""Grading against a real chat-completions server on 127.0.0.1 that misbehaves in every scripted way."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from judge_server import ChatRequest, JudgeServer, Reply, between, sample, write_run

from instructeval.judge import JudgeOptions, grade_run, save_writing_report
from instructeval.judge.session import REMINDER
from instructeval.results import load_results, samples_path

# Each answer carries a case tag that tells the server how to behave for it.
CASES = {
    "a1": ("informative", "good-5"),
    "a2": ("informative", "good-3"),
    "a3": ("informative", "stray"),
    "b1": ("professional", "good-4"),
    "b2": ("professional", "fixed"),
    "b3": ("professional", "range"),
    "c1": ("argumentative", "throttled"),
    "c2": ("argumentative", "flaky"),
    "c3": ("argumentative", "hang"),
    "d1": ("creative", "truncated"),
    "d2": ("creative", "badjson"),
    "d3": ("creative", "down"),
}
# What each case scores once the server has behaved (None: never a valid verdict).
EXPECTED = {
    "good-5": 5,
    "good-3": 3,
    "stray": None,
    "good-4": 4,
    "fixed": 2,
    "range": None,
    "throttled": 4,
    "flaky": 3,
    "hang": 5,
    "truncated": 1,
    "badjson": 2,
    "down": None,
}
RETRIES = 3


def case_of(request: ChatRequest) -> str:
    text = between(request.prompt_text, "answer") or between(request.prompt_text, "text")
    match = re.search(r"case=(\S+)", text)
    assert match, text
    return match.group(1)


def script(request: ChatRequest) -> Reply:
    case, seen = case_of(request), request.seen
    score = EXPECTED[case]
    if case == "stray":  # free text with digits, before and after the reminder: must never be scored
        return Reply("I would rate this a 4 out of 5, maybe 5.")
    if case == "fixed":
        return Reply('{"score": 2, "reason": "ok"}' if request.is_reminder else "Score: 5 (great)")
    if case == "range":
        return Reply('{"score": 0}' if request.is_reminder else '{"score": 7, "reason": "superb"}')
    if case == "throttled" and seen == 0:
        return Reply(status=429, headers={"Retry-After": "1"})
    if case == "flaky" and seen < 2:
        return Reply(status=500)
    if case == "hang" and seen == 0:
        return Reply(hang_s=30.0)  # far past the client timeout; cut short when the server stops
    if case == "truncated" and seen == 0:
        return Reply('{"score": 1, "reason": "cut"}', truncate=True)
    if case == "badjson" and seen == 0:
        return Reply(raw_body=b'{"id": "x", "choices": [')
    if case == "down":
        return Reply(status=503)
    return Reply(json.dumps({"score": score, "reason": "scripted"}))


def options(server: JudgeServer, cache: Path, **extra: object) -> JudgeOptions:
    settings: dict[str, object] = dict(
        judges=(server.judge_spec(),),
        concurrency=4,
        # The hang (30 s) is far past it; an ordinary reply must never reach it, even on a starved 2-core VM,
        # or its retry would be billed twice (a server cannot tell a timed-out client from a gone one).
        timeout_s=10.0,
        max_retries=RETRIES,
        backoff_base_s=0.01,
        cache_path=cache,
        calibration=False,  # the misbehaving script is about the run's answers
    )
    settings.update(extra)
    return JudgeOptions(**settings)  # type: ignore[arg-type]


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    samples = [sample(doc, cat, f"An answer of several words. case={case}") for doc, (cat, case) in CASES.items()]
    return write_run(tmp_path / "run", samples)


def stored(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in samples_path(run_dir, "writing").read_text().splitlines()]


def test_misbehaving_server_loses_nothing_and_never_guesses(run_dir: Path, tmp_path: Path) -> None:
    with JudgeServer(script) as server:
        report = grade_run(run_dir, options(server, tmp_path / "cache.sqlite"))
        save_writing_report(run_dir, report)

        # Every answer has one record per rubric: a valid score, or missing/failed with the evidence kept.
        for line in stored(run_dir):
            case = CASES[line["doc_id"]][1]
            assert sorted(j["rubric"] for j in line["judgments"]) == ["coherence", "relevance"]
            for judgment in line["judgments"]:
                assert judgment["score"] == EXPECTED[case], (case, judgment)
                if EXPECTED[case] is None and case != "down":
                    assert judgment["status"] == "missing" and len(judgment["raw_replies"]) == 2
                    assert judgment["failure"].startswith("unparseable verdict")
        by_case = {CASES[line["doc_id"]][1]: line["judgments"][0] for line in stored(run_dir)}
        assert "4 out of 5" in by_case["stray"]["raw_replies"][0]
        assert by_case["fixed"]["raw_replies"] == ["Score: 5 (great)", '{"score": 2, "reason": "ok"}']
        assert by_case["down"]["status"] == "failed" and "503" in by_case["down"]["failure"]

        # Missing counts per category; means over the scored answers only.
        relevance = report.scores["relevance"]
        assert relevance["informative"].score.n == 2 and relevance["informative"].missing_answers == 1
        assert relevance["professional"].missing_answers == 1 and relevance["professional"].score.value == 3.0
        assert relevance["creative"].score.n == 2 and relevance["creative"].missing_judgments == 1
        scored = [v for v in EXPECTED.values() if v is not None]
        assert relevance["overall"].score.value == pytest.approx(sum(scored) / len(scored))
        assert relevance["overall"].missing_answers == 3 and not report.complete

        # Retry-After honoured, measured by the server's clocks.
        throttled = [e for e in server.log if "case=throttled" in e.messages[-1]["content"]]
        first_try = next(e for e in throttled if e.status == 429)
        retry = min(
            (e for e in throttled if e.index > first_try.index and e.key == first_try.key), key=lambda e: e.index
        )
        assert retry.received_at - first_try.responded_at >= 0.995

        # The hung request was abandoned, then retried; the dead endpoint got exactly 1 + RETRIES tries per rubric.
        hung = [e for e in server.log if "case=hang" in e.messages[-1]["content"]]
        assert sorted(e.status for e in hung) == [0, 0, 200, 200]  # first try of each rubric: no reply
        down = [e for e in server.log if "case=down" in e.messages[-1]["content"]]
        assert len(down) == 2 * (1 + RETRIES)

        # Nothing paid twice: one billed reply per distinct request, and the client's usage equals the bill.
        billed = server.billed()
        assert set(Counter(e.key for e in billed).values()) == {1}
        assert report.usage.replies_paid == len(billed)
        assert report.usage.prompt_tokens == sum(e.prompt_tokens for e in billed)
        assert report.usage.completion_tokens == sum(e.completion_tokens for e in billed)
        assert report.usage.requests == len(server.log)
        assert report.usage.cost_usd is None  # no price for model "judge": unknown, not zero

        # results.json carries the section; the rubric hashes are recorded.
        section = load_results(run_dir).writing
        assert section is not None
        assert section.pointwise.rubrics["relevance"].sha256 == report.rubrics["relevance"].sha256

        # A rerun asks again only for what failed; everything final is reused from the journal.
        before = len(server.log)
        again = grade_run(run_dir, options(server, tmp_path / "cache.sqlite"))
        assert len(server.log) - before == 2 * (1 + RETRIES)
        assert all("case=down" in e.messages[-1]["content"] for e in server.log[before:])
        assert again.usage.reused_judgments == 2 * (len(CASES) - 1)
        assert again.scores["relevance"]["overall"].score.value == relevance["overall"].score.value

        # Without the journal, the cache alone answers every request that was ever paid for.
        (run_dir / report.judgments_file).unlink()
        before = len(server.log)
        cached = grade_run(run_dir, options(server, tmp_path / "cache.sqlite"))
        new = server.log[before:]
        assert all("case=down" in e.messages[-1]["content"] for e in new)
        assert cached.usage.replies_paid == 0 and cached.usage.cache_hits > 0
        assert cached.scores["coherence"]["overall"].score.value == report.scores["coherence"]["overall"].score.value


def test_reminder_names_the_problem(run_dir: Path, tmp_path: Path) -> None:
    with JudgeServer(script) as server:
        grade_run(run_dir, options(server, tmp_path / "c.sqlite", rubrics=("coherence",)))
        reminders = [e for e in server.log if len(e.messages) > 2]
    assert reminders
    follow_up = reminders[0].messages[-1]["content"]
    assert follow_up.startswith(REMINDER.split("{")[0])
    assert all(e.messages[-2]["role"] == "assistant" for e in reminders)


def test_killed_run_keeps_judgments_and_resumes_without_paying_twice(run_dir: Path, tmp_path: Path) -> None:
    good = lambda request: Reply('{"score": 3, "reason": "r"}')  # noqa: E731
    with JudgeServer(good) as server:
        report = grade_run(run_dir, options(server, tmp_path / "c.sqlite", use_cache=False))
        journal = run_dir / report.judgments_file
        lines = journal.read_text().splitlines()
        # Simulate a kill mid-way: the journal holds half the records, the last one cut mid-line.
        journal.write_text("\n".join(lines[: len(lines) // 2]) + "\n" + lines[len(lines) // 2][:40])
        before = len(server.log)
        resumed = grade_run(run_dir, options(server, tmp_path / "c.sqlite", use_cache=False))
        asked = len(server.log) - before
    assert asked == len(lines) - len(lines) // 2
    assert resumed.usage.reused_judgments == len(lines) // 2
    assert resumed.scores["relevance"]["overall"].score.n == len(CASES)
