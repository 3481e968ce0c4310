"""The test examples of `run`'s tasks as text: each example's question (its prompt) and its answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from instructeval.data.source import DataSource
from instructeval.paths import TASKS_DIR
from instructeval.registry import TaskInfo


@dataclass(frozen=True)
class TestExample:
    """One test example; (subtask, doc_id, doc_hash) are the keys of a run's samples/<task>.jsonl."""

    __test__ = False  # not a pytest test class

    task: str
    subtask: str
    doc_id: int
    doc_hash: str
    question: str
    answer: str

    @property
    def text(self) -> str:
        """What is checked against the corpus: the question, then the answer."""
        return f"{self.question}\n{self.answer}" if self.answer else self.question


def load_examples(info: TaskInfo, source: DataSource, limit: int | None) -> list[TestExample]:
    """The examples `run` would score for this task (the same split, order, --limit and doc hashes)."""
    from lm_eval.tasks import TaskManager

    metadata = {"data_source": source.kind, "data_dir": str(source.root) if source.root else None, "limit": limit}
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    loaded = manager.load(info.lm_eval_names)
    examples = []
    for subtask, task in loaded["tasks"].items():
        limits_itself = bool((task.config.metadata or {}).get("limit_per"))  # the data hook applied --limit
        for doc_id, doc in enumerate(task.eval_docs):
            if limit is not None and not limits_itself and doc_id >= limit:
                break
            examples.append(
                TestExample(info.name, subtask, doc_id, doc_hash(doc), _text(task.doc_to_text(doc)), _answer(task, doc))
            )
    return examples


def doc_hash(doc: Any) -> str:
    """lm-eval's doc hash, as it is logged in every sample."""
    from lm_eval.utils import handle_non_serializable, hash_string

    return str(hash_string(json.dumps(doc, indent=2, default=handle_non_serializable, ensure_ascii=False)))


def _answer(task: Any, doc: Any) -> str:
    """The reference answer's text; for multiple choice the chosen option's text."""
    target = task.doc_to_target(doc)
    if task.OUTPUT_TYPE == "multiple_choice" and isinstance(target, int):
        choices = task.doc_to_choice(doc)
        return str(choices[target]) if 0 <= target < len(choices) else ""
    if isinstance(target, list):
        return "\n".join(str(t) for t in target)
    return _text(target)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)
