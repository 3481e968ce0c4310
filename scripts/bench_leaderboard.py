"""Benchmark the leaderboard: build time for many models x tasks, and page load to interactive in Chromium.

    .venv/bin/python scripts/bench_leaderboard.py [--models 500] [--tasks 20] [--screenshot docs/leaderboard.png]

Synthetic results.json files (one run per model, MMLU/BBH/MGSM/HHH with their real breakdown sizes, about 3% of
tasks missing) are written to a temporary folder first; that is not timed. Every timed build is the user's command,
`instructeval leaderboard build`, in a process of its own (its start and imports included). First builds go into a
new folder each (none is removed until the bench ends), with forked workers (one per CPU) and with `--workers 1`,
alternating `--first-builds` times; then the timed rebuilds over the site (as a user's next build does: pages of
unchanged models are kept), then one rebuild after one model's results changed. Baseline: the targets, build <= 5 s
and load to interactive <= 1 s; each figure is printed with its ratio to its target, the forked first build also
with its ratio to the one in one process. Then two floors measured in the same run: the CPU time of reading and
validating the same results files alone, in full and in the two parts a build reads them in (for the index, in the
build's process; the breakdowns the model pages show, encoded, in a process beside it), alternating; and the time
this file system takes to make as many empty files in one folder as the site has model pages (what any first build
pays for its pages, whatever it writes into them). "Interactive" is the moment the page's script has drawn the table
and wired the controls (performance.now() at that point, i.e. from navigation start), read back from the page.
`--lm-eval-sections` gives every results file lm-eval's sections as a real run's file has them (a config per task
and subtask): without them, the files hold only what the leaderboard reads.

`--against REV` times the builds of this checkout and of git revision REV side by side instead: each build
sequence (first build, rebuilds, one changed) runs in a process of its own, the two alternating `--rounds` times
over the same results files, and each figure is printed for both with the ratio REV / this one, in wall-clock and
CPU seconds (the CPU time of a build moves less with the host's load than its wall time). Both sites are then
compared file by file (the build time stamped into them aside): the speed-up must not change a byte.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from instructeval.forked import usable_workers
from instructeval.gc_pause import gc_paused
from instructeval.leaderboard import build_site
from instructeval.registry import suites
from instructeval.results import ModelInfo, RunInfo, RunResults, TaskResult, load_results
from instructeval.run import save_results
from instructeval.score import Score

BUILD_TARGET_S = 5.0
LOAD_TARGET_S = 1.0
FAMILIES = ("Llama-3.1", "Qwen2.5", "SmolLM2", "gemma-2", "Mistral", "phi-3", "OLMo-2", "falcon3", "granite-3.1")
SIZES = ("135M", "360M", "0.5B", "1.7B", "3B", "7B", "8B", "14B", "32B", "70B")
CORE = (*suites()["problem-solving"], "hhh")
GROUPS = {"mmlu": ("subject", 57), "bbh": ("subtask", 27), "mgsm": ("language", 11), "hhh": ("category", 4)}
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-extensions",
    "--disable-sync",
    "--no-first-run",
    "--dns-prefetch-disable",
    "--window-size=1280,860",
)


def _score(rng: random.Random, mean: float, n: int) -> Score:
    value = min(0.99, max(0.01, rng.gauss(mean, 0.05)))
    half = 1.96 * (value * (1 - value) / n) ** 0.5
    return Score(value=value, stderr=half / 1.96, ci_low=value - half, ci_high=value + half, n=n, ci_method="wilson")


def _task(rng: random.Random, name: str, skill: float) -> TaskResult:
    kind, count = GROUPS.get(name, ("", 0))
    breakdown = {kind: {f"{kind}_{g:02d}": {"acc": _score(rng, skill, 100)} for g in range(count)}} if count else {}
    return TaskResult(
        task=name,
        protocol="loglikelihood",
        protocol_version="1",
        output_type="multiple_choice",
        num_fewshot=0,
        primary_metric="acc",
        metrics={"acc": _score(rng, skill, 1000)},
        breakdown=breakdown,
        data_source=f"hub:{name}",
        data_hash=f"{rng.getrandbits(64):016x}",
        prompt_hash=f"{rng.getrandbits(64):016x}",
        chat_template_applied=True,
        wall_seconds=1.0,
        n_samples=1000,
        samples_file=f"samples/{name}.jsonl",
    )


def _lm_eval_sections(results: RunResults) -> None:
    """lm-eval's sections as a real run's results file has them, for every task and subtask (breakdown group):
    its config (about 3.5 KB: the task's YAML, prompt template included), result, version, n-shot and more."""
    names = [*results.tasks, *(g for t in results.tasks.values() for groups in t.breakdown.values() for g in groups)]
    template = "Question: {{question}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nC. {{choices[2]}}\nD. {{choices[3]}}\n"
    for name in names:
        results.configs[name] = {
            "task": name,
            "dataset_path": f"hub/{name}",
            "test_split": "test",
            "fewshot_split": "dev",
            "doc_to_text": template * 24,
            "doc_to_target": "answer",
            "doc_to_choice": ["A", "B", "C", "D"],
            "output_type": "multiple_choice",
            "metric_list": [{"metric": "acc", "aggregation": "mean", "higher_is_better": True}],
            "metadata": {"version": 1.0},
        }
        results.results[name] = {"alias": name, "acc,none": 0.5, "acc_stderr,none": 0.01}
        results.versions[name] = 1.0
        results.n_shot[name] = 0
        results.higher_is_better[name] = {"acc": True}
        results.n_samples[name] = {"original": 100, "effective": 100}


def write_runs(root: Path, models: int, tasks: int, seed: int = 0, *, lm_eval_sections: bool = False) -> None:
    """One complete run per model with `tasks` tasks (the suite's eight first), a few tasks left missing; with
    `lm_eval_sections`, lm-eval's sections too, as a real run's file has them."""
    rng = random.Random(seed)
    names = [*CORE, *(f"extra_{k:02d}" for k in range(max(0, tasks - len(CORE))))][:tasks]
    for i in range(models):
        family, size = FAMILIES[i % len(FAMILIES)], SIZES[(i // len(FAMILIES)) % len(SIZES)]
        name = f"org{i % 13}/{family}-{size}-Instruct-v{i}"
        skill = 0.25 + 0.6 * SIZES.index(size) / len(SIZES) + rng.uniform(-0.1, 0.1)
        started = f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00+00:00"
        results = RunResults(
            run=RunInfo(
                status="complete",
                started_at=started,
                finished_at=started,
                command=["instructeval", "run"],
                seed=1234,
                limit=None,
                batch_size="auto",
                config_hash=f"{i:08x}",
                instructeval_version="0.1.0",
                packages={},
                device="cpu",
            ),
            model=ModelInfo(spec=f"hf:{name}", backend="hf", name=name, revision=f"{rng.getrandbits(160):040x}"),
            tasks={t: _task(rng, t, skill) for t in names if rng.random() > 0.03},
            writing=None,
        )
        if lm_eval_sections:
            _lm_eval_sections(results)
        save_results(root / f"model{i:04d}" / "run", results)


READERS = ("full", "index", "breakdowns")
"""The ways to read a results file: in full (RunResults), and in the two parts a build reads it in: for the index
(IndexRunResults) and the breakdowns the model pages show, encoded (in a forked process beside it)."""


def _reader(name: str) -> Callable[[Path], object]:
    # imported here: a --child build runs this file against an older revision, which may have neither
    from instructeval.leaderboard._breakdowns import encoded_breakdowns
    from instructeval.leaderboard._index_schema import IndexRunResults

    readers: dict[str, Callable[[Path], object]] = {
        "full": load_results,
        "index": lambda run: load_results(run, IndexRunResults),
        "breakdowns": encoded_breakdowns,
    }
    return readers[name]


def time_read(runs: Path, repeats: int, reader: str) -> list[float]:
    """Reading and validating every results.json one of the READERS' ways, with the cyclic collector paused as
    the build has it; CPU seconds."""
    read = _reader(reader)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        with gc_paused():
            for path in sorted(runs.rglob("results.json")):
                read(path.parent)
        times.append(time.process_time() - start)
    return times


def cpu_seconds() -> float:
    """CPU time of this process and of its children that have ended (a build's forked workers)."""
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def cli_build(runs: Path, out: Path, workers: int | None = None) -> float:
    """Wall seconds of `instructeval leaderboard build RUNS --out OUT [--workers N]` in a process of its own, as a
    user runs it: the interpreter's start and the imports included. A build in this process would pay for the
    heap earlier builds freed here (its forked processes copy those pages as they reuse them), which no user's
    build pays."""
    command = [sys.executable, "-m", "instructeval", "leaderboard", "build", str(runs), "--out", str(out)]
    command += [] if workers is None else ["--workers", str(workers)]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"the build failed: {(done.stderr.strip().splitlines() or ['no output'])[-1]}")
    return elapsed


def time_first_builds(runs: Path, tmp: Path, rounds: int, workers: int) -> dict[int, list[float]]:
    """First builds into a new folder, in one process (1 worker) and with `workers` forked ones, alternating
    `rounds` times; the last build's folder is moved to tmp/site. Every build gets a folder of its own, and none is
    removed before the last build: on an ext4 without a journal, making files within half a minute of deleting
    thousands costs seconds more (docs/leaderboard.md), which a user's first build does not pay."""
    times: dict[int, list[float]] = {1: [], workers: []}
    site = tmp / "site"
    for i in range(rounds):
        for count in (1, workers) if i % 2 == 0 else (workers, 1):
            site = tmp / f"first-build-{i}-{count}"
            times[count].append(cli_build(runs, site, count))
    site.rename(tmp / "site")
    return times


def time_making_files(folder: Path, count: int) -> float:
    """Seconds to make `count` empty files in a new folder (then removed, untimed)."""
    folder.mkdir()
    start = time.perf_counter()
    for i in range(count):
        os.close(os.open(folder / f"page-{i}.html", os.O_WRONLY | os.O_CREAT, 0o666))
    elapsed = time.perf_counter() - start
    shutil.rmtree(folder)
    return elapsed


def time_rebuilds(runs: Path, out: Path, repeats: int) -> list[float]:
    """`repeats` rebuilds over a built site (what a user's next build does)."""
    return [cli_build(runs, out) for _ in range(repeats)]


def time_changed_rebuild(runs: Path, out: Path) -> float:
    """A rebuild after one model's results file changed (a new score), as after one more evaluation."""
    _change_one_score(sorted(runs.rglob("results.json"))[0].parent)
    return cli_build(runs, out)


def timed_builds(runs: Path, out: Path, repeats: int) -> dict[str, list[float]]:
    """The build sequence of `time_build` and `time_changed_rebuild`, each build's wall and CPU seconds; the
    changed results file is restored afterwards and the site rebuilt from it (untimed), so that every sequence
    leaves the site of the same results files."""
    wall: list[float] = []
    cpu: list[float] = []
    first = sorted(runs.rglob("results.json"))[0]
    original = first.read_bytes()
    for step in range(2 + repeats):
        if step == 1 + repeats:
            _change_one_score(first.parent)
        start, start_cpu = time.perf_counter(), cpu_seconds()
        build_site([runs], out)
        wall.append(time.perf_counter() - start)
        cpu.append(cpu_seconds() - start_cpu)
    first.write_bytes(original)
    build_site([runs], out)
    return {"wall": wall, "cpu": cpu}


def _change_one_score(run: Path) -> None:
    results = load_results(run)
    task = next(iter(results.tasks.values()))
    metric = task.metrics[task.primary_metric]
    task.metrics[task.primary_metric] = metric.model_copy(update={"value": 1.0 - (metric.value or 0.0)})
    save_results(run, results)


def _checkout(rev: str, into: Path) -> Path:
    """The package and the folders it ships (templates, tasks) as they are at git revision `rev` of the repository
    the bench is run in."""
    folders = ["instructeval", "leaderboard", "tasks", "writing_prompts"]
    archive = subprocess.run(["git", "archive", rev, *folders], check=True, capture_output=True)
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _child_builds(python_path: Path | None, runs: Path, out: Path, repeats: int) -> dict[str, list[float]]:
    """`timed_builds` in a process of its own, importing instructeval from `python_path` (None: this checkout)."""
    env = dict(os.environ)
    if python_path is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(python_path), env.get("PYTHONPATH")]))
    command = [sys.executable, __file__, "--child", str(runs), str(out), str(repeats)]
    done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    times: dict[str, list[float]] = json.loads(done.stdout.splitlines()[-1])
    return times


