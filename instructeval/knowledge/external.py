"""`inject score`: score answers produced elsewhere (another harness, a provider's console) on a set.

The responses file is CSV or JSONL. Each row names its probe by `id` (our probe id, as in samples files) or
by the question text (`prompt` or `question`), optionally narrowed by `split`. An `id` that is no probe id
(FineTuneBench's files carry the dataset row id, shared by every split) leaves the question text as the key.
The answer is in `response` or `raw_response`, or in one `<model>_response` column per model, as in
FineTuneBench's released `model_responses/` files: each such column is scored as its own model, in its own
run folder. Probes without a row are left out of n; rows that match no probe, or whose `answer` column
disagrees with the set's, are an error, so a misaligned file is never silently scored.
"""

from __future__ import annotations

import csv
import json
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from instructeval.errors import DataError, InstructEvalError
from instructeval.judge.options import JudgeOptions
from instructeval.knowledge.injection import Progress, resolve_scorers, score_answered
from instructeval.knowledge.methods.base import Answered
from instructeval.knowledge.report import knowledge_result, sample_records
from instructeval.knowledge.sets import load_knowledge_set
from instructeval.knowledge.types import KnowledgeSet, Probe
from instructeval.results import ModelInfo, RunResults
from instructeval.run import run_info, start_run

TEXT_COLUMNS = ("prompt", "question")
KEY_COLUMNS = ("id", *TEXT_COLUMNS)
RESPONSE_COLUMNS = ("response", "raw_response")
MODEL_SUFFIX = "_response"


@dataclass(frozen=True)
class ScoreOptions:
    """Everything `instructeval inject score` accepts. `scorers=None` takes the set's defaults."""

    knowledge: str
    responses: Path
    label: str | None = None
    data_dir: Path | None = None
    size: int | None = None
    seed: int = 1234
    scorers: tuple[str, ...] | None = None
    judge: JudgeOptions | None = None
    output: Path = Path("runs")
    run_name: str | None = None
    response_column: str | None = None
    command: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AnswerColumn:
    """One column of answers in a responses file, and the model and label it is scored under."""

    name: str
    model: str
    label: str


def score_responses(options: ScoreOptions, progress: Progress = print) -> list[Path]:
    """Match responses to probes and score every answer column; return one run folder (method `external`) each."""
    kset = load_knowledge_set(options.knowledge, data_dir=options.data_dir, size=options.size, seed=options.seed)
    scorers = resolve_scorers(options.scorers or kset.default_scorers, options.judge, local=False)
    rows = read_responses(options.responses)
    label = options.label or options.responses.stem
    return [
        _score_column(options, kset, scorers, column, match_responses(kset.probes, rows, column.name), progress)
        for column in answer_columns(rows, options.response_column, label)
    ]


def _score_column(
    options: ScoreOptions,
    kset: KnowledgeSet,
    scorers: list[str],
    column: AnswerColumn,
    matched: list[tuple[Probe, str]],
    progress: Progress,
) -> Path:
    """Score one answer column into its own run folder."""
    answered = [Answered(probe, probe.question, response) for probe, response in matched]
    settings = {
        "feature": "knowledge-score",
        "knowledge": options.knowledge,
        "responses": str(options.responses),
        "column": column.name,
        "scorers": scorers,
        "label": column.label,
    }
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", column.label)
    with start_run(options.output, slug, options.run_name, settings, resume=False) as run:
        started = time.perf_counter()
        progress(
            f"run folder: {run.path}; {len(answered)} of {len(kset.probes)} probes answered in "
            f"{options.responses} ({column.name})"
        )
        model = ModelInfo(spec=f"external:{column.model}", backend="external", name=column.model, revision=None)
        results = run.begin(
            lambda: RunResults(run=run_info(options.command, options.seed, settings, device="none"), model=model)
        )
        name = f"knowledge_{kset.slug}_external"
        scores, usage = score_answered(answered, scorers, options.judge, run.samples_path(f"{name}_grader"), "external")
        records = sample_records(kset, "external", answered, scores)
        run.write_samples(name, records)
        training = {
            "responses": str(options.responses),
            "response_column": column.name,
            **({"grader": usage} if usage else {}),
        }
        results.knowledge = [
            knowledge_result(
                kset,
                "external",
                records,
                scorers,
                training=training,
                wall_seconds=time.perf_counter() - started,
            )
        ]
    return run.path


