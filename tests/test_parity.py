"""Parity with lm-eval's own built-in tasks: same log-likelihoods (1e-4) and predictions on MMLU, same GSM8K answers.

Our run goes through `instructeval.evaluator.evaluate` (task YAMLs in tasks/, local data, our resumable cache and,
by default, the prefix-cached backend); the reference is lm-eval's built-in `mmlu_<subject>` / `gsm8k_cot`
tasks run by `lm_eval.simple_evaluate` with its plain `hf` backend on the same local rows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from instructeval.evaluator import RunOptions, evaluate
from instructeval.models.demo import demo_model_dir
from instructeval.parity import builtin_task_overrides
from instructeval.results import read_records

SUBJECTS = ("anatomy", "high_school_geography")
LIMIT = 4
GSM8K_LIMIT, GSM8K_NEW_TOKENS = 2, 32  # the first 32 generated tokens, on both sides: a CPU-sized check

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, list[dict]]:
    """lm-eval's own run of the built-in tasks on the same rows."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tmp = tmp_path_factory.mktemp("lmeval")
    overrides = builtin_task_overrides(tmp, data_dir, SUBJECTS, gsm8k=True)
    manager = TaskManager(include_path=str(overrides), include_defaults=False)
    samples: dict[str, list[dict]] = {}
    for tasks, limit, gen_kwargs in (
        ([f"mmlu_{s}" for s in SUBJECTS], LIMIT, None),
        (["gsm8k_cot"], GSM8K_LIMIT, {"max_gen_toks": GSM8K_NEW_TOKENS}),
    ):
        out = simple_evaluate(
            model="hf",
            model_args={"pretrained": str(demo_model_dir()), "device": "cpu", "dtype": "float32"},
            tasks=tasks,
            task_manager=manager,
            limit=limit,
            batch_size=4,
            gen_kwargs=gen_kwargs,
            log_samples=True,
            bootstrap_iters=0,
        )
        assert out is not None
        samples.update(out["samples"])
    return samples


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> dict[str, Path]:
    """Our runs of the same subjects and of gsm8k, through the public API."""
    output = tmp_path_factory.mktemp("runs")
    mmlu = RunOptions(
        model="demo",
        tasks=",".join(f"mmlu_{s}" for s in SUBJECTS),
        data_dir=data_dir,
        limit=LIMIT,
        output=output,
        run_name="mmlu",
    )
    gsm8k = RunOptions(
        model="demo",
        tasks="gsm8k",
        data_dir=data_dir,
        limit=GSM8K_LIMIT,
        max_gen_toks=GSM8K_NEW_TOKENS,
        output=output,
        run_name="gsm8k",
    )
    return {"mmlu": evaluate(mmlu, progress=print), "gsm8k": evaluate(gsm8k, progress=print)}


def test_mmlu_loglikelihoods_and_predictions_match_lm_eval(
    ours: dict[str, Path], reference: dict[str, list[dict]]
) -> None:
    records = read_records(ours["mmlu"] / "samples" / "mmlu.jsonl")
    assert len(records) == LIMIT * len(SUBJECTS)
    for record in records:
        theirs = next(s for s in reference[record.subtask] if s["doc_id"] == record.doc_id)
        their_ll = [float(resp[0][0]) for resp in theirs["resps"]]
        assert record.choice_loglikelihoods is not None
        assert max(abs(a - b) for a, b in zip(record.choice_loglikelihoods, their_ll, strict=True)) < 1e-4
        ours_pred = max(range(4), key=lambda i: record.choice_loglikelihoods[i])  # type: ignore[index]
        their_pred = max(range(4), key=lambda i: their_ll[i])
        assert ours_pred == their_pred
        assert record.scores["acc,none"] == float(theirs["acc"])


def test_gsm8k_answers_match_lm_eval(ours: dict[str, Path], reference: dict[str, list[dict]]) -> None:
    records = read_records(ours["gsm8k"] / "samples" / "gsm8k.jsonl")
    assert len(records) == GSM8K_LIMIT
    for record in records:
        theirs = next(s for s in reference["gsm8k_cot"] if s["doc_id"] == record.doc_id)
        assert record.responses == theirs["resps"][0]
        assert record.prompt == theirs["arguments"][0][0]
