"""Judge calibration: every judged run also grades answers with known reference grades.

The set (`calibration_set/answers.jsonl`, written for this project, see its README) spans all five levels of
each rubric. Each judge grades it afresh (the reply cache is not read, so a changed model behind the same
name shows), journalled in the run folder so a resumed run never pays twice. Agreement with the reference is
quadratic-weighted kappa; drift compares it with the same judge's latest earlier calibration, kept in the
judge cache file. A judge whose kappa falls below `KAPPA_THRESHOLD` for any rubric, or cannot be computed (fewer
than two valid verdicts), is flagged.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from instructeval.judge.agreement import weighted_kappa
from instructeval.judge.cache import default_cache_path
from instructeval.judge.options import JudgeOptions
from instructeval.judge.parsing import parse_score
from instructeval.judge.pricing import load_prices, price_for, worst_case_prompt_tokens
from instructeval.judge.report import usage_report
from instructeval.judge.rubric import Rubric, load_rubric
from instructeval.judge.runner import Job, run_jobs
from instructeval.models.spec import parse_model_spec
from instructeval.results import SAMPLES_DIR
from instructeval.sqlite_store import open_store
from instructeval.writing.report import CalibrationReport, JudgeCalibration, RubricCalibration

SET_FILE = Path(__file__).parent / "calibration_set" / "answers.jsonl"
KAPPA_THRESHOLD = 0.6
"""Below this quadratic kappa with the reference grades a judge is flagged (below 'substantial' agreement)."""


@dataclass(frozen=True)
class CalibrationItem:
    """One calibration answer to a shipped writing prompt, with its reference grade per rubric."""

    id: str
    prompt_id: str
    category: str
    task_definition: str
    prompt: str
    answer: str
    reference: dict[str, int]


def load_calibration_set(path: Path = SET_FILE) -> list[CalibrationItem]:
    """The shipped calibration answers, in file order."""
    return [CalibrationItem(**json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line]


def set_sha256(path: Path = SET_FILE) -> str:
    """The calibration set's version: the sha256 of its bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def calibration_jobs(items: Sequence[CalibrationItem], rubrics: Sequence[Rubric], options: JudgeOptions) -> list[Job]:
    """One judgment per judge x rubric x calibration answer (one repeat)."""
    jobs = []
    for spec in options.judge_specs():
        for rubric in rubrics:
            for item in items:
                inputs = {"prompt": f"{item.task_definition}\n\n{item.prompt}", "answer": item.answer}
                jobs.append(
                    Job.create(
                        options,
                        judge=str(spec),
                        rubric=rubric,
                        messages=rubric.messages(**{name: inputs[name] for name in rubric.inputs}),
                        repeat=0,
                        parse=parse_score,
                        value_field="score",
                        fields={"calibration_id": item.id, "doc_id": item.id},
                    )
                )
    return jobs


def cost_estimate(jobs: Sequence[Job], options: JudgeOptions) -> float | None:
    """An upper bound on what the calibration judgments cost (worst-case prompt tokens, full replies)."""
    prices = load_prices(options.prices_file)
    total = 0.0
    for job in jobs:
        price = price_for(parse_model_spec(job.judge), prices)
        if price is None:
            return None
        total += price.cost(worst_case_prompt_tokens(job.messages), options.max_tokens)
    return total


def fresh_options(options: JudgeOptions, budget_usd: float | None = None) -> JudgeOptions:
    """The run's judge settings for calibration: one repeat, straight requests, the reply cache not read."""
    return dataclasses.replace(options, use_cache=False, batch=False, repeats=1, budget_usd=budget_usd)


def announce(options: JudgeOptions) -> str:
    """The line printed before grading: what calibration will ask and its cost at most."""
    rubrics = [load_rubric(name) for name in options.rubrics]
    jobs = calibration_jobs(load_calibration_set(), rubrics, fresh_options(options))
    cost = cost_estimate(jobs, fresh_options(options))
    price = "price unknown" if cost is None else f"at most ${cost:.4f}"
    return (
        f"judge calibration: {len(jobs)} judgments of the shipped calibration answers ({price}); "
        "--no-judge-calibration skips it"
    )


