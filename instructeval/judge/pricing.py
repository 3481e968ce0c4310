"""Judge prices and the run's budget: cost is known or reported as unknown, never silently zero.

The shipped table `prices.json` is approximate (its `_about` names the source and date); `--judge-prices FILE`
in the same format adds models or overrides them.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

from instructeval.errors import InstructEvalError
from instructeval.models.spec import ModelSpec

PRICE_FILE = Path(__file__).resolve().parent / "prices.json"
_MESSAGE_OVERHEAD_TOKENS = 8


@dataclass(frozen=True)
class Price:
    """US$ per million prompt and completion tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok) / 1e6


def load_prices(override: Path | None = None) -> dict[str, Price]:
    """The shipped table, updated with the user's file when one is given."""
    table = _read_table(PRICE_FILE)
    if override is not None:
        table.update(_read_table(override))
    return table


def price_for(spec: ModelSpec, table: dict[str, Price]) -> Price | None:
    """A judge's price: by its whole spec string first, then by model name; None when unknown."""
    return table.get(str(spec)) or table.get(spec.name)


def worst_case_prompt_tokens(messages: list[dict[str, str]]) -> int:
    """An upper bound on prompt tokens: byte-level BPE never spends more than one token per UTF-8 byte."""
    return sum(len(m["content"].encode("utf-8")) + _MESSAGE_OVERHEAD_TOKENS for m in messages)


def _read_table(path: Path) -> dict[str, Price]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {
            name: Price(float(p["input_per_mtok"]), float(p["output_per_mtok"])) for name, p in data["models"].items()
        }
    except FileNotFoundError as exc:
        raise InstructEvalError(
            f"price file {path} does not exist: pass an existing JSON file to --judge-prices"
        ) from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InstructEvalError(
            f"price file {path} is not in the expected format: "
            '{"models": {"<model>": {"input_per_mtok": 0.15, "output_per_mtok": 0.6}}}'
        ) from exc


class Budget:
    """A spending cap: each request reserves its worst-case cost before it is sent and settles after.

    When a reservation does not fit, the caller waits for in-flight requests to settle (their real cost is
    usually far below the reservation); when nothing is in flight and it still does not fit, the budget is
    exhausted and every later reservation is refused.
    """

    def __init__(self, limit_usd: float | None) -> None:
        self.limit_usd = limit_usd
        self.spent_usd = 0.0
        self.exhausted = False
        self._reserved = 0.0
        self._in_flight = 0
        self._changed = asyncio.Condition()

    async def reserve(self, amount: float) -> bool:
        """Reserve `amount` dollars; False once the budget cannot cover it."""
        if self.limit_usd is None:
            return True
        async with self._changed:
            while not self.exhausted:
                if self.spent_usd + self._reserved + amount <= self.limit_usd:
                    self._reserved += amount
                    self._in_flight += 1
                    return True
                if self._in_flight == 0:
                    self.exhausted = True
                    break
                await self._changed.wait()
            return False

    def left_usd(self) -> float | None:
        """What can still be committed now (None: no cap)."""
        return None if self.limit_usd is None else self.limit_usd - self.spent_usd - self._reserved

    def charge(self, actual: float) -> None:
        """Record spending that had no reservation (a batch, sized to `left_usd` before it was sent)."""
        self.spent_usd += actual

    async def settle(self, reserved: float, actual: float) -> None:
        """Replace a reservation by what the request really cost (0 when it failed)."""
        self.spent_usd += actual
        if self.limit_usd is None:
            return
        async with self._changed:
            self._reserved -= reserved
            self._in_flight -= 1
            self._changed.notify_all()
