"""vLLM data parallelism: `instructeval run --model vllm:X --data-parallel-size N` against one engine, in one run.

Both contenders run the same tasks on the same model in fresh processes and output folders, one after the other.
Prints each one's wall time, split into engine start-up (everything before the first task starts, and the
shutdown) and evaluation (the tasks' own times), the ratios, and checks that both wrote the same samples.
Run it from vLLM's venv (`make setup-vllm`):

    VLLM_CPU_KVCACHE_SPACE=2 .venv-vllm/bin/python scripts/bench_vllm_dp.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from instructeval.models.demo import demo_model_dir

TASK_DONE = re.compile(r"^(\S+): done in ([\d.]+) s", re.MULTILINE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="model folder (default: the demo model's)")
    parser.add_argument("--tasks", default="mmlu_anatomy,gsm8k")
    parser.add_argument("--limit", type=int, default=32)
    parser.add_argument("--max-gen-toks", type=int, default=64)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args()
    model = f"vllm:{(args.model_dir or demo_model_dir()).resolve()}"
    common = ["--tasks", args.tasks, "--limit", str(args.limit), "--max-gen-toks", str(args.max_gen_toks)]
    common += ["--data-dir", str(args.data_dir)]
    print(f"{model} on {args.tasks}, {common[2:]}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-vllm-dp-") as tmp:
        figures = {n: _run(model, common, n, Path(tmp) / f"dp{n}") for n in (1, args.replicas)}
        same = _samples(Path(tmp) / "dp1") == _samples(Path(tmp) / f"dp{args.replicas}")
    one, many = figures[1], figures[args.replicas]
    print()
    print("| engines | wall | engine start-up and shutdown | evaluation |")
    print("|---:|---:|---:|---:|")
    for n, f in figures.items():
        print(f"| {n} | {f['wall']:.1f} s | {f['wall'] - f['evaluation']:.1f} s | {f['evaluation']:.1f} s |")
    print()
    print(f"evaluation ratio {args.replicas} engines / 1: {many['evaluation'] / one['evaluation']:.2f}x")
    print(f"wall ratio {args.replicas} engines / 1: {many['wall'] / one['wall']:.2f}x")
    print(f"samples identical: {same}")
    if not same:
        sys.exit(1)


def _run(model: str, common: list[str], replicas: int, output: Path) -> dict[str, float]:
    command = [str(Path(sys.executable).parent / "instructeval"), "run", "--model", model, *common]
    command += ["--output", str(output), "--run-name", "bench", "--data-parallel-size", str(replicas)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(done.stderr[-3000:])
    evaluation = sum(float(seconds) for _, seconds in TASK_DONE.findall(done.stderr))
    print(f"{replicas} engine(s): {wall:.1f} s ({evaluation:.1f} s evaluating)", flush=True)
    return {"wall": wall, "evaluation": evaluation}


def _samples(output: Path) -> dict[str, list[object]]:
    """Each task's written answers and scores (responses, log-likelihoods, scores), by file."""
    (run_dir,) = output.glob("*/bench")
    return {
        path.name: [
            (r["doc_id"], r["responses"], r["choice_loglikelihoods"], r["scores"])
            for r in map(json.loads, path.read_text(encoding="utf-8").splitlines())
        ]
        for path in sorted((run_dir / "samples").glob("*.jsonl"))
    }


if __name__ == "__main__":
    main()
