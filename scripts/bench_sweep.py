"""`instructeval sweep --workers 2` against shell loops of `instructeval run`, on the same matrix, in one run.

The matrix: N variants of a model folder (each a folder of its own whose files link to the original's, so each
is a model of its own to the tools) x the given tasks. Contenders, each in fresh processes and output folders:
(a) a loop of `instructeval run`, one process per (model, task) pair; (b) a loop of one `instructeval run` per
model on all the tasks; (c) `instructeval sweep --workers 2` on a local Ray cluster it starts itself. Prints each
contender's wall time, where it went (process start-up and model loads, evaluation), and the ratios, then checks
that all three produced the same headline scores.

    .venv/bin/python scripts/bench_sweep.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructeval.models.demo import demo_model_dir

VENV_BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="model folder to make variants of (default: the demo model)")
    parser.add_argument("--variants", type=int, default=4)
    parser.add_argument("--tasks", default="mmlu_anatomy,crass")
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--max-gen-toks", type=int, default=16)
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    source = (args.model_dir or demo_model_dir()).resolve()
    tasks = args.tasks.split(",")
    with tempfile.TemporaryDirectory(prefix="bench-sweep-") as tmp:
        root = Path(tmp)
        models = [_variant(source, root / "models" / f"variant-{i}") for i in range(args.variants)]
        common = ["--limit", str(args.limit), "--max-gen-toks", str(args.max_gen_toks)]
        common += ["--data-dir", str(args.data_dir)]
        print(f"matrix: {len(models)} variants of {source.name} x {len(tasks)} tasks ({', '.join(tasks)}), {common}")
        per_pair = _loop(
            [["--model", f"hf:{m}", "--tasks", t] for m in models for t in tasks], common, root / "per-pair"
        )
        print(f"(a) loop per pair:  {per_pair['wall']:.1f} s", flush=True)
        per_model = _loop([["--model", f"hf:{m}", "--tasks", args.tasks] for m in models], common, root / "per-model")
        print(f"(b) loop per model: {per_model['wall']:.1f} s", flush=True)
        sweep = _sweep(models, args.tasks, common, args.workers, root / "sweep")
        print(f"(c) sweep:          {sweep['wall']:.1f} s", flush=True)
        scores = [_headlines(root / name) for name in ("per-pair", "per-model", "sweep")]
    print()
    print("| contender | processes | model loads | wall | evaluation (summed) | the rest |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, figures in (("(a) loop of `instructeval run`, one per (model, task)", per_pair),
                          ("(b) loop of `instructeval run`, one per model", per_model)):  # fmt: skip
        print(
            f"| {name} | {figures['processes']:.0f} | {figures['loads']:.0f} | {figures['wall']:.1f} s | "
            f"{figures['evaluation']:.1f} s | {figures['rest']:.1f} s (start-up, imports, loads, writing) |"
        )
    print(
        f"| (c) `instructeval sweep --workers {args.workers}` | {sweep['processes']:.0f} workers | "
        f"{sweep['loads']:.0f} | {sweep['wall']:.1f} s | {sweep['evaluation']:.1f} s | pairs "
        f"{sweep['pairs_wall']:.1f} s of the wall (imports + loads {sweep['load_seconds']:.1f} s summed over "
        f"workers); the rest is start-up, the Ray cluster and the leaderboard |"
    )
    print()
    print(f"sweep / loop per pair: {sweep['wall'] / per_pair['wall']:.2f}x")
    print(f"sweep / loop per model: {sweep['wall'] / per_model['wall']:.2f}x")
    print(f"headline scores identical across the three: {scores[0] == scores[1] == scores[2]}")


def _variant(source: Path, target: Path) -> Path:
    """A folder of links to the source model's files: another model folder with the same weights."""
    target.mkdir(parents=True)
    for path in source.iterdir():
        (target / path.name).symlink_to(path)
    return target


def _loop(runs: list[list[str]], common: list[str], output: Path) -> dict[str, float]:
    """Each run in a process of its own, one after the other."""
    started = time.perf_counter()
    for run in runs:
        command = [str(VENV_BIN / "instructeval"), "run", *run, *common, "--output", str(output)]
        subprocess.run(command, check=True, env=os.environ, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    evaluation = _evaluation(output)
    return {"wall": wall, "processes": len(runs), "loads": len(runs), "evaluation": evaluation,
            "rest": wall - evaluation}  # fmt: skip


def _sweep(models: list[Path], tasks: str, common: list[str], workers: int, output: Path) -> dict[str, float]:
    """One `instructeval sweep` (its own local Ray cluster); its model loads from its journal."""
    specs = ",".join(f"hf:{m}" for m in models)
    command = [str(VENV_BIN / "instructeval"), "sweep", "--models", specs, "--tasks", tasks, *common]
    command += ["--workers", str(workers), "--output", str(output)]
    started = time.perf_counter()
    done = subprocess.run(command, check=True, env=os.environ, capture_output=True, text=True)
    wall = time.perf_counter() - started
    journal = [json.loads(line) for line in (output / "sweep.jsonl").read_text().splitlines()]
    passed = re.search(r"failed in ([0-9.]+) s", done.stderr)
    return {
        "wall": wall,
        "processes": workers,
        "loads": sum(1 for entry in journal if entry["load_seconds"]),
        "evaluation": _evaluation(output),
        "load_seconds": sum(entry["load_seconds"] for entry in journal),
        "pairs_wall": float(passed.group(1)) if passed else float("nan"),
    }


def _evaluation(output: Path) -> float:
    """Seconds spent in lm-eval's evaluation, summed over every task of every run (each results.json says)."""
    return float(
        sum(
            task["wall_seconds"]
            for results in output.glob("*/*/results.json")
            for task in json.loads(results.read_text())["tasks"].values()
        )
    )


def _headlines(output: Path) -> dict[tuple[str, str], float | None]:
    scores = {}
    for results_file in output.glob("*/*/results.json"):
        results = json.loads(results_file.read_text())
        for name, task in results["tasks"].items():
            scores[(results["model"]["spec"], name)] = task["metrics"][task["primary_metric"]]["value"]
    return scores


if __name__ == "__main__":
    main()
