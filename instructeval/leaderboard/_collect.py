"""Finding results: every results.json and comparison file under the given paths, and each model's latest runs."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from instructeval.errors import InstructEvalError
from instructeval.leaderboard._index_schema import IndexRunResults, IndexTaskResult
from instructeval.results import RESULTS_FILE, Comparison, KnowledgeResult, ModelKey
from instructeval.run import LoadedRun, load_run, parse_time
from instructeval.writing.report import WritingReport

COMPARISON_FILES = "comparison*.json"
"""What `instructeval compare` writes beside a run: comparison-vs-<base>.json (a plain comparison.json is read too)."""


@dataclass(frozen=True)
class Picked:
    """A task's result, and the run it came from (under `name` in that run's results)."""

    result: IndexTaskResult
    run: LoadedRun
    name: str


@dataclass
class ModelRuns:
    """What the leaderboard shows for one model (spec + adapter): the chosen result per task and per section."""

    key: ModelKey
    runs: list[LoadedRun]
    tasks: dict[str, Picked] = field(default_factory=dict)
    writing: tuple[WritingReport, LoadedRun] | None = None
    knowledge: list[tuple[KnowledgeResult, LoadedRun]] = field(default_factory=list)

    @property
    def latest(self) -> LoadedRun:
        """The newest run of the model: its name and spec head the model's page."""
        return max(self.runs, key=lambda run: run.started)


@dataclass(frozen=True)
class Found:
    """Everything the given paths hold."""

    runs: list[LoadedRun]
    comparisons: list[tuple[Comparison, str]]
    comparisons_stamp: str = ""
    """Every comparison file's label and stamp, in order: what a page that lists comparisons depends on."""


@dataclass(frozen=True)
class ResultsFiles:
    """The results and comparison files under the given paths, each once: (path, label on the site, stamp)."""

    runs: list[tuple[Path, str, str]]
    comparisons: list[tuple[Path, str, str]]


def find_results(paths: Sequence[Path]) -> ResultsFiles:
    """Every results.json and comparison*.json under the paths (searched recursively), each file once."""
    runs: dict[FileId, tuple[Path, str, str]] = {}
    comparisons: dict[FileId, tuple[Path, str, str]] = {}
    for root in paths:
        if not root.exists():
            raise InstructEvalError(f"{root} does not exist: pass run folders or folders that contain them")
        folder = root if root.is_dir() else root.parent
        name = folder.resolve().name
        results_files, comparison_files = _files(root)
        for file_id, (path, stamp) in results_files.items():
            runs.setdefault(file_id, (path, _label(folder, name, path.parent), stamp))
        for file_id, (path, stamp) in comparison_files.items():
            comparisons.setdefault(file_id, (path, _label(folder, name, path), stamp))
    if not runs and not comparisons:
        listed = ", ".join(str(p) for p in paths)
        raise InstructEvalError(
            f"no {RESULTS_FILE} or {COMPARISON_FILES} under {listed}: pass the runs/ folder `instructeval run` writes"
        )
    return ResultsFiles(runs=list(runs.values()), comparisons=list(comparisons.values()))


def load_found(files: ResultsFiles) -> Found:
    """Load the files, each results file as IndexRunResults."""
    runs = [load_run(path.parent, label, stamp, IndexRunResults) for path, label, stamp in files.runs]
    comparisons = [(_load_comparison(path), label) for path, label, _stamp in files.comparisons]
    stamp = "|".join(f"{label}@{stamp}" for _path, label, stamp in files.comparisons)
    return Found(runs=runs, comparisons=comparisons, comparisons_stamp=stamp)


FileId = tuple[int, int]
"""(device, inode): the same file reached through two given paths or a link is read once."""


