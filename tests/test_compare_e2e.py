"""`instructeval run` → `compare` → `leaderboard build`, end to end on the tiny random Llama.

Base: the tiny Llama; tuned: the same model with a LoRA adapter (seeded random weights, so it answers
differently). Both run MMLU (anatomy), GSM8K and writing, and the writing answers are graded by the scripted
judge server on 127.0.0.1 during the run. The test recomputes every paired difference and test from the two
runs' samples and judgment records, then checks the comparison JSON and the leaderboard's base → tuned view
(judge-grade deltas, not answer length).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from judge_server import ChatRequest, JudgeServer, Reply
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from instructeval.cli import main
from instructeval.compare import comparison_path
from instructeval.results import Comparison, PairedTaskComparison, load_results, read_samples
from instructeval.stats import paired_permutation_test

RESAMPLES = "2000"
PROMPTS = [("professional", f"Draft a short memo about item {i}.") for i in range(2)] + [
    ("argumentative", f"Argue for policy {i} in two sentences.") for i in range(2)
]


def verdict(request: ChatRequest) -> Reply:
    """A 1-5 grade from a hash of the rendered rubric (prompt and answer)."""
    score = 1 + int(hashlib.sha256(request.prompt_text.encode()).hexdigest(), 16) % 5
    return Reply(
        f'{{"score": {score}, "reason": "scripted"}}' if "how RELEVANT" in request.prompt_text else f"[[{score}]]"
    )


def random_adapter(model: Path, target: Path) -> Path:
    """A LoRA adapter for the tiny Llama with seeded random weights in both factors."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    peft_model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model), LoraConfig(r=4, target_modules=["q_proj", "v_proj"])
    )
    with torch.no_grad():
        for name, weight in peft_model.named_parameters():
            if "lora_" in name:
                weight.normal_(0.0, 0.5)
    peft_model.save_pretrained(target)
    return target


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


@pytest.fixture(scope="module")
def runs(tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("e2e")
    prompts = root / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"category": c, "prompt": p}) + "\n" for c, p in PROMPTS))
    adapter = random_adapter(tiny_llama, root / "adapter-tuned")
    made = []
    with JudgeServer(verdict) as judge:
        for name, extra in (("base", ()), ("tuned", ("--adapter", str(adapter)))):
            code, _ = cli(
                "run", "--model", f"hf:{tiny_llama}", *extra, "--tasks", "mmlu_anatomy,gsm8k,writing",
                "--writing-set", str(prompts), "--limit", "2", "--max-gen-toks", "8", "--device", "cpu",
                "--data-dir", str(data_dir), "--output", str(root / "runs"), "--run-name", name,
                "--judge", judge.judge_spec(), "--judge-cache", str(root / "judge.sqlite"),
            )  # fmt: skip
            assert code == 0
            made.append(next((root / "runs").glob(f"*/{name}")))
    return made[0], made[1]


def metric_values(run: Path, task: str, metric: str) -> dict[str, float]:
    return {s["doc_hash"]: float(s["scores"][metric]) for s in read_samples(run, task)}


def grades(run: Path, rubric: str) -> dict[str, float]:
    """One judge, one repeat: each answer's grade is its single scored judgment for the rubric."""
    found = {}
    for sample in read_samples(run, "writing"):
        [record] = [r for r in sample["judgments"] if r["rubric"] == rubric]
        assert record["status"] == "scored"
        found[sample["doc_hash"]] = float(record["score"])
    return found


def arrays(base: dict[str, float], other: dict[str, float]) -> tuple[np.ndarray, np.ndarray]:
    assert base.keys() == other.keys()
    return np.array([base[k] for k in base]), np.array([other[k] for k in base])


