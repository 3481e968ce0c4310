"""`inject` (base, icl, finetune) and `inject score` end to end on the tiny random-weight Llama.

One inject run is shared by the tests (module fixture). Every reported cell is recomputed from the per-probe
records, with a Wilson interval computed here; forced-choice scores are recomputed from the stored
log-likelihoods; the LoRA adapter that finetune writes is loaded again by `instructeval run --adapter`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import NormalDist
from typing import Any

import pytest

from instructeval.cli import main
from instructeval.knowledge import load_knowledge_set
from instructeval.results import KnowledgeResult, RunResults, load_results, read_samples

SET, SIZE, LIMIT, EPOCHS = "invented:reversal", 4, 2, 2
METHODS = ("base", "icl", "finetune")
SCORERS = ("forced-choice", "strict", "exact", "lenient")
TEXT_SCORERS = SCORERS[1:]


def wilson(successes: float, n: int) -> tuple[float, float]:
    """The 95 % Wilson score interval, from its formula."""
    z = NormalDist().inv_cdf(0.975)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def assert_cells_match_records(result: KnowledgeResult, records: list[dict[str, Any]], scorers: tuple[str, ...]):
    """Each split x scorer cell is the mean of the records' scores, with n and the Wilson interval."""
    assert set(result.splits) == {r["subtask"] for r in records}
    for split, cells in result.splits.items():
        assert list(cells) == list(scorers)
        for scorer, cell in cells.items():
            values = [r["scores"][scorer] for r in records if r["subtask"] == split]
            low, high = wilson(sum(values), len(values))
            assert cell.scorer == scorer and cell.score.ci_method == "wilson"
            assert cell.score.n == len(values)
            assert cell.score.value == pytest.approx(sum(values) / len(values), abs=1e-12)
            assert (cell.score.ci_low, cell.score.ci_high) == (
                pytest.approx(low, abs=1e-9),
                pytest.approx(high, abs=1e-9),
            )


@pytest.fixture(scope="module")
def injected(tmp_path_factory: pytest.TempPathFactory, tiny_llama: Path) -> tuple[Path, RunResults]:
    out = tmp_path_factory.mktemp("inject") / "runs"
    argv = ["inject", "--model", f"hf:{tiny_llama}", "--knowledge", SET, "--size", str(SIZE)]
    argv += ["--method", ",".join(METHODS), "--scorers", ",".join(SCORERS), "--limit", str(LIMIT)]
    argv += ["--epochs", str(EPOCHS), "--max-gen-toks", "8", "--device", "cpu", "--output", str(out)]
    assert main([*argv, "--curve", "all", "--run-name", "e2e"]) == 0
    (model_folder,) = out.iterdir()
    run = model_folder / "e2e"
    return run, load_results(run)


def samples(run: Path, method: str) -> list[dict[str, Any]]:
    return read_samples(run, f"knowledge_invented-reversal_{method}")


def test_each_method_is_recorded_per_probe_and_the_table_is_recomputed_from_the_records(injected):
    run, results = injected
    kset = load_knowledge_set(SET, size=SIZE)
    per_split = {split: min(LIMIT, sum(p.split == split for p in kset.probes)) for split in kset.splits}
    probes = {p.id: p for p in kset.probes}
    assert results.run.status == "complete" and results.model.spec.startswith("hf:")
    assert [r.method for r in results.knowledge or []] == list(METHODS)
    for result in results.knowledge or []:
        records = samples(run, result.method)
        assert {split: sum(r["subtask"] == split for r in records) for split in per_split} == per_split
        assert_cells_match_records(result, records, SCORERS)
        for record in records:
            probe = probes[record["details"]["probe_id"]]
            assert record["target"] == probe.answer and record["subtask"] == probe.split
            assert record["response"] is not None and len(record["choice_loglikelihoods"]) == len(probe.choices)
            chosen = record["choice_loglikelihoods"]
            best = max(chosen)
            correct = float(chosen[probe.correct] == best and chosen.count(best) == 1)
            assert record["scores"]["forced-choice"] == correct
            strict, exact, lenient = (record["scores"][s] for s in TEXT_SCORERS)
            assert strict == float(record["response"].strip().lower() in {g.strip().lower() for g in probe.golds})
            assert strict <= exact <= lenient
    facts_in_context = {m: {r["details"]["facts_in_context"] for r in samples(run, m)} for m in METHODS}
    assert facts_in_context["base"] == {0} and facts_in_context["icl"] == {len(kset.facts)}