def _files(root: Path) -> tuple[dict[FileId, tuple[Path, str]], dict[FileId, tuple[Path, str]]]:
    """The regular results.json and comparison*.json files at or below root, in path order, in one walk, each
    with its stamp."""
    if root.is_file():
        candidates = [root] if _wanted(root.name) else []
    else:
        candidates = sorted(Path(top, name) for top, _dirs, names in os.walk(root) for name in names if _wanted(name))
    results: dict[FileId, tuple[Path, str]] = {}
    comparisons: dict[FileId, tuple[Path, str]] = {}
    for path in candidates:
        try:
            info = path.stat()
        except OSError:  # a dangling link
            continue
        if stat.S_ISREG(info.st_mode):
            found = results if path.name == RESULTS_FILE else comparisons
            found.setdefault((info.st_dev, info.st_ino), (path, file_stamp(info)))
    return results, comparisons


def file_stamp(info: os.stat_result) -> str:
    """A file's identity and version as the file system tells it: device, inode, size, mtime."""
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def _wanted(name: str) -> bool:
    return name == RESULTS_FILE or fnmatch.fnmatchcase(name, COMPARISON_FILES)


def _label(folder: Path, name: str, path: Path) -> str:
    """The path as the site shows it: from the given folder's name down, never the machine's absolute path."""
    relative = path.relative_to(folder).as_posix()
    return f"{name}/{relative}" if relative != "." else name


def _load_comparison(path: Path) -> Comparison:
    try:
        return Comparison.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as exc:
        first = str(exc).splitlines()[0]
        problem = f"{path} does not match the comparison schema ({first})"
        raise InstructEvalError(f"{problem}; was it edited by hand?") from exc


def select(runs: Sequence[LoadedRun], *, include_incomplete: bool = False) -> list[ModelRuns]:
    """Group runs by model spec + adapter; per task (and writing, knowledge) take the newest usable run."""
    groups: dict[ModelKey, list[LoadedRun]] = defaultdict(list)
    for run in runs:
        groups[run.key].append(run)
    models = []
    for key, members in groups.items():
        usable = [r for r in members if include_incomplete or r.results.run.status == "complete"]
        newest_first = sorted(usable, key=lambda run: run.started, reverse=True)
        entry = ModelRuns(key=key, runs=members)
        for run in newest_first:
            for name, result in index_tasks(run).items():
                entry.tasks.setdefault(task_key(name, result), Picked(result=result, run=run, name=name))
            pointwise = run.results.writing.pointwise if run.results.writing else None
            if entry.writing is None and pointwise is not None:
                entry.writing = (pointwise, run)
        seen: set[tuple[str, str]] = set()
        for run in newest_first:
            for cell in run.results.knowledge or []:
                if (cell.knowledge_set, cell.method) not in seen:
                    seen.add((cell.knowledge_set, cell.method))
                    entry.knowledge.append((cell, run))
        if entry.tasks or entry.writing or entry.knowledge:
            models.append(entry)
    return models


def index_tasks(run: LoadedRun) -> dict[str, IndexTaskResult]:
    """The task results of a run `load_found` read (as IndexRunResults)."""
    results = run.results
    if not isinstance(results, IndexRunResults):
        raise TypeError(f"{run.shown} was not read for the index (load_found reads runs as IndexRunResults)")
    return results.tasks


def task_key(name: str, result: IndexTaskResult) -> str:
    """What the leaderboard files a result under: its results key (which names any setting other than the task's
    default, `gsm8k@0shot-cot`), plus `+majK` for a self-consistency vote, so that a voted and a greedy result of
    one setting are two settings, never the newer of the two."""
    return f"{name}+maj{result.self_consistency}" if result.self_consistency else name


def latest_comparisons(found: Sequence[tuple[Comparison, str]]) -> list[tuple[Comparison, str]]:
    """One comparison per (base, other) pair: the newest by created_at."""
    newest: dict[tuple[ModelKey, ModelKey], tuple[Comparison, str]] = {}
    for comparison, label in found:
        pair = (comparison.base, comparison.other)
        held = newest.get(pair)
        if held is None or parse_time(comparison.created_at) > parse_time(held[0].created_at):
            newest[pair] = (comparison, label)
    return list(newest.values())