STAMPED = re.compile(rb'"generated_at":"[^"]*"')


def differing_files(a: Path, b: Path) -> tuple[int, list[str]]:
    """How many files two sites hold, and those that differ (or one lacks), the build time and page cache aside."""

    def files(root: Path) -> dict[str, bytes]:
        return {
            p.relative_to(root).as_posix(): STAMPED.sub(b"", p.read_bytes())
            for p in root.rglob("*")
            if p.is_file() and p.name != ".instructeval-pages.json"
        }

    left, right = files(a), files(b)
    return len(left), sorted(k for k in left.keys() | right.keys() if left.get(k) != right.get(k))


def compare_builds(runs: Path, tmp: Path, rev: str, repeats: int, rounds: int) -> dict[str, Any]:
    """This checkout's builds against revision `rev`'s, alternating, each sequence in a fresh process."""
    baseline = _checkout(rev, tmp / "baseline-src")
    contenders = {rev: baseline, "this checkout": None}
    times: dict[str, list[dict[str, list[float]]]] = {name: [] for name in contenders}
    for i in range(rounds):
        order = list(contenders) if i % 2 == 0 else list(reversed(contenders))
        for name in order:
            site = tmp / f"site-{'baseline' if contenders[name] else 'new'}-{i}"  # new folders: see time_first_builds
            times[name].append(_child_builds(contenders[name], runs, site, repeats))
    steps = [("first build into an empty folder", slice(0, 1)), ("rebuild, nothing changed", slice(1, 1 + repeats))]
    steps.append(("rebuild after one model's run changed", slice(1 + repeats, 2 + repeats)))
    report: dict[str, Any] = {"against": rev, "rounds": rounds}
    for label, part in steps:
        figures = {}
        for clock in ("wall", "cpu"):
            medians = {
                name: statistics.median(t for run in runs_ for t in run[clock][part]) for name, runs_ in times.items()
            }
            ratio = medians[rev] / medians["this checkout"]
            figures[clock] = {**{name: round(m, 3) for name, m in medians.items()}, "ratio": round(ratio, 2)}
        print(
            f"{label}: {rev} {figures['wall'][rev]:.2f} s, this checkout {figures['wall']['this checkout']:.2f} s "
            f"({figures['wall']['ratio']:.2f}x); CPU {figures['cpu'][rev]:.2f} s vs "
            f"{figures['cpu']['this checkout']:.2f} s ({figures['cpu']['ratio']:.2f}x)"
        )
        report[label] = figures
    count, differing = differing_files(tmp / f"site-baseline-{rounds - 1}", tmp / f"site-new-{rounds - 1}")
    print(f"output: {count} files, {len(differing)} differ{': ' + ', '.join(differing[:5]) if differing else ''}")
    report["files"], report["differing"] = count, differing
    return report


