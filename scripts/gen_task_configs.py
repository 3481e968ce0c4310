"""Write the per-subject/per-language task YAMLs and their group files under tasks/ (run after editing lists)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

TASKS = Path(__file__).resolve().parent.parent / "tasks"

MMLU_CATEGORIES: dict[str, list[str]] = {
    "stem": [
        "abstract_algebra",
        "anatomy",
        "astronomy",
        "college_biology",
        "college_chemistry",
        "college_computer_science",
        "college_mathematics",
        "college_physics",
        "computer_security",
        "conceptual_physics",
        "electrical_engineering",
        "elementary_mathematics",
        "high_school_biology",
        "high_school_chemistry",
        "high_school_computer_science",
        "high_school_mathematics",
        "high_school_physics",
        "high_school_statistics",
        "machine_learning",
    ],
    "humanities": [
        "formal_logic",
        "high_school_european_history",
        "high_school_us_history",
        "high_school_world_history",
        "international_law",
        "jurisprudence",
        "logical_fallacies",
        "moral_disputes",
        "moral_scenarios",
        "philosophy",
        "prehistory",
        "professional_law",
        "world_religions",
    ],
    "social_sciences": [
        "econometrics",
        "high_school_geography",
        "high_school_government_and_politics",
        "high_school_macroeconomics",
        "high_school_microeconomics",
        "high_school_psychology",
        "human_sexuality",
        "professional_psychology",
        "public_relations",
        "security_studies",
        "sociology",
        "us_foreign_policy",
    ],
    "other": [
        "business_ethics",
        "clinical_knowledge",
        "college_medicine",
        "global_facts",
        "human_aging",
        "management",
        "marketing",
        "medical_genetics",
        "miscellaneous",
        "nutrition",
        "professional_accounting",
        "professional_medicine",
        "virology",
    ],
}
BBH_TASKS = sorted(p.stem for p in (TASKS / "bbh" / "cot-prompts").glob("*.txt"))
MGSM_LANGUAGES = ["bn", "de", "en", "es", "fr", "ja", "ru", "sw", "te", "th", "zh"]

MMLU_DATA = {"hub": "cais/mmlu", "local": {"test": "mmlu/mmlu_test.jsonl.gz", "dev": "mmlu/mmlu_dev.jsonl.gz"}}
MMLU_DEMO = ["high_school_geography", "college_biology"]
GROUPS: dict[str, dict[str, object]] = {
    "mmlu": {
        "protocol": "mmlu-5shot-loglikelihood",
        "label": "MMLU",
        "description": "57 subjects, 5-shot from each subject's dev split, log-likelihood of ' A'..' D' after "
        "'Answer:'; prompts byte-identical to lm-eval's mmlu. Micro average, per subject and per category.",
        "primary_metric": "acc,none",
        "aggregation": "micro",
        "suites": {"problem-solving": [], "holistic": [], "demo": [f"mmlu_{s}" for s in MMLU_DEMO]},
        "order": 10,
        "data": MMLU_DATA,
        "settings": {  # --shots / --reasoning; hooks.setting_overrides writes each prompt
            "default": {"shots": 5, "reasoning": "direct"},
            "direct": {"shots": 5, "protocol": "mmlu-{shots}shot-loglikelihood", "output_type": "multiple_choice"},
            "cot": {
                "shots": 5,
                "few_shots": 4,
                "protocol": "mmlu-{shots}shot-flan-cot",
                "primary_metric": "exact_match,get-answer",
            },
        },
    },
    "mmlu_gen": {
        "protocol": "mmlu-5shot-generated-letter",
        "label": "MMLU (generated)",
        "description": "The same prompt as mmlu; the answer letter is generated (greedy, first standalone A-D), "
        "for API models that give no prompt log-probabilities.",
        "primary_metric": "exact_match,first-letter",
        "aggregation": "micro",
        "suites": {"problem-solving-generative": [], "demo": [f"mmlu_gen_{s}" for s in MMLU_DEMO]},
        "order": 15,
        "data": MMLU_DATA,
        "settings": {
            "default": {"shots": 5, "reasoning": "direct"},
            "direct": {"shots": 5, "protocol": "mmlu-{shots}shot-generated-letter"},
        },
    },
    "bbh": {
        "protocol": "bbh-3shot-cot",
        "label": "BBH",
        "description": "27 BIG-Bench Hard tasks, the published 3-shot chain-of-thought prompts, greedy, exact "
        "match on the text after 'the answer is'; macro average. --self-consistency K: maj@K.",
        "primary_metric": "exact_match,get-answer",
        "aggregation": "macro",
        "suites": {
            "problem-solving": [],
            "problem-solving-generative": [],
            "holistic": [],
            "demo": ["bbh_boolean_expressions", "bbh_sports_understanding"],
        },
        "order": 20,
        "data": {
            "hub": "lukaemon/bbh",
            "hub_config": "{task}",
            "local": {"test": "bbh/bbh/{task}.json"},
            "note": "CoT prompts shipped in tasks/bbh/cot-prompts",
        },
        "settings": {
            "default": {"shots": 3, "reasoning": "cot"},
            "cot": {"shots": 3, "protocol": "bbh-{shots}shot-cot"},
            "direct": {"shots": 3, "protocol": "bbh-{shots}shot-answer-only"},
        },
    },
    "mgsm": {
        "protocol": "mgsm-8shot-native-cot",
        "label": "MGSM",
        "description": "GSM8K in 11 languages, 8-shot chain of thought with the native-language exemplars of Shi "
        "et al. 2023, greedy, last number; accuracy per language, macro average. --self-consistency K: maj@K.",
        "primary_metric": "acc,none",
        "aggregation": "macro",
        "suites": {
            "problem-solving": [],
            "problem-solving-generative": [],
            "holistic": [],
            "demo": ["mgsm_en", "mgsm_de"],
        },
        "order": 40,
        "data": {
            "hub": "juletxara/mgsm",
            "hub_config": "{language}",
            "local": {"test": "mgsm/mgsm_{language}.tsv"},
            "note": "exemplars shipped in tasks/mgsm",
        },
        "settings": {
            "default": {"shots": 8, "reasoning": "cot"},
            "cot": {"shots": 8, "protocol": "mgsm-{shots}shot-native-cot"},
            "en-cot": {"shots": 8, "protocol": "mgsm-{shots}shot-en-cot"},
            "direct": {"shots": 8, "protocol": "mgsm-{shots}shot-direct"},
        },
    },
}


HEADER = "# Generated by scripts/gen_task_configs.py: edit the template or the script, not this file.\n"


def _yaml(payload: dict[str, object]) -> str:
    return HEADER + yaml.safe_dump(payload, sort_keys=False, allow_unicode=True)


def _group(name: str, subtasks: list[str], breakdown_kind: str) -> str:
    info = GROUPS[name]
    metric = str(info["primary_metric"]).split(",")[0]
    return _yaml(
        {
            "group": name,
            "task": subtasks,
            "aggregate_metric_list": [{"metric": metric, "weight_by_size": info["aggregation"] == "micro"}],
            "metadata": {"version": 1.0, "breakdown_kind": breakdown_kind, **info},
        }
    )


def _subtask(task: str, alias: str, kwargs: dict[str, str], breakdown: dict[str, str], **extra: str) -> str:
    return _yaml(
        {
            "include": "../_template.yaml",
            "task": task,
            "task_alias": alias,
            "dataset_kwargs": kwargs,
            **extra,
            "metadata": {"version": 1.0, "breakdown": breakdown},
        }
    )


def render() -> dict[Path, str]:
    """Every generated YAML: path -> content."""
    files: dict[Path, str] = {}
    for family in ("mmlu", "mmlu_gen"):
        names = []
        for category, subjects in MMLU_CATEGORIES.items():
            for subject in subjects:
                task = f"{family}_{subject}"
                names.append(task)
                about = f"The following are multiple choice questions (with answers) about {subject.replace('_', ' ')}."
                files[TASKS / family / "subjects" / f"{task}.yaml"] = _subtask(
                    task,
                    subject,
                    {"subject": subject},
                    {"subject": subject, "category": category},
                    description=about + "\n\n",
                )
        files[TASKS / family / f"{family}.yaml"] = _group(family, sorted(names), "subject")
    for name in BBH_TASKS:
        files[TASKS / "bbh" / "tasks" / f"bbh_{name}.yaml"] = _subtask(
            f"bbh_{name}", name, {"task": name}, {"task": name}
        )
    files[TASKS / "bbh" / "bbh.yaml"] = _group("bbh", [f"bbh_{t}" for t in BBH_TASKS], "task")
    for language in MGSM_LANGUAGES:
        files[TASKS / "mgsm" / "languages" / f"mgsm_{language}.yaml"] = _subtask(
            f"mgsm_{language}", language, {"language": language}, {"language": language}
        )
    files[TASKS / "mgsm" / "mgsm.yaml"] = _group("mgsm", [f"mgsm_{lang}" for lang in MGSM_LANGUAGES], "language")
    return files


def stale(files: dict[Path, str]) -> list[Path]:
    """Generated files whose content differs from the generator's, and generated files it no longer makes."""
    on_disk = {p for p in TASKS.rglob("*.yaml") if p.read_text(encoding="utf-8").startswith(HEADER)}
    changed = [p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text]
    return sorted({*changed, *(on_disk - set(files))})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="only list the files that are out of date (exit 1)")
    args = parser.parse_args()
    files = render()
    if args.check:
        outdated = stale(files)
        for path in outdated:
            print(f"out of date: {path.relative_to(TASKS.parent)} (run python scripts/gen_task_configs.py)")
        return 1 if outdated else 0
    for path in stale(files):
        if path not in files:
            path.unlink()
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
