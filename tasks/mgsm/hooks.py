"""MGSM data (hub `juletxara/mgsm` or `mgsm/mgsm_<lang>.tsv`) with native exemplars, and number scoring."""

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import datasets

from instructeval.data.source import DataSource, load_hub, read_tsv, to_dataset_dict

HUB_ID = "juletxara/mgsm"
EXEMPLARS = Path(__file__).resolve().parent / "exemplars.json"
_PREFIX = re.compile(r"^(.*?[:\uff1a])(\s*)(.*)$", re.S)  # ASCII or full-width colon (zh, ja)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def load(language: str, **metadata: Any) -> datasets.DatasetDict:
    """Test questions with their answer number, and the 8 native exemplars (split `exemplars`)."""
    table = json.loads(EXEMPLARS.read_text(encoding="utf-8"))
    shots = table["MGSM_EXEMPLARS"][language]
    q_prefix, a_prefix, exemplars = _exemplars([shots[str(i)] for i in range(1, 9)])
    _, _, english = _exemplars([table["MGSM_EXEMPLARS"]["en"][str(i)] for i in range(1, 9)])
    numbers = table["EXEMPLAR_NUMBER_ANSWERS"]
    source = DataSource.from_metadata(metadata)
    if source.kind == "hub":
        pairs = [(r["question"], r["answer_number"]) for r in load_hub(HUB_ID, language)["test"]]
    else:
        path = source.file(f"mgsm/mgsm_{language}.tsv", layout_hint="mgsm/mgsm_<lang>.tsv, question<TAB>number")
        pairs = [(q, a) for q, a in read_tsv(path)]
    common = {"q_prefix": q_prefix, "a_prefix": a_prefix, "language": language}
    test = [
        {**common, "question": q, "target": str(a), "answer_number": float(str(a).replace(",", ""))} for q, a in pairs
    ]
    shots_rows = [{**common, **shot, "answer_number": 0.0} for shot in exemplars]
    en_cot = [{**row, "target": chain["target"]} for row, chain in zip(shots_rows, english, strict=True)]
    direct = [{**row, "target": f" {number}"} for row, number in zip(shots_rows, numbers, strict=True)]
    return to_dataset_dict(
        {"test": test, "exemplars": shots_rows, "en_cot_exemplars": en_cot, "direct_exemplars": direct}
    )


def setting_overrides(task: str, config: dict[str, Any], setting: Any) -> dict[str, Any]:
    """lm-eval config overrides for a setting. Zero-shot prompts are lm-eval's mgsm_native_cot / mgsm_en_cot /
    mgsm_direct, their prefixes read from the installed lm-eval. Few-shot: native CoT is the template (Shi et al.'s
    exemplars); English CoT keeps the native questions with the English chains after "Step-by-Step Answer:";
    direct gives the exemplars' numbers after the language's "Answer:" as lm-eval's mgsm_direct words it."""
    language = config["dataset_kwargs"]["language"]
    variant = {"cot": "native_cot", "en-cot": "en_cot", "direct": "direct"}[setting.reasoning]
    if setting.shots == 0:
        question, answer = lm_eval_prefixes(variant, language)
        return {"doc_to_text": question + "{{question}}\n" + answer}
    if setting.reasoning == "cot":
        return {}
    answer = lm_eval_prefixes(variant, language)[1]
    split = {"en-cot": "en_cot_exemplars", "direct": "direct_exemplars"}[setting.reasoning]
    return {"doc_to_text": "{{q_prefix}}{{question}}\n" + answer, "fewshot_split": split}


def lm_eval_prefixes(variant: str, language: str) -> tuple[str, str]:
    """The question and answer prefixes of lm-eval's installed mgsm_<variant>_<language> task."""
    import lm_eval
    from lm_eval.tasks._yaml_loader import load_yaml

    path = Path(lm_eval.__file__).parent / "tasks" / "mgsm" / variant / f"mgsm_{variant}_{language}.yaml"
    template = load_yaml(path, resolve_func=False)["doc_to_text"]
    found = re.search(r'\{\{"([^"]+)"\+question\+"\\n([^"]+)"\}\}\{% endif', template)
    assert found, f"{path}: doc_to_text no longer has the shape question prefix + question + answer prefix"
    return found.group(1), found.group(2)


def _exemplars(shots: list[dict[str, str]]) -> tuple[str, str, list[dict[str, str]]]:
    """Split the native 'Question:'/'Step-by-Step Answer:' prefixes off the exemplar texts."""
    q_match, a_match = _PREFIX.match(shots[0]["q"]), _PREFIX.match(shots[0]["a"])
    assert q_match and a_match, "exemplars.json must start questions and answers with a 'Label:' prefix"
    q_prefix = q_match.group(1) + q_match.group(2)
    a_prefix = a_match.group(1)
    rows = []
    for shot in shots:
        question = shot["q"].removeprefix(q_prefix)
        answer = shot["a"].removeprefix(a_prefix)
        rows.append({"question": question, "target": answer})
    return q_prefix, a_prefix, rows


def final_numbers(resps: Iterable[list[str]], docs: list[dict[str, Any]]) -> list[list[str]]:
    """Filter step: each response's last number as written ('' when it has none), what scoring and a vote use."""
    return [[final_number_text(response) for response in group] for group in resps]


def final_number_text(response: str) -> str:
    """The last number in the response as written (CoT answers end with it), or ''."""
    numbers = _NUMBER.findall(response)
    return numbers[-1] if numbers else ""


def extract_number(response: str) -> float | None:
    """The last number in the response as a float, or None."""
    text = final_number_text(response)
    return float(text.replace(",", "")) if text else None


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Accuracy: the extracted number equals the gold number."""
    predicted = extract_number(results[0])
    return {"acc": float(predicted is not None and abs(predicted - doc["answer_number"]) < 1e-6)}
