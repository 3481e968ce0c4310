"""`--limit N` on writing answers the first N prompts of every category, and the judge grades each of them.

The tiny Llama writes (real generations); the scripted judge server on 127.0.0.1 gives each category its own
relevance score, so the per-category report proves which prompts were answered and graded.
"""

from __future__ import annotations

from pathlib import Path

from judge_server import ChatRequest, JudgeServer, Reply

from instructeval.cli import main
from instructeval.results import load_results, read_samples
from instructeval.writing import CATEGORIES, load_writing_prompts
from instructeval.writing.report import OVERALL

LIMIT = 2
RELEVANCE = {"informative": 5, "professional": 4, "argumentative": 3, "creative": 2}


def test_limit_takes_the_first_prompts_of_each_category(tiny_llama: Path, tmp_path: Path) -> None:
    expected = load_writing_prompts("embedded", limit_per_category=LIMIT)
    category_of = {prompt.prompt: prompt.category for prompt in expected}

    def verdict(request: ChatRequest) -> Reply:
        if "how RELEVANT" not in request.prompt_text:
            return Reply(text="[[3]]")
        category = next(c for text, c in category_of.items() if text in request.prompt_text)
        return Reply(text=f'{{"score": {RELEVANCE[category]}, "reason": "scripted"}}')

    with JudgeServer(verdict) as server:
        code = main(
            [
                "run", "--model", f"hf:{tiny_llama}", "--tasks", "writing", "--limit", str(LIMIT),
                "--max-gen-toks", "4", "--output", str(tmp_path), "--run-name", "w",
                "--judge", server.judge_spec(), "--judge-cache", str(tmp_path / "judge.sqlite"),
            ]
        )  # fmt: skip
        relevance_asked = [
            next(m["content"] for m in entry.messages if m["role"] == "user")
            for entry in server.billed()
            if any("how RELEVANT" in m["content"] for m in entry.messages)
        ]
    assert code == 0
    run_dir = next(tmp_path.glob("*/w"))
    samples = read_samples(run_dir, "writing")
    assert [(s["category"], s["prompt"]) for s in samples] == [(p.category, p.prompt) for p in expected]
    assert [s["category"] for s in samples] == [c for c in CATEGORIES for _ in range(LIMIT)]
    assert len(relevance_asked) == len(expected)  # each answered prompt graded for relevance exactly once
    assert all(sum(p.prompt in asked for asked in relevance_asked) == 1 for p in expected)
    results = load_results(run_dir)
    assert results.run.limit == LIMIT and results.tasks["writing"].n_samples == len(CATEGORIES) * LIMIT
    relevance = results.writing.pointwise.scores["relevance"]
    assert {c: relevance[c].score.value for c in CATEGORIES} == RELEVANCE
    coherence = results.writing.pointwise.scores["coherence"]
    assert all(relevance[c].judgments == coherence[c].judgments == LIMIT for c in CATEGORIES)
    assert relevance[OVERALL].score.value == sum(RELEVANCE.values()) / len(RELEVANCE)
