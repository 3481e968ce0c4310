"""The writing section of results.json, typed: what the judge measured on a run's writing answers.

`instructeval.judge` computes these reports and prints them; compare, the leaderboard and the end-of-run
table read them back through `RunResults.writing`. Every number with an uncertainty is a `Score`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from instructeval.score import Score

OVERALL = "overall"
SCORE_FIELDS = ("value", "stderr", "ci_low", "ci_high", "n", "ci_method", "confidence", "resamples", "seed")


class RubricInfo(BaseModel):
    """Which rubric file graded: its version and the sha256 of its bytes."""

    name: str
    version: int
    sha256: str


class GroupScore(BaseModel):
    """One group's judged score, and how many answers lack one and why.

    `score.n` counts answers with a score; `missing_answers` were judged but got no valid verdict;
    `missing_judgments` counts single judgments without a score; `not_graded` counts judgments never sent
    because the budget ran out.
    """

    score: Score
    missing_answers: int = 0
    missing_judgments: int = 0
    judgments: int = 0
    not_graded: int = 0

    @model_validator(mode="before")
    @classmethod
    def _nest_flat_score(cls, data: Any) -> Any:
        """Results written before the score was nested carry its fields at this level."""
        if isinstance(data, dict) and "score" not in data:
            flat = {key: value for key, value in data.items() if key in SCORE_FIELDS}
            return {**{k: v for k, v in data.items() if k not in SCORE_FIELDS}, "score": flat}
        return data


class JudgeUsage(BaseModel):
    """What one judge's requests cost in this invocation; `cost_usd` None when its price is unknown."""

    requests: int = 0
    replies_paid: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: int = 0
    cost_usd: float | None = 0.0


class UsageReport(BaseModel):
    """What this invocation sent and paid, in total and per judge."""

    requests: int
    replies_paid: int
    cache_hits: int
    reused_judgments: int
    prompt_tokens: int
    completion_tokens: int
    usage_estimated: int
    cost_usd: float | None
    by_judge: dict[str, JudgeUsage]

    def text(self) -> str:
        """One caption line: replies, cache hits, tokens and cost."""
        cost = "cost unknown (no price for the judge)" if self.cost_usd is None else f"${self.cost_usd:.4f}"
        return (
            f"{self.replies_paid} paid replies ({self.requests} requests), {self.cache_hits} cache hits, "
            f"{self.reused_judgments} judgments reused; {self.prompt_tokens}+{self.completion_tokens} tokens, {cost}"
        )


class BudgetReport(BaseModel):
    """The spending cap and whether grading stopped on it (what was graded is kept)."""

    limit_usd: float | None
    spent_usd: float
    stopped: bool


class PairAgreement(BaseModel):
    """Kappa between two raters and the number of units both rated."""

    rater_a: str
    rater_b: str
    kappa: float | None
    n: int


class AgreementReport(BaseModel):
    """Quadratic-weighted Cohen's kappa per pair of raters, its mean over the pairs where it is defined, and
    Krippendorff's ordinal alpha over all raters at once (units rated by one rater only left out)."""

    method: str = "cohen_kappa_quadratic"
    mean_kappa: float | None
    pairs: list[PairAgreement]
    krippendorff_alpha: float | None = Field(None, description="ordinal; None when no value varies or no unit pairs")


class LengthCorrelation(BaseModel):
    """Spearman's rho between answer length and score; None when undefined (n < 3 or a constant side)."""

    spearman_rho: float | None
    p_value: float | None
    n: int
    unit: str


class LengthControlledWinRate(BaseModel):
    """The win rate (ties count half) raw and as predicted at equal lengths (AlpacaEval 2's regression)."""

    raw: float
    controlled: float
    slope: float = Field(description="logit change per unit of tanh(length difference / its sd)")
    n: int = Field(description="judged pairs (judge x repeat x answer)")
    unit: str


class SelfPreference(BaseModel):
    """A judge of the same family as a model it grades: it may favour that model's answers."""

    judge: str
    role: Literal["model", "reference"]
    model: str
    family: str

    def text(self) -> str:
        """The warning line for the terminal and the leaderboard."""
        whose = "the evaluated model" if self.role == "model" else "the reference model"
        return (
            f"self-preference risk: judge {self.judge} and {whose} {self.model} are both {self.family} models; "
            "add or use a judge of another family"
        )


