"""Benchmark: MMLU 5-shot on the demo model, lm-eval vs `instructeval run` (plain and prefix-cached) vs forward floors.

Everything runs in one process after the heavy imports, so import time is not counted; each timed run loads
the model itself (a few seconds, the same for every contender). On a fixed slice (`--subjects`, `--limit`
questions each) it times:
  (a) lm-eval's own run: its built-in `mmlu_<subject>` tasks pointed at the same local rows, `hf` backend;
  (b) `instructeval run --no-prefix-cache` (`instructeval.evaluator.evaluate`, the call the CLI makes): plain path;
  (c) `instructeval run` with the prefix cache (the default);
  (d) the pure forward floor over the same full contexts: the model calls lm-eval's path makes (one per
      unique context, same batches, logits at every position), nothing else;
  (e) the pure forward floor over unique tokens: each shared prefix once plus each question, logits at the
      scored position only.
and checks that (a), (b) and (c) agree per example (log-likelihoods within 1e-4, same predictions).
Targets: (b) <= 1.0x (a) and <= 1.10x (d); (c) <= 1.10x (e) and >= 5x faster than (a).
(c) is also split into phases (model load, lm-eval's tokenisation, prefix and suffix forwards, planning and
answers, the rest of the run) by timing the named functions it calls; wrapping adds one clock read per call.

    nice -n 10 .venv/bin/python scripts/bench_mmlu.py [--subjects anatomy,high_school_geography] [--limit 40]
        [--batch-size 8] [--device cpu|cuda] [--vllm] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4


def timed(label: str, work: Callable[[], Any]) -> tuple[float, Any]:
    print(f"-- {label} ...", flush=True)
    start = time.perf_counter()
    out = work()
    wall = time.perf_counter() - start
    print(f"   {wall:.1f} s", flush=True)
    return wall, out


def run_lm_eval(args: argparse.Namespace, tmp: Path, device: str) -> dict[str, list[list[float]]]:
    """(a): lm-eval's simple_evaluate on its built-in tasks; per subject, each question's 4 log-likelihoods."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    from instructeval.models.demo import demo_model_dir
    from instructeval.parity import builtin_task_overrides

    manager = TaskManager(
        include_path=str(builtin_task_overrides(tmp / "lmeval", args.data_dir, args.subjects)), include_defaults=False
    )
    out = simple_evaluate(
        model="hf",
        model_args={"pretrained": str(demo_model_dir()), "device": device, "dtype": "float32"},
        tasks=[f"mmlu_{s}" for s in args.subjects],
        task_manager=manager,
        limit=args.limit,
        batch_size=args.batch_size,
        log_samples=True,
        bootstrap_iters=0,
        verbosity="WARNING",
    )
    assert out is not None
    return {
        name.removeprefix("mmlu_"): [
            [float(r[0][0]) for r in s["resps"]] for s in sorted(samples, key=lambda s: s["doc_id"])
        ]
        for name, samples in out["samples"].items()
    }


def run_ours(args: argparse.Namespace, tmp: Path, model: str, prefix_cache: bool) -> dict[str, list[list[float]]]:
    """(b)/(c): `instructeval.evaluator.evaluate`, what `instructeval run` calls; per subject, the 4 log-likelihoods."""
    from instructeval.evaluator import RunOptions, evaluate
    from instructeval.results import read_records

    options = RunOptions(
        model=model,
        tasks=",".join(f"mmlu_{s}" for s in args.subjects),
        data_dir=args.data_dir,
        limit=args.limit,
        batch_size=str(args.batch_size),
        device=args.device,
        output=tmp / f"runs-{model.split(':')[0]}-{prefix_cache}",
        prefix_cache=prefix_cache,
    )
    records = read_records(evaluate(options, progress=lambda _line: None) / "samples" / "mmlu.jsonl")
    out: dict[str, list[list[float]]] = {}
    for record in sorted(records, key=lambda r: (r.subtask, r.doc_id)):
        assert record.choice_loglikelihoods is not None
        out.setdefault(record.subtask.removeprefix("mmlu_"), []).append(list(record.choice_loglikelihoods))
    return out