def expected_p(first: np.ndarray, second: np.ndarray) -> float:
    if set(first) | set(second) <= {0.0, 1.0}:
        b01, b10 = int(((first == 0) & (second == 1)).sum()), int(((first == 1) & (second == 0)).sum())
        both = int(((first == 1) & (second == 1)).sum())
        table = [[both, b10], [b01, first.size - both - b01 - b10]]
        return float(mcnemar(table, exact=True).pvalue) if b01 + b10 else 1.0
    return paired_permutation_test(first, second, seed=1234, resamples=int(RESAMPLES)).p_value


def test_compare_and_leaderboard_show_judge_grade_deltas(runs: tuple[Path, Path], tmp_path: Path) -> None:
    base, tuned = runs
    code, printed = cli("compare", str(base), str(tuned), "--format", "json", "--resamples", RESAMPLES)
    assert code == 0
    [comparison] = [Comparison.model_validate(c) for c in json.loads(printed)]
    written = Comparison.model_validate_json(comparison_path(base, tuned).read_text())
    assert written.tasks == comparison.tasks and written.other_model.endswith("+ adapter adapter-tuned")

    rows: dict[tuple[str, str, str | None], PairedTaskComparison] = {
        (row.task, row.metric, row.group): row for row in comparison.tasks
    }
    gsm8k_metric = load_results(base).tasks["gsm8k"].primary_metric
    expected: dict[tuple[str, str, str | None], tuple[dict[str, float], dict[str, float]]] = {
        ("mmlu", "acc,none", None): (metric_values(base, "mmlu", "acc,none"), metric_values(tuned, "mmlu", "acc,none")),
        ("gsm8k", gsm8k_metric, None): (
            metric_values(base, "gsm8k", gsm8k_metric),
            metric_values(tuned, "gsm8k", gsm8k_metric),
        ),
    }
    categories = {s["doc_hash"]: s["category"] for s in read_samples(base, "writing")}
    for rubric in ("relevance", "coherence"):
        first, second = grades(base, rubric), grades(tuned, rubric)
        expected[("writing", rubric, None)] = (first, second)
        for category in ("professional", "argumentative"):
            keep = [k for k, c in categories.items() if c == category]
            expected[("writing", rubric, category)] = ({k: first[k] for k in keep}, {k: second[k] for k in keep})
    assert sorted(rows, key=str) == sorted(expected, key=str)  # no answer_words row
    assert any(rows[("writing", r, None)].difference.value for r in ("relevance", "coherence"))
    for key, (first_values, second_values) in expected.items():
        first, second = arrays(first_values, second_values)
        row = rows[key]
        assert row.n_paired == first.size
        assert row.base.value == pytest.approx(first.mean()) and row.other.value == pytest.approx(second.mean())
        assert row.difference.value == pytest.approx((second - first).mean()), key
        assert row.p_value == pytest.approx(expected_p(first, second)), key
    holm = multipletests([row.p_value for row in comparison.tasks], method="holm")[1]
    assert [row.p_adjusted for row in comparison.tasks] == pytest.approx(list(holm))

    site = tmp_path / "site"
    code, _ = cli("leaderboard", "build", str(base.parent.parent), "--out", str(site))
    assert code == 0
    data: dict[str, Any] = json.loads((site / "data" / "leaderboard.json").read_text())
    view = next(v for v in data["views"] if v["id"] == "comparisons")
    [row] = view["rows"]
    columns = {column["id"]: (j, column) for j, column in enumerate(view["columns"])}
    assert not any("answer_words" in column_id for column_id in columns)
    for (task, metric, group), compared in rows.items():
        column_id = task if task != "writing" else ":".join(p for p in (task, metric, group) if p)
        j, column = columns[column_id]
        cell = row["cells"][j]
        assert cell[:3] == pytest.approx(
            [compared.difference.value, compared.difference.ci_low, compared.difference.ci_high]
        )
        assert cell[6:8] == pytest.approx([compared.base.value, compared.other.value])
        assert column["hidden"] is (group is not None)
    assert columns["writing:relevance"][1]["unit"] == ""  # grades 1-5 are shown as grades, not percentages
    assert row["text"][:2] == [comparison.base_model, comparison.other_model]