def _driver() -> Any:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_experimental_option("browserStartupTimeout", 240_000)
    return webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver") or "chromedriver"))


def time_loads(driver: Any, url: str, repeats: int, *, via_blank: bool) -> list[float]:
    """Seconds from navigation start to the page's ready mark, one full load each. `via_blank`: go to about:blank
    first, so every load also starts a fresh renderer process (a new tab's cost); otherwise navigate the page to
    itself again (the page's own work: parse, data, first draw)."""
    from selenium.webdriver.support.ui import WebDriverWait

    times = []
    for _ in range(repeats):
        if via_blank:
            driver.get("about:blank")
        driver.get(url)
        WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
        times.append(driver.execute_script("return window.__leaderboardReadyMs") / 1000)
    return times


def _figure(label: str, times: list[float], target: float) -> dict[str, Any]:
    median = statistics.median(times)
    ratio = median / target
    print(f"{label}: median {median:.3f} s, min {min(times):.3f} s over {len(times)} (target {target} s: {ratio:.2f}x)")
    return {"median_s": round(median, 4), "min_s": round(min(times), 4), "runs": len(times), "target_s": target}


def _print_sizes(site: Path, report: dict[str, Any]) -> None:
    report["index_bytes"] = (site / "index.html").stat().st_size
    report["site_bytes"] = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    print(f"index.html {report['index_bytes'] / 1e6:.2f} MB; whole site {report['site_bytes'] / 1e6:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=500)
    parser.add_argument("--tasks", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3, help="rebuilds timed, after the first build")
    parser.add_argument(
        "--first-builds", type=int, default=2, help="first builds timed per contender (forked workers, this process)"
    )
    parser.add_argument("--loads", type=int, default=9, help="page loads timed, per page and way")
    parser.add_argument("--screenshot", type=Path, help="save a screenshot of the index page here (PNG)")
    parser.add_argument("--no-browser", action="store_true", help="time the build only")
    parser.add_argument(
        "--lm-eval-sections",
        action="store_true",
        help="give each results file lm-eval's sections as a real run's has them (a config per task and subtask)",
    )
    parser.add_argument("--against", metavar="REV", help="time this checkout's builds against git revision REV's")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: build sequences per contender")
    parser.add_argument("--child", nargs=3, metavar=("RUNS", "OUT", "REPEATS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_builds < 1 or args.rounds < 1:
        parser.error("--first-builds and --rounds take 1 or more")
    if args.child:
        runs, out, repeats = args.child
        print(json.dumps(timed_builds(Path(runs), Path(out), int(repeats))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        runs, site = Path(tmp) / "runs", Path(tmp) / "site"
        write_runs(runs, args.models, args.tasks, lm_eval_sections=args.lm_eval_sections)
        report: dict[str, Any] = {"models": args.models, "tasks": args.tasks}
        if args.against:
            report.update(compare_builds(runs, Path(tmp), args.against, args.repeats, args.rounds))
            site = Path(tmp) / f"site-new-{args.rounds - 1}"
            _print_sizes(site, report)
            print(json.dumps(report))
            return
        workers = usable_workers()
        firsts = time_first_builds(runs, Path(tmp), args.first_builds, workers)
        first, alone = statistics.median(firsts[workers]), statistics.median(firsts[1])
        report["first_build_s"] = round(first, 4)
        report["first_build_one_process_s"] = round(alone, 4)
        report["workers"] = workers
        print(
            f"first build into an empty folder: {first:.3f} s with {workers} workers (target {BUILD_TARGET_S} s: "
            f"{first / BUILD_TARGET_S:.2f}x); in one process {alone:.3f} s ({alone / first:.2f}x the time); "
            f"medians over {args.first_builds}, alternating"
        )
        rebuilds = time_rebuilds(runs, site, args.repeats)
        report["build"] = _figure(f"rebuild {args.models} models x {args.tasks} tasks", rebuilds, BUILD_TARGET_S)
        changed = time_changed_rebuild(runs, site)
        report["rebuild_one_changed_s"] = round(changed, 4)
        print(f"rebuild after one model's run changed: {changed:.3f} s (target {BUILD_TARGET_S} s)")
        reads: dict[str, list[float]] = {reader: [] for reader in READERS}
        for _ in range(args.repeats):  # alternating, one pass each at a time
            for reader, times in reads.items():
                times += time_read(runs, 1, reader)
        read = {reader: statistics.median(times) for reader, times in reads.items()}
        report["read_cpu_s"] = {reader: round(seconds, 4) for reader, seconds in read.items()}
        print(
            f"reading the results files alone, CPU: {read['full']:.3f} s in full; as a build does, "
            f"{read['index']:.3f} s for the index (in the build's process) + {read['breakdowns']:.3f} s of the "
            f"pages' breakdowns, encoded (in a process beside it)"
        )
        making = time_making_files(Path(tmp) / "empty-files", args.models)
        report["making_empty_files_s"] = round(making, 4)
        print(f"making {args.models} empty files in one folder alone: {making:.3f} s")
        index = site / "index.html"
        _print_sizes(site, report)
        if not args.no_browser:
            driver = _driver()
            try:
                page = next((site / "models").iterdir())
                for key, label, url in (
                    ("index", "index", index.as_uri()),
                    ("model_page", "model page", page.as_uri()),
                ):
                    for suffix, via_blank in (("", True), ("_repeat", False)):
                        loads = time_loads(driver, url, args.loads, via_blank=via_blank)
                        how = "from about:blank (new renderer)" if via_blank else "navigating to itself again"
                        report[f"load_{key}{suffix}"] = _figure(
                            f"{label} load to interactive, {how}", loads, LOAD_TARGET_S
                        )
                if args.screenshot:
                    time_loads(driver, index.as_uri(), 1, via_blank=True)
                    driver.save_screenshot(str(args.screenshot))
                    print(f"screenshot -> {args.screenshot}")
            finally:
                driver.quit()
        print(json.dumps(report))


if __name__ == "__main__":
    main()
