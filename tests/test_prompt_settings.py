"""Every prompt setting (`--shots`, `--reasoning`) that lm-eval also ships as a built-in task builds byte-identical
prompts to it, on the same local rows; and the flags are refused in one line where a task has no such setting.

Our side: the task YAMLs in tasks/ with `instructeval.settings.lm_eval_specs`' overrides, loaded by lm-eval's
TaskManager as a run loads them. Their side: lm-eval's installed built-in variant, only its data pointed at local
files. No model is needed: the prompts are the requests' contexts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lm_eval.tasks import TaskManager

from instructeval.data.source import read_tsv
from instructeval.errors import InstructEvalError
from instructeval.parity import _builtin_tasks_dir, _write_override, builtin_task_overrides
from instructeval.paths import TASKS_DIR
from instructeval.registry import resolve_tasks
from instructeval.settings import choose_setting, lm_eval_specs, with_setting

DOCS = 2
SUBJECT = "anatomy"
BBH_TASKS = ("navigate", "word_sorting")
LANGUAGES = ("de", "zh")

# (our task, shots, reasoning) -> lm-eval's built-in task for each of our subtasks, and its num_fewshot (None: its own)
CASES: list[tuple[str, int, str, dict[str, str], int | None]] = [
    ("mmlu", 5, "direct", {f"mmlu_{SUBJECT}": f"mmlu_{SUBJECT}"}, 5),
    ("mmlu", 0, "direct", {f"mmlu_{SUBJECT}": f"mmlu_{SUBJECT}"}, 0),
    ("mmlu", 2, "direct", {f"mmlu_{SUBJECT}": f"mmlu_{SUBJECT}"}, 2),
    ("mmlu", 4, "cot", {f"mmlu_{SUBJECT}": f"mmlu_flan_cot_fewshot_{SUBJECT}"}, None),
    ("mmlu", 0, "cot", {f"mmlu_{SUBJECT}": f"mmlu_flan_cot_zeroshot_{SUBJECT}"}, None),
    ("bbh", 3, "cot", {f"bbh_{t}": f"bbh_cot_fewshot_{t}" for t in BBH_TASKS}, None),
    ("bbh", 1, "cot", {f"bbh_{t}": f"bbh_cot_fewshot_{t}" for t in BBH_TASKS}, 1),
    ("bbh", 0, "cot", {f"bbh_{t}": f"bbh_cot_zeroshot_{t}" for t in BBH_TASKS}, None),
    ("bbh", 3, "direct", {f"bbh_{t}": f"bbh_fewshot_{t}" for t in BBH_TASKS}, None),
    ("bbh", 0, "direct", {f"bbh_{t}": f"bbh_zeroshot_{t}" for t in BBH_TASKS}, None),
    ("gsm8k", 8, "cot", {"gsm8k": "gsm8k_cot"}, None),
    ("gsm8k", 3, "cot", {"gsm8k": "gsm8k_cot"}, 3),
    ("gsm8k", 0, "cot", {"gsm8k": "gsm8k_cot_zeroshot"}, None),
    ("mgsm", 0, "cot", {f"mgsm_{lang}": f"mgsm_native_cot_{lang}" for lang in LANGUAGES}, None),
    ("mgsm", 0, "en-cot", {f"mgsm_{lang}": f"mgsm_en_cot_{lang}" for lang in LANGUAGES}, None),
    ("mgsm", 0, "direct", {f"mgsm_{lang}": f"mgsm_direct_{lang}" for lang in LANGUAGES}, None),
]


@pytest.fixture(scope="module")
def builtin(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> TaskManager:
    """lm-eval's built-in variants, each reading the local rows our tasks read."""
    tmp = tmp_path_factory.mktemp("builtin")
    include = builtin_task_overrides(tmp, data_dir, [SUBJECT])
    tasks = _builtin_tasks_dir()
    mmlu_files = {"test": str(tmp / f"{SUBJECT}_test.jsonl"), "validation": str(tmp / f"{SUBJECT}_test.jsonl")}
    for variant in ("flan_cot_fewshot", "flan_cot_zeroshot"):
        yaml = tasks / "mmlu" / variant / f"mmlu_{SUBJECT}.yaml"
        files = {**mmlu_files, "dev": str(tmp / f"{SUBJECT}_dev.jsonl")}
        _write_override(include, f"mmlu_{variant}_{SUBJECT}", yaml, files)
    for task in BBH_TASKS:
        rows = json.loads((data_dir / "bbh" / "bbh" / f"{task}.json").read_text(encoding="utf-8"))["examples"]
        path = _jsonl(tmp / f"bbh_{task}.jsonl", rows)
        for variant in ("cot_fewshot", "cot_zeroshot", "fewshot", "zeroshot"):
            _write_override(include, f"bbh_{variant}_{task}", tasks / "bbh" / variant / f"{task}.yaml", {"test": path})
    gsm8k = str(data_dir / "gsm8k" / "test.jsonl")
    for name, file in (("gsm8k_cot", "gsm8k-cot.yaml"), ("gsm8k_cot_zeroshot", "gsm8k-cot-zeroshot.yaml")):
        _write_override(include, name, tasks / "gsm8k" / file, {"test": gsm8k, "train": gsm8k})
    for lang in LANGUAGES:
        pairs = read_tsv(data_dir / "mgsm" / f"mgsm_{lang}.tsv")
        rows = [{"question": q, "answer": None, "answer_number": a} for q, a in pairs]
        path = _jsonl(tmp / f"mgsm_{lang}.jsonl", rows)
        for variant in ("direct", "native_cot", "en_cot"):
            yaml = tasks / "mgsm" / variant / f"mgsm_{variant}_{lang}.yaml"
            _write_override(include, f"mgsm_{variant}_{lang}", yaml, {"test": path, "train": path})
    return TaskManager(include_path=str(include), include_defaults=False)