def test_finetune_writes_an_adapter_that_run_loads_again(injected, tmp_path, data_dir):
    run, results = injected
    finetune = next(r for r in results.knowledge or [] if r.method == "finetune")
    adapter = run / "adapter"
    assert finetune.tuned_model == str(adapter)
    assert (adapter / "adapter_config.json").is_file() and (adapter / "adapter_model.safetensors").is_file()
    assert json.loads((adapter / "adapter_config.json").read_text())["r"] == 8
    training = finetune.training
    assert training["epochs"] == EPOCHS and len(training["loss_per_epoch"]) == EPOCHS
    assert training["examples"] == len(load_knowledge_set(SET, size=SIZE).facts)
    assert training["use_with"].endswith(f"--adapter {adapter}")
    base = [r["choice_loglikelihoods"] for r in samples(run, "base")]
    tuned = [r["choice_loglikelihoods"] for r in samples(run, "finetune")]
    assert base != tuned  # the adapter changed the model

    model = training["use_with"].split("--model ")[1].split(" --adapter")[0]
    argv = ["run", "--model", model, "--tasks", "mmlu_anatomy", "--limit", "2", "--device", "cpu"]
    argv += ["--data-dir", str(data_dir), "--output", str(tmp_path / "runs")]
    assert main([*argv, "--adapter", str(adapter), "--run-name", "with"]) == 0
    assert main([*argv, "--run-name", "without"]) == 0
    (folder,) = (tmp_path / "runs").iterdir()
    with_adapter, without = load_results(folder / "with"), load_results(folder / "without")
    assert with_adapter.model.adapter == str(adapter) and with_adapter.model.adapter_hash.startswith("sha256:")
    assert without.model.adapter is None
    scored = {name: read_samples(folder / name, "mmlu") for name in ("with", "without")}
    assert len(scored["with"]) == len(scored["without"]) == 2
    assert [s["doc_hash"] for s in scored["with"]] == [s["doc_hash"] for s in scored["without"]]
    assert [s["choice_loglikelihoods"] for s in scored["with"]] != [
        s["choice_loglikelihoods"] for s in scored["without"]
    ]


def test_curve_asks_the_adapter_saved_after_each_epoch(injected, capsys):
    run, results = injected
    finetune = next(r for r in results.knowledge or [] if r.method == "finetune")
    assert finetune.curve is not None
    assert [p.epoch for p in finetune.curve] == list(range(1, EPOCHS + 1))
    first, last = finetune.curve[0], finetune.curve[-1]
    # the last epoch is the final adapter, asked once; earlier epochs are their own adapters and samples files
    assert last.tuned_model == finetune.tuned_model and last.splits == finetune.splits
    assert first.tuned_model == str(run / "adapter" / "epoch-1")
    assert (run / "adapter" / "epoch-1" / "adapter_model.safetensors").is_file()
    records = samples(run, "finetune_epoch1")
    assert_cells_match_records(
        KnowledgeResult(knowledge_set=SET, method="finetune", splits=first.splits), records, SCORERS
    )
    after_one = [r["choice_loglikelihoods"] for r in records]
    assert after_one != [r["choice_loglikelihoods"] for r in samples(run, "finetune")]  # another epoch, other weights
    assert [c["epoch"] for c in finetune.training["checkpoints"]] == [1, 2]
    drawing = (run / "curves" / "invented-reversal_finetune.svg").read_text()
    assert drawing.count("<polyline") == len(finetune.splits) and drawing.count("<polygon") == len(finetune.splits)
    capsys.readouterr()
    assert main(["inject", "report", str(run), "--format", "markdown", "--scorer", "forced-choice"]) == 0
    report = capsys.readouterr().out
    assert "### Learning curve" in report and str(run / "curves" / "invented-reversal_finetune.svg") in report
    curve_rows = [line for line in report.splitlines() if line.startswith(("| 1 |", "| 2 |"))]
    assert len(curve_rows) == EPOCHS and all(line.count("(") == len(finetune.splits) for line in curve_rows)


def test_inject_score_rescores_the_models_answers_end_to_end(injected, tmp_path):
    run, _ = injected
    base = samples(run, "base")
    # Every other answer is replaced by the gold one, so the rescored run has known correct rows as well.
    rows = [
        {"id": r["details"]["probe_id"], "response": r["target"] if i % 2 else r["response"]}
        for i, r in enumerate(base)
    ]
    responses = tmp_path / "tiny.jsonl"
    responses.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    argv = ["inject", "score", "--knowledge", SET, "--size", str(SIZE), "--responses", str(responses)]
    assert main([*argv, "--scorers", ",".join(TEXT_SCORERS), "--output", str(tmp_path / "runs")]) == 0
    scored_run = next((tmp_path / "runs" / "tiny").iterdir())
    results = load_results(scored_run)
    assert results.model.spec == "external:tiny" and results.run.status == "complete"
    (result,) = results.knowledge or []
    assert result.method == "external" and result.training["response_column"] == "response"
    records = read_samples(scored_run, "knowledge_invented-reversal_external")
    assert len(records) == len(base)
    assert_cells_match_records(result, records, TEXT_SCORERS)
    by_id = {r["details"]["probe_id"]: r for r in records}
    for i, original in enumerate(base):
        record = by_id[original["details"]["probe_id"]]
        expected = (1.0,) * 3 if i % 2 else tuple(original["scores"][s] for s in TEXT_SCORERS)
        assert tuple(record["scores"][s] for s in TEXT_SCORERS) == expected
        assert record["doc_hash"] == original["doc_hash"]
