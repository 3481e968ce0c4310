"""Benchmark: judge 200 writing prompts x 2 rubrics against a local server with a fixed 0.5 s latency.

At concurrency C the bound is C x sequential: C requests in flight, each as fast as one alone. For each
client this prints, at each level, the wall time, the speed-up over that client's own sequential calls, the
share of the bound, and the client process's CPU time per request (the grading pipeline included). Two
clients run side by side in one run, against the same server:

- `ours`: the judge as shipped (`models/chat_client.py`: one aiohttp session, keep-alive pool, plain JSON);
- `openai-sdk`: a minimal baseline written here, `openai.AsyncOpenAI` per judge, its retries off: the
  client the judge used before.

With a fixed latency, requests go out in rounds of C: N requests take ceil(N/C) rounds where the bound
counts N/C, so the share of the bound can reach at most (N/C) / ceil(N/C) (89 % for 400 requests at C=64; all
of it when C divides N, e.g. `--prompts 192`). Each line prints that ceiling beside the share.

Sequential calls run on a subset of the prompts (`--sequential-prompts`), per-call time extrapolated to the
full count; `--full-sequential` runs all of them. The server runs in its own process, as a real endpoint
would, and a small untimed run first loads everything the judge imports lazily.

    .venv/bin/python scripts/bench_judge.py [--prompts 200] [--latency 0.5] [--concurrency 16,32,64]
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import openai

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from judge_server import JudgeServer, Reply, sample, write_run  # noqa: E402

import instructeval.judge.runner as judge_runner  # noqa: E402
from instructeval.judge import JudgeOptions, grade_run  # noqa: E402
from instructeval.models.chat_client import ChatClient, ChatReply, TransientError, open_chat_client  # noqa: E402
from instructeval.models.spec import ModelSpec  # noqa: E402
from instructeval.writing import load_writing_prompts  # noqa: E402


class OpenAISDKChat:
    """The baseline: the `openai` package's async client (httpx, pydantic replies), one per judge."""

    in_process = False

    def __init__(self, spec: ModelSpec) -> None:
        self.model = spec.name
        self._client = openai.AsyncOpenAI(base_url=spec.api_base_url, api_key="EMPTY", max_retries=0)

    async def complete(self, messages: list[dict[str, str]], *, max_tokens: int, temperature: float) -> ChatReply:
        try:
            completion = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,  # type: ignore[arg-type]
                max_tokens=max_tokens,
                temperature=temperature,
            )
        except openai.OpenAIError as exc:
            raise TransientError(str(exc)) from exc
        usage = completion.usage
        return ChatReply(
            completion.choices[0].message.content or "",
            usage.prompt_tokens if usage else None,
            usage.completion_tokens if usage else None,
        )

    async def aclose(self) -> None:
        await self._client.close()


ClientFactory = Callable[..., ChatClient]
CLIENTS: dict[str, ClientFactory] = {
    "ours": open_chat_client,
    "openai-sdk": lambda spec, **_: OpenAISDKChat(spec),
}


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


def timed_run(client: str, prompts: int, latency: float, concurrency: int) -> dict[str, Any]:
    """Grade a fresh run with no cache against a server in its own process, through `client`."""
    judge_runner.open_chat_client = CLIENTS[client]  # type: ignore[attr-defined]  # where the judge builds clients
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    server = multiprocessing.get_context("fork").Process(target=serve, args=(latency, theirs), daemon=True)
    server.start()
    try:
        base_url = ours.recv()
        with tempfile.TemporaryDirectory() as tmp:
            run = make_run(Path(tmp) / "run", prompts)
            options = JudgeOptions(
                judges=(f"openai-compatible:{base_url}@judge",),
                concurrency=concurrency,
                use_cache=False,
                calibration=False,  # the calibration set's requests are the same client's, not this run's
            )
            cpu, start = time.process_time(), time.perf_counter()
            report = grade_run(run, options)
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        ours.send("stop")
        requests, peak_connections, peak_in_flight = ours.recv()
    finally:
        server.join(timeout=30)
    assert report.complete and requests == 2 * prompts, (report.complete, requests)
    return {
        "client": client,
        "concurrency": concurrency,
        "requests": requests,
        "wall_s": wall,
        "cpu_per_request_ms": 1000 * cpu / requests,
        "peak_connections": peak_connections,
        "peak_in_flight": peak_in_flight,
    }


def bench_client(client: str, args: argparse.Namespace, levels: list[int]) -> list[dict[str, Any]]:
    """Sequential calls, then each concurrency level, for one client; prints one line per level."""
    subset = args.prompts if args.full_sequential else min(args.sequential_prompts, args.prompts)
    sequential = timed_run(client, subset, args.latency, 1)
    per_call = sequential["wall_s"] / sequential["requests"]
    baseline = per_call * 2 * args.prompts
    sequential.update(per_call_s=per_call, speedup=1.0, share_of_bound=1.0)
    rows = [sequential]
    print(
        f"{client:>10}  C=  1: {per_call:.3f} s/call ({sequential['requests']} calls) -> {baseline:.1f} s "
        f"for {2 * args.prompts}; CPU {sequential['cpu_per_request_ms']:.1f} ms/request"
    )
    for level in levels:
        row = timed_run(client, args.prompts, args.latency, level)
        row["speedup"] = baseline / row["wall_s"]
        row["share_of_bound"] = row["speedup"] / level
        rounds = row["requests"] / level
        row["round_ceiling"] = rounds / math.ceil(rounds)
        rows.append(row)
        print(
            f"{client:>10}  C={level:>3}: {row['wall_s']:6.2f} s, {row['speedup']:5.1f}x sequential = "
            f"{100 * row['share_of_bound']:3.0f} % of the {level}x bound (ceiling {100 * row['round_ceiling']:.0f} %); "
            f"CPU {row['cpu_per_request_ms']:.1f} ms/request; peak {row['peak_connections']} connections, "
            f"{row['peak_in_flight']} in flight"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", default="16,32,64", help="comma-separated levels to measure")
    parser.add_argument("--clients", default="openai-sdk,ours", help=f"which of {', '.join(CLIENTS)}, in order")
    parser.add_argument("--sequential-prompts", type=int, default=10, help="prompts in the sequential baseline")
    parser.add_argument("--full-sequential", action="store_true", help="run every request sequentially")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    levels = [int(x) for x in args.concurrency.split(",")]
    clients = args.clients.split(",")

    print(f"{args.prompts} prompts x 2 rubrics = {2 * args.prompts} requests, server latency {args.latency:g} s")
    rows: list[dict[str, Any]] = []
    for client in clients:
        timed_run(client, 2, 0.0, 2)  # warm-up, not timed: lazy imports are not part of any figure
        rows += bench_client(client, args, levels)
    if len(clients) == 2:
        walls = {(row["client"], row["concurrency"]): row["wall_s"] for row in rows}
        for level in levels:
            ratio = walls[clients[0], level] / walls[clients[1], level]
            print(f"C={level:>3}: {clients[1]} takes {1 / ratio:.2f}x the wall time of {clients[0]}")
    if args.json:
        args.json.write_text(json.dumps({"latency_s": args.latency, "prompts": args.prompts, "runs": rows}, indent=2))


if __name__ == "__main__":
    main()
