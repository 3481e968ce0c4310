"""`--self-consistency K` on every chain-of-thought setting of every generation task (mmlu's CoT, bbh's CoT, gsm8k's
CoT, mgsm's native and English CoT; zero-shot and few-shot): the maj@K vote of each setting's own loaded config
counts designed answers, and one `--grid --self-consistency 2` run on the tiny Llama samples K chains in each CoT
setting while the direct settings stay greedy."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_checks import run_args, run_cli
from lm_eval.api.instance import Instance

from instructeval.evaluator import RunOptions
from instructeval.external_tasks import task_manager
from instructeval.overrides import apply_overrides
from instructeval.registry import TaskInfo, resolve_tasks
from instructeval.results import load_results, read_samples
from instructeval.settings import Setting, lm_eval_specs, setting_space, with_setting

K = 3
SUBTASKS = ("mmlu_anatomy", "bbh_navigate", "gsm8k", "mgsm_de")
"""One subtask of each task with chain-of-thought settings."""

DESIGNED = {  # three chains in each task's answer format: the first answer differs from the other two (the vote)
    "mmlu": (["So the answer is (C).", "A is out. So the answer is (B).", "It is B. So the answer is (B)."], "(B)"),
    "bbh": (["So the answer is Yes.", "So the answer is No.", "Turning back. So the answer is No."], "No"),
    "gsm8k": (["The answer is 9 pens.", "12 - 4 = 8. The answer is 8 pens.", "2 * 4 = 8. The answer is 8 pens."], "8"),
    "mgsm": (["Es sind 7.", "3 + 5 = 8", "Also 2 * 4 = 8"], "8"),
}


def _cot_settings() -> list[tuple[TaskInfo, Setting]]:
    """Each subtask under every non-direct reasoning mode, zero-shot and with the grid's few-shot count."""
    found = []
    for name in SUBTASKS:
        (info,) = resolve_tasks(name, None)
        space = setting_space(info)
        assert space is not None, name
        found += [(info, setting) for setting in space.grid() if setting.reasoning != "direct"]
    return found


COT_SETTINGS = _cot_settings()


@pytest.mark.parametrize(
    ("info", "setting"), COT_SETTINGS, ids=[f"{i.name}-{s.shots}shot-{s.reasoning}" for i, s in COT_SETTINGS]
)
def test_the_vote_of_each_cot_setting_counts_its_extracted_answers(
    info: TaskInfo, setting: Setting, data_dir: Path
) -> None:
    task_info = with_setting(info, setting)
    metadata = {"data_source": "local", "data_dir": str(data_dir)}
    loaded = task_manager(task_info, metadata, None).load(lm_eval_specs(task_info))["tasks"]
    recorded = apply_overrides(loaded, RunOptions(model="demo", self_consistency=K), seed=1)
    assert recorded["repeats"] == K and recorded["do_sample"] is True
    texts, expected = DESIGNED[task_info.name.partition("@")[0]]
    for name, task in loaded.items():
        assert task.get_config("repeats") == K, name
        votes = [f for f in task._filters if f.name.startswith(f"maj@{K}")]
        assert votes and len(votes) == len(task._filters), name  # every extraction is voted on
        instance = Instance(request_type="generate_until", doc={}, arguments=("", {}), idx=0, resps=list(texts))
        for vote in votes:
            vote.apply([instance])
        assert instance.filtered_resps == dict.fromkeys(instance.filtered_resps, expected), name


def test_a_grid_with_self_consistency_samples_every_cot_setting(
    tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    args = run_args(tiny_llama, tmp_path, "grid-sc", ",".join(SUBTASKS), "--grid", "--self-consistency", "2")
    run_cli([*args, "--limit", "1", "--data-dir", str(data_dir)])
    (run_dir,) = tmp_path.glob("*/grid-sc")
    results = load_results(run_dir)
    cot = {key for key, task in results.tasks.items() if task.reasoning != "direct"}
    assert len(cot) == len(COT_SETTINGS) and len(results.tasks) > len(cot)
    for key, task in results.tasks.items():
        voted = key in cot
        assert task.self_consistency == (2 if voted else None), key
        assert task.generation_kwargs.get("repeats", 1) == (2 if voted else 1), key
        assert ("maj@2" in task.primary_metric) == voted, key
        records = read_samples(run_dir, key)
        generated = [r for r in records if r["choice_loglikelihoods"] is None]  # mmlu's direct: log-likelihood
        assert records and all(len(r["responses"]) == (2 if voted else 1) for r in generated), key
        assert len(generated) == len(records) or not voted, key
        assert all(task.primary_metric in r["scores"] for r in records), key
    for key in ("mmlu@4shot-cot", "gsm8k"):  # the few-shot CoT prompts hold the grid's exemplars, then the question
        (record,) = read_samples(run_dir, key)
        assert record["prompt"].count("\n\nQ:") == results.tasks[key].num_fewshot, key


def test_reasoning_cot_with_self_consistency_votes_in_each_tasks_own_cot_protocol(
    tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """The issue's `--tasks gsm8k,mgsm,bbh --reasoning cot --self-consistency K`: CoT is these tasks' protocol, so each
    keeps its own name and few-shot count, now voted over K chains."""
    tasks = "gsm8k,mgsm_en,bbh_navigate"
    args = run_args(tiny_llama, tmp_path, "cot-sc", tasks, "--reasoning", "cot", "--self-consistency", "2")
    run_cli([*args, "--limit", "1", "--data-dir", str(data_dir)])
    (run_dir,) = tmp_path.glob("*/cot-sc")
    results = load_results(run_dir)
    expected = {"gsm8k": ("gsm8k-8shot-cot", 8), "mgsm": ("mgsm-8shot-native-cot", 8), "bbh": ("bbh-3shot-cot", 3)}
    assert {key: (t.protocol, t.num_fewshot) for key, t in results.tasks.items()} == expected
    for key, task in results.tasks.items():
        assert task.self_consistency == 2 and "maj@2" in task.primary_metric, key
        assert all(len(r["responses"]) == 2 for r in read_samples(run_dir, key)), key
