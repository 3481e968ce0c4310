"""IFEval data (hub `google/IFEval` or `ifeval/input_data.jsonl`) and its verdicts from instructeval.ifeval."""

import json
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import datasets

from instructeval.data.source import DataSource, load_hub, read_jsonl, to_dataset_dict
from instructeval.ifeval import verdicts
from instructeval.results import SampleRecord
from instructeval.score import Score
from instructeval.scoring import estimate

HUB_ID = "google/IFEval"
INSTRUCTION_METRICS = ("inst_level_strict_acc", "inst_level_loose_acc")


def load(**metadata: Any) -> datasets.DatasetDict:
    """The 541 prompts as {key, prompt, instruction_id_list, kwargs_json}: each instruction's kwargs, only the keys
    its check takes, as JSON (the hub's rows pad every kwargs dict with null keys)."""
    source = DataSource.from_metadata(metadata)
    if source.kind == "hub":
        rows = [dict(row) for row in load_hub(HUB_ID)["train"]]
    else:
        rows = list(read_jsonl(source.file("ifeval/input_data.jsonl", layout_hint="ifeval/input_data.jsonl")))
    docs = [
        {
            "key": int(row["key"]),
            "prompt": row["prompt"],
            "instruction_id_list": list(row["instruction_id_list"]),
            "kwargs_json": json.dumps([{k: v for k, v in kw.items() if v is not None} for kw in row["kwargs"]]),
        }
        for row in rows
    ]
    return to_dataset_dict({"test": docs})


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, Any]:
    """Prompt level: every instruction followed (0/1); instruction level: one verdict per instruction."""
    strict, loose = verdicts(doc["instruction_id_list"], json.loads(doc["kwargs_json"]), results[0])
    return {
        "prompt_level_strict_acc": float(all(strict)),
        "inst_level_strict_acc": strict,
        "prompt_level_loose_acc": float(all(loose)),
        "inst_level_loose_acc": loose,
    }


def mean_of_all(items: Sequence[Sequence[bool]]) -> float:
    """lm-eval's aggregation of the instruction-level lists: the share of all instructions followed."""
    flat = [verdict for group in items for verdict in group]
    return sum(flat) / len(flat)


def extra_scores(
    records: Sequence[SampleRecord], seed: int
) -> tuple[dict[str, Score], dict[str, dict[str, dict[str, Score]]]]:
    """Instruction-level accuracy (clustered by prompt: one response answers all its instructions), overall and
    per instruction kind."""
    metrics: dict[str, Score] = {}
    by_kind: dict[str, dict[str, Score]] = defaultdict(dict)
    for metric in INSTRUCTION_METRICS:
        key = f"{metric},none"
        values, clusters, kinds = [], [], []
        for record in records:
            for kind, verdict in zip(record.target.split(","), record.details[key], strict=True):
                values.append(float(verdict))
                clusters.append(record.doc_hash)
                kinds.append(kind)
        metrics[key] = estimate(values, seed, clusters)
        for kind in sorted(set(kinds)):
            chosen = [i for i, k in enumerate(kinds) if k == kind]
            by_kind[kind][key] = estimate([values[i] for i in chosen], seed, [clusters[i] for i in chosen])
    return metrics, {"instruction": dict(by_kind)}