@contextmanager
def phase_timers() -> Iterator[dict[str, float]]:
    """Seconds spent in the functions of (c)'s path named below, summed over calls, while the block runs."""
    from instructeval.models import backends
    from instructeval.models.prefix_cache import PrefixCachedHFLM

    spent: dict[str, float] = {}
    targets = [
        (backends, "build_lm"),
        (PrefixCachedHFLM, "loglikelihood"),
        (PrefixCachedHFLM, "_loglikelihood_tokens"),
        (PrefixCachedHFLM, "_extend"),
        (PrefixCachedHFLM, "_score_suffixes"),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name in targets]

    def timed_call(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                spent[name] = spent.get(name, 0.0) + time.perf_counter() - start

        return call

    for owner, name, function in originals:
        setattr(owner, name, timed_call(name, function))
    try:
        yield spent
    finally:
        for owner, name, function in originals:
            setattr(owner, name, function)


def phases(wall: float, spent: dict[str, float]) -> dict[str, float]:
    """(c)'s wall time split into disjoint phases from the timed functions."""
    ll, tokens = spent.get("loglikelihood", 0.0), spent.get("_loglikelihood_tokens", 0.0)
    prefix, suffix = spent.get("_extend", 0.0), spent.get("_score_suffixes", 0.0)
    load = spent.get("build_lm", 0.0)
    return {
        "model load": load,
        "lm-eval tokenisation": ll - tokens,
        "prefix forwards": prefix,
        "suffix forwards": suffix,
        "planning and answers": tokens - prefix - suffix,
        "rest of the run (data, prompts, scoring, files)": wall - ll - load,
    }


def model_inputs(lm: Any, args: argparse.Namespace) -> tuple[list[tuple[int, ...]], list[int]]:
    """The unique token sequences lm-eval's path feeds the model (one per question here: the four one-token
    continuations share context + continuation[:-1]) and each one's first scored position."""
    from lm_eval.tasks import TaskManager

    from instructeval.paths import TASKS_DIR

    metadata = {"data_source": "local", "data_dir": str(args.data_dir), "writing_set": "embedded"}
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    scored: dict[tuple[int, ...], int] = {}
    for task in manager.load([f"mmlu_{s}" for s in args.subjects])["tasks"].values():
        task.build_all_requests(limit=args.limit, rank=0, world_size=1)
        for instance in task.instances:
            context, continuation = lm._encode_pair(*instance.args)
            sequence = tuple((context + continuation)[-(lm.max_length + 1) :][:-1])
            start = len(sequence) - len(continuation)
            scored[sequence] = min(start, scored.get(sequence, start))
    return list(scored), list(scored.values())


def forward_full(lm: Any, sequences: list[tuple[int, ...]], batch_size: int) -> None:
    """(d): lm-eval's model calls only: longest first, right-padded batches, logits at every position."""
    import torch
    import torch.nn.functional as F

    ordered = sorted(sequences, key=len, reverse=True)
    with torch.no_grad():
        for lo in range(0, len(ordered), batch_size):
            chunk = ordered[lo : lo + batch_size]
            ids = torch.zeros((len(chunk), len(chunk[0])), dtype=torch.long)
            for row, seq in enumerate(chunk):
                ids[row, : len(seq)] = torch.tensor(seq)
            F.log_softmax(lm.model(ids.to(lm.device)).logits, dim=-1)


def forward_unique(lm: Any, sequences: list[tuple[int, ...]], starts: list[int], batch_size: int) -> int:
    """(e): each planned prefix once (KV kept), then each sequence's suffix on it, logits at scored positions;
    returns the tokens run."""
    import torch

    from instructeval.models._prefix_kv import cache_over, snapshot
    from instructeval.models._prefix_plan import plan_prefixes, unique_tokens

    root = plan_prefixes(sequences, starts)
    stack: list[tuple[Any, Any]] = [(root, None)]
    with torch.no_grad():
        while stack:
            node, prefix = stack.pop()
            if node.tokens:
                cache = cache_over(lm.model, prefix, 1)
                lm.model(torch.tensor([node.tokens], device=lm.device), past_key_values=cache, logits_to_keep=1)
                prefix = snapshot(cache)
            leaves = sorted(node.leaves, key=lambda i: -len(sequences[i]))
            for lo in range(0, len(leaves), batch_size):
                chunk = [sequences[i][node.end :] for i in leaves[lo : lo + batch_size]]
                ids = torch.zeros((len(chunk), len(chunk[0])), dtype=torch.long)
                keep = torch.zeros_like(ids, dtype=torch.bool)
                for row, (seq, i) in enumerate(zip(chunk, leaves[lo : lo + batch_size], strict=True)):
                    ids[row, : len(seq)] = torch.tensor(seq)
                    keep[row, starts[i] - node.end : len(seq)] = True
                cache = cache_over(lm.model, prefix, len(chunk)) if prefix is not None else None
                lm.model(ids.to(lm.device), past_key_values=cache, logits_to_keep=keep.to(lm.device))
            stack.extend((child, prefix) for child in node.children)
    return unique_tokens(root, sequences)


def agreement(a: dict[str, list[list[float]]], b: dict[str, list[list[float]]]) -> tuple[float, int, int]:
    """(max |difference| of log-likelihoods, questions whose prediction differs, questions compared)."""
    worst, differ, n = 0.0, 0, 0
    for subject, rows in a.items():
        assert len(rows) == len(b[subject]), subject
        for x, y in zip(rows, b[subject], strict=True):
            worst = max(worst, *(abs(p - q) for p, q in zip(x, y, strict=True)))
            differ += max(range(len(x)), key=x.__getitem__) != max(range(len(y)), key=y.__getitem__)
            n += 1
    return worst, differ, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subjects", default="anatomy,high_school_geography", help="comma-separated MMLU subjects")
    parser.add_argument("--limit", type=int, default=40, help="questions per subject")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("INSTRUCTEVAL_DATA_DIR", REPO.parent / "shared" / "data"))
    )
    parser.add_argument("--vllm", action="store_true", help="also time `instructeval run --model vllm:<demo>` (GPU)")
    parser.add_argument("--skip-lm-eval", action="store_true", help="leave out (a), e.g. for a quick look")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    args.subjects = [s.strip() for s in args.subjects.split(",") if s.strip()]

    started = time.perf_counter()
    import datasets  # noqa: F401  (imported once up front: import time is not what we measure)
    import lm_eval.evaluator  # noqa: F401
    import torch

    from instructeval.models.demo import demo_model_dir
    from instructeval.models.prefix_cache import PrefixCachedHFLM

    print(f"imports {time.perf_counter() - started:.1f} s (not counted)", flush=True)
    torch.manual_seed(0)
    figures: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, device {args.device}",
        "subjects": args.subjects,
        "limit": args.limit,
        "batch_size": args.batch_size,
    }
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        lls: dict[str, dict[str, list[list[float]]]] = {}
        walls: dict[str, float] = {}
        if not args.skip_lm_eval:
            walls["a"], lls["a"] = timed(
                "(a) lm-eval, built-in mmlu_<subject>, hf backend", lambda: run_lm_eval(args, tmp, args.device)
            )
        walls["b"], lls["b"] = timed(
            "(b) instructeval run --no-prefix-cache", lambda: run_ours(args, tmp, "demo", False)
        )
        with phase_timers() as spent:
            walls["c"], lls["c"] = timed(
                "(c) instructeval run (prefix cache)", lambda: run_ours(args, tmp, "demo", True)
            )
        if args.vllm:
            walls["v"], lls["v"] = timed(
                "(v) instructeval run --model vllm:<demo>",
                lambda: run_ours(args, tmp, f"vllm:{demo_model_dir()}", True),
            )

        lm = PrefixCachedHFLM(
            pretrained=str(demo_model_dir()), device=args.device, dtype="float32", batch_size=args.batch_size
        )
        sequences, starts = model_inputs(lm, args)
        total = sum(len(s) for s in sequences)
        walls["d"], _ = timed(
            "(d) pure forward over the full contexts", lambda: forward_full(lm, sequences, args.batch_size)
        )
        walls["e"], unique = timed(
            "(e) pure forward over unique tokens", lambda: forward_unique(lm, sequences, starts, args.batch_size)
        )

    figures.update(
        questions=len(sequences),
        context_tokens=total,
        unique_tokens=unique,
        wall_s={k: round(v, 2) for k, v in walls.items()},
    )
    print(
        f"\n{len(sequences)} questions, {total} context tokens ({total / len(sequences):.0f} each), "
        f"{unique} unique tokens ({total / unique:.1f}x fewer)"
    )
    for key, label in (
        ("a", "lm-eval"),
        ("b", "plain"),
        ("c", "prefix-cached"),
        ("v", "vllm"),
        ("d", "forward floor"),
        ("e", "unique-token floor"),
    ):
        if key in walls:
            print(f"  ({key}) {label:20s} {walls[key]:8.1f} s   {total / walls[key]:8.0f} context tokens/s")
    breakdown = phases(walls["c"], spent)
    figures["phases_c_s"] = {k: round(v, 3) for k, v in breakdown.items()}
    print("  (c) by phase:")
    for name, seconds in breakdown.items():
        print(f"      {name:48s} {seconds:7.2f} s  {100 * seconds / walls['c']:5.1f} %")
    ratios = {}
    if "a" in walls:
        ratios["plain / lm-eval"] = walls["b"] / walls["a"]
        ratios["lm-eval / prefix-cached (speed-up)"] = walls["a"] / walls["c"]
    ratios["plain / forward floor"] = walls["b"] / walls["d"]
    ratios["prefix-cached / unique-token floor"] = walls["c"] / walls["e"]
    ratios["plain / prefix-cached (speed-up)"] = walls["b"] / walls["c"]
    if "v" in walls:
        ratios["vllm / prefix-cached"] = walls["v"] / walls["c"]
    for name, value in ratios.items():
        print(f"  {name:38s} {value:6.2f}x")
    figures["ratios"] = {k: round(v, 3) for k, v in ratios.items()}
    checks = {}
    for pair in ("ab", "ac", "bc", "cv"):
        if pair[0] in lls and pair[1] in lls:
            worst, differ, n = agreement(lls[pair[0]], lls[pair[1]])
            checks[pair] = {"max_abs_diff": worst, "predictions_differ": differ, "questions": n}
            status = "OK" if worst < TOLERANCE and differ == 0 else "MISMATCH"
            print(f"  ({pair[0]}) vs ({pair[1]}): max |dLL| {worst:.2e}, {differ}/{n} predictions differ  {status}")
    figures["agreement"] = checks
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    if any(c["max_abs_diff"] >= TOLERANCE or c["predictions_differ"] for k, c in checks.items() if k != "cv"):
        sys.exit(1)


if __name__ == "__main__":
    main()
