"""`instructeval run --shots N --reasoning direct|cot [--self-consistency K]` end to end on the tiny Llama: each task
runs the chosen setting, whose protocol name, n-shot, reasoning and prompt hash the results record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_checks import check_cells_intact, check_task, refusal, render, run_args, run_cli

from instructeval.evaluator import protocol_files_hash
from instructeval.grid import print_grid
from instructeval.leaderboard import build_site
from instructeval.registry import resolve_tasks
from instructeval.results import load_results
from instructeval.settings import base_name

TASKS = "mmlu_anatomy,bbh_navigate,gsm8k,mgsm_de"  # one subtask of each of the mmlu,bbh,gsm8k,mgsm


def test_zero_shot_cot_runs_every_task_in_that_setting(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    run_cli(
        run_args(
            tiny_llama, tmp_path, "zs-cot", TASKS, "--shots", "0", "--reasoning", "cot", "--data-dir", str(data_dir)
        )
    )
    run_dir = _run_dir(tmp_path, "zs-cot")
    results = load_results(run_dir)
    expected = {
        "mmlu": ("mmlu-0shot-flan-cot", "exact_match,get-answer", "\nA: Let's think step by step."),
        "bbh": ("bbh-0shot-cot", "exact_match,get-answer", "A: Let's think step by step."),
        "gsm8k": ("gsm8k-0shot-cot", "exact_match,flexible-extract", "\nA: Let's think step by step."),
        "mgsm": ("mgsm-0shot-native-cot", "acc,none", "\nSchritt-für-Schritt-Antwort:"),
    }
    for task, (protocol, primary, prompt_end) in expected.items():
        task = f"{task}@0shot-cot"  # a setting other than the protocol's default is a task of its own
        result = results.tasks[task]
        assert (result.protocol, result.primary_metric, result.num_fewshot) == (protocol, primary, 0)
        assert (result.reasoning, result.self_consistency) == ("cot", None)
        assert result.prompt_hash != protocol_files_hash(resolve_tasks(base_name(task), None)[0])  # setting in it
        records = check_task(results, run_dir, task, 1, 2)
        assert all(r["prompt"].endswith(prompt_end) and r["prompt"].count(prompt_end) == 1 for r in records)
    assert {name: results.n_shot[name] for name in TASKS.split(",")} == dict.fromkeys(TASKS.split(","), 0)


def test_direct_and_cot_are_refused_where_they_would_do_nothing(tiny_llama: Path, tmp_path: Path) -> None:
    line = refusal(run_args(tiny_llama, tmp_path, "x", "gsm8k", "--reasoning", "direct", "--self-consistency", "2"))
    assert "--self-consistency applies to gsm8k, mgsm, bbh and mmlu with --reasoning cot, not to gsm8k" in line
    assert "drop --shots" in refusal(run_args(tiny_llama, tmp_path, "x", "humaneval", "--shots", "0"))
    assert "takes --shots 0 to 8, not 9" in refusal(run_args(tiny_llama, tmp_path, "x", "gsm8k", "--shots", "9"))
    assert not any(tmp_path.iterdir())  # refused before a run folder was made


def _run_dir(output: Path, name: str) -> Path:
    (model_dir,) = [p for p in output.iterdir() if p.is_dir()]
    return model_dir / name


@pytest.fixture(scope="module")
def grid(tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """`--grid` on an MMLU subject and GSM8K: (run folder, what it printed)."""
    output = tmp_path_factory.mktemp("grid")
    args = run_args(tiny_llama, output, "grid", "mmlu_anatomy,gsm8k", "--grid", "--data-dir", str(data_dir))
    printed = run_cli([*args, "--limit", "1"])
    return _run_dir(output, "grid"), printed


def test_grid_runs_every_setting_and_prints_the_swing(grid: tuple[Path, str]) -> None:
    run_dir, printed = grid
    results = load_results(run_dir)
    protocols = {key: task.protocol for key, task in results.tasks.items()}
    assert protocols == {  # each protocol's default setting keeps the task's own name
        "mmlu@0shot-direct": "mmlu-0shot-loglikelihood",
        "mmlu": "mmlu-5shot-loglikelihood",
        "mmlu@0shot-cot": "mmlu-0shot-flan-cot",
        "mmlu@4shot-cot": "mmlu-4shot-flan-cot",
        "gsm8k@0shot-cot": "gsm8k-0shot-cot",
        "gsm8k": "gsm8k-8shot-cot",
        "gsm8k@0shot-direct": "gsm8k-0shot-direct",
        "gsm8k@8shot-direct": "gsm8k-8shot-direct",
    }
    assert {key: task.num_fewshot for key, task in results.tasks.items()} == {
        key: int(protocol.split("-")[1].removesuffix("shot")) for key, protocol in protocols.items()
    }
    assert "setting swing vs sampling noise" in printed
    for task in ("mmlu", "gsm8k"):
        scores = [t.metrics[t.primary_metric] for k, t in results.tasks.items() if base_name(k) == task]
        values = [s.value for s in scores if s.value is not None]
        widest = max(s.ci_high - s.ci_low for s in scores if s.ci_high is not None and s.ci_low is not None)
        assert f"{task}: {max(values) - min(values):.3f} vs {widest:.3f}" in printed


def test_the_leaderboard_settings_view_holds_the_grid(grid: tuple[Path, str], tmp_path: Path) -> None:
    """The leaderboard's settings view holds each setting in a column of its own; the model's grid, the same swing."""
    run_dir, printed = grid
    results = load_results(run_dir)
    build_site([run_dir.parent.parent], tmp_path / "site")
    data = json.loads((tmp_path / "site" / "data" / "leaderboard.json").read_text(encoding="utf-8"))
    (row,) = next(v for v in data["views"] if v["id"] == "settings")["rows"]
    columns = [c["id"] for c in next(v for v in data["views"] if v["id"] == "settings")["columns"]]
    measured = {
        f"{base_name(k)}@{t.num_fewshot}shot-{t.reasoning}": t.metrics[t.primary_metric]
        for k, t in results.tasks.items()
    }
    assert dict(zip(columns, [c[0] if c else None for c in row["cells"]], strict=True)) == {
        column: None if score.value is None else round(score.value, 6) for column, score in measured.items()
    }
    for task in data["models"][0]["settings"]:
        assert f"{task['swing'][0]:.3f} vs {task['swing'][1]:.3f}" in printed


@pytest.mark.parametrize("width", [80, 200])
def test_the_grid_table_fits_the_terminal(grid: tuple[Path, str], width: int) -> None:
    """80 columns: each cell broken at its seams (score above interval, metric above filter); 200: a line a row."""
    run_dir, _ = grid
    results = load_results(run_dir)
    lines = render(print_grid, run_dir, width)
    check_cells_intact(lines, width, results, results.tasks)
    rows = [line for line in lines if line.startswith("│")]
    assert len(rows) == (len(results.tasks) * 2 if width == 80 else len(results.tasks))
    if width == 200:
        for key, task in results.tasks.items():
            setting = f"{task.num_fewshot}shot-{task.reasoning}"
            text = task.metrics[task.primary_metric].text()
            assert any(setting in row and task.primary_metric in row and text in row for row in rows), key


def test_suite_holistic_needs_a_judge(tiny_llama: Path, tmp_path: Path) -> None:
    line = refusal(["run", "--model", f"hf:{tiny_llama}", "--suite", "holistic", "--output", str(tmp_path)])
    assert line == "instructeval: error: --suite holistic grades writing with an LLM judge: pass --judge SPEC"
    assert not any(tmp_path.iterdir())
