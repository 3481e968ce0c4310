"""HumanEval's sandboxed scoring; its data is read by the generic loader (metadata.data)."""

import re
from typing import Any

from instructeval.sandbox import SandboxLimits, check_humaneval_many, pass_at_k

PASS_AT = (1, 10, 100)
_FENCE = re.compile(r"```(?:python|py)?\n(.*?)(?:```|$)", re.S)


def completion_from_response(prompt: str, response: str, entry_point: str) -> str:
    """The code to append to the prompt: a chat answer's fenced block (whole function or body) or the raw text."""
    fenced = _FENCE.search(response)
    if fenced is None:
        return response
    code = fenced.group(1)
    # A fenced block that redefines the function replaces the stub: the prompt's docstring body stays valid.
    return "\n" + code if f"def {entry_point}(" in code else code


def process_results(doc: dict[str, Any], results: list[str]) -> dict[str, Any]:
    """Run every completion of this problem in the sandbox; pass@k for each k the sample count allows."""
    responses = results[0] if results and isinstance(results[0], list) else results
    completions = [completion_from_response(doc["prompt"], r, doc["entry_point"]) for r in responses]
    outcomes = check_humaneval_many([(doc, completion) for completion in completions], SandboxLimits())
    n, correct = len(outcomes), sum(o.passed for o in outcomes)
    scores: dict[str, Any] = {f"pass@{k}": pass_at_k(n, correct, k) for k in PASS_AT if k <= n}
    scores["sandbox"] = [
        {
            "status": o.status.value,
            "reason": o.reason,
            "seconds": round(o.wall_seconds, 3),
            "isolation": list(o.isolation),
        }
        for o in outcomes
    ]
    return scores


def share_contained(per_doc: list[list[dict[str, Any]]]) -> float:
    """Aggregate of the `sandbox` metric: the share of runs stopped by a limit rather than by a failed test."""
    runs = [run for doc_runs in per_doc for run in doc_runs]
    return sum(run["status"] not in ("passed", "failed") for run in runs) / max(len(runs), 1)
