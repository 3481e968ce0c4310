"""The one results schema: every section of `results.json`, typed; `instructeval.run` writes it, anyone reads it.

The file is a superset of lm-eval's results schema: lm-eval's top-level keys (`results`, `groups`,
`configs`, `versions`, `n-shot`, `higher_is_better`, `n-samples`) keep their meaning, and our typed
sections sit beside them. `docs/results.schema.json` is generated from these models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from instructeval.score import Score
from instructeval.writing.report import WritingSection

SCHEMA_VERSION = "1.0"
RESULTS_FILE = "results.json"
SAMPLES_DIR = "samples"


class TaskResult(BaseModel):
    """One task of a run: its headline metrics, breakdowns and provenance."""

    task: str
    protocol: str
    protocol_version: str
    output_type: str
    num_fewshot: int
    reasoning: str | None = Field(None, description="direct | cot | en-cot where the task has a reasoning setting")
    self_consistency: int | None = Field(None, description="K of maj@K (sampled chains voted on), None when greedy")
    primary_metric: str
    metrics: dict[str, Score]
    breakdown: dict[str, dict[str, dict[str, Score]]] = Field(
        default_factory=dict,
        description="breakdown kind (subject, category, language...) -> group name -> metric -> Score",
    )
    data_source: str
    data_hash: str
    prompt_hash: str
    chat_template_applied: bool
    chat_template_hash: str | None = None
    generation_kwargs: dict[str, Any] = Field(default_factory=dict)
    wall_seconds: float
    n_samples: int
    samples_file: str


class ModelKey(BaseModel):
    """Which model a number belongs to: compare writes it, the leaderboard finds the model's row by it."""

    model_config = ConfigDict(frozen=True)

    spec: str
    adapter: str | None = Field(None, description="the adapter folder, as the run recorded it")
    method: str | None = Field(None, description="a knowledge-injection method, when one run's methods are compared")

    @property
    def label(self) -> str:
        """How people name it: 'hf:x + adapter lora · icl'."""
        name = f"{self.spec} + adapter {Path(self.adapter).name}" if self.adapter else self.spec
        return f"{name} · {self.method}" if self.method else name

    @property
    def model(self) -> ModelKey:
        """The model alone, without the method."""
        return ModelKey(spec=self.spec, adapter=self.adapter)


class ModelInfo(BaseModel):
    """What was evaluated, precisely enough to reproduce it."""

    spec: str
    backend: str
    name: str
    revision: str | None = Field(None, description="hub commit, or sha256 of local weights")
    adapter: str | None = None
    adapter_hash: str | None = None
    model_args: dict[str, Any] = Field(default_factory=dict)

    @property
    def key(self) -> ModelKey:
        """The model's identity across runs: spec and adapter."""
        return ModelKey(spec=self.spec, adapter=self.adapter)


class RunInfo(BaseModel):
    """How the run was made."""

    status: Literal["running", "complete", "failed"]
    started_at: str
    finished_at: str | None = None
    command: list[str]
    seed: int
    limit: int | None
    batch_size: str
    config_hash: str
    instructeval_version: str
    packages: dict[str, str]
    device: str


class RunResults(BaseModel):
    """The whole results.json."""

    model_config = ConfigDict(populate_by_name=True)

    schema_version: str = SCHEMA_VERSION
    run: RunInfo
    model: ModelInfo
    tasks: dict[str, TaskResult] = Field(default_factory=dict)
    writing: WritingSection | None = Field(None, description="the judge's writing reports (`instructeval judge`)")
    knowledge: list[KnowledgeResult] | None = None
    contamination: ContaminationResult | None = Field(
        None, description="`instructeval contamination --run`: overlap with a corpus, clean-subset scores, probes"
    )
    # lm-eval's own top-level keys, kept verbatim so lm-eval tooling can read the file.
    results: dict[str, dict[str, Any]] = Field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = Field(default_factory=dict)
    configs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    versions: dict[str, Any] = Field(default_factory=dict)
    n_shot: dict[str, Any] = Field(default_factory=dict, alias="n-shot")
    higher_is_better: dict[str, dict[str, bool]] = Field(default_factory=dict)
    n_samples: dict[str, dict[str, int]] = Field(default_factory=dict, alias="n-samples")


def results_path(run_dir: Path) -> Path:
    """Where a run folder keeps its results."""
    return run_dir / RESULTS_FILE


def samples_path(run_dir: Path, task: str) -> Path:
    """Where a run folder keeps one task's per-sample log."""
    return run_dir / SAMPLES_DIR / f"{task}.jsonl"


def load_results(run_dir: Path, schema: type[RunResults] = RunResults) -> RunResults:
    """Read and validate a run folder's results.json (with `schema`: RunResults or a subclass that reads less)."""
    from instructeval.errors import InstructEvalError

    path = results_path(run_dir)
    if not path.is_file():
        raise InstructEvalError(f"{run_dir} is not a run folder (no {RESULTS_FILE}): pass runs/<model>/<timestamp>")
    try:
        return schema.model_validate_json(path.read_bytes())
    except ValueError as exc:
        first = str(exc).splitlines()[0]
        raise InstructEvalError(f"{path} does not match the results schema ({first}); was it edited by hand?") from exc


