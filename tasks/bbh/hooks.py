"""BBH data: hub `lukaemon/bbh` or `bbh/bbh/<task>.json` locally; CoT exemplars from the shipped prompt files."""

import re
from pathlib import Path
from typing import Any

import datasets

from instructeval.data.source import DataSource, load_hub, read_json, to_dataset_dict

HUB_ID = "lukaemon/bbh"
PROMPTS_DIR = Path(__file__).resolve().parent / "cot-prompts"


def load(task: str, **metadata: Any) -> datasets.DatasetDict:
    """The task's test examples plus its three CoT exemplars (split `cot_exemplars`)."""
    description, exemplars = cot_prompt(task)
    source = DataSource.from_metadata(metadata)
    if source.kind == "hub":
        test = [dict(row) for row in load_hub(HUB_ID, task)["test"]]
    else:
        test = read_json(source.file(f"bbh/bbh/{task}.json", layout_hint="bbh/bbh/<task>.json"))["examples"]
    rows = [{"input": r["input"], "target": r["target"], "task_description": description} for r in test]
    shots = [{**shot, "task_description": description} for shot in exemplars]
    answers = [{**shot, "target": final_answer(shot["target"])} for shot in shots]
    return to_dataset_dict({"test": rows, "cot_exemplars": shots, "answer_exemplars": answers})


def final_answer(chain: str) -> str:
    """The answer a CoT exemplar ends with ("... So the answer is No." -> "No"): the answer-only exemplar."""
    return chain.rsplit("the answer is ", 1)[1].removesuffix(".")


def first_line(resps: list[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """Filter step of direct answers: the first line of each response, stripped, without a final period."""
    return [[r.strip().split("\n", 1)[0].strip().removesuffix(".") for r in group] for group in resps]


def setting_overrides(task: str, config: dict[str, Any], setting: Any) -> dict[str, Any]:
    """lm-eval config overrides for a setting; prompts as lm-eval's bbh_cot_zeroshot / bbh_fewshot /
    bbh_zeroshot word them (3-shot CoT is the template itself)."""
    if setting.reasoning == "cot":
        return {"doc_to_text": "Q: {{input}}\nA: Let's think step by step."} if setting.shots == 0 else {}
    return {
        "doc_to_text": "Q: {{input}}\nA:",
        "fewshot_split": "answer_exemplars",
        "target_delimiter": " ",
        "generation_kwargs": {"until": ["</s>", "<|im_end|>", "\n\n", "\nQ:"], "max_gen_toks": 64, "do_sample": False},
        "filter_list": [
            {
                "name": "get-answer",
                "filter": [{"function": "custom", "filter_fn": first_line}, {"function": "take_first"}],
            }
        ],
    }


def cot_prompt(task: str) -> tuple[str, list[dict[str, str]]]:
    """Parse cot-prompts/<task>.txt into its task description and Q/A exemplars (A without its lead-in)."""
    text = (PROMPTS_DIR / f"{task}.txt").read_text(encoding="utf-8")
    body = text.split("-----\n", 1)[1]
    description, _, shots_text = body.partition("\n\nQ: ")
    exemplars = []
    for block in re.split(r"\n\nQ: ", shots_text.strip()):
        question, answer = re.split(r"\nA: Let's think step by step\.[ \n]", block, maxsplit=1)
        exemplars.append({"input": question, "target": answer.strip()})
    return description.strip(), exemplars
