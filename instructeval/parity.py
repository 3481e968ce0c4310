"""lm-eval's own built-in tasks pointed at local rows: the reference that parity checks compare our runs with.

`tests/test_parity.py` and `scripts/bench_mmlu.py` run these through `lm_eval.simple_evaluate` with its plain
`hf` backend. Only the data location changes; lm-eval's prompts stay as lm-eval ships them, except that MMLU is
set to 5 shots (lm-eval's default MMLU is 0-shot; our `mmlu` protocol is 5-shot from dev).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Sequence
from pathlib import Path

MMLU_SHOTS = 5


def _builtin_tasks_dir() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).parent / "tasks"


def _mmlu_rows(data_dir: Path, split: str) -> list[dict[str, object]]:
    with gzip.open(data_dir / "mmlu" / f"mmlu_{split}.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def _write_override(folder: Path, task: str, include: Path, data_files: dict[str, str], **extra: object) -> None:
    override = {
        "include": str(include),
        "task": task,
        "dataset_path": "json",
        "dataset_name": None,
        "dataset_kwargs": {"data_files": data_files},
        **extra,
    }
    (folder / f"{task}.yaml").write_text(json.dumps(override), encoding="utf-8")


def builtin_task_overrides(folder: Path, data_dir: Path, subjects: Sequence[str], *, gsm8k: bool = False) -> Path:
    """An include folder for lm-eval's TaskManager: `mmlu_<subject>` (5-shot) and optionally `gsm8k_cot`,
    reading the rows of `data_dir` (the layout of INSTRUCTEVAL_DATA_DIR) instead of the hub."""
    builtin = _builtin_tasks_dir()
    include = folder / "overrides"
    include.mkdir(parents=True)
    rows = {split: _mmlu_rows(data_dir, split) for split in ("test", "dev")} if subjects else {}
    for subject in subjects:
        files = {}
        for split in ("test", "dev"):
            path = folder / f"{subject}_{split}.jsonl"
            with path.open("w", encoding="utf-8") as out:
                for row in rows[split]:
                    if row["subject"] == subject:  # lm-eval's MMLU reads the answer as an index (cais/mmlu)
                        out.write(json.dumps({**row, "answer": "ABCD".index(str(row["answer"]))}) + "\n")
            files[split] = str(path)
        builtin_yaml = builtin / "mmlu" / "default" / f"mmlu_{subject}.yaml"
        _write_override(include, f"mmlu_{subject}", builtin_yaml, files, num_fewshot=MMLU_SHOTS)
    if gsm8k:
        test = str(data_dir / "gsm8k" / "test.jsonl")
        _write_override(include, "gsm8k_cot", builtin / "gsm8k" / "gsm8k-cot.yaml", {"test": test})
    return include
