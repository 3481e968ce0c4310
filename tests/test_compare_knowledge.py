"""`compare` on knowledge-injection runs, paired per probe: a base checkpoint vs a tuned one, and methods in a run.

The runs are real `instructeval inject` runs on the tiny random Llama (forced-choice log-likelihoods and
generations); the tuned checkpoint is the tiny Llama with the run's own LoRA adapter merged in. Expected
figures are recomputed here from the stored samples and checked against statsmodels.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from instructeval.cli import main
from instructeval.compare import CompareOptions, compare_runs, comparison_path, method_comparison_path
from instructeval.errors import InstructEvalError
from instructeval.results import Comparison, PairedTaskComparison, load_results, read_samples

KNOWLEDGE = "invented:all"
SAMPLES = "knowledge_invented-all_{method}"
SCORERS = ("forced-choice", "exact")
COMMON = ("--knowledge", KNOWLEDGE, "--size", "4", "--scorers", ",".join(SCORERS), "--device", "cpu")
COMMON += ("--max-gen-toks", "8", "--epochs", "3", "--learning-rate", "0.05")


def inject(model: Path, out: Path, name: str, methods: str, limit: str = "3") -> Path:
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["inject", "--model", f"hf:{model}", *COMMON, "--limit", limit, "--method", methods,
                     "--output", str(out), "--run-name", name])  # fmt: skip
    assert code == 0
    return next(out.glob(f"*/{name}"))


def merged(model: Path, adapter: Path, target: Path) -> Path:
    """A tuned checkpoint: the model with the LoRA adapter merged into its weights."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    shutil.copytree(model, target, ignore=shutil.ignore_patterns("*.safetensors"))
    tuned = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model), adapter).merge_and_unload()
    tuned.save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def runs(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """base: methods base, icl, finetune on the tiny Llama; tuned: method base on the merged checkpoint."""
    root = tmp_path_factory.mktemp("knowledge-runs")
    base = inject(tiny_llama, root / "runs", "base", "base,icl,finetune")
    tuned = merged(tiny_llama, base / "adapter", root / "tiny-llama-tuned")
    return {"base": base, "tuned": inject(tuned, root / "runs", "tuned", "base")}


def probe_scores(run: Path, method: str, scorer: str, split: str) -> dict[str, float]:
    return {
        s["doc_hash"]: float(s["scores"][scorer])
        for s in read_samples(run, SAMPLES.format(method=method))
        if s["subtask"] == split and s["scores"].get(scorer) is not None
    }


def check_row(row: PairedTaskComparison, base: dict[str, float], other: dict[str, float]) -> None:
    """Difference, wins and McNemar's exact p against the pairs recomputed from the samples."""
    keys = [k for k in base if k in other]
    first, second = np.array([base[k] for k in keys]), np.array([other[k] for k in keys])
    assert row.n_paired == len(keys) > 0
    assert row.difference.value == pytest.approx((second - first).mean())
    b01, b10 = int(((first == 0) & (second == 1)).sum()), int(((first == 1) & (second == 0)).sum())
    assert (row.wins, row.losses, row.ties) == (b01, b10, len(keys) - b01 - b10)
    both = int(((first == 1) & (second == 1)).sum())
    expected = mcnemar([[both, b10], [b01, len(keys) - both - b01 - b10]], exact=True).pvalue if b01 + b10 else 1.0
    assert row.test == "mcnemar_exact" and row.p_value == pytest.approx(expected)


def check_holm(comparison: Comparison) -> None:
    p_values = [row.p_value for row in comparison.tasks]
    adjusted = multipletests(p_values, alpha=comparison.alpha, method="holm")[1]
    assert [row.p_adjusted for row in comparison.tasks] == pytest.approx(list(adjusted))
    assert [row.significant for row in comparison.tasks] == [p <= comparison.alpha for p in adjusted]


def splits(run: Path) -> list[str]:
    return list(load_results(run).knowledge[0].splits)  # type: ignore[index]


def test_base_checkpoint_vs_tuned_checkpoint(runs: dict[str, Path]) -> None:
    [outcome] = compare_runs(CompareOptions(runs=(runs["base"], runs["tuned"])))
    comparison = outcome.comparison
    assert outcome.skipped == (
        "knowledge:invented:all finetune (only in one run)",
        "knowledge:invented:all icl (only in one run)",
    )
    keys = [(row.task, row.metric, row.group) for row in comparison.tasks]
    assert keys == [
        (f"knowledge:{KNOWLEDGE} base", scorer, split) for scorer in SCORERS for split in splits(runs["base"])
    ]
    cells = {run: {r.method: r for r in load_results(runs[run]).knowledge or []}["base"] for run in runs}
    for row in comparison.tasks:
        assert row.group is not None
        check_row(row, *(probe_scores(runs[run], "base", row.metric, row.group) for run in ("base", "tuned")))
        # every probe paired: each side is its run's own cell (mean, Wilson interval)
        for side, run in (("base", "base"), ("other", "tuned")):
            cell = cells[run].splits[row.group][row.metric].score
            fields = ("value", "ci_low", "ci_high", "n")
            assert [getattr(getattr(row, side), f) for f in fields] == pytest.approx([getattr(cell, f) for f in fields])
    check_holm(comparison)
    assert any(row.wins + row.losses for row in comparison.tasks)  # the merged adapter changed some choices
    assert json.loads(comparison_path(runs["base"], runs["tuned"]).read_text())["tasks"][0]["group"] == keys[0][2]


def test_methods_of_one_run_against_base(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", str(runs["base"]), "--format", "json"]) == 0
    printed = [Comparison.model_validate(c) for c in json.loads(capsys.readouterr().out)]
    assert [(c.base_model.rsplit(" · ", 1)[1], c.other_model.rsplit(" · ", 1)[1]) for c in printed] == [
        ("base", "icl"),
        ("base", "finetune"),
    ]
    for comparison, method in zip(printed, ("icl", "finetune"), strict=True):
        written = Comparison.model_validate_json(method_comparison_path(runs["base"], "base", method).read_text())
        assert written.tasks == comparison.tasks
        for row in comparison.tasks:
            assert row.task == f"knowledge:{KNOWLEDGE}" and row.group is not None
            check_row(row, *(probe_scores(runs["base"], m, row.metric, row.group) for m in ("base", method)))
        check_holm(comparison)
    assert any(row.wins + row.losses for c in printed for row in c.tasks)


def test_base_method_and_metric_choose_what_is_compared(runs: dict[str, Path]) -> None:
    outcomes = compare_runs(CompareOptions(runs=(runs["base"],), base_method="icl", metric="forced-choice"))
    assert [o.path.name for o in outcomes] == [
        "comparison-methods-base-vs-icl.json",
        "comparison-methods-finetune-vs-icl.json",
    ]
    for outcome, method in zip(outcomes, ("base", "finetune"), strict=True):
        assert {row.metric for row in outcome.comparison.tasks} == {"forced-choice"}
        for row in outcome.comparison.tasks:
            assert row.group is not None
            check_row(row, *(probe_scores(runs["base"], m, row.metric, row.group) for m in ("icl", method)))


def test_user_errors_are_one_line(runs: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    for args, message in (
        ([str(runs["base"]), "--base-method", "augmented-finetune"], "--base-method augmented-finetune is not in"),
        ([str(runs["base"]), str(runs["tuned"]), "--base-method", "icl"], "--base-method compares the methods of one"),
        ([str(runs["tuned"])], "at least two run folders"),
    ):
        assert main(["compare", *args]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1 and message in captured.err, (args, captured.err)


def test_other_probes_are_refused_then_forced(runs: dict[str, Path], tiny_llama: Path) -> None:
    fewer = inject(tiny_llama, runs["tuned"].parent.parent, "fewer", "base", limit="2")
    with pytest.raises(InstructEvalError, match=r"knowledge:invented:all base probes differ \(\d+ in only one run\)"):
        compare_runs(CompareOptions(runs=(runs["base"], fewer)))
    [outcome] = compare_runs(CompareOptions(runs=(runs["base"], fewer), force=True))
    assert outcome.comparison.forced and "probes differ" in outcome.comparison.mismatches[0]
    for row in outcome.comparison.tasks:
        assert row.group is not None and row.n_paired == len(probe_scores(fewer, "base", row.metric, row.group))


def test_leaderboard_shows_knowledge_comparisons(runs: dict[str, Path], tmp_path: Path) -> None:
    """Checkpoint and method comparisons land in the base → tuned view, per scorer and split, linked to the model."""
    checkpoints = compare_runs(CompareOptions(runs=(runs["base"], runs["tuned"])))[0].comparison
    methods = {o.comparison.other_model: o.comparison for o in compare_runs(CompareOptions(runs=(runs["base"],)))}
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["leaderboard", "build", str(runs["base"].parent.parent), "--out", str(tmp_path / "site")]) == 0
    data = json.loads((tmp_path / "site" / "data" / "leaderboard.json").read_text())
    view = next(v for v in data["views"] if v["id"] == "comparisons")
    names = [m["name"] for m in data["models"]]
    columns = [column["id"] for column in view["columns"]]
    by_pair = {(row["text"][0], row["text"][1]): row for row in view["rows"]}
    for comparison in (checkpoints, *methods.values()):  # other tests of this module add further comparisons
        row = by_pair[(comparison.base_model, comparison.other_model)]
        assert row["links"][0] == names.index(Path(str(load_results(runs["base"]).model.name)).name)
        for compared in comparison.tasks:
            cell = row["cells"][columns.index(f"{compared.task}:{compared.metric}:{compared.group}")]
            assert cell[:3] == pytest.approx(
                [compared.difference.value, compared.difference.ci_low, compared.difference.ci_high]
            )
            assert cell[8:11] == [compared.wins, compared.losses, compared.ties]
