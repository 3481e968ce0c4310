"""Writing prompts (embedded set or IMPACT) as an lm-eval dataset; answer length as the only local metric."""

from pathlib import Path
from typing import Any

import datasets

from instructeval.writing import load_writing_prompts


def load(**metadata: Any) -> datasets.DatasetDict:
    """The prompt set named by the run's --writing-set (default: our embedded 200); --limit N: N per category."""
    data_dir = Path(metadata["data_dir"]) if metadata.get("data_dir") else None
    prompts = load_writing_prompts(
        str(metadata.get("writing_set") or "embedded"), data_dir=data_dir, limit_per_category=metadata.get("limit")
    )
    rows = [
        {"id": p.id, "category": p.category, "task_definition": p.task_definition, "prompt": p.prompt} for p in prompts
    ]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Words in the answer: kept to check the judge's length bias, not a quality score."""
    return {"answer_words": float(len(results[0].split()))}
