"""DROP data (hub `ucinlp/drop` or the simple-evals `drop/drop_v0_dev.jsonl.gz`) and official EM/F1 scoring."""

from typing import Any

import datasets
from lm_eval.tasks.drop.utils import get_metrics

from instructeval.data.source import DataSource, load_hub, read_jsonl, to_dataset_dict
from instructeval.errors import DataError

HUB_ID = "ucinlp/drop"
N_EXEMPLARS = 3


def load(**metadata: Any) -> datasets.DatasetDict:
    """Rows {passage, question, answers: [alternatives]}, split into exemplars and test by passage."""
    source = DataSource.from_metadata(metadata)
    if source.kind == "hub":
        rows = [_from_hub(r) for r in load_hub(HUB_ID)["validation"]]
    else:
        path = source.file("drop/drop_v0_dev.jsonl.gz", layout_hint="drop/drop_v0_dev.jsonl.gz (simple-evals)")
        rows = [_from_simple_evals(r) for r in read_jsonl(path)]
    exemplars: list[dict[str, Any]] = []
    for row in rows:
        if len(exemplars) < N_EXEMPLARS and all(row["passage"] != e["passage"] for e in exemplars):
            exemplars.append(row)
    held_out = {e["passage"] for e in exemplars}
    test = [r for r in rows if r["passage"] not in held_out]
    if not test:
        raise DataError(
            f"the DROP data has {len(rows)} questions, all on its {len(held_out)} few-shot passages: "
            f"supply questions on at least {N_EXEMPLARS + 1} distinct passages"
        )
    return to_dataset_dict({"test": test, "exemplars": exemplars})


def _from_simple_evals(row: dict[str, Any]) -> dict[str, Any]:
    passage_question = row["context"].removeprefix("Passage: ").removesuffix("\nAnswer:")
    passage, _, question = passage_question.rpartition("\nQuestion: ")
    return {"passage": passage, "question": question, "answers": row["ref_text"].split("|")}


def _from_hub(row: dict[str, Any]) -> dict[str, Any]:
    spans = row["answers_spans"]["spans"]
    return {"passage": row["passage"], "question": row["question"], "answers": [" and ".join(spans)]}


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """Official DROP EM and F1 against each gold alternative, keeping the best."""
    prediction = results[0].strip()
    best_em, best_f1 = 0.0, 0.0
    for gold in doc["answers"]:
        em, f1 = get_metrics(prediction, gold)
        best_em, best_f1 = max(best_em, em), max(best_f1, f1)
    return {"em": best_em, "f1": best_f1}
