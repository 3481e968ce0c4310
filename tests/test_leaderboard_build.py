"""How a leaderboard build writes: a rebuild from the page cache publishes what a fresh build does, byte for byte,
and a page that is no longer the file the cache vouches for (cut short by a killed build, edited) is written again."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from leaderboard_fixtures import PWN_TITLE, write_fixture_runs
from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from instructeval.errors import InstructEvalError
from instructeval.leaderboard import build_site
from instructeval.leaderboard._breakdowns import encoded_breakdowns
from instructeval.leaderboard._collect import find_results, load_found
from instructeval.leaderboard._index_schema import IndexRunResults, IndexScore, IndexTaskResult
from instructeval.leaderboard._page_cache import CACHE_FILE
from instructeval.results import TaskResult, load_results
from instructeval.run import save_results
from instructeval.score import Score

STAMP = re.compile(rb'"generated_at":"[^"]*"')


def _site_files(out: Path) -> dict[str, bytes]:
    """Every file of the site but the page cache, with the build time (the one thing two builds differ in) cut out."""
    return {
        p.relative_to(out).as_posix(): STAMP.sub(b"", p.read_bytes())
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name != CACHE_FILE
    }


def test_a_rebuild_publishes_what_a_fresh_build_does(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_fixture_runs(runs)
    fresh, rebuilt = tmp_path / "fresh", tmp_path / "rebuilt"
    build_site([runs], fresh, title=PWN_TITLE)
    build_site([runs], rebuilt, title=PWN_TITLE)
    pages = sorted((rebuilt / "models").iterdir())
    written = {p.name: p.stat().st_mtime_ns for p in pages}
    build_site([runs], rebuilt, title=PWN_TITLE)  # every page kept, its data read back from the page
    assert {p.name: p.stat().st_mtime_ns for p in pages} == written
    assert _site_files(rebuilt) == _site_files(fresh)
    assert not list(rebuilt.rglob("*.tmp"))


def test_a_page_the_cache_no_longer_vouches_for_is_written_again(tmp_path: Path) -> None:
    runs, out, fresh = tmp_path / "runs", tmp_path / "site", tmp_path / "fresh"
    write_fixture_runs(runs)
    build_site([runs], out)
    build_site([runs], fresh)
    cut, edited, kept = sorted((out / "models").iterdir())[:3]
    with cut.open("r+b") as handle:  # a build killed while overwriting the page in place
        handle.truncate(cut.stat().st_size // 2)
    text = edited.read_bytes()  # an edit that keeps the page's size and its head and tail
    middle = len(text) // 2
    edited.write_bytes(text[:middle] + (b"1" if text[middle : middle + 1] != b"1" else b"2") + text[middle + 1 :])
    before = kept.stat().st_mtime_ns
    build_site([runs], out)
    assert _site_files(out) == _site_files(fresh)
    assert kept.stat().st_mtime_ns == before


def test_pages_are_written_in_place_and_the_rest_replaced(tmp_path: Path) -> None:
    """A model page keeps its file (no truncation to zero and rewrite); index.html and the data are new files,
    so a reader or a killed build never sees them cut short."""
    runs, out = tmp_path / "runs", tmp_path / "site"
    write_fixture_runs(runs)
    build_site([runs], out)
    page = sorted((out / "models").iterdir())[0]
    inodes = {p: os.stat(p).st_ino for p in (page, out / "index.html", out / "data" / "leaderboard.json")}
    build_site([runs], out, title="another title")  # every page changes
    assert os.stat(page).st_ino == inodes[page]
    assert b"another title" in page.read_bytes()
    assert os.stat(out / "index.html").st_ino != inodes[out / "index.html"]
    assert os.stat(out / "data" / "leaderboard.json").st_ino != inodes[out / "data" / "leaderboard.json"]


def test_a_build_reads_each_run_for_the_index_and_the_pages_breakdowns_apart(tmp_path: Path) -> None:
    """The build's process reads every run without the breakdowns only a page shows (HHH's categories stay: the
    index shows them); the pages' breakdowns are read apart, from files that must still be the ones the build
    found."""
    runs = tmp_path / "runs"
    write_fixture_runs(runs)
    found = load_found(find_results([runs]))
    assert found.runs and all(isinstance(run.results, IndexRunResults) for run in found.runs)
    assert {kind for run in found.runs for t in run.results.tasks.values() for kind in t.breakdown} == {"category"}
    smol = next(run for run in found.runs if run.shown.endswith("smol/new"))
    (subjects,) = json.loads(encoded_breakdowns(smol.path, smol.stamp)["mmlu"])
    anatomy, astronomy = [0.31, 0.28, 0.34, 200], [0.27, 0.24, 0.3, 200]  # fixture scores: value ± 0.03, n 200
    assert subjects == {
        "kind": "subject",
        "groups": [{"group": "anatomy", "cell": anatomy}, {"group": "astronomy", "cell": astronomy}],
    }
    save_results(smol.path, load_results(smol.path))  # the run written again after the build found it
    with pytest.raises(InstructEvalError, match="changed while the leaderboard was built: build it again"):
        encoded_breakdowns(smol.path, smol.stamp)


def test_the_index_reads_task_results_and_scores_as_the_models_do() -> None:
    """The index's light records of a task result and a score have TaskResult's and Score's fields, types and
    defaults, in their order (a field added to one and not the other fails here), and refuse what they refuse."""

    def fields(found: dict[str, FieldInfo]) -> list[tuple[str, str, object, object]]:
        scores = tuple(f"{t.__module__}.{t.__qualname__}" for t in (IndexScore, Score))
        return [(n, repr(f.annotation).replace(*scores), f.default, f.default_factory) for n, f in found.items()]

    assert fields(IndexTaskResult.__pydantic_fields__) == fields(TaskResult.model_fields)
    assert fields(IndexScore.__pydantic_fields__) == fields(Score.model_fields)
    task = {"task": "gsm8k", "protocol": "generate", "protocol_version": "1", "output_type": "generate_until"}
    task |= {"num_fewshot": 8, "primary_metric": "exact_match", "data_source": "local", "data_hash": "d"}
    task |= {"prompt_hash": "p", "chat_template_applied": True, "wall_seconds": 1.0, "n_samples": 2}
    task |= {"samples_file": "samples/gsm8k.jsonl", "metrics": {"exact_match": {"value": 0.5, "n": 2}}}
    record = TypeAdapter(IndexTaskResult).validate_python(task)
    assert (record.num_fewshot, record.metrics["exact_match"].value, record.breakdown) == (8, 0.5, {})
    for bad in ({"num_fewshot": "eight"}, {"metrics": {"exact_match": {"n": 2}}}, {"data_hash": None}):
        with pytest.raises(ValidationError) as model_error:
            TaskResult.model_validate(task | bad)
        with pytest.raises(ValidationError) as record_error:
            TypeAdapter(IndexTaskResult).validate_python(task | bad)
        assert [e["loc"] for e in record_error.value.errors()] == [e["loc"] for e in model_error.value.errors()]


def test_a_breakdown_a_page_cannot_read_is_one_line(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_fixture_runs(runs)
    path = runs / "smol" / "new" / "results.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["tasks"]["mmlu"]["breakdown"]["subject"]["anatomy"]["acc"]["value"] = "high"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InstructEvalError, match=r"results.json does not match the results schema \(1 validation"):
        build_site([runs], tmp_path / "site", workers=1)
    assert not (tmp_path / "site").exists()
    done = _cli_build(runs, tmp_path / "site", "--workers", "2")  # read ahead in a forked process: the same line
    assert done.returncode == 2 and "does not match the results schema" in done.stderr, done.stderr
    assert done.stderr.count("\n") == 1 and not (tmp_path / "site").exists()


def test_a_rebuild_after_a_run_changed_publishes_what_a_fresh_build_does(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "site"
    written = write_fixture_runs(runs)
    build_site([runs], out)
    older = written["smol/old"].model_copy(deep=True)  # an older run of a model with four runs changes
    task = older.tasks["gsm8k"]
    task.metrics[task.primary_metric] = task.metrics[task.primary_metric].model_copy(update={"value": 0.5})
    save_results(runs / "smol" / "old", older)
    build_site([runs], out)
    build_site([runs], tmp_path / "fresh")
    assert _site_files(out) == _site_files(tmp_path / "fresh")

    build_site([runs], out, title=PWN_TITLE)  # every page again
    build_site([runs], tmp_path / "fresh-titled", title=PWN_TITLE)
    assert _site_files(out) == _site_files(tmp_path / "fresh-titled")


def _cli_build(runs: Path, out: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`instructeval leaderboard build` in a process of its own: one that has started no thread, so it forks (a
    test process may hold threads other tests left, and then builds in the calling process)."""
    command = [sys.executable, "-m", "instructeval", "leaderboard", "build", str(runs), "--out", str(out), *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


def test_a_forked_build_publishes_what_one_in_this_process_does(tmp_path: Path) -> None:
    """Pages rendered by forked workers, into files made ahead (ReservedFiles), give the site a build in this
    process gives, on a first build, a rebuild and after a run changed; no reserved file is left behind (the
    fixture has more runs than models, so some are never taken)."""
    runs = tmp_path / "runs"
    written = write_fixture_runs(runs)
    here, forked = tmp_path / "here", tmp_path / "forked"
    for step in range(3):
        if step == 2:
            changed = written["smol/old"].model_copy(deep=True)
            changed.run.seed = 99
            save_results(runs / "smol" / "old", changed)
        build_site([runs], here, title=PWN_TITLE, workers=1)
        done = _cli_build(runs, forked, "--title", PWN_TITLE, "--workers", "2")
        assert done.returncode == 0, done.stderr
        assert _site_files(forked) == _site_files(here)
        assert not list(forked.rglob(".reserved-*"))


def test_a_failed_forked_build_is_one_line_and_leaves_no_half_made_site(tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "site"
    write_fixture_runs(runs)
    broken = sorted(runs.rglob("results.json"))[-1]
    broken.write_text("{not json", encoding="utf-8")
    done = _cli_build(runs, out, "--workers", "2")
    assert done.returncode == 2 and "does not match the results schema" in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert not out.exists()  # a first build that failed leaves nothing, its reserved files included
    out.mkdir()
    done = _cli_build(runs, out, "--workers", "2")  # into a folder that was there before: it stays
    assert done.returncode == 2 and out.is_dir() and not list(out.rglob(".reserved-*"))


def test_workers_below_one_are_refused(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    write_fixture_runs(runs)
    with pytest.raises(InstructEvalError, match="--workers 0 is not valid"):
        build_site([runs], tmp_path / "site", workers=0)
    assert not (tmp_path / "site").exists()


def _descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", encoding="ascii") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except OSError:  # ended meanwhile
                continue
    found, todo = [], [pid]
    while todo:
        below = todo.pop()
        children = [child for child, parent in parents.items() if parent == below]
        found += children
        todo += children
    return found


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_an_interrupted_first_build_leaves_no_site_and_no_process(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the command alone, as `kill -INT` sends it) while the forked build works: one line, the
    build stops as an interrupted one does and removes its half-made site, and no process of it is left."""
    runs, out = tmp_path / "runs", tmp_path / "site"
    run = write_fixture_runs(runs)["smol/new"]
    for i in range(1500):  # enough models that the build is still at work when the signal comes
        model = run.model.model_copy(update={"name": f"org/model-{i}", "spec": f"hf:org/model-{i}"})
        save_results(runs / "many" / f"model-{i}", run.model_copy(update={"model": model}))
    command = [sys.executable, "-m", "instructeval", "leaderboard", "build", str(runs), "--out", str(out)]
    build = subprocess.Popen([*command, "--workers", "2"], stderr=subprocess.PIPE, text=True)
    while not (out / ".instructeval-leaderboard").exists() and build.poll() is None:
        pass
    below = _descendants(build.pid)
    build.send_signal(signal.SIGINT)
    _, stderr = build.communicate(timeout=120)
    assert build.returncode == 130 and stderr == "instructeval: interrupted; rerun the same command to start it again\n"
    assert below and not out.exists()
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in below) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_running(pid) for pid in below)
