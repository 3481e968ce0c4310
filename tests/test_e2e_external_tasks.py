"""`--include-path DIR --tasks my_task` (a user's own lm-eval YAML) and `--tasks lm-eval:<name>` (lm-eval's
built-in tasks) end to end on the tiny Llama, through our engine: results, CI, samples, request cache.

The built-ins read local rows through override YAMLs in the include path (instructeval.parity's, which only move
their data): lm-eval's `mmlu_anatomy` and `gsm8k_cot` prompt exactly as our `mmlu_anatomy` and `gsm8k`, so in one
run every one of their requests is answered from the request cache our tasks filled.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from e2e_checks import refusal, run_args, run_cli

from instructeval.parity import builtin_task_overrides
from instructeval.results import SampleRecord, TaskResult, load_results, read_records

ROWS = [  # constructed examples
    {"question": "2 + 2 =", "choices": ["3", "4"], "answer": 1},
    {"question": "The opposite of hot is", "choices": ["cold", "loud"], "answer": 0},
    {"question": "Ice is frozen", "choices": ["sand", "water"], "answer": 1},
]
USER_YAML = """task: my_task
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: "Question: {{{{question}}}}\\nAnswer:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: "{{{{answer}}}}"
metric_list:
  - metric: acc
metadata:
  version: 2.0
"""


def _check_headline(result: TaskResult, records: list[SampleRecord]) -> None:
    """The headline is the mean of the per-example scores, with a CI around it, over every example."""
    values = [r.scores[result.primary_metric] for r in records]
    score = result.metrics[result.primary_metric]
    assert score.value == pytest.approx(sum(values) / len(values)) and score.n == len(records) == result.n_samples
    assert score.ci_low is not None and score.ci_high is not None and score.ci_low <= score.value <= score.ci_high


def _run_dir(output: Path, name: str) -> Path:
    (model_dir,) = [p for p in output.iterdir() if p.is_dir()]
    return model_dir / name


def test_a_users_yaml_task_runs_through_the_engine(tiny_llama: Path, tmp_path: Path) -> None:
    folder = tmp_path / "my_tasks"
    folder.mkdir()
    data = folder / "my_data.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    (folder / "my_task.yaml").write_text(USER_YAML.format(data=data), encoding="utf-8")
    output = tmp_path / "runs"
    run_cli(run_args(tiny_llama, output, "user", "my_task", "--include-path", str(folder), "--limit", "3"))
    run_dir = _run_dir(output, "user")
    results = load_results(run_dir)
    result = results.tasks["my_task"]
    assert (result.protocol, result.protocol_version, result.primary_metric) == ("user:my_task", "2.0", "acc,none")
    records = read_records(run_dir / result.samples_file)
    _check_headline(result, records)
    for record, row in zip(records, ROWS, strict=True):
        loglikelihoods = record.choice_loglikelihoods
        assert loglikelihoods is not None and len(loglikelihoods) == 2
        assert record.scores["acc,none"] == float(loglikelihoods.index(max(loglikelihoods)) == row["answer"])
        assert record.prompt.endswith(f"Question: {row['question']}\nAnswer:")


def test_lm_eval_builtins_share_our_tasks_requests(
    tiny_llama: Path, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    include = builtin_task_overrides(tmp_path / "overrides", data_dir, ["anatomy"], gsm8k=True)
    output = tmp_path / "runs"
    tasks = "mmlu_anatomy,gsm8k,lm-eval:mmlu_anatomy,lm-eval:gsm8k_cot"
    args = run_args(tiny_llama, output, "builtin", tasks, "--include-path", str(include), "--data-dir", str(data_dir))
    printed = run_cli(args)
    # lm-eval's mmlu_anatomy asks exactly our 2 x 4 log-likelihoods (from cache); its gsm8k_cot orders its
    # generation settings differently, so its 2 generations are keyed apart and computed again, greedily the same
    assert "answers: 12 computed, 8 from cache" in printed
    run_dir = _run_dir(output, "builtin")
    results = load_results(run_dir)
    assert results.tasks["lm-eval:mmlu_anatomy"].protocol == "lm-eval:mmlu_anatomy"
    assert results.tasks["lm-eval:gsm8k_cot"].primary_metric == "exact_match,strict-match"
    for ours, theirs in (("mmlu", "lm-eval:mmlu_anatomy"), ("gsm8k", "lm-eval:gsm8k_cot")):
        mine = read_records(run_dir / "samples" / f"{ours}.jsonl")
        builtin = read_records(run_dir / results.tasks[theirs].samples_file)
        _check_headline(results.tasks[theirs], builtin)
        assert [(r.prompt, r.responses, r.choice_loglikelihoods) for r in mine] == [
            (r.prompt, r.responses, r.choice_loglikelihoods) for r in builtin
        ]


def test_a_builtin_whose_data_is_not_here_fails_in_one_line(
    tiny_llama: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # no hub here; offline fails at once
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    line = refusal(run_args(tiny_llama, tmp_path, "x", "lm-eval:arc_challenge"))
    assert "lm-eval:arc_challenge: its data is not on this machine and the Hugging Face hub cannot be reached" in line
    assert "--include-path" in line and "--data-dir" in line
    assert not tmp_path.joinpath("x").exists() and not any(p.is_dir() for p in tmp_path.iterdir())
