"""LLM judge for the writing benchmark: rubric files, strict parsing, cache, cost, bias controls.

The judge reaches its models through `instructeval.models.chat_client` (HTTP or in-process).

report = grade_run(run_dir, JudgeOptions(judges=("openai:gpt-4o-mini",)))
save_writing_report(run_dir, report)
rich.print(format_table(report))
"""

from importlib import import_module
from typing import Any

# Exported name -> submodule. Imported on first use, so `import instructeval.judge.options` (the CLI's flags)
# does not pay for openai, scikit-learn and scipy.
_EXPORTS = {
    "JudgeOptions": "options",
    "grade_pairwise": "pairwise",
    "grade_run": "pointwise",
    "PairwiseReport": "report",
    "WritingReport": "report",
    "format_table": "report",
    "save_writing_report": "report",
    "Rubric": "rubric",
    "load_rubric": "rubric",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
