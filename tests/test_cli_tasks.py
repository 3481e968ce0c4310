"""`instructeval tasks` (one line per task, 80 columns) and `instructeval tasks NAME`, and the worked example of
docs/adding-a-task.md: `crass_cloze`, one YAML, run end to end on the tiny model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from e2e_checks import LIMIT, check_cached_loglikelihoods, check_choice_accuracy, check_task, run_args, run_cli

from instructeval.registry import all_tasks, suites
from instructeval.results import load_results


def _tasks(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "80"}
    command = [sys.executable, "-m", "instructeval", "tasks", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_the_listing_is_one_line_per_task_within_80_columns() -> None:
    listing = _tasks()
    assert listing.returncode == 0, listing.stderr
    lines = listing.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    rows = [line.split("│")[1].strip() for line in lines if line.startswith("│")]
    assert rows == list(all_tasks())  # one row each, in listing order, no wrapped continuation rows
    assert "suite problem-solving: mmlu, bbh, gsm8k, mgsm, humaneval, drop, crass" in listing.stdout


def test_a_task_by_name_shows_protocol_data_description_metric_and_suites() -> None:
    shown = _tasks("crass_cloze")
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    assert text.startswith("crass_cloze: CRASS (cloze)\n")
    assert "protocol: bigbench-option-loglikelihood v1.0 (log-likelihood of each choice)" in text
    assert "metric:   acc,none" in text and "suites:   none (run it with --tasks)" in text
    assert "data:     hub tasksource/bigbench (crass_ai)\n          local crass/crass_ai/task.json (test)" in text
    assert "log-likelihood of\neach option's full text" in text  # the description, wrapped at 80
    assert max(len(line) for line in text.splitlines()) <= 80
    subtask = _tasks("mgsm_de").stdout
    joined = [suite for suite, names in suites().items() if {"mgsm", "mgsm_de"} & set(names)]
    assert {"problem-solving", "demo"} <= set(joined)
    assert subtask.startswith("mgsm_de (in mgsm): MGSM\n") and f"suites:   {', '.join(joined)}\n" in subtask


def test_an_unknown_task_name_is_one_line() -> None:
    shown = _tasks("mmlu_anatomyy")
    assert shown.returncode == 2 and shown.stdout == ""
    assert (
        shown.stderr
        == "instructeval: error: unknown task mmlu_anatomyy: run `instructeval tasks` to list the available ones\n"
    )


def test_the_worked_example_task_runs_end_to_end(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    run_cli(run_args(tiny_llama, tmp_path, "example", "crass_cloze", "--data-dir", str(data_dir)))
    (run_dir,) = tmp_path.glob("*/example")
    results = load_results(run_dir)
    result = results.tasks["crass_cloze"]
    assert (result.protocol, result.primary_metric, result.data_source) == (
        "bigbench-option-loglikelihood",
        "acc,none",
        "local:crass_cloze",
    )
    records = check_task(results, run_dir, "crass_cloze", subtasks=1, n_samples=LIMIT)
    check_choice_accuracy(records)
    check_cached_loglikelihoods(run_dir, records)
    assert records[0]["details"]["choices"][2] == " The treasure chest would have remained closed."
