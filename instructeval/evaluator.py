"""The evaluator: `evaluate(RunOptions(...))` runs the selected tasks into one run folder (what `run` calls)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from instructeval.data.source import DataSource, configured_source
from instructeval.errors import InstructEvalError
from instructeval.external_tasks import is_external, resolve_all_tasks, task_manager
from instructeval.grid import expand_grid
from instructeval.hashing import sha256_text, sha256_tree
from instructeval.models.capabilities import check_api_flags, check_scorable
from instructeval.models.spec import ModelSpec, parse_model_spec
from instructeval.preflight import (
    check_backend_flags,
    check_batch_size,
    check_data_layout,
    check_data_parallel,
    check_limit,
    check_max_gen_toks,
    check_model,
    check_sampling,
)
from instructeval.registry import DEMO_LIMIT, DEMO_MAX_GEN_TOKS, TaskInfo, subtask_breakdown
from instructeval.results import ModelInfo, RunResults, TaskResult
from instructeval.run import Run, run_info, start_run
from instructeval.settings import choose_setting, lm_eval_specs, reasons_in_chains, specs_hash, with_setting
from instructeval.task_hooks import task_hooks
from instructeval.terminal import TaskBars
from instructeval.writing.report import PairwiseReport, WritingReport, with_report

if TYPE_CHECKING:
    from instructeval.models.backends import BackendOptions


@dataclass(frozen=True)
class RunOptions:
    """Everything `instructeval run` accepts."""

    model: str
    tasks: str | None = None
    suite: str | None = None
    output: Path = Path("runs")
    data_dir: Path | None = None
    limit: int | None = None
    batch_size: str = "auto"
    chat_template: bool | None = None
    seed: int = 1234
    resume: bool = False
    run_name: str | None = None
    adapter: Path | None = None
    device: str | None = None
    tensor_parallel_size: int = 1
    data_parallel_size: int = 1  # vllm: engine replicas sharing the requests (one model that fits one device)
    shots: int | None = None  # --shots N: exemplars per prompt (None: each task's protocol decides)
    reasoning: str | None = None  # --reasoning direct | cot | en-cot (None: each task's protocol decides)
    include_path: Path | None = None  # --include-path: a folder of the user's own lm-eval task YAMLs
    grid: bool = False  # --grid: every task in zero/few-shot x direct/CoT (each under `<task>@<setting>`)
    self_consistency: int | None = None
    samples: int | None = None
    temperature: float | None = None
    max_gen_toks: int | None = None
    prefix_cache: bool | None = None  # None: on for decoder-only hf models, off where it does not apply
    writing_set: str = "embedded"
    judge: Any = None  # instructeval.judge.JudgeOptions: grade judged tasks (writing) right after generation
    reference: Path | None = None  # writing_pairwise: the reference run whose answers ours are judged against
    tokenizer: str | None = None  # openai-compatible: encodes log-likelihood prompts (default: the served model)
    command: list[str] = field(default_factory=list)


@dataclass
class TaskOutcome:
    """What one finished task contributes to the end-of-run table."""

    info: TaskInfo
    result: TaskResult


Progress = Callable[[str], None]


def evaluate(options: RunOptions, progress: Progress = print, lm: Any = None, bars: TaskBars | None = None) -> Path:
    """Run every selected task, writing results.json and samples/ as each task finishes; return the run folder.

    `lm` is a model the caller has already built from the same spec and backend options (a sweep evaluates
    several runs on one load); it is used as is and left running. `bars` shows a progress bar per task (the
    CLI's); without it each task starts with a line through `progress`.
    """
    check_limit(options.limit)
    check_max_gen_toks(options.max_gen_toks)
    check_batch_size(options.batch_size)
    if options.suite == "demo" and options.max_gen_toks is None:
        options = replace(options, max_gen_toks=DEMO_MAX_GEN_TOKS)
    spec = parse_model_spec(options.model)
    infos = [
        with_setting(i, choose_setting(i, options.shots, options.reasoning))
        for i in resolve_all_tasks(options.tasks, options.suite, options.include_path)
    ]
    if options.grid:
        if options.shots is not None or options.reasoning is not None:
            raise InstructEvalError("--grid runs every setting of each task: drop --shots and --reasoning")
        infos = expand_grid(infos)
    check_sampling(options.self_consistency, options.samples, options.temperature, infos)
    check_backend_flags(spec, options.device, options.tensor_parallel_size, options.prefix_cache, options.batch_size)
    check_data_parallel(spec, options.data_parallel_size)
    source = resolve_source(options)
    check_data_layout(source, infos)
    check_model(spec, options.adapter)
    check_scorable(spec, infos, options.suite)
    check_api_flags(spec, infos, options.tokenizer, options.chat_template)
    if options.suite is not None and options.judge is None and any(i.judged for i in infos):
        judged = ", ".join(i.name for i in infos if i.judged)
        raise InstructEvalError(f"--suite {options.suite} grades {judged} with an LLM judge: pass --judge SPEC")
    if options.judge is not None and options.reference is None and any(i.judged == "pairwise" for i in infos):
        raise InstructEvalError("writing_pairwise needs --reference runs/<model>/<timestamp> to judge against")
    from instructeval.models.backends import build_lm, has_chat_template, model_info

    limit = options.limit if options.limit is not None else (DEMO_LIMIT if options.suite == "demo" else None)
    settings = _settings(options, spec, infos, source, limit)
    backend_options = backend_options_for(options, spec)
    with start_run(options.output, spec.slug, options.run_name, settings, resume=options.resume) as run:
        progress(f"run folder: {run.path}{' (resumed)' if run.resumed else ''}")
        owned = lm is None
        if owned:
            lm = build_lm(spec, backend_options)
        if options.chat_template and spec.is_local and not has_chat_template(lm):
            raise InstructEvalError(f"{spec.name} has no chat template: drop --chat-template")
        model = model_info(spec, backend_options, lm)
        results = run.begin(lambda: _fresh_results(options, settings, model, limit))
        from instructeval.cache import ResumableLM

        resumable = ResumableLM(lm, run.request_cache(), observer=bars)
        for info in infos:
            if info.name in results.tasks:
                progress(f"{info.name}: already complete, skipped")
                continue
            if bars is None:
                progress(f"{info.name}: {info.protocol}")
            with bars.showing(info.name, info.protocol) if bars else nullcontext():
                results.tasks[info.name] = _run_task(run, info, resumable, spec, options, source, limit, results)
            run.save()
        if owned and callable(shutdown := getattr(lm, "shutdown", None)):
            shutdown()  # engines with processes of their own (vLLM) stop before the judging and the exit
        for info in infos:
            if info.judged:
                _judge_answers(run, info, options, progress)
        progress(f"answers: {resumable.stats['computed']} computed, {resumable.stats['cached']} from cache")
    return run.path


def backend_options_for(options: RunOptions, spec: ModelSpec) -> BackendOptions:
    """How the run's flags load its model: what `evaluate` builds, and what a caller passing its own `lm` uses."""
    from instructeval.models.backends import BackendOptions

    return BackendOptions(
        batch_size=options.batch_size,
        device=options.device,
        adapter=options.adapter,
        tensor_parallel_size=options.tensor_parallel_size,
        data_parallel_size=options.data_parallel_size,
        tokenizer=options.tokenizer,
        extra={"prefix_cache": options.prefix_cache}
        if spec.kind in ("demo", "hf") and options.prefix_cache is not None
        else {},
    )


def _judge_answers(run: Run, info: TaskInfo, options: RunOptions, progress: Progress) -> None:
    """Grade a judged task's stored answers (resumable: journal + response cache) and merge the report."""
    from instructeval.judge import grade_pairwise, grade_run

    if options.judge is None:
        progress(f"{info.name}: answers stored; grade them with `instructeval judge {run.path} --judge <spec>`")
        return
    if info.judged == "pairwise":
        if options.reference is None:
            raise InstructEvalError(f"{info.name} needs --reference runs/<model>/<timestamp> to judge against")
        report: WritingReport | PairwiseReport = grade_pairwise(
            run.path, options.reference, options.judge, task=info.name
        )
    else:
        if options.judge.calibration:
            from instructeval.judge.calibration import announce

            progress(announce(options.judge))
        report = grade_run(run.path, options.judge, task=info.name)
    run.results.writing = with_report(run.results.writing, report)
    run.save()


def resolve_source(options: RunOptions) -> DataSource:
    """--data-dir (or INSTRUCTEVAL_DATA_DIR) > the embedded subset for --suite demo > the hub."""
    return configured_source(options.data_dir, demo=options.suite == "demo")


def _settings(
    options: RunOptions, spec: ModelSpec, infos: list[TaskInfo], source: DataSource, limit: int | None
) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "model": str(spec),
        "adapter": str(options.adapter) if options.adapter else None,
        "tasks": [info.lm_eval_names for info in infos],
        "suite": options.suite,
        "data": f"{source.kind}:{source.root}",
        "limit": limit,
        "seed": options.seed,
        "chat_template": options.chat_template,
        "self_consistency": options.self_consistency,
        "samples": options.samples,
        "temperature": options.temperature,
        "max_gen_toks": options.max_gen_toks,
        "writing_set": options.writing_set,
    }
    if options.include_path is not None:
        settings["include_path"] = str(options.include_path.resolve())
    chosen = {info.name: info.protocol for info in infos if info.setting is not None}
    if options.shots is not None or options.reasoning is not None or options.grid:
        settings["settings"] = chosen  # only set when asked for, so runs of the protocols' defaults keep their hash
    return settings


