"""What a backend can score: chat-only APIs give no prompt log-probabilities, so log-likelihood tasks are refused."""

from __future__ import annotations

from instructeval.errors import InstructEvalError
from instructeval.models.spec import ModelSpec
from instructeval.registry import SUITES, TaskInfo

GENERATIVE_VERSIONS = {"mmlu": "mmlu_gen"}
"""Log-likelihood tasks with a generative twin (same prompt, the answer letter generated instead of scored)."""

GENERATIVE_SUITES = {"problem-solving": "problem-solving-generative"}


def gives_prompt_logprobs(spec: ModelSpec) -> bool:
    """Whether the backend can score a continuation: local weights, or a server's /completions with echo."""
    return spec.kind != "openai"


def check_scorable(spec: ModelSpec, infos: list[TaskInfo], suite: str | None) -> None:
    """Refuse, before anything runs, log-likelihood tasks on a model that cannot give prompt log-probabilities."""
    if gives_prompt_logprobs(spec):
        return
    refused = [info for info in infos if info.scores_loglikelihood]
    if not refused:
        return
    names = ", ".join(info.name for info in refused)
    why = f"{spec} gives no prompt log-probabilities (chat completions only), which {names} need"
    if suite is not None:
        alternative = GENERATIVE_SUITES.get(suite)
        fix = f"run --suite {alternative} ({', '.join(SUITES[alternative])})" if alternative else "pick other tasks"
        raise InstructEvalError(f"--suite {suite}: {why}: {fix}, or serve open weights via openai-compatible:")
    twins = {info.name: generative_version(info) for info in refused}
    fixes = [f"run {twin} instead of {name}" for name, twin in twins.items() if twin]
    untwinned = [name for name, twin in twins.items() if not twin]
    if untwinned:
        fixes.append(f"drop {', '.join(untwinned)} (no generative version) or score it on open weights")
    fix = "; ".join(fixes)
    raise InstructEvalError(f"{why}: {fix}")


def generative_version(info: TaskInfo) -> str | None:
    """The generative twin of a log-likelihood task or of its selected subtasks (mmlu_anatomy -> mmlu_gen_anatomy)."""
    twin = GENERATIVE_VERSIONS.get(info.name)
    if twin is None or not info.selected:
        return twin
    return ",".join(twin + name.removeprefix(info.name) for name in info.selected)


def check_tokenizer_flag(spec: ModelSpec, tokenizer: str | None, infos: list[TaskInfo]) -> None:
    """--tokenizer only encodes openai-compatible log-likelihood prompts; anywhere else it would be ignored."""
    if tokenizer is None:
        return
    if spec.kind != "openai-compatible":
        raise InstructEvalError(
            f"--tokenizer applies to openai-compatible: models only ({spec.kind} models bring their own): drop it"
        )
    if not any(info.scores_loglikelihood for info in infos):
        raise InstructEvalError("--tokenizer encodes log-likelihood prompts and no chosen task has any: drop it")
