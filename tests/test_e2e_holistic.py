"""`instructeval run --model M --suite holistic --judge SPEC` end to end on the tiny Llama: INSTRUCTEVAL's three
factors in one run (problem solving, writing graded by the scripted judge at 127.0.0.1, alignment), every score
recomputed from the samples, and the closing tables print what results.json holds."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_checks import check_cells_intact, check_pointwise_grades, check_task, position_biased_verdict, render, run_cli
from judge_server import JudgeServer

from instructeval.registry import resolve_tasks
from instructeval.results import load_results
from instructeval.terminal_report import print_summary

WIDE = "200"  # COLUMNS for the run: one table row per line, so each row can be read back whole


@pytest.fixture(scope="module")
def holistic(tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One holistic run, one example per subtask (one prompt per writing category): (run folder, what it printed)."""
    output = tmp_path_factory.mktemp("holistic")
    with pytest.MonkeyPatch.context() as env, JudgeServer(position_biased_verdict) as server:
        env.setenv("COLUMNS", WIDE)
        printed = run_cli([
            "run", "--model", f"hf:{tiny_llama}", "--suite", "holistic", "--judge", server.judge_spec(),
            "--limit", "1", "--max-gen-toks", "8", "--output", str(output), "--run-name", "holistic",
            "--judge-cache", str(output / "judge.sqlite"), "--data-dir", str(data_dir),
        ])  # fmt: skip
        assert server.billed()  # the writing answers (and the calibration set) were graded over HTTP
    (run_dir,) = output.glob("*/holistic")
    return run_dir, printed


def test_one_run_holds_problem_solving_writing_and_alignment(holistic: tuple[Path, str]) -> None:
    run_dir, _ = holistic
    results = load_results(run_dir)
    assert results.run.status == "complete"
    problem_solving = [info.name for info in resolve_tasks(None, "problem-solving")]
    assert list(results.tasks) == [info.name for info in resolve_tasks(None, "holistic")]
    assert set(results.tasks) == {*problem_solving, "writing", "hhh"}
    for info in resolve_tasks(None, "holistic"):
        subtasks = len(info.members) or 1
        n_samples = subtasks if info.name != "writing" else len(results.tasks["writing"].breakdown["category"])
        check_task(results, run_dir, info.name, subtasks, n_samples)  # --limit 1: one example per (sub)task
    check_pointwise_grades(run_dir)
    overall = {rubric: cells["overall"].score.value for rubric, cells in results.writing.pointwise.scores.items()}
    assert overall == {"relevance": 4.0, "coherence": 2.0}  # the scripted judge's grades


def test_the_closing_tables_print_every_task_and_the_judges_grades(holistic: tuple[Path, str]) -> None:
    run_dir, printed = holistic
    results = load_results(run_dir)
    lines = printed.splitlines()
    for name, task in results.tasks.items():
        score = task.metrics[task.primary_metric]
        (row,) = [line for line in lines if line.startswith(f"│ {name} ")]
        cells = [cell.strip() for cell in row.strip("│").split("│")]
        assert cells[:4] == [name, task.primary_metric, score.text(), str(score.n)], row
    assert "Writing, judged by openai-compatible:http://127.0.0.1:" in printed
    answers = results.writing.pointwise.n_answers
    (overall,) = [line for line in lines if line.startswith("│ overall ")]
    cells = [cell.strip() for cell in overall.strip("│").split("│")]
    assert cells == ["overall", "4.00 ± 0.00", f"{answers} / 0", "2.00 ± 0.00", f"{answers} / 0"]


def test_the_summary_fits_an_80_column_terminal(holistic: tuple[Path, str]) -> None:
    run_dir, _ = holistic
    results = load_results(run_dir)
    lines = render(print_summary, run_dir, 80)
    check_cells_intact(lines, 80, results, results.tasks)
    assert any("±" in line for line in lines)  # some score has a stderr, printed above its interval
