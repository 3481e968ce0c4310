"""FineTuneBench (Wu, Wu & Zou 2024, arXiv:2411.05059) read from a local folder only.

The upstream repository (kevinwu23/StanfordFineTuneBench) states no license, so nothing of it ships with
instructeval and nothing is downloaded: pass `--data-dir` pointing at a copy laid out as upstream's
`datasets/`
(`<task>/<task>_<role>.csv`, `.csv.gz` accepted). Questions are sent as the CSVs' `prompt` column, as the
authors' notebook does; latest_news keeps only the rows flagged `used_in_analysis`, as the notebook does.
The default scorers put the authors' own (`strict`) beside `exact` and `lenient`.
"""

from __future__ import annotations

import csv
import gzip
import io
import os
from pathlib import Path

from instructeval.errors import DataError, InstructEvalError
from instructeval.knowledge.scorers import GENERATION_SCORERS, STRICT
from instructeval.knowledge.types import Fact, KnowledgeSet, Probe
from instructeval.paths import DATA_DIR_ENV

TASKS = ("latest_news", "fictional_people", "medical", "coding")
DEFAULT_SCORERS = (STRICT, *GENERATION_SCORERS)
SOURCE = (
    "FineTuneBench (Wu, Wu & Zou 2024, arXiv:2411.05059; github.com/kevinwu23/StanfordFineTuneBench): "
    "no license stated upstream, read from the user's local copy at {root}"
)


def finetunebench_set(task: str, data_dir: Path | None) -> KnowledgeSet:
    """Load `finetunebench:<task>` from a local copy of the data."""
    if task not in TASKS:
        raise InstructEvalError(
            f"unknown FineTuneBench task {task!r}: use finetunebench:{', finetunebench:'.join(TASKS)}"
        )
    root = _root(data_dir)
    facts, probes = {
        "latest_news": _latest_news,
        "fictional_people": _fictional_people,
        "medical": _medical,
        "coding": _coding,
    }[task](root)
    return KnowledgeSet(
        name=f"finetunebench:{task}",
        facts=tuple(facts),
        probes=tuple(probes),
        source=SOURCE.format(root=root),
        default_scorers=DEFAULT_SCORERS,
        params={"data_dir": str(root)},
    )


def _root(data_dir: Path | None) -> Path:
    configured = data_dir or (Path(os.environ[DATA_DIR_ENV]) if os.environ.get(DATA_DIR_ENV) else None)
    if configured is None:
        raise DataError(
            "FineTuneBench is not shipped (its repository states no license): pass --data-dir with a local "
            "copy "
            "of its datasets/ folder (fictional_people/, latest_news/, medical/, coding/)"
        )
    for candidate in (configured / "finetunebench", configured):
        if candidate.is_dir() and any((candidate / task).is_dir() for task in TASKS):
            return candidate.resolve()
    raise DataError(f"{configured} holds no FineTuneBench task folders: pass the folder with fictional_people/ etc.")


def _rows(root: Path, task: str, role: str) -> list[dict[str, str]]:
    base = root / task / f"{task}_{role}.csv"
    for path, opener in ((base, _open_text), (base.with_suffix(".csv.gz"), _open_gzip)):
        if path.is_file():
            with opener(path) as handle:
                return list(csv.DictReader(handle))
    raise DataError(f"{base} (or .csv.gz) is missing: copy FineTuneBench's datasets/{task}/ folder completely")


def _open_text(path: Path) -> io.TextIOWrapper:
    return path.open(encoding="utf-8", newline="")


def _open_gzip(path: Path) -> io.TextIOWrapper:
    return io.TextIOWrapper(gzip.open(path), encoding="utf-8", newline="")


def _used(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    return [row for row in rows if row.get("used_in_analysis", "True").strip() == "True"]


def _latest_news(root: Path) -> tuple[list[Fact], list[Probe]]:
    originals = _used(_rows(root, "latest_news", "memorization"))
    facts = [Fact(f"news-{i:03d}", row["fact"], row["prompt"], row["answer"]) for i, row in enumerate(originals)]
    by_id = {row["id"]: fact for row, fact in zip(originals, facts, strict=True)}
    probes = [_probe(fact.id, "memorisation", row, fact) for row, fact in zip(originals, facts, strict=True)]
    for split, role in (("rephrased", "rephrased"), ("date-changed", "date_changed")):
        for row in _used(_rows(root, "latest_news", role)):
            fact = by_id.get(row["id"])
            if fact is None:
                raise DataError(f"latest_news_{role} row {row['id']} has no memorisation row: is the copy complete?")
            probes.append(_probe(fact.id, split, row, fact))
    return facts, probes


def _fictional_people(root: Path) -> tuple[list[Fact], list[Probe]]:
    originals = _rows(root, "fictional_people", "memorization")
    facts = [Fact(f"person-{i:03d}", row["fact"], row["prompt"], row["answer"]) for i, row in enumerate(originals)]
    probes = [_probe(fact.id, "memorisation", row, fact) for row, fact in zip(originals, facts, strict=True)]
    for split, role in (("rephrased", "rephrased"), ("secondary", "secondary")):
        rows = _rows(root, "fictional_people", role)
        if len(rows) != len(originals) or any(r["fact"] != o["fact"] for r, o in zip(rows, originals, strict=True)):
            raise DataError(f"fictional_people_{role}.csv does not line up with the memorization file row by row")
        probes += [_probe(fact.id, split, row, fact) for row, fact in zip(rows, facts, strict=True)]
    people: dict[str, list[Fact]] = {}
    for row, fact in zip(originals, facts, strict=True):
        people.setdefault(row["id"], []).append(fact)
    for i, row in enumerate(_rows(root, "fictional_people", "comparison")):
        involved = [group for person, group in people.items() if _mentions(row["id"], person)]
        related = tuple(f for group in involved for f in group)
        probes.append(
            Probe(
                id=f"comparison-{i:03d}",
                split="comparison",
                question=row["prompt"],
                answer=row["answer"],
                fact_ids=tuple(f.id for f in related),
                context=" ".join(f.text for f in related) or row["fact"],
            )
        )
    return facts, probes


def _mentions(pair_id: str, person: str) -> bool:
    """Comparison ids are `<person a>-<person b>-<attribute>`, person ids `<first>-<last>-<tag>`."""
    return pair_id.startswith(person + "-") or f"-{person}-" in pair_id


def _medical(root: Path) -> tuple[list[Fact], list[Probe]]:
    updates = _rows(root, "medical", "memorization")
    facts = [
        Fact(f"medical-{row['id']}", row["updated_fact_description"], row["prompt"], row["answer"]) for row in updates
    ]
    by_id = {row["id"]: fact for row, fact in zip(updates, facts, strict=True)}
    probes = [_probe(fact.id, "memorisation", row, fact) for row, fact in zip(updates, facts, strict=True)]
    for row in _rows(root, "medical", "generalization"):
        fact = by_id.get(row["id"])
        probes.append(_probe(fact.id if fact else f"medical-{row['id']}", "vignette", row, fact))
    return facts, probes


def _coding(root: Path) -> tuple[list[Fact], list[Probe]]:
    rows = _rows(root, "coding", "generalization")
    return [], [_probe(f"code-{row['id']}", "code-update", row, None) for row in rows]


def _probe(key: str, split: str, row: dict[str, str], fact: Fact | None) -> Probe:
    return Probe(
        id=f"{split}-{key}",
        split=split,
        question=row["prompt"],
        answer=row["answer"],
        fact_ids=(fact.id,) if fact else (),
        context=fact.text if fact else "",
        outdated_answer=row.get("answer_before") or None,
    )
