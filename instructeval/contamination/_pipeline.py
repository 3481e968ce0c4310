"""`contaminate(ContaminationOptions(...))`: what `instructeval contamination` calls, in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from instructeval.contamination._check import DEFAULT_NGRAM, check_overlap
from instructeval.contamination._clean import rescore_clean
from instructeval.contamination._corpus import describe_sources
from instructeval.contamination._examples import TestExample, load_examples
from instructeval.contamination._probe import (
    DEFAULT_COPIES,
    DEFAULT_FPR,
    DEFAULT_K_PERCENT,
    TokenScorer,
    check_probe_model,
    probe_min_k,
)
from instructeval.data.source import DataSource, configured_source
from instructeval.errors import InstructEvalError
from instructeval.preflight import check_data_layout
from instructeval.registry import TaskInfo, resolve_tasks
from instructeval.results import (
    ContaminationResult,
    RunResults,
    load_results,
    read_records,
    samples_path,
)
from instructeval.run import amend_run, write_json_atomic

REPORT_FILE = "contamination.json"
DEFAULT_OUTPUT = Path("contamination")


@dataclass(frozen=True)
class ContaminationOptions:
    """Everything `instructeval contamination` accepts."""

    corpus: tuple[str, ...] = ()
    tasks: str | None = None
    suite: str | None = None
    ngram: int = DEFAULT_NGRAM
    run: Path | None = None
    report: Path | None = None  # --run without --corpus: the folder of an earlier overlap report
    output: Path = DEFAULT_OUTPUT
    data_dir: Path | None = None
    limit: int | None = None
    model: str | None = None  # --probe min-k: the local model probed
    probe: str | None = None
    k_percent: float = DEFAULT_K_PERCENT
    copies: int = DEFAULT_COPIES
    fpr: float = DEFAULT_FPR
    seed: int = 1234
    device: str | None = None


def contaminate(options: ContaminationOptions, progress: Callable[[str], None] = print) -> ContaminationResult:
    """Check the tasks' examples against the corpus (and re-score --run on its clean subsets); write the report."""
    if options.ngram < 1:
        raise InstructEvalError(f"--ngram must be a positive number of words, got {options.ngram}")
    if options.limit is not None and options.limit < 1:
        raise InstructEvalError(f"--limit must be positive, got {options.limit}")
    if options.probe is not None or options.model is not None:
        return _probe(options, progress)
    results = load_results(options.run) if options.run is not None else None
    if results is not None and (options.suite or options.limit):
        raise InstructEvalError("--run checks the examples the run scored: drop --suite and --limit (--tasks narrows)")
    if options.corpus:
        describe_sources(list(options.corpus))
        infos = _run_tasks(results, options) if results is not None else resolve_tasks(options.tasks, options.suite)
        limit = results.run.limit if results is not None else options.limit
        source = _source(options.data_dir, results, options.suite)
        check_data_layout(source, infos)
        examples: list[TestExample] = []
        for info in infos:
            progress(f"{info.name}: reading its test examples")
            examples += load_examples(info, source, limit)
        overlap = check_overlap(examples, list(options.corpus), options.ngram, progress)
    elif results is not None:
        overlap = _earlier_report(options.report or options.output)
    else:
        raise InstructEvalError("nothing to check: pass --corpus FILES --tasks a,b, --run RUN, or --model M --probe")
    if results is not None and options.run is not None:
        overlap = rescore_clean(options.run, results, overlap)
        with amend_run(options.run) as run:
            run.results.contamination = overlap
    options.output.mkdir(parents=True, exist_ok=True)
    write_json_atomic(options.output / REPORT_FILE, overlap.model_dump(mode="json"))
    return overlap


def _probe(options: ContaminationOptions, progress: Callable[[str], None]) -> ContaminationResult:
    """--model M --probe min-k: no corpus, the model's own likelihoods of each example against perturbed copies."""
    if options.probe is None or options.model is None:
        raise InstructEvalError("--probe min-k and --model go together: pass both (a local model, demo or hf:...)")
    if options.corpus or options.run is not None:
        raise InstructEvalError("--probe needs no corpus and scores no run: drop --corpus and --run")
    from instructeval.models.spec import parse_model_spec

    spec = parse_model_spec(options.model)
    check_probe_model(spec)
    infos = resolve_tasks(options.tasks, options.suite)
    source = configured_source(options.data_dir, demo=options.suite == "demo")
    check_data_layout(source, infos)
    examples: list[TestExample] = []
    for info in infos:
        progress(f"{info.name}: reading its test examples")
        examples += load_examples(info, source, options.limit)
    progress(f"loading {spec}")
    result = probe_min_k(
        examples,
        TokenScorer(spec, options.device),
        model=str(spec),
        k_percent=options.k_percent,
        copies=options.copies,
        fpr=options.fpr,
        seed=options.seed,
        progress=progress,
    )
    options.output.mkdir(parents=True, exist_ok=True)
    write_json_atomic(options.output / REPORT_FILE, result.model_dump(mode="json"))
    return result


def _run_tasks(results: RunResults, options: ContaminationOptions) -> list[TaskInfo]:
    """The tasks of --run (narrowed by --tasks), as `run` resolved them."""
    names = [n.strip() for n in options.tasks.split(",")] if options.tasks else list(results.tasks)
    missing = [n for n in names if n not in results.tasks]
    if missing:
        raise InstructEvalError(
            f"{options.run} has no finished task {', '.join(missing)}: choose among {', '.join(results.tasks)}"
        )
    assert options.run is not None
    infos = []
    for info in resolve_tasks(",".join(names), None):
        scored = tuple(dict.fromkeys(r.subtask for r in read_records(samples_path(options.run, info.name))))
        infos.append(replace(info, selected=scored) if info.members and set(scored) != set(info.members) else info)
    return infos


def _source(data_dir: Path | None, results: RunResults | None, suite: str | None) -> DataSource:
    """For --run the data the run read (its recorded source, unless --data-dir says otherwise); else `run`'s order:
    --data-dir (or INSTRUCTEVAL_DATA_DIR), the embedded subset for --suite demo, the hub."""
    if results is not None and data_dir is None:
        sources = {DataSource.from_metadata(config.get("metadata") or {}) for config in results.configs.values()}
        if (
            len(sources) == 1
            and (source := sources.pop()).kind != "hub"
            and (source.root is None or source.root.is_dir())
        ):
            return source
    return configured_source(data_dir, demo=suite == "demo")


def _earlier_report(folder: Path) -> ContaminationResult:
    path = folder / REPORT_FILE
    if not path.is_file():
        raise InstructEvalError(
            f"no overlap report at {path}: pass --corpus FILES to check the run's examples now, or --report DIR "
            "of an earlier `instructeval contamination --corpus ... --output DIR`"
        )
    report = ContaminationResult.model_validate_json(path.read_text(encoding="utf-8"))
    if report.method != "ngram":
        raise InstructEvalError(f"{path} is a {report.method} probe report; re-scoring needs an n-gram overlap report")
    return report
