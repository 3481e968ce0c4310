"""`inject(InjectOptions(...))`: measure which method makes a set of new facts usable by a model.

One run folder per call, one `KnowledgeResult` per method in results.json (`knowledge` section), one samples
file per method. A method already finished in a resumed run is skipped; an API fine-tuning job interrupted
while polling is picked up again from its state file.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from instructeval.errors import InstructEvalError
from instructeval.judge.options import JudgeOptions
from instructeval.knowledge.answering import Answerer, ChatAnswerer, open_answerer
from instructeval.knowledge.cost import estimate_finetune, estimate_rows
from instructeval.knowledge.curves import save_curve
from instructeval.knowledge.formats import (
    TrainingExample,
    check_format,
    document_examples,
    openai_rows,
    training_examples,
    vertex_rows,
)
from instructeval.knowledge.grader import grade, grader_names
from instructeval.knowledge.methods.augment import AugmentSettings, augment
from instructeval.knowledge.methods.base import Answered, FactsFor, answer_probes
from instructeval.knowledge.methods.finetune_local import LoraSettings, train_lora
from instructeval.knowledge.methods.finetune_openai import finetune_via_api
from instructeval.knowledge.methods.finetune_vertex import Staging, finetune_via_vertex
from instructeval.knowledge.methods.icl import DEFAULT_MAX_CHARS, IclContext
from instructeval.knowledge.methods.polling import PollPolicy
from instructeval.knowledge.methods.provider_tuning import ApiSettings
from instructeval.knowledge.report import knowledge_result, sample_records
from instructeval.knowledge.scorers import (
    FORCED_CHOICE,
    GENERATION_SCORERS,
    TEXT_SCORERS,
    forced_choice,
    generation_scores,
    outdated_scores,
)
from instructeval.knowledge.sets import load_knowledge_set
from instructeval.knowledge.types import KnowledgeSet, Probe
from instructeval.models.spec import ModelSpec, parse_model_spec
from instructeval.models.vertex import VertexAnswerer, VertexTarget
from instructeval.preflight import check_model_folder
from instructeval.results import (
    CurvePoint,
    KnowledgeResult,
    ModelInfo,
    RunResults,
    SampleRecord,
    read_records,
)
from instructeval.run import Run, run_info, start_run, write_json_atomic, write_jsonl_atomic

METHODS = ("base", "icl", "finetune", "augmented-finetune")
RULE_SCORERS = (*TEXT_SCORERS, FORCED_CHOICE)
Progress = Callable[[str], None]


@dataclass(frozen=True)
class InjectOptions:
    """Everything `instructeval inject` accepts. None means: the knowledge set's or the backend's default."""

    model: str
    knowledge: str
    methods: tuple[str, ...] = ("base",)
    data_dir: Path | None = None
    size: int | None = None
    limit: int | None = None
    seed: int = 1234
    format: str | None = None
    epochs: int | None = None
    learning_rate: float = 1e-3
    lora_rank: int = 8
    train_batch_size: int = 8
    lr_multiplier: float | None = None
    generator: str | None = None
    scorers: tuple[str, ...] | None = None
    judge: JudgeOptions | None = None
    icl_max_chars: int = DEFAULT_MAX_CHARS
    max_gen_toks: int = 64
    device: str | None = None
    poll: PollPolicy = field(default_factory=PollPolicy)
    project: str | None = None
    location: str | None = None
    staging_bucket: str | None = None
    curve: tuple[int, ...] | Literal["all"] | None = None
    allow_overlap: bool = False  # train even when generalisation probes appear verbatim in the training text
    augment: AugmentSettings | None = None  # augmented-finetune's strategies and amounts (None: the defaults)
    output: Path = Path("runs")
    run_name: str | None = None
    resume: bool = False
    command: list[str] = field(default_factory=list)


def inject(options: InjectOptions, progress: Progress = print) -> Path:
    """Run every requested method on the knowledge set; return the run folder."""
    kset = load_knowledge_set(options.knowledge, data_dir=options.data_dir, size=options.size, seed=options.seed)
    spec = parse_model_spec(options.model)
    methods = _check_methods(options.methods, kset, spec)
    if options.augment is not None and "augmented-finetune" not in methods:
        raise InstructEvalError(
            "--augment and its settings shape augmented-finetune's data: add that method or drop them"
        )
    fmt = check_format(options.format or kset.default_format)
    scorers = resolve_scorers(options.scorers or kset.default_scorers, options.judge, local=spec.is_local)
    probes = limit_probes(kset.probes, options.limit)
    vertex = vertex_target(options, spec)
    check_curve(options, methods, spec)
    settings = _settings(options, spec, methods, fmt, scorers, vertex)
    check_model_folder(spec)
    with start_run(options.output, spec.slug, options.run_name, settings, resume=options.resume) as run:
        progress(f"run folder: {run.path}{' (resumed)' if run.resumed else ''}")
        device = options.device if spec.is_local else "api"
        results = run.begin(
            lambda: RunResults(
                run=run_info(options.command, options.seed, settings, device=device),
                model=_model_info(spec, options.device),
            )
        )
        session = _Session(options, spec, kset, fmt, scorers, probes, run, progress, vertex)
        for method in methods:
            if any(r.method == method and r.knowledge_set == kset.name for r in results.knowledge or []):
                progress(f"{method}: already complete, skipped")
                continue
            progress(f"{method}: {kset.name}, {len(probes)} probes, scorers {', '.join(scorers)}")
            result = session.run(method)
            if (drawn := save_curve(run.path, result)) is not None:
                progress(f"  learning curve: {drawn}")
            results.knowledge = [*(results.knowledge or []), result]
            run.save()
    return run.path


def estimate_costs(options: InjectOptions) -> list[str]:
    """One line per fine-tuning method: what the provider would charge, estimated before anything is uploaded."""
    kset = load_knowledge_set(options.knowledge, data_dir=options.data_dir, size=options.size, seed=options.seed)
    spec = parse_model_spec(options.model)
    methods = [m for m in _check_methods(options.methods, kset, spec) if m in ("finetune", "augmented-finetune")]
    if spec.is_local or not methods:
        raise InstructEvalError(
            "--estimate-cost prices fine-tuning through a provider: use --method finetune with an openai:, "
            "openai-compatible: or vertex: model (local LoRA has no fee)"
        )
    if options.epochs is None:
        raise InstructEvalError("--estimate-cost needs --epochs: the provider's default depends on the data")
    estimate = estimate_finetune(spec, kset, check_format(options.format or kset.default_format), options.epochs)
    lines = [f"finetune on {kset.name}: {estimate.describe(str(spec))}"]
    if "augmented-finetune" in methods:
        lines.append("augmented-finetune: the facts as above, plus the augmentations (known only once written)")
    return lines


def resolve_scorers(requested: Sequence[str], judge: JudgeOptions | None, *, local: bool) -> list[str]:
    """Validated scorer names; forced-choice needs a local model, so API models fall back to generation."""
    unknown = [name for name in requested if name not in RULE_SCORERS]
    if unknown:
        raise InstructEvalError(
            f"unknown scorer {', '.join(unknown)}: use {', '.join(RULE_SCORERS)} (and --judge for the LLM grader)"
        )
    chosen = list(dict.fromkeys(requested))
    if not local and FORCED_CHOICE in chosen:
        chosen.remove(FORCED_CHOICE)
        chosen = chosen or list(GENERATION_SCORERS)
    return chosen + grader_names(judge)


def limit_probes(probes: Sequence[Probe], limit: int | None) -> list[Probe]:
    """The first `limit` probes of every split (all of them when limit is None)."""
    if limit is not None and limit < 1:
        raise InstructEvalError(f"--limit {limit} is not valid: pass a positive number of probes per split")
    kept: list[Probe] = []
    counts: dict[str, int] = {}
    for probe in probes:
        counts[probe.split] = counts.get(probe.split, 0) + 1
        if limit is None or counts[probe.split] <= limit:
            kept.append(probe)
    return kept


def score_answered(
    answered: Sequence[Answered],
    scorers: Sequence[str],
    judge: JudgeOptions | None,
    journal: Path,
    label: str,
) -> tuple[dict[str, dict[str, float | None]], dict[str, Any] | None]:
    """Apply every scorer to every answer: probe id -> scorer -> 0/1 (None: not scorable by that scorer)."""
    scores: dict[str, dict[str, float | None]] = {}
    for item in answered:
        probe = item.probe
        row: dict[str, float | None] = {}
        if item.response is not None:
            row.update(generation_scores(item.response, probe.golds, scorers))
            if probe.outdated_answer:
                row.update(outdated_scores(item.response, probe.outdated_answer, scorers))
        if FORCED_CHOICE in scorers and item.loglikelihoods is not None:
            row[FORCED_CHOICE] = forced_choice(item.loglikelihoods, probe.correct)
        scores[probe.id] = row
    usage = None
    if judge is not None:
        graded, usage = grade(
            [(item.probe, item.response) for item in answered if item.response is not None],
            judge,
            journal,
            label,
        )
        for probe_id, verdicts in graded.items():
            scores[probe_id].update(verdicts)
    return scores, usage


class _Session:
    """The models of one run, loaded once and shared by the methods that need them."""

    def __init__(
        self,
        options: InjectOptions,
        spec: ModelSpec,
        kset: KnowledgeSet,
        fmt: str,
        scorers: list[str],
        probes: list[Probe],
        run: Run,
        progress: Progress,
        vertex: VertexTarget | None,
    ) -> None:
        self.options, self.spec, self.kset, self.fmt = options, spec, kset, fmt
        self.scorers, self.probes, self.output, self.progress = scorers, probes, run, progress
        self.generator_spec = parse_model_spec(options.generator) if options.generator else spec
        self._base: Answerer | None = None
        self.vertex = vertex

    def run(self, method: str) -> KnowledgeResult:
        started = time.perf_counter()
        facts_for: FactsFor | None = None
        training: dict[str, Any] = {}
        tuned: str | None = None
        if method in ("base", "icl"):
            answerer = self.base()
            if method == "icl":
                context = IclContext(self.kset, max_chars=self.options.icl_max_chars, seed=self.options.seed)
                facts_for, training = context, {"icl": context.describe()}
        else:
            examples, training = self._training_data(method)
            answerer, tuned, record = self._finetune(method, examples)
            training.update(record)
        name = f"knowledge_{self.kset.slug}_{method}"
        records, usage = self._ask(answerer, method, name, facts_for=facts_for)
        if answerer is not self._base:
            del answerer
            gc.collect()
        if usage:
            training["grader"] = usage
        curve = self._curve(method, name, training, records) if self.options.curve and tuned else None
        training["generation"] = {"max_gen_toks": self.options.max_gen_toks, "temperature": 0.0}
        result = knowledge_result(
            self.kset,
            method,
            records,
            self.scorers,
            training=training,
            tuned_model=tuned,
            wall_seconds=time.perf_counter() - started,
        )
        result.curve = curve
        return result

    def _ask(
        self,
        answerer: Answerer,
        method: str,
        name: str,
        *,
        label: str | None = None,
        facts_for: FactsFor | None = None,
    ) -> tuple[list[SampleRecord], dict[str, Any] | None]:
        """Ask every probe, score the answers, write samples/<name>.jsonl; the records and the grader's usage."""
        answered = answer_probes(
            answerer,
            self.kset,
            self.probes,
            generate=any(s != FORCED_CHOICE for s in self.scorers),
            choose=FORCED_CHOICE in self.scorers,
            max_tokens=self.options.max_gen_toks,
            facts_for=facts_for,
        )
        journal = self.output.samples_path(f"{name}_grader")
        scores, usage = score_answered(answered, self.scorers, self.options.judge, journal, label or method)
        records = sample_records(self.kset, method, answered, scores)
        self.output.write_samples(name, records)
        return records, usage

    def _curve(self, method: str, name: str, training: dict[str, Any], final: list[SampleRecord]) -> list[CurvePoint]:
        """Ask the checkpoint of every requested epoch that the training kept; a resumed run reuses the epochs
        already asked (their samples files)."""
        kept = {int(c["epoch"]): c for c in training.get("checkpoints", [])}
        last = max(kept, default=None)
        wanted = sorted(kept) if self.options.curve == "all" else sorted(self.options.curve or ())
        missing = [epoch for epoch in wanted if epoch not in kept]
        if missing:
            why = " (OpenAI keeps the checkpoints of the last 3 epochs)" if training.get("backend") == "api" else ""
            self.progress(
                f"  checkpoints kept: epochs {_epochs(kept)}{why}; epochs {_epochs(missing)} are not on the curve"
            )
            training["curve_missing_epochs"] = missing
        points = []
        for epoch in (e for e in wanted if e in kept):
            checkpoint = kept[epoch]
            path = self.output.samples_path(f"{name}_epoch{epoch}")
            if epoch == last:
                records = final
            elif path.is_file():
                records = read_records(path)
            else:
                self.progress(f"  curve: asking the checkpoint of epoch {epoch}")
                answerer = self._checkpoint(checkpoint)
                records, usage = self._ask(answerer, method, path.stem, label=f"{method}@epoch{epoch}")
                if usage:
                    training.setdefault("curve_grader", {})[str(epoch)] = usage
                del answerer
                gc.collect()
            splits = knowledge_result(self.kset, method, records, self.scorers).splits
            model = checkpoint.get("adapter") or checkpoint.get("endpoint") or checkpoint.get("model")
            points.append(CurvePoint(epoch=epoch, splits=splits, tuned_model=model))
        return points

    def _estimate(self, examples: list[TrainingExample]) -> float | None:
        """Print and return the provider's estimated charge for an API job (None: local, or epochs unknown)."""
        if self.spec.is_local or self.options.epochs is None:
            return None
        rows = vertex_rows(examples) if self.vertex is not None else openai_rows(examples)
        estimate = estimate_rows(self.spec, rows, self.options.epochs)
        self.progress(f"  estimated: {estimate.describe(str(self.spec))}")
        return estimate.cost_usd

    def _checkpoint(self, checkpoint: dict[str, Any]) -> Answerer:
        """The answerer of one saved epoch: a LoRA adapter folder, a Vertex endpoint or a provider's model."""
        if "adapter" in checkpoint:
            return open_answerer(self.spec, device=self.options.device, adapter=Path(checkpoint["adapter"]))
        if self.vertex is not None:
            return VertexAnswerer(checkpoint["endpoint"], self.vertex)
        return ChatAnswerer(dataclasses.replace(self.spec, name=checkpoint["model"]))

    def base(self) -> Answerer:
        if self._base is None:
            self.progress(f"loading {self.spec}")
            if self.vertex is not None:
                self._base = VertexAnswerer(self.spec.name, self.vertex)
            else:
                self._base = open_answerer(self.spec, device=self.options.device)
        return self._base

    def generator(self) -> Answerer:
        if self.generator_spec == self.spec:
            return self.base()
        return open_answerer(self.generator_spec, device=self.options.device)

    def _training_data(self, method: str) -> tuple[list[TrainingExample], dict[str, Any]]:
        examples, counts = training_examples(self.kset.facts, self.fmt, self.kset.system)
        training: dict[str, Any] = {"format": self.fmt, **counts}
        if method == "augmented-finetune":
            settings = dataclasses.replace(self.options.augment or AugmentSettings(), seed=self.options.seed)
            self.progress(f"  augmenting {len(self.kset.facts)} facts with {self.generator_spec}")
            made = augment(self.generator(), self.kset, settings)
            log = self.output.samples_path(f"knowledge_{self.kset.slug}_augmentations")
            write_jsonl_atomic(log, (a.__dict__ for a in made))
            examples += document_examples([("+".join(a.sources), a.text) for a in made])
            training["augmentation"] = {
                "generator": str(self.generator_spec),
                "local": sum(a.kind == "local" for a in made),
                "global": sum(a.kind == "global" for a in made),
                "format": "no-prompt-completion",
                "strategies": list(settings.strategies),
                "settings": settings.__dict__,
                "log": str(log.relative_to(self.output.path)),
            }
        from instructeval.contamination import check_training_overlap

        training["overlap"] = check_training_overlap(examples, self.probes, allow=self.options.allow_overlap)
        if found := training["overlap"]["verbatim"] + training["overlap"]["ngram_overlap"]:
            self.progress(f"  {len(found)} generalisation probe(s) overlap the training text: {', '.join(found[:5])}")
        return examples, training

    def _finetune(self, method: str, examples: list[TrainingExample]) -> tuple[Answerer, str, dict[str, Any]]:
        tag = "" if method == "finetune" else "-augmented"
        estimate = self._estimate(examples)
        if self.vertex is not None:
            settings = ApiSettings(self.options.epochs, self.options.lr_multiplier, None, self.options.seed)
            record = finetune_via_vertex(
                self.spec.name,
                vertex_rows(examples),
                settings,
                self.vertex,
                Staging.parse(self.options.staging_bucket, self.vertex),
                self.output.path / f"vertex_job{tag}.json",
                poll=self.options.poll,
                progress=self.progress,
            )
            record["cost_estimate_usd"] = estimate
            return VertexAnswerer(record["endpoint"], self.vertex), record["endpoint"], record
        if not self.spec.is_local:
            settings = ApiSettings(self.options.epochs, self.options.lr_multiplier, None, self.options.seed)
            record = finetune_via_api(
                self.spec,
                openai_rows(examples),
                settings,
                self.output.path / f"openai_job{tag}.json",
                poll=self.options.poll,
                checkpoints=self.options.curve is not None,
                progress=self.progress,
            )
            record["cost_estimate_usd"] = estimate
            tuned = dataclasses.replace(self.spec, name=record["fine_tuned_model"])
            return ChatAnswerer(tuned), str(tuned), record
        from instructeval.models.local import resolve_device

        adapter = self.output.path / f"adapter{tag}"
        saved = adapter / "instructeval-training.json"
        if saved.is_file():
            record = json.loads(saved.read_text(encoding="utf-8"))
            self.progress(f"  reusing the adapter trained before the interruption: {adapter}")
        else:
            lora = LoraSettings(
                epochs=self.options.epochs or LoraSettings.epochs,
                learning_rate=self.options.learning_rate,
                rank=self.options.lora_rank,
                alpha=2 * self.options.lora_rank,
                batch_size=self.options.train_batch_size,
                seed=self.options.seed,
            )
            self.progress(f"  LoRA fine-tuning on {len(examples)} examples ({self.fmt})")
            device = resolve_device(self.options.device)
            record = train_lora(
                self.spec,
                examples,
                lora,
                adapter,
                device=device,
                save_epochs=range(1, lora.epochs + 1) if self.options.curve == "all" else self.options.curve or (),
                progress=self.progress,
            )
            write_json_atomic(saved, record)
        record = {**record, "use_with": f"instructeval run --model {self.spec} --adapter {adapter}"}
        return open_answerer(self.spec, device=self.options.device, adapter=adapter), str(adapter), record