def read_samples(run_dir: Path, task: str) -> list[dict[str, Any]]:
    """One task's per-sample log as JSON objects (with whatever a feature added, e.g. judgments)."""
    return [json.loads(line) for line in _sample_lines(samples_path(run_dir, task))]


def read_records(path: Path) -> list[SampleRecord]:
    """A samples file as typed records."""
    return [SampleRecord.model_validate_json(line) for line in _sample_lines(path)]


def _sample_lines(path: Path) -> list[str]:
    from instructeval.errors import InstructEvalError

    if not path.is_file():
        raise InstructEvalError(f"{path} is missing: the run folder is incomplete; rerun the task with --resume")
    with path.open(encoding="utf-8") as handle:
        return [line for line in handle if line.strip()]


def json_schema() -> dict[str, Any]:
    """The JSON Schema of results.json, as published in docs/results.schema.json."""
    return RunResults.model_json_schema(by_alias=True)


class SampleRecord(BaseModel):
    """One line of samples/<task>.jsonl: everything needed to audit, re-score or pair a single example.

    Tasks may copy named fields of their example in too (e.g. writing's `category`): extra keys are kept.
    """

    model_config = ConfigDict(extra="allow")

    task: str
    subtask: str = Field(description="the lm-eval task that produced it, e.g. mmlu_anatomy")
    doc_id: int
    doc_hash: str = Field(description="sha256 of the example's canonical JSON: the key for pairing runs")
    prompt: str
    target: str
    responses: list[str] = Field(default_factory=list, description="raw generations (empty for likelihood)")
    response: str | None = Field(None, description="the first raw generation, for readers that want one answer")
    extracted: list[str] = Field(default_factory=list, description="answers after the task's filters")
    choice_loglikelihoods: list[float] | None = None
    choice_is_greedy: list[bool] | None = None
    scores: dict[str, float | None]
    groups: dict[str, str] = Field(default_factory=dict, description="breakdown kind -> group")
    cluster: str | None = Field(None, description="examples sharing it are correlated (DROP: a passage's hash)")
    details: dict[str, Any] = Field(default_factory=dict, description="task-specific extras (sandbox reasons...)")


class KnowledgeCell(BaseModel):
    """One method x split cell of a knowledge-injection table."""

    score: Score
    scorer: str = Field(description="exact | lenient | llm-grader:<judge> | forced-choice: always named")


class CurvePoint(BaseModel):
    """One epoch of a learning curve: the same probes asked of the checkpoint saved after that epoch."""

    epoch: int
    splits: dict[str, dict[str, KnowledgeCell]] = Field(description="split -> scorer name -> cell")
    tuned_model: str | None = Field(None, description="the checkpoint: adapter folder, provider model or endpoint")


class KnowledgeResult(BaseModel):
    """One `instructeval inject` measurement: a knowledge set, a method, its scores per split."""

    knowledge_set: str
    method: Literal["base", "icl", "finetune", "augmented-finetune", "external"]
    splits: dict[str, dict[str, KnowledgeCell]] = Field(description="split -> scorer name -> cell")
    tuned_model: str | None = Field(None, description="adapter folder or provider model id, usable as a model spec")
    training: dict[str, Any] = Field(default_factory=dict, description="format, epochs, lr, LoRA rank, job id, cost")
    curve: list[CurvePoint] | None = Field(None, description="--curve: the splits after each measured epoch")
    wall_seconds: float | None = None


class OverlapLocation(BaseModel):
    """Where a test n-gram was found in the corpus."""

    source: str = Field(description="corpus file (or hf:dataset/split)")
    line: int = Field(description="1-based line of a text or JSONL file, row of a parquet file or dataset")
    ngram: str = Field(description="the matched n-gram, normalised")


class ExampleRef(BaseModel):
    """One example of a task: its subtask, its index there and the hash of its document."""

    subtask: str
    doc_id: int
    doc_hash: str


class ContaminatedExample(ExampleRef):
    """A test example with at least one n-gram in the corpus."""

    matched_ngrams: int = Field(description="distinct n-grams of the example found in the corpus")
    ngrams: int = Field(description="distinct n-grams of the example")
    locations: list[OverlapLocation] = Field(description="the first places they were found (at most a few)")


class CleanSubsetScore(BaseModel):
    """A finished run's headline metric on all examples, on the clean ones, on the dirty ones, and dirty - clean."""

    metric: str
    full: Score
    clean: Score
    dirty: Score
    dirty_minus_clean: Score = Field(description="unpaired difference of means, MOVER interval from both sides'")
    test: str
    p_value: float | None


class SubtaskOverlap(BaseModel):
    """The examples of one subtask that were checked: their hash (as a run's data_hash) and counts."""

    data_hash: str = Field(description="sha256 of the checked examples' sorted doc hashes")
    examples: int
    checkable: int