def read_responses(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV or JSONL responses file, as strings."""
    if not path.is_file():
        raise DataError(f"responses file {path} does not exist: pass --responses <file.csv or file.jsonl>")
    if path.suffix == ".jsonl":
        rows = []
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        rows.append({k: "" if v is None else str(v) for k, v in json.loads(line).items()})
                    except (json.JSONDecodeError, AttributeError) as exc:
                        raise DataError(f"{path}:{number} is not a JSON object: write one object per line") from exc
        return rows
    with path.open(encoding="utf-8", newline="") as handle:
        return [dict(row) for row in csv.DictReader(handle)]


def answer_columns(rows: Sequence[dict[str, str]], chosen: str | None, label: str) -> list[AnswerColumn]:
    """The columns to score: `chosen`, else `response`/`raw_response`, else every `<model>_response` column."""
    if not rows:
        raise DataError("the responses file has no rows")
    columns = list(rows[0])
    if chosen is not None:
        if chosen not in columns:
            raise InstructEvalError(
                f"--response-column {chosen!r} is not in the responses file: use one of {', '.join(columns)}"
            )
        return [AnswerColumn(chosen, _model_name(chosen) or label, label)]
    single = next((c for c in RESPONSE_COLUMNS if c in columns), None)
    if single is not None:
        return [AnswerColumn(single, label, label)]
    per_model = [AnswerColumn(c, model, f"{label}-{model}") for c in columns if (model := _model_name(c))]
    if not per_model:
        raise DataError(
            f"the responses file needs an answer column ({', '.join(RESPONSE_COLUMNS)} or <model>{MODEL_SUFFIX}); "
            f"it has {', '.join(sorted(columns))}"
        )
    return per_model


def _model_name(column: str) -> str | None:
    """`gpt-4o-mini_response` -> `gpt-4o-mini`; None for a column not named after a model."""
    model = column.removesuffix(MODEL_SUFFIX)
    return model if model and model != column else None


def match_responses(
    probes: Sequence[Probe], rows: Sequence[dict[str, str]], column: str = "response"
) -> list[tuple[Probe, str]]:
    """Pair each row with its probe(s), in probe order; every row must match and no probe may match twice."""
    if not rows:
        raise DataError("the responses file has no rows")
    key = _key_column(probes, rows)
    if column not in rows[0]:
        raise DataError(f"the responses file has no answer column {column!r}: pass --response-column")
    index: dict[str, list[Probe]] = {}
    for probe in probes:
        index.setdefault(probe.id if key == "id" else probe.question.strip(), []).append(probe)
    found: dict[str, str] = {}
    unmatched = 0
    for number, row in enumerate(rows, start=1):
        candidates = [p for p in index.get(row[key].strip(), []) if not row.get("split") or p.split == row["split"]]
        if not candidates:
            unmatched += 1
            continue
        for probe in candidates:
            if probe.id in found:
                raise DataError(f"probe {probe.id} is answered twice in the responses file: keep one row per probe")
            if row.get("answer", "").strip() not in ("", probe.answer.strip()):
                raise DataError(
                    f"row {number} gives the answer {row['answer']!r} where the set has {probe.answer!r} for probe "
                    f"{probe.id}: score the file against the copy of the set it was made on"
                )
            found[probe.id] = row[column]
    if unmatched:
        raise InstructEvalError(
            f"{unmatched} of {len(rows)} responses match no probe by {key!r}: check the knowledge set and the column"
        )
    return [(probe, found[probe.id]) for probe in probes if probe.id in found]


def _key_column(probes: Sequence[Probe], rows: Sequence[dict[str, str]]) -> str:
    """`id` when it holds our probe ids (or is the only key), else the question text column."""
    columns = set(rows[0])
    text = next((c for c in TEXT_COLUMNS if c in columns), None)
    if "id" in columns:
        ids = {probe.id for probe in probes}
        if text is None or any(row["id"].strip() in ids for row in rows):
            return "id"
    if text is None:
        raise DataError(
            f"the responses file needs a key column ({' or '.join(KEY_COLUMNS)}); it has {', '.join(sorted(columns))}"
        )
    return text
