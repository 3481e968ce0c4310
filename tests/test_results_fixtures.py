"""Results folders written before the typed writing section (tests/fixtures/results_v1) still load and are read.

Every figure checked here is read from the fixture's raw JSON, so a reader that drops or changes a field fails.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from instructeval.compare import CompareOptions, compare_runs
from instructeval.leaderboard import build_site
from instructeval.results import load_results

FIXTURES = Path(__file__).parent / "fixtures" / "results_v1"
FOLDERS = ("reference", "run", "inject", "inject-score")


def raw(name: str) -> dict[str, Any]:
    return dict(json.loads((FIXTURES / name / "results.json").read_text(encoding="utf-8")))


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    """A copy of the fixtures: compare writes its files beside the runs."""
    shutil.copytree(FIXTURES, tmp_path / "v1", ignore=shutil.ignore_patterns("README.md"))
    return tmp_path / "v1"


@pytest.mark.parametrize("name", FOLDERS)
def test_old_results_load_with_every_section(name: str) -> None:
    stored = raw(name)
    results = load_results(FIXTURES / name)
    assert results.run.status == stored["run"]["status"] == "complete"
    assert set(results.tasks) == set(stored["tasks"])
    for task, result in results.tasks.items():
        primary = stored["tasks"][task]["primary_metric"]
        assert result.metrics[primary].value == stored["tasks"][task]["metrics"][primary]["value"]
    assert [(k.knowledge_set, k.method) for k in results.knowledge or []] == [
        (k["knowledge_set"], k["method"]) for k in stored.get("knowledge") or []
    ]


def test_old_writing_section_keeps_scores_usage_and_budget() -> None:
    stored = raw("run")["writing"]
    writing = load_results(FIXTURES / "run").writing
    assert writing is not None and writing.pointwise is not None and writing.pairwise is not None
    overall = writing.pointwise.scores["relevance"]["overall"]
    assert overall.score.value == stored["pointwise"]["scores"]["relevance"]["overall"]["value"]
    assert overall.score.ci_high == stored["pointwise"]["scores"]["relevance"]["overall"]["ci_high"]
    assert overall.judgments == stored["pointwise"]["scores"]["relevance"]["overall"]["judgments"]
    assert writing.pointwise.usage.replies_paid == stored["pointwise"]["usage"]["replies_paid"]
    (judge,) = writing.pointwise.usage.by_judge
    assert (
        writing.pointwise.usage.by_judge[judge].prompt_tokens
        == stored["pointwise"]["usage"]["by_judge"][judge]["prompt_tokens"]
    )
    assert writing.pointwise.budget.stopped is stored["pointwise"]["budget"]["stopped"] is False
    win = writing.pairwise.rates["win"]["overall"]
    assert win.score.value == stored["pairwise"]["rates"]["win"]["overall"]["value"]


def test_compare_reads_old_writing_and_knowledge_runs(runs: Path) -> None:
    (writing,) = compare_runs(CompareOptions(runs=(runs / "reference", runs / "run"), resamples=200))
    assert {(row.task, row.metric) for row in writing.comparison.tasks} == {
        ("writing", "relevance"),
        ("writing", "coherence"),
    }
    stored = raw("run")["writing"]["pointwise"]["scores"]["relevance"]["overall"]
    overall = next(r for r in writing.comparison.tasks if r.metric == "relevance" and r.group is None)
    assert overall.other.value == stored["value"]
    (methods,) = compare_runs(CompareOptions(runs=(runs / "inject",), resamples=200))
    base = raw("inject")["knowledge"][0]["splits"]["reversal"]["exact"]["score"]
    row = next(r for r in methods.comparison.tasks if r.metric == "exact" and r.group == "reversal")
    assert row.base.value == base["value"]


def test_leaderboard_reads_old_runs(runs: Path, tmp_path: Path) -> None:
    build_site([runs], tmp_path / "site")
    data = json.loads((tmp_path / "site" / "data" / "leaderboard.json").read_text(encoding="utf-8"))
    views = {view["id"]: view for view in data["views"]}
    writing = views["writing"]
    column = [c["id"] for c in writing["columns"]].index("relevance:overall")
    (row,) = writing["rows"]
    stored = raw("run")["writing"]["pointwise"]["scores"]["relevance"]["overall"]
    assert row["cells"][column][0] == pytest.approx(stored["value"]) and row["cells"][column][3] == stored["n"]
    knowledge = views["knowledge"]
    scored = raw("inject-score")["knowledge"][0]["splits"]["reversal"]["exact"]["score"]
    exact = next(r for r in knowledge["rows"] if r["text"][0] == "tiny" and r["text"][-1] == "exact")
    column = [c["id"] for c in knowledge["columns"]].index("external:reversal")
    assert exact["cells"][column][0] == pytest.approx(scored["value"])