def _fresh_results(options: RunOptions, settings: dict[str, Any], model: ModelInfo, limit: int | None) -> RunResults:
    info = run_info(
        options.command, options.seed, settings, device=options.device, limit=limit, batch_size=options.batch_size
    )
    return RunResults(run=info, model=model)


def _run_task(
    run: Run,
    info: TaskInfo,
    lm: Any,
    spec: ModelSpec,
    options: RunOptions,
    source: DataSource,
    limit: int | None,
    results: RunResults,
) -> TaskResult:
    from lm_eval.evaluator import evaluate as lm_eval_evaluate

    from instructeval.models.backends import has_chat_template
    from instructeval.overrides import PASS_AT_K_TASKS, apply_overrides, primary_metric
    from instructeval.prompt_templates import reuse_compiled_templates
    from instructeval.samples import records_from_lm_eval
    from instructeval.scoring import breakdowns, task_scores

    _seed_everything(options.seed)
    metadata = {
        "data_source": source.kind,
        "data_dir": str(source.root) if source.root else None,
        "writing_set": options.writing_set,
        "limit": limit,  # read by tasks that declare `limit_per` (writing: the first N of each category)
    }
    reuse_compiled_templates()
    manager = task_manager(info, metadata, options.include_path)
    specs = lm_eval_specs(info)
    loaded = manager.load(specs)
    chat = options.chat_template if options.chat_template is not None else info.chat_template_default
    if not spec.is_local and not info.scores_loglikelihood and options.chat_template is not False:
        chat = True  # chat completions apply the server's template (--no-chat-template: plain /completions)
    elif chat and spec.is_local and not has_chat_template(lm):
        chat = False  # the protocol's default asks for a template the model lacks: prompted plain, recorded so
    task_options = options if reasons_in_chains(info) else replace(options, self_consistency=None)
    if info.name not in PASS_AT_K_TASKS:
        task_options = replace(task_options, samples=None)
    generation = apply_overrides(loaded["tasks"], task_options, seed=options.seed)
    started = time.perf_counter()
    output = lm_eval_evaluate(
        lm=lm,
        task_dict=loaded,
        limit=None if _limits_itself(loaded["tasks"]) else limit,
        bootstrap_iters=0,
        log_samples=True,
        apply_chat_template=chat,
        fewshot_as_multiturn=chat,
        verbosity="WARNING",
    )
    wall = time.perf_counter() - started
    assert output is not None
    records = []
    for subtask, logged in output["samples"].items():
        breakdown = subtask_breakdown(output["configs"].get(subtask, {}))
        records += records_from_lm_eval(
            info.name,
            subtask,
            logged,
            breakdown,
            sample_fields=info.sample_fields,
            breakdown_fields=info.breakdown_fields,
            cluster_field=info.cluster,
        )
    samples_file = run.write_samples(info.name, records)
    for key in ("results", "groups", "configs", "versions", "n-shot", "higher_is_better", "n-samples"):
        getattr(results, key.replace("-", "_")).update(_json_safe(output.get(key, {})))
    scores = task_scores(records, info.aggregation, options.seed)
    breakdown_scores = breakdowns(records, options.seed)
    hooks = task_hooks(info.yaml_path.parent)
    if hooks is not None and hasattr(hooks, "extra_scores"):  # scores not per example (IFEval's per instruction)
        extra, extra_breakdown = hooks.extra_scores(records, options.seed)
        scores.update(extra)
        breakdown_scores.update(extra_breakdown)
    primary = primary_metric(info.primary_metric, task_options)
    if primary not in scores and is_external(info):  # lm-eval's first metric may be corpus-level (no per-example value)
        if not scores:
            raise InstructEvalError(f"{info.name}: none of its metrics has a per-example value to report with a CI")
        primary = next(iter(scores))
    if primary not in scores:
        raise RuntimeError(f"{info.name}: its headline metric {primary} was not computed (got {', '.join(scores)})")
    return TaskResult(
        task=info.name,
        protocol=info.protocol,
        protocol_version=info.version,
        output_type=str(next(iter(output["configs"].values()), {"output_type": ""}).get("output_type", "")),
        num_fewshot=int(next(iter(output["n-shot"].values()), 0) or 0),
        reasoning=info.setting.reasoning if info.setting else None,
        self_consistency=task_options.self_consistency,
        primary_metric=primary,
        metrics=scores,
        breakdown=breakdown_scores,
        data_source=info.data.provenance(source, info.name),
        data_hash=sha256_text("\n".join(sorted(r.doc_hash for r in records))),
        prompt_hash=prompt_hash(info, specs),
        chat_template_applied=chat,
        chat_template_hash=_chat_template_hash(lm, chat),
        generation_kwargs=generation,
        wall_seconds=round(wall, 3),
        n_samples=len(records),
        samples_file=str(samples_file.relative_to(run.path)),
    )


def _limits_itself(tasks: dict[str, Any]) -> bool:
    """True when the task's data hook applies --limit (per category, `limit_per` in its metadata), not lm-eval."""
    return bool(tasks) and all((task.config.metadata or {}).get("limit_per") for task in tasks.values())


def protocol_files_hash(info: TaskInfo) -> str:
    """sha256 over the task folder's YAML, hooks and prompt files: changes whenever the protocol does."""
    folder = info.yaml_path.parent
    return sha256_tree(folder, (p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts))


def prompt_hash(info: TaskInfo, specs: list[Any]) -> str:
    """The protocol files' hash, combined with the overrides of a non-default prompt setting."""
    files = protocol_files_hash(info)
    if specs == list(info.lm_eval_names):
        return files
    return sha256_text(f"{files}:{specs_hash(specs)}")


def _chat_template_hash(lm: Any, applied: bool) -> str | None:
    if not applied:
        return None
    try:
        template = lm.chat_template(True)
    except Exception:  # backends without a local template (API servers) apply theirs remotely
        return None
    return sha256_text(str(template)) if template else None


def _json_safe(value: Any) -> Any:
    import json

    return json.loads(json.dumps(value, default=str))


def _seed_everything(seed: int) -> None:
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