@pytest.fixture(scope="module")
def ours(data_dir: Path) -> TaskManager:
    metadata = {"data_source": "local", "data_dir": str(data_dir)}
    return TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)


@pytest.mark.parametrize(("task", "shots", "reasoning", "counterparts", "their_shots"), CASES)
def test_each_setting_prompts_exactly_as_lm_eval_builtin_variant(
    ours: TaskManager,
    builtin: TaskManager,
    task: str,
    shots: int,
    reasoning: str,
    counterparts: dict[str, str],
    their_shots: int | None,
) -> None:
    info = resolve_tasks(",".join(counterparts), None)[0]
    info = with_setting(info, choose_setting(info, shots, reasoning))
    loaded = ours.load(lm_eval_specs(info))["tasks"]
    for subtask, theirs_name in counterparts.items():
        theirs = builtin.load([theirs_name])["tasks"][theirs_name]
        if their_shots is not None:
            theirs.set_config(key="num_fewshot", value=their_shots)
        ours_prompts = _prompts(loaded[subtask])
        assert ours_prompts == _prompts(theirs), f"{subtask} {shots}-shot {reasoning} vs {theirs_name}"
        assert len(ours_prompts) == DOCS


def test_a_non_default_setting_names_itself_in_the_protocol_and_scores_its_own_way() -> None:
    (gsm8k,) = resolve_tasks("gsm8k", None)
    assert with_setting(gsm8k, choose_setting(gsm8k, None, None)).protocol == "gsm8k-8shot-cot"
    assert with_setting(gsm8k, choose_setting(gsm8k, 0, "direct")).protocol == "gsm8k-0shot-direct"
    (mmlu,) = resolve_tasks("mmlu", None)
    cot = with_setting(mmlu, choose_setting(mmlu, None, "cot"))
    assert (cot.protocol, cot.output_type, cot.primary_metric) == (
        "mmlu-4shot-flan-cot",
        "generate_until",
        "exact_match,get-answer",
    )
    assert with_setting(mmlu, choose_setting(mmlu, 0, None)).protocol == "mmlu-0shot-loglikelihood"


@pytest.mark.parametrize(
    ("tasks", "shots", "reasoning", "message"),
    [
        (
            "humaneval",
            0,
            None,
            "humaneval has one fixed protocol (humaneval-pass@k-sandboxed): drop --shots or the task",
        ),
        ("mmlu_gen", None, "cot", "mmlu_gen has no --reasoning cot: choose direct for it"),
        ("bbh", 5, None, "bbh (cot) takes --shots 0 to 3, not 5"),
        ("drop", 1, None, "drop (direct) takes --shots 0, 3, not 1"),
        ("gsm8k", None, "en-cot", "gsm8k has no --reasoning en-cot: choose cot or direct for it"),
    ],
)
def test_a_setting_a_task_lacks_is_refused_in_one_line(
    tasks: str, shots: int | None, reasoning: str | None, message: str
) -> None:
    (info,) = resolve_tasks(tasks, None)
    with pytest.raises(InstructEvalError) as raised:
        choose_setting(info, shots, reasoning)
    assert str(raised.value) == message


def _prompts(task: Any) -> list[str]:
    """The context of each of the first DOCS documents' requests."""
    task.build_all_requests(limit=DOCS, rank=0, world_size=1)
    contexts: dict[int, str] = {}
    for instance in task.instances:
        contexts.setdefault(instance.doc_id, instance.args[0])
    return [contexts[i] for i in sorted(contexts)]


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    return str(path)