def check_curve(options: InjectOptions, methods: Sequence[str], spec: ModelSpec) -> None:
    """--curve measures fine-tuning epochs: it needs a fine-tuning method, and epochs within --epochs."""
    if options.curve is None:
        return
    if not any(m in ("finetune", "augmented-finetune") for m in methods):
        raise InstructEvalError("--curve measures fine-tuning epochs: add --method finetune (or augmented-finetune)")
    if options.curve == "all":
        return
    epochs = options.epochs or (LoraSettings.epochs if spec.is_local else None)
    bad = [e for e in options.curve if e < 1 or (epochs is not None and e > epochs)]
    if bad or not options.curve:
        limit = f"1..{epochs}" if epochs else "positive"
        raise InstructEvalError(f"--curve {_epochs(bad)} is outside the epochs trained: pass {limit} epochs, or all")


def _epochs(epochs: Sequence[int] | dict[int, Any]) -> str:
    return ", ".join(str(e) for e in epochs) or "(none)"


def vertex_target(options: InjectOptions, spec: ModelSpec) -> VertexTarget | None:
    """The project and region of a vertex: model; --project, --location and --staging-bucket need one."""
    if spec.kind == "vertex":
        return VertexTarget.resolve(options.project, options.location)
    flags = (
        ("--project", options.project),
        ("--location", options.location),
        ("--staging-bucket", options.staging_bucket),
    )
    given = [flag for flag, value in flags if value]
    if given:
        raise InstructEvalError(f"{', '.join(given)} applies to vertex: models only: drop it for {spec}")
    return None