class RubricCalibration(BaseModel):
    """One judge's grades of the calibration answers for one rubric, against the reference grades and its past."""

    kappa: float | None = Field(description="quadratic-weighted kappa with the reference grades")
    n: int = Field(description="calibration answers graded")
    mean_abs_error: float | None
    previous_kappa: float | None = Field(None, description="the same judge's kappa at its latest earlier calibration")
    previous_at: str | None = None
    drift: float | None = Field(None, description="kappa minus previous_kappa")
    changed: int | None = Field(None, description="answers graded differently from the earlier calibration")


class JudgeCalibration(BaseModel):
    """A judge's calibration; `flagged` when its kappa with the reference is below the threshold or undefined."""

    judge: str
    rubrics: dict[str, RubricCalibration]
    flagged: bool

    def text(self) -> str:
        """One line: kappa (and drift) per rubric."""
        parts = []
        for name, rubric in self.rubrics.items():
            kappa = "undefined" if rubric.kappa is None else f"{rubric.kappa:.2f}"
            drift = "" if rubric.drift is None else f", drift {rubric.drift:+.2f} since {rubric.previous_at}"
            parts.append(f"{name} kappa {kappa}{drift}")
        return f"{self.judge}: " + "; ".join(parts)


class CalibrationReport(BaseModel):
    """The shipped calibration answers graded by each judge of the run (quadratic kappa with reference grades)."""

    set_sha256: str
    n_items: int
    threshold: float
    judges: list[JudgeCalibration]
    cost_estimate_usd: float | None = Field(description="upper bound announced before grading; None when unpriced")
    usage: UsageReport
    judgments_file: str

    def warnings(self) -> list[str]:
        """One line per judge below the threshold."""
        return [
            f"judge {judge.judge} agrees with the calibration grades below kappa {self.threshold:g} (or gave too "
            "few valid verdicts): its scores are not trustworthy; use another judge"
            for judge in self.judges
            if judge.flagged
        ]


class WritingReport(BaseModel):
    """Pointwise grading of a run's writing answers (relevance and coherence, 1-5)."""

    mode: Literal["pointwise"] = "pointwise"
    task: str
    judges: list[str]
    rubrics: dict[str, RubricInfo]
    repeats: int
    temperature: float
    max_tokens: int
    n_answers: int
    complete: bool
    scores: dict[str, dict[str, GroupScore]] = Field(description="rubric -> group (category, overall) -> score")
    by_judge: dict[str, dict[str, dict[str, GroupScore]]]
    agreement: dict[str, AgreementReport]
    self_agreement: dict[str, dict[str, AgreementReport]]
    repeat_spread: dict[str, dict[str, float | None]]
    length_correlation: dict[str, dict[str, LengthCorrelation]]
    self_preference: list[SelfPreference] = Field(default_factory=list)
    calibration: CalibrationReport | None = None
    usage: UsageReport
    budget: BudgetReport
    judgments_file: str


class PairwiseReport(BaseModel):
    """Pairwise preference of a run's answers over a reference run's, each pair judged in both orders."""

    mode: Literal["pairwise"] = "pairwise"
    task: str
    reference_run: str
    judges: list[str]
    rubric: RubricInfo
    repeats: int
    temperature: float
    max_tokens: int
    n_pairs: int
    unaligned: dict[str, int]
    complete: bool
    rates: dict[str, dict[str, GroupScore]] = Field(description="outcome (win, tie, loss) -> group -> rate")
    order_consistency: dict[str, GroupScore]
    length_controlled: LengthControlledWinRate | None = None
    self_preference: list[SelfPreference] = Field(default_factory=list)
    usage: UsageReport
    budget: BudgetReport
    judgments_file: str


class WritingSection(BaseModel):
    """results.json's `writing`: the pointwise and the pairwise report, each present once graded."""

    pointwise: WritingReport | None = None
    pairwise: PairwiseReport | None = None


def with_report(section: WritingSection | None, report: WritingReport | PairwiseReport) -> WritingSection:
    """The writing section with `report` in its place (pointwise or pairwise), the other report kept."""
    return (section or WritingSection()).model_copy(update={report.mode: report})
