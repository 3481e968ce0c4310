"""The demo model's prompt-setting grid (docs/prompt-settings.md), made small: `instructeval run --model demo
--tasks mmlu,bbh,gsm8k,mgsm --grid` on one subtask of each, one example per setting. Slow: a real 135M model."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_checks import check_cells_intact, check_task, render, run_cli

from instructeval.grid import print_grid, swing_vs_noise
from instructeval.results import load_results
from instructeval.settings import base_name

SUBTASKS = "mmlu_marketing,bbh_sports_understanding,gsm8k,mgsm_en"
"""The subtasks of the grid in docs/prompt-settings.md."""


@pytest.mark.slow
def test_the_demo_model_runs_the_grid(data_dir: Path, tmp_path: Path) -> None:
    printed = run_cli([
        "run", "--model", "demo", "--tasks", SUBTASKS, "--grid", "--limit", "1", "--max-gen-toks", "32",
        "--data-dir", str(data_dir), "--output", str(tmp_path), "--run-name", "grid",
    ])  # fmt: skip
    (run_dir,) = tmp_path.glob("*/grid")
    results = load_results(run_dir)
    settings = {base_name(key): 0 for key in results.tasks}
    for key in results.tasks:
        settings[base_name(key)] += 1
        check_task(results, run_dir, key, 1, 1)
    assert settings == {"mmlu": 4, "bbh": 4, "gsm8k": 4, "mgsm": 6}  # zero/few-shot x direct/CoT (+ MGSM's en-cot)
    for task in settings:
        scores = [t.metrics[t.primary_metric] for k, t in results.tasks.items() if base_name(k) == task]
        found = swing_vs_noise(scores)
        assert found is not None and f"{task}: {found[0]:.3f} vs {found[1]:.3f}" in printed
    check_cells_intact(render(print_grid, run_dir, 80), 80, results, results.tasks)
