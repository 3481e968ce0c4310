"""`instructeval run --tasks ifeval` end to end on the tiny Llama, offline: every verdict in the samples is
recomputed, and the prompt- and instruction-level scores (overall and per instruction kind) follow from them."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

import pytest
from e2e_checks import run_args, run_cli

from instructeval.ifeval import verdicts
from instructeval.results import load_results, read_records

LIMIT = 6


def test_ifeval_scores_every_instruction_of_each_answer(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    run_cli([*run_args(tiny_llama, tmp_path, "ifeval", "ifeval", "--data-dir", str(data_dir)), "--limit", str(LIMIT)])
    (model_dir,) = list(tmp_path.iterdir())
    _check_ifeval_run(model_dir / "ifeval", data_dir)


@pytest.mark.slow
def test_the_demo_model_runs_ifeval_offline(data_dir: Path, tmp_path: Path) -> None:
    """SmolLM2-135M-Instruct answers through its chat template, with no network and no nltk data."""
    run_cli(
        [
            "run", "--model", "demo", "--tasks", "ifeval", "--limit", str(LIMIT), "--max-gen-toks", "256",
            "--data-dir", str(data_dir), "--output", str(tmp_path), "--run-name", "ifeval",
        ]
    )  # fmt: skip
    (model_dir,) = list(tmp_path.iterdir())
    _check_ifeval_run(model_dir / "ifeval", data_dir)


def _check_ifeval_run(run_dir: Path, data_dir: Path) -> None:
    result = load_results(run_dir).tasks["ifeval"]
    records = read_records(run_dir / "samples" / "ifeval.jsonl")
    rows = [json.loads(line) for line in (data_dir / "ifeval" / "input_data.jsonl").open(encoding="utf-8")]
    assert result.protocol == "ifeval-0shot-strict-loose" and result.primary_metric == "prompt_level_strict_acc,none"
    assert result.chat_template_applied
    assert len(records) == LIMIT == result.n_samples
    instructions: list[tuple[str, bool, bool]] = []
    for record in records:
        row = rows[record.doc_id]
        assert row["prompt"] in record.prompt  # inside the model's chat template (the protocol's default)
        strict, loose = verdicts(row["instruction_id_list"], row["kwargs"], record.responses[0])
        assert record.scores["prompt_level_strict_acc,none"] == float(all(strict))
        assert record.scores["prompt_level_loose_acc,none"] == float(all(loose))
        assert record.details["inst_level_strict_acc,none"] == strict
        instructions += zip(row["instruction_id_list"], strict, loose, strict=True)
    metrics = result.metrics
    assert metrics["prompt_level_strict_acc,none"].value == mean(
        r.scores["prompt_level_strict_acc,none"] for r in records
    )
    assert metrics["inst_level_strict_acc,none"].value == pytest.approx(mean(s for _, s, _ in instructions))
    assert metrics["inst_level_loose_acc,none"].value == pytest.approx(mean(lo for _, _, lo in instructions))
    assert metrics["inst_level_strict_acc,none"].n == len(instructions)
    per_kind = result.breakdown["instruction"]
    assert set(per_kind) == {kind for kind, _, _ in instructions}
    for kind, scores in per_kind.items():
        followed = [s for k, s, _ in instructions if k == kind]
        assert scores["inst_level_strict_acc,none"].value == pytest.approx(mean(followed))
        assert scores["inst_level_strict_acc,none"].n == len(followed)
