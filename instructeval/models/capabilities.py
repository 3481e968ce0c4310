"""What a backend can score: chat-only APIs give no prompt log-probabilities, so log-likelihood tasks are refused."""

from __future__ import annotations

from instructeval.errors import InstructEvalError
from instructeval.models.spec import ModelSpec
from instructeval.registry import TaskInfo, suites

GENERATIVE_VERSIONS = {"mmlu": "mmlu_gen"}
"""Log-likelihood tasks with a generative twin (same prompt, the answer letter generated instead of scored)."""

GENERATIVE_SUITES = {"problem-solving": "problem-solving-generative"}
OPEN_WEIGHTS = "hf:, vllm:, or a server's /completions via openai-compatible:"


def gives_prompt_logprobs(spec: ModelSpec) -> bool:
    """Whether the backend can score a continuation: local weights, or a server's /completions with echo."""
    return spec.kind != "openai"


def check_scorable(spec: ModelSpec, infos: list[TaskInfo], suite: str | None) -> None:
    """Refuse, before anything runs, log-likelihood tasks on a model that cannot give prompt log-probabilities."""
    if gives_prompt_logprobs(spec):
        return
    refused = {_shown(info): generative_version(info) for info in infos if info.scores_loglikelihood}
    if not refused:
        return
    why = (
        f"{spec} gives no prompt log-probabilities (chat completions only), "
        f"which {', '.join(refused)} {'needs' if len(refused) == 1 else 'need'}"
    )
    if suite is not None:
        alternative = GENERATIVE_SUITES.get(suite)
        fix = (
            f"run --suite {alternative} ({', '.join(suites()[alternative])})"
            if alternative
            else "choose generative tasks with --tasks (see `instructeval tasks`)"
        )
        raise InstructEvalError(f"--suite {suite}: {why}: {fix}, or run them on open weights ({OPEN_WEIGHTS})")
    fixes = [f"run {twin} instead of {name}" for name, twin in refused.items() if twin]
    untwinned = [name for name, twin in refused.items() if not twin]
    if untwinned:
        fixes.append(f"drop {', '.join(untwinned)} (no generative version) or run on open weights ({OPEN_WEIGHTS})")
    raise InstructEvalError(f"{why}: {'; '.join(fixes)}")


def _shown(info: TaskInfo) -> str:
    return ", ".join(info.selected) or info.name


def generative_version(info: TaskInfo) -> str | None:
    """The generative twin of a log-likelihood task or of its selected subtasks (mmlu_anatomy -> mmlu_gen_anatomy)."""
    twin = GENERATIVE_VERSIONS.get(info.name)
    if twin is None or not info.selected:
        return twin
    return ",".join(twin + name.removeprefix(info.name) for name in info.selected)


def check_api_flags(spec: ModelSpec, infos: list[TaskInfo], tokenizer: str | None, chat_template: bool | None) -> None:
    """Refuse --tokenizer where nothing is tokenized here, and --no-chat-template on chat-only models."""
    if chat_template is False and spec.kind == "openai":
        raise InstructEvalError(f"{spec} is a chat model and always applies its chat template: drop --no-chat-template")
    if tokenizer is None:
        return
    if spec.kind != "openai-compatible":
        raise InstructEvalError(
            f"--tokenizer applies to openai-compatible: models only ({spec.kind} models bring their own): drop it"
        )
    if not any(info.scores_loglikelihood for info in infos) and chat_template is not False:
        raise InstructEvalError(
            "--tokenizer encodes log-likelihood and plain (--no-chat-template) prompts, and this run has neither: "
            "drop it"
        )
