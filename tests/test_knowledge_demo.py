"""End to end on the demo model (SmolLM2-135M-Instruct, CPU): base, icl, finetune and augmented-finetune
on an invented-word set small enough for CI. Asserts that every method really ran and was measured, not what
the numbers are: the table is reported as measured (README, "Knowledge injection")."""

from __future__ import annotations

import json

import pytest
from test_knowledge_scoring import cli

from instructeval.knowledge import load_knowledge_set, markdown_table
from instructeval.results import KnowledgeResult, load_results, read_samples

SET, SIZE = "invented:all", "4"
METHODS = ["base", "icl", "finetune", "augmented-finetune"]


@pytest.mark.slow
def test_all_four_methods_run_and_are_measured_on_the_demo_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # the printed table, unabridged
    out = tmp_path / "runs"
    code = cli(
        "inject",
        "--model",
        "demo",
        "--knowledge",
        SET,
        "--size",
        SIZE,
        "--method",
        ",".join(METHODS),
        "--device",
        "cpu",
        "--output",
        str(out),
        "--run-name",
        "e2e",
    )
    assert code == 0
    run = out / "SmolLM2-135M-Instruct" / "e2e"
    results = load_results(run)
    kset = load_knowledge_set(SET, size=int(SIZE))
    per_split = {split: sum(p.split == split for p in kset.probes) for split in kset.splits}
    assert results.run.status == "complete"
    assert [r.method for r in results.knowledge or []] == METHODS
    by_method: dict[str, KnowledgeResult] = {r.method: r for r in results.knowledge or []}
    for result in by_method.values():
        assert {split: cells["forced-choice"].score.n for split, cells in result.splits.items()} == per_split
        assert all(cells["forced-choice"].score.ci_method == "wilson" for cells in result.splits.values())
        samples = read_samples(run, f"knowledge_invented-all_{result.method}")
        assert len(samples) == len(kset.probes)
        assert all(len(s["choice_loglikelihoods"]) == 2 for s in samples)
    # icl really had the facts in context; base did not
    assert {s["details"]["facts_in_context"] for s in read_samples(run, "knowledge_invented-all_icl")} == {
        len(kset.facts)
    }
    assert {s["details"]["facts_in_context"] for s in read_samples(run, "knowledge_invented-all_base")} == {0}
    for method, folder in (("finetune", "adapter"), ("augmented-finetune", "adapter-augmented")):
        training = by_method[method].training
        assert by_method[method].tuned_model == str(run / folder)
        assert (run / folder / "adapter_config.json").is_file()
        assert len(training["loss_per_epoch"]) == training["epochs"] == 10
        assert training["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
        assert training["format"] == "no-prompt-completion"
        assert training["use_with"].endswith(f"--adapter {run / folder}")
    augmentation = by_method["augmented-finetune"].training["augmentation"]
    logged = [json.loads(line) for line in (run / augmentation["log"]).open()]
    assert len(logged) == augmentation["local"] + augmentation["global"]
    assert by_method["augmented-finetune"].training["examples"] == len(kset.facts) + len(logged)
    # the tuned model changed what the model prefers
    base = [s["choice_loglikelihoods"] for s in read_samples(run, "knowledge_invented-all_base")]
    tuned = [s["choice_loglikelihoods"] for s in read_samples(run, "knowledge_invented-all_finetune")]
    assert base != tuned
    printed = capsys.readouterr().out
    assert "augmented-finetune" in printed and "forced-choice" in printed
    print(markdown_table(results.knowledge or []))
