"""Declared task metadata: every task YAML validates, a bad block is one line naming the field, the generated
YAMLs match their generator, suites and labels come from the YAMLs, and the generic loader reads each format."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from repo_module import REPO, load_repo_module

from instructeval.data.declared import DataBlock, load_declared, read_rows
from instructeval.data.source import DataSource
from instructeval.errors import DataError
from instructeval.registry import all_tasks, resolve_tasks, suites
from instructeval.task_metadata import TaskConfigError, parse_metadata

VALID = {
    "version": 1.0,
    "protocol": "p",
    "label": "P",
    "description": "d",
    "primary_metric": "acc,none",
    "data": {"hub": "org/set"},
}


def test_every_task_declares_typed_metadata() -> None:
    tasks = all_tasks()
    assert {"mmlu", "bbh", "gsm8k", "crass", "crass_cloze", "writing"} <= set(tasks)
    for info in tasks.values():
        assert info.label and info.description and info.protocol and info.version == "1.0", info.name
        assert info.data.hub or info.data.note, info.name  # every task says where its data comes from


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"protocol": None}, "metadata.protocol"),
        ({"aggregation": "median"}, "metadata.aggregation"),
        ({"primary_metrc": "acc"}, "metadata.primary_metrc"),
        ({"data": {"hub": "org/set", "format": "parquet"}}, "metadata.data.format"),
    ],
)
def test_a_bad_metadata_block_is_one_line_naming_the_file_and_field(change: dict[str, object], field: str) -> None:
    raw = {key: value for key, value in {**VALID, **change}.items() if value is not None}
    with pytest.raises(TaskConfigError) as caught:
        parse_metadata(Path("tasks/x/x.yaml"), raw)
    message = str(caught.value)
    assert message.startswith(f"tasks/x/x.yaml: {field}: ") and message.endswith("fix the task's YAML")
    assert "\n" not in message
    assert parse_metadata(Path("x.yaml"), VALID).version == "1.0"


def test_generated_task_yamls_match_their_generator() -> None:
    check = subprocess.run(
        [sys.executable, "scripts/gen_task_configs.py", "--check"], cwd=REPO, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout
    generator = load_repo_module("scripts/gen_task_configs.py")
    files = generator.render()
    assert len(files) == 2 * 57 + 27 + 11 + 4  # subjects twice, BBH tasks, languages, and the four groups
    edited = next(iter(files))
    assert generator.stale({**files, edited: files[edited] + "# hand edit\n"}) == [edited]
    dropped = next(iter(files))
    assert generator.stale({p: t for p, t in files.items() if p != dropped}) == [dropped]  # no longer generated


def test_suites_and_labels_come_from_the_task_yamls() -> None:
    assert suites()["problem-solving"] == ("mmlu", "bbh", "gsm8k", "mgsm", "humaneval", "drop", "crass")
    assert suites()["problem-solving-generative"] == ("mmlu_gen", "bbh", "gsm8k", "mgsm", "humaneval", "drop")
    assert [info.name for info in resolve_tasks(None, "demo")][:3] == ["mmlu", "mmlu_gen", "bbh"]
    assert all_tasks()["hhh_mc"].label == "HHH (multiple choice)"
    from instructeval.leaderboard._views import problem_solving_tasks, task_label

    assert (
        task_label("crass_cloze") == "CRASS (cloze)" and task_label("from_an_older_version") == "from_an_older_version"
    )
    assert problem_solving_tasks() == suites()["problem-solving"]


def test_task_hooks_read_the_hub_dataset_their_yaml_declares() -> None:
    for hooks in sorted(REPO.glob("tasks/*/hooks.py")):
        hub = getattr(load_repo_module(str(hooks.relative_to(REPO))), "HUB_ID", None)
        if hub is not None:
            assert all_tasks()[hooks.parent.name].data.hub == hub, hooks


def test_the_generic_loader_reads_each_local_format(tmp_path: Path) -> None:
    (tmp_path / "set").mkdir()
    rows = [{"question": "2+2?", "answer": "4", "topic": "math"}, {"question": "Sky?", "answer": "blue", "topic": "x"}]
    with gzip.open(tmp_path / "set" / "math.jsonl.gz", "wt", encoding="utf-8") as out:
        out.writelines(json.dumps(row) + "\n" for row in rows)
    (tmp_path / "set" / "rows.csv").write_text("question,answer\n2+2?,4\n", encoding="utf-8")
    task = {"examples": [{"input": "Pick", "target_scores": {"no": 0, "yes": 1}}]}
    (tmp_path / "set" / "task.json").write_text(json.dumps(task), encoding="utf-8")
    assert read_rows(tmp_path / "set" / "rows.csv", "csv") == [{"question": "2+2?", "answer": "4"}]
    assert read_rows(tmp_path / "set" / "task.json", "bigbench") == [
        {
            "inputs": "Pick",
            "targets": ["yes"],
            "multiple_choice_targets": ["no", "yes"],
            "multiple_choice_scores": [0, 1],
        }
    ]
    block = DataBlock(local={"test": "set/{topic}.jsonl.gz"}, format="jsonl")
    loaded = load_declared(block, DataSource("local", tmp_path), {"topic": "math"})
    assert list(loaded["test"]) == rows
    assert block.local_patterns() == ["set/*.jsonl.gz"]
    with pytest.raises(DataError, match=r"missing .*set/history\.jsonl\.gz: the data folder must follow"):
        load_declared(block, DataSource("local", tmp_path), {"topic": "history"})
    with pytest.raises(DataError, match="no hub dataset: pass --data-dir"):
        load_declared(block, DataSource("hub"), {})


def test_results_name_where_the_data_came_from() -> None:
    gsm8k, writing = all_tasks()["gsm8k"].data, all_tasks()["writing"].data
    assert gsm8k.provenance(DataSource("hub"), "gsm8k") == "hub:openai/gsm8k"
    assert gsm8k.provenance(DataSource("local", Path("/data")), "gsm8k") == "local:gsm8k"
    assert writing.provenance(DataSource("hub"), "writing") == "shipped:writing"  # the prompts in the package