def calibrate(
    run_dir: Path, rubrics: Sequence[Rubric], options: JudgeOptions, *, task: str, budget_usd: float | None = None
) -> CalibrationReport:
    """Grade the calibration set with every judge; compare with the reference and each judge's last calibration.

    `budget_usd` is what the run's cap leaves for calibration (None: no cap).
    """
    items = load_calibration_set()
    fresh = fresh_options(options, budget_usd)
    jobs = calibration_jobs(items, rubrics, fresh)
    journal = run_dir / SAMPLES_DIR / f"{task}_calibration_judgments.jsonl"
    outcome = run_jobs(jobs, fresh, journal)
    sha = set_sha256()
    history = CalibrationHistory(options.cache_path or default_cache_path()) if options.use_cache else None
    judges = []
    for judge in options.judges:
        graded = {}
        for rubric in rubrics:
            grades = {
                r["calibration_id"]: int(r["score"])
                for r in outcome.records
                if r["judge"] == judge and r["rubric"] == rubric.name and r["status"] == "scored"
            }
            previous = history.latest(judge, rubric.sha256, sha, str(run_dir.resolve())) if history else None
            graded[rubric.name] = _rubric_calibration(items, rubric.name, grades, previous)
            if history:
                history.record(judge, rubric.sha256, sha, str(run_dir.resolve()), grades, graded[rubric.name].kappa)
        flagged = any(c.kappa is None or c.kappa < KAPPA_THRESHOLD for c in graded.values())
        judges.append(JudgeCalibration(judge=judge, rubrics=graded, flagged=flagged))
    if history:
        history.close()
    return CalibrationReport(
        set_sha256=sha,
        n_items=len(items),
        threshold=KAPPA_THRESHOLD,
        judges=judges,
        cost_estimate_usd=cost_estimate(jobs, fresh),
        usage=usage_report(outcome),
        judgments_file=str(journal.relative_to(run_dir)),
    )


def _rubric_calibration(
    items: Sequence[CalibrationItem], rubric: str, grades: dict[str, int], previous: dict[str, Any] | None
) -> RubricCalibration:
    graded = [item for item in items if item.id in grades]
    reference = [item.reference[rubric] for item in graded]
    judged = [grades[item.id] for item in graded]
    kappa = weighted_kappa(reference, judged)
    report = RubricCalibration(
        kappa=kappa,
        n=len(graded),
        mean_abs_error=statistics.fmean(abs(a - b) for a, b in zip(reference, judged, strict=True)) if graded else None,
    )
    if previous is None:
        return report
    before: dict[str, int] = previous["grades"]
    drift = None if kappa is None or previous["kappa"] is None else kappa - previous["kappa"]
    return report.model_copy(
        update={
            "previous_kappa": previous["kappa"],
            "previous_at": previous["at"],
            "drift": drift,
            "changed": sum(before[key] != value for key, value in grades.items() if key in before),
        }
    )


class CalibrationHistory:
    """Each judge's calibrations, in the judge cache file beside its replies."""

    def __init__(self, path: Path) -> None:
        self._db = open_store(
            path,
            "CREATE TABLE IF NOT EXISTS calibrations (judge TEXT, rubric_sha256 TEXT, set_sha256 TEXT, run TEXT,"
            " grades TEXT, kappa REAL, created REAL)",
        )

    def latest(self, judge: str, rubric_sha256: str, set_sha: str, run: str) -> dict[str, Any] | None:
        """The judge's latest calibration from another run on the same rubric and set; None if it has none."""
        row = self._db.execute(
            "SELECT grades, kappa, created FROM calibrations WHERE judge = ? AND rubric_sha256 = ? AND set_sha256 = ?"
            " AND run != ? ORDER BY created DESC LIMIT 1",
            (judge, rubric_sha256, set_sha, run),
        ).fetchone()
        if row is None:
            return None
        at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(row[2]))
        return {"grades": json.loads(row[0]), "kappa": row[1], "at": at}

    def record(
        self, judge: str, rubric_sha256: str, set_sha: str, run: str, grades: dict[str, int], kappa: float | None
    ) -> None:
        """Store this run's calibration (replacing an earlier record of the same run, as on a resume)."""
        self._db.execute(
            "DELETE FROM calibrations WHERE judge = ? AND rubric_sha256 = ? AND set_sha256 = ? AND run = ?",
            (judge, rubric_sha256, set_sha, run),
        )
        self._db.execute(
            "INSERT INTO calibrations VALUES (?, ?, ?, ?, ?, ?, ?)",
            (judge, rubric_sha256, set_sha, run, json.dumps(grades, sort_keys=True), kappa, time.time()),
        )

    def close(self) -> None:
        self._db.close()