class TaskContamination(BaseModel):
    """One task's overlap with the corpus: how many examples, which, where; the clean-subset scores with --run."""

    task: str
    examples: int
    checkable: int = Field(description="examples with at least n words (shorter ones cannot hold an n-gram)")
    subtasks: dict[str, SubtaskOverlap] = Field(description="per subtask: which examples were checked")
    contaminated: list[ContaminatedExample]
    contaminated_share: Score = Field(description="contaminated / checkable, Wilson interval")
    clean_subset: CleanSubsetScore | None = None


class ProbeExample(ExampleRef):
    """An example's Min-K% Prob score beside its perturbed copies'."""

    min_k: float = Field(description="mean log-probability of the example's lowest k % tokens")
    perturbed_median: float = Field(description="the median of the same score over its perturbed copies")
    calibrated: float = Field(description="min_k - perturbed_median: what is compared with the threshold")


class ProbeTask(BaseModel):
    """Min-K% Prob on one task: the share of examples flagged, at a threshold set on perturbed copies."""

    task: str
    examples: int
    k_percent: float
    copies: int = Field(description="perturbed copies per example")
    perturbation: str
    threshold: float = Field(description="the calibrated score a perturbed copy exceeds with probability fpr")
    false_positive_rate: float
    flag_rate: Score = Field(description="share of examples whose calibrated score exceeds the threshold")
    flagged: list[ProbeExample]


class ContaminationResult(BaseModel):
    """contamination.json of `instructeval contamination`, and the `contamination` section of a run."""

    schema_version: str = SCHEMA_VERSION
    method: Literal["ngram", "min-k"]
    ngram: int | None = None
    normalisation: str | None = None
    corpus: list[str] = Field(default_factory=list)
    corpus_bytes: int | None = None
    corpus_documents: int | None = None
    model: str | None = Field(None, description="the probed model (min-k)")
    tasks: dict[str, TaskContamination] = Field(default_factory=dict)
    probe: dict[str, ProbeTask] = Field(default_factory=dict)
    created_at: str


Verdict = Literal["better", "worse", "equivalent", "inconclusive"]


class FlippedExample(BaseModel):
    """An example the two runs scored differently: what was asked, and what each run answered."""

    subtask: str
    doc_id: int
    doc_hash: str
    direction: Literal["improved", "regressed"] = Field(description="improved: the other run scored higher")
    base_score: float
    other_score: float
    prompt: str
    target: str
    base_output: str | None = Field(None, description="the generation, or the chosen option for likelihood tasks")
    other_output: str | None = None
    choices: list[str] | None = None
    base_loglikelihoods: list[float] | None = None
    other_loglikelihoods: list[float] | None = None
    base_reasons: list[str] = Field(default_factory=list, description="the judge's reasons for this rubric's grade")
    other_reasons: list[str] = Field(default_factory=list)


class PairedTaskComparison(BaseModel):
    """One task of `instructeval compare`: both scores, the paired difference and its test."""

    task: str
    metric: str
    group: str | None = Field(None, description="the breakdown group compared (a writing category, a knowledge split)")
    n_paired: int
    base: Score
    other: Score
    difference: Score = Field(description="mean(other - base) with a paired bootstrap CI")
    test: str
    p_value: float | None
    p_adjusted: float | None = Field(description="Holm-Bonferroni across the tasks of this comparison")
    significant: bool
    wins: int
    losses: int
    ties: int
    verdict: Verdict | None = Field(
        None, description="better / worse (significant after Holm), equivalent within ±margin (TOST), inconclusive"
    )
    equivalence_p: float | None = Field(None, description="two one-sided tests of |difference| < margin")
    mde: float | None = Field(None, description="the smallest difference detectable with 80 % power at alpha")
    flipped: list[FlippedExample] = Field(default_factory=list, description="examples scored differently")


class Comparison(BaseModel):
    """comparison.json written by `instructeval compare` (one base, one other run)."""

    schema_version: str = SCHEMA_VERSION
    base_run: str
    other_run: str
    base_model: str = Field(description="the base's label, as printed")
    other_model: str = Field(description="the other's label, as printed")
    base: ModelKey
    other: ModelKey
    alpha: float
    margin: float | None = Field(None, description="the equivalence margin, in each metric's units")
    forced: bool = Field(False, description="True when --force overrode a mismatch (data, prompts, protocol, judging)")
    mismatches: list[str] = Field(default_factory=list)
    tasks: list[PairedTaskComparison]
    created_at: str

    @model_validator(mode="before")
    @classmethod
    def _keys_from_labels(cls, data: Any) -> Any:
        """Files written before the keys carry only the labels: 'spec[ + adapter NAME][ · method]'."""
        if isinstance(data, dict):
            for side in ("base", "other"):
                if side not in data and isinstance(data.get(f"{side}_model"), str):
                    data = {**data, side: _key_from_label(data[f"{side}_model"])}
        return data


def _key_from_label(label: str) -> dict[str, str | None]:
    name, _, method = label.partition(" · ")
    spec, _, adapter = name.partition(" + adapter ")
    return {"spec": spec, "adapter": adapter or None, "method": method or None}


RunResults.model_rebuild()