def _check_methods(methods: Sequence[str], kset: KnowledgeSet, spec: ModelSpec) -> list[str]:
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise InstructEvalError(f"unknown method {', '.join(unknown) or '(none)'}: use {'|'.join(METHODS)}")
    if not kset.facts and any(m != "base" for m in methods):
        raise InstructEvalError(
            f"{kset.name} has no facts to inject (its training file is missing upstream): use --method base, "
            "or score answers made elsewhere with `instructeval inject score`"
        )
    if spec.kind == "vllm":
        raise InstructEvalError(f"{spec}: knowledge injection runs local models with transformers; use hf:{spec.name}")
    return list(dict.fromkeys(methods))


def _settings(
    options: InjectOptions,
    spec: ModelSpec,
    methods: list[str],
    fmt: str,
    scorers: list[str],
    vertex: VertexTarget | None,
) -> dict[str, Any]:
    where = {"vertex": [vertex.project, vertex.location, options.staging_bucket]} if vertex else {}
    return {
        **where,
        "feature": "knowledge",
        "model": str(spec),
        "knowledge": options.knowledge,
        "methods": methods,
        "data_dir": str(options.data_dir) if options.data_dir else None,
        "size": options.size,
        "limit": options.limit,
        "seed": options.seed,
        "format": fmt,
        "epochs": options.epochs,
        "learning_rate": options.learning_rate,
        "lora_rank": options.lora_rank,
        "train_batch_size": options.train_batch_size,
        "lr_multiplier": options.lr_multiplier,
        "generator": options.generator,
        "scorers": scorers,
        "icl_max_chars": options.icl_max_chars,
        "max_gen_toks": options.max_gen_toks,
        **({"curve": options.curve} if options.curve else {}),
        **({"augment": options.augment.__dict__} if options.augment else {}),
    }


def _model_info(spec: ModelSpec, device: str | None) -> ModelInfo:
    if not spec.is_local:
        return ModelInfo(spec=str(spec), backend=spec.kind, name=spec.name, revision=None)
    from instructeval.models.backends import BackendOptions, model_info

    return model_info(spec, BackendOptions(device=device), None)
