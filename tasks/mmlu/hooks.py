"""MMLU data: hub `cais/mmlu`, or `mmlu/mmlu_{test,dev}.jsonl.gz` (letter answers) in a local folder."""

from typing import Any

import datasets

from instructeval.data.source import DataSource, load_hub, read_jsonl, to_dataset_dict

HUB_ID = "cais/mmlu"
LAYOUT = "mmlu/mmlu_test.jsonl.gz and mmlu/mmlu_dev.jsonl.gz"


def load(subject: str, **metadata: Any) -> datasets.DatasetDict:
    """One subject's test and dev splits as {question, subject, choices, answer: int}."""
    source = DataSource.from_metadata(metadata)
    if source.kind == "hub":
        hub = load_hub(HUB_ID, subject)
        return datasets.DatasetDict({"test": hub["test"], "dev": hub["dev"]})
    splits = {}
    for split in ("test", "dev"):
        rows = read_jsonl(source.file(f"mmlu/mmlu_{split}.jsonl.gz", layout_hint=LAYOUT))
        splits[split] = [_normalise(row) for row in rows if row["subject"] == subject]
    return to_dataset_dict(splits)


def _normalise(row: dict[str, Any]) -> dict[str, Any]:
    answer = row["answer"]
    return {
        "question": row["question"],
        "subject": row["subject"],
        "choices": list(row["choices"]),
        "answer": "ABCD".index(answer) if isinstance(answer, str) else int(answer),
    }


def setting_overrides(task: str, config: dict[str, Any], setting: Any) -> dict[str, Any]:
    """lm-eval config overrides for a setting. Direct: this template with `setting.shots` dev exemplars. CoT: the
    prompt fields of lm-eval's own mmlu_flan_cot_fewshot / mmlu_flan_cot_zeroshot task for the subject, read from
    the installed lm-eval (the chain-of-thought-hub exemplars of Fu et al., MIT), generated and scored on the
    text after "answer is"."""
    if setting.reasoning == "direct":
        return {}
    subject = config["dataset_kwargs"]["subject"]
    variant = "flan_cot_fewshot" if setting.shots else "flan_cot_zeroshot"
    builtin = _builtin_config(variant, subject)
    fewshot = builtin.get("fewshot_config", {"sampler": "first_n"})
    fewshot_built = _builtin_config("flan_cot_fewshot", subject)
    return {
        "output_type": "generate_until",
        "description": builtin["description"],
        "doc_to_text": builtin["doc_to_text"],
        "doc_to_target": fewshot_built["doc_to_target"],
        "doc_to_choice": None,
        "fewshot_split": None,  # the exemplars are the variant's own samples, not the dev split
        "fewshot_config": fewshot,
        "generation_kwargs": {**fewshot_built["generation_kwargs"], "until": ["</s>", "Q:", "<|im_end|>"]},
        "filter_list": fewshot_built["filter_list"],
        "metric_list": fewshot_built["metric_list"],
    }


def _builtin_config(variant: str, subject: str) -> dict[str, Any]:
    """lm-eval's installed YAML for `mmlu_<variant>_<subject>` with its includes merged."""
    from pathlib import Path

    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    path = Path(lm_eval.__file__).parent / "tasks" / "mmlu" / variant / f"mmlu_{subject}.yaml"
    config: dict[str, Any] = load_yaml(path, resolve_func=False)
    return config
