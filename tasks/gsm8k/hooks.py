"""GSM8K prompt settings (`--shots`, `--reasoning`); its data is read by the generic loader (metadata.data)."""

from typing import Any

ZERO_SHOT_COT = "Q: {{question}}\nA: Let's think step by step."
"""Kojima et al. 2022's zero-shot trigger, as lm-eval's gsm8k_cot_zeroshot words it."""


def setting_overrides(task: str, config: dict[str, Any], setting: Any) -> dict[str, Any]:
    """lm-eval config overrides for a setting: zero-shot CoT ends the prompt with the trigger; direct answers
    keep Wei et al.'s exemplar questions with only their final sentence ("The answer is N.", their standard
    prompting baseline)."""
    if setting.reasoning == "cot":
        return {"doc_to_text": ZERO_SHOT_COT} if setting.shots == 0 else {}
    samples = config["fewshot_config"]["samples"]
    direct = [{**shot, "target": "The answer is " + shot["target"].rsplit("The answer is ", 1)[1]} for shot in samples]
    return {"fewshot_config": {**config["fewshot_config"], "samples": direct}}
