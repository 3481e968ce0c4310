"""Benchmark: judge 200 writing prompts x 2 rubrics against a local server with a fixed 0.5 s latency.

Reports wall time at each concurrency as a speed-up over sequential calls (baseline: the same client at
concurrency 1 on a subset of the requests, per-call time extrapolated to the full count; pass
--full-sequential to run all of them sequentially instead), and the peak number of open connections and
requests in flight, both measured by the server. The server runs in its own process, as a real endpoint
would, and a small untimed run first loads everything the judge imports lazily. Target: at least 20x faster
than sequential.

    .venv/bin/python scripts/bench_judge.py [--prompts 200] [--latency 0.5] [--concurrency 16,32]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from judge_server import JudgeServer, Reply, sample, write_run  # noqa: E402

from instructeval.judge import JudgeOptions, grade_run  # noqa: E402
from instructeval.writing import load_writing_prompts  # noqa: E402


def make_run(folder: Path, prompts: int) -> Path:
    """A run folder with `prompts` embedded writing prompts and a short synthetic answer to each."""
    chosen = load_writing_prompts("embedded")[:prompts]
    samples = []
    for number, prompt in enumerate(chosen):
        record = sample(prompt.id, prompt.category, f"Answer {number}: a short, plain response to the request.")
        record.update(prompt=prompt.prompt, task_definition=prompt.task_definition)
        samples.append(record)
    run: Path = write_run(folder, samples)  # tests/ is outside the checked tree: its types are unknown here
    return run


def serve(latency: float, pipe: Connection) -> None:
    """The server process: reply after `latency`, send the base URL, then the request count and peaks when told."""
    with JudgeServer(lambda request: Reply(delay_s=latency)) as server:
        pipe.send(server.base_url)
        pipe.recv()
        pipe.send((len(server.log), server.peak_connections, server.peak_in_flight))


def timed_run(prompts: int, latency: float, concurrency: int) -> dict[str, float | int]:
    """Grade a fresh run with no cache against a server in its own process (as a real endpoint would be)."""
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(latency, theirs), daemon=True)
    server.start()
    try:
        base_url = ours.recv()
        with tempfile.TemporaryDirectory() as tmp:
            run = make_run(Path(tmp) / "run", prompts)
            options = JudgeOptions(
                judges=(f"openai-compatible:{base_url}@judge",), concurrency=concurrency, use_cache=False
            )
            start = time.perf_counter()
            report = grade_run(run, options)
            wall = time.perf_counter() - start
        ours.send("stop")
        requests, peak_connections, peak_in_flight = ours.recv()
    finally:
        server.join(timeout=30)
    assert report.complete and requests == 2 * prompts, (report.complete, requests)
    return {
        "concurrency": concurrency,
        "requests": requests,
        "wall_s": wall,
        "peak_connections": peak_connections,
        "peak_in_flight": peak_in_flight,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", default="16,32", help="comma-separated levels to measure")
    parser.add_argument("--sequential-prompts", type=int, default=10, help="prompts in the sequential baseline")
    parser.add_argument("--full-sequential", action="store_true", help="run every request sequentially")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    timed_run(2, 0.0, 2)  # warm-up, not timed: the judge's lazy imports are not part of any figure
    subset = args.prompts if args.full_sequential else min(args.sequential_prompts, args.prompts)
    sequential = timed_run(subset, args.latency, 1)
    per_call = float(sequential["wall_s"]) / int(sequential["requests"])
    total_requests = 2 * args.prompts
    baseline = per_call * total_requests
    how = "measured" if args.full_sequential else f"extrapolated from {sequential['requests']} sequential calls"
    print(f"{args.prompts} prompts x 2 rubrics = {total_requests} requests, server latency {args.latency:g} s")
    print(f"sequential: {per_call:.3f} s/call -> {baseline:.1f} s for {total_requests} ({how})")
    rows = []
    for level in (int(x) for x in args.concurrency.split(",")):
        row = timed_run(args.prompts, args.latency, level)
        row["speedup"] = baseline / float(row["wall_s"])
        rows.append(row)
        print(
            f"concurrency {level:>3}: {row['wall_s']:.2f} s, {row['speedup']:.1f}x sequential; "
            f"peak {row['peak_connections']} connections, {row['peak_in_flight']} requests in flight"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "sequential": sequential,
                    "per_call_s": per_call,
                    "baseline_s": baseline,
                    "baseline": how,
                    "runs": rows,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
