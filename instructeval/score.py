"""`Score`: a metric value with its uncertainty, the one type every report, results file and table uses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

MISSING = "—"
"""How a score without a value is shown, everywhere."""


class ScoreLike(Protocol):
    """What tables and the leaderboard read of a score: a `Score`, or a lighter record with its fields (the
    leaderboard's index holds 150,000 of them at 5,000 models)."""

    @property
    def value(self) -> float | None: ...
    @property
    def stderr(self) -> float | None: ...
    @property
    def ci_low(self) -> float | None: ...
    @property
    def ci_high(self) -> float | None: ...
    @property
    def n(self) -> int: ...


class Score(BaseModel):
    """A metric value with its uncertainty; `value` is None when there were no examples (never 0).

    `stderr` is the analytic standard error of the mean (ddof=1, None below two examples), or the clustered one
    when `clusters` is set, with `naive` holding the score that treats every example as independent;
    `ci_method` says how the interval was made, and bootstrap intervals record `resamples` and `seed`.
    """

    model_config = ConfigDict(frozen=True)

    value: float | None
    stderr: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    n: int = 0
    ci_method: str | None = None
    confidence: float = 0.95
    resamples: int | None = None
    seed: int | None = None
    clusters: int | None = Field(None, description="clusters of the clustered stderr and CI (None: not clustered)")
    naive: Score | None = Field(None, description="with clusters: the score treating every example as independent")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (Python floats and ints, None for undefined)."""
        return self.model_dump()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Score:
        """Inverse of `to_dict`; unknown keys are ignored so older or richer records still load."""
        return cls.model_validate(dict(data))

    def text(self, digits: int = 3, *, stderr: bool = True, interval: bool = True, signed: bool = False) -> str:
        """The one way a score is shown: 'mean ± stderr [low, high]', or '—' when there is no value.

        Judge tables drop the interval; differences drop the stderr and carry a sign ('+0.050 [-0.010, +0.110]').
        """
        if self.value is None:
            return MISSING
        number = f"{{:{'+' if signed else ''}.{digits}f}}".format
        out = number(self.value)
        if stderr and self.stderr is not None:
            out += f" ± {self.stderr:.{digits}f}"
        if interval and self.ci_low is not None and self.ci_high is not None:
            out += f" [{number(self.ci_low)}, {number(self.ci_high)}]"
        return out
