"""Benchmark: MMLU 5-shot on the demo model, lm-eval vs `instructeval run` (plain and prefix-cached) vs forward floors.

Everything runs in one process after the heavy imports, so import time is not counted; each timed run loads
the model itself (a few seconds, the same for every contender). On a fixed slice (`--subjects`, `--limit`
questions each) it times:
  (a) lm-eval's own run: its built-in `mmlu_<subject>` tasks pointed at the same local rows, `hf` backend;
  (b) `instructeval run --no-prefix-cache` (`instructeval.evaluator.evaluate`, the call the CLI makes): plain path;
  (c) `instructeval run` with the prefix cache (the default);
  (d) the pure forward floor over the same full contexts: the model calls lm-eval's path makes (one per
      unique context, same batches, logits at every position), nothing else;
  (e) the pure forward floor over unique tokens: each shared prefix once plus each question, questions packed
      into rows (no padding) as (c) packs them, logits at the scored positions only;
  (f) (e) in padded batches of `--batch-size` rows instead, to show what the row layout costs (`--skip-padded`
      leaves it out);
and checks that (a), (b) and (c) agree per example (log-likelihoods within 1e-4, same predictions).
Targets: (b) <= 1.0x (a) and <= 1.10x (d); (c) <= 1.10x (e) and >= 5x faster than (a). The host may be shared:
`--repeats N` alternates (c), (e) and (f) N times and reports medians; the ratios are of medians.
(c) is also split into phases (model load, lm-eval's tokenisation, prefix and suffix forwards, planning and
answers, the rest of the run) by timing the named functions it calls; wrapping adds one clock read per call.
`--profile` runs (c) once more under torch.profiler and splits its operators' time by kind (projections, the
projection onto the vocabulary, attention, copies, elementwise).

    nice -n 10 .venv/bin/python scripts/bench_mmlu.py [--subjects anatomy,high_school_geography] [--limit 40]
        [--batch-size 8] [--device cpu|cuda] [--repeats 1] [--profile] [--skip-lm-eval] [--skip-plain]
        [--skip-padded] [--vllm] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
TOLERANCE = 1e-4


def timed(label: str, work: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, this process's CPU seconds, result) of `work`: on a shared host the CPU time excludes the
    time spent waiting for a core."""
    print(f"-- {label} ...", flush=True)
    start, cpu = time.perf_counter(), time.process_time()
    out = work()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"   {wall:.1f} s wall, {cpu:.1f} s CPU, load average {os.getloadavg()[0]:.1f}", flush=True)
    return wall, cpu, out


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


def run_ours(
    args: argparse.Namespace, tmp: Path, model: str, prefix_cache: bool, round_: int = 0
) -> dict[str, list[list[float]]]:
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
        output=tmp / f"runs-{model.split(':')[0]}-{prefix_cache}-{round_}",
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


def forward_unique(lm: Any, sequences: list[tuple[int, ...]], starts: list[int], batch_size: int, packed: bool) -> int:
    """(e)/(f): each planned prefix once (KV kept), then the sequences' suffixes on it, logits at scored positions
    only: packed into one row per `batch_size` suffixes (e), or as padded batches of `batch_size` rows (f);
    returns the tokens run."""
    import torch

    from instructeval.models._packing import pack, packs, row_budget
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
            lengths = [len(sequences[i]) - node.end for i in leaves]
            if packed:
                groups = packs(lengths, row_budget(batch_size, len(sequences[leaves[0]]))) if leaves else []
            else:
                groups = [range(lo, min(lo + batch_size, len(leaves))) for lo in range(0, len(leaves), batch_size)]
            for group in groups:
                chunk = [leaves[k] for k in group]
                suffixes = [sequences[i][node.end :] for i in chunk]
                scored_from = [starts[i] - node.end for i in chunk]
                if packed:
                    row = pack(suffixes, scored_from, node.end, lm._attention, lm.model.dtype, lm.device)
                    cache = cache_over(lm.model, prefix, 1) if prefix is not None else None
                    lm.model(
                        row.ids,
                        attention_mask=row.mask,
                        position_ids=row.positions,
                        past_key_values=cache,
                        logits_to_keep=row.keep,
                    )
                    continue
                ids = torch.zeros((len(chunk), len(suffixes[0])), dtype=torch.long)
                keep = torch.zeros_like(ids, dtype=torch.bool)
                for r, (suffix, first) in enumerate(zip(suffixes, scored_from, strict=True)):
                    ids[r, : len(suffix)] = torch.tensor(suffix)
                    keep[r, first : len(suffix)] = True
                cache = cache_over(lm.model, prefix, len(chunk)) if prefix is not None else None
                lm.model(ids.to(lm.device), past_key_values=cache, logits_to_keep=keep.to(lm.device))
            stack.extend((child, prefix) for child in node.children)
    return unique_tokens(root, sequences)


OPERATOR_KINDS = (
    ("attention", ("scaled_dot_product", "attention", "softmax", "bmm", "baddbmm")),
    ("projections (matrix products)", ("aten::mm", "aten::addmm", "aten::linear", "aten::matmul")),
    ("KV concatenation and other copies", ("aten::cat", "aten::copy_", "aten::clone", "aten::index", "aten::take")),
    ("norms, rotary, activation (elementwise)", ("aten::",)),
)


def profile_ops(work: Callable[[], Any], lm: Any) -> dict[str, float]:
    """Self CPU seconds of the operators `work` runs, by kind; products with a vocabulary-sized operand are the
    projection onto the vocabulary (at the scored positions only)."""
    from torch.profiler import ProfilerActivity, profile

    vocab = int(lm.model.config.vocab_size)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        work()
    spent: dict[str, float] = {}
    for event in prof.key_averages(group_by_input_shape=True):
        name = event.key
        if name in ("aten::mm", "aten::addmm") and any(vocab in shape for shape in event.input_shapes if shape):
            kind = "projection onto the vocabulary"
        else:
            kind = next((k for k, names in OPERATOR_KINDS if any(n in name for n in names)), "other")
        spent[kind] = spent.get(kind, 0.0) + event.self_cpu_time_total / 1e6
    return dict(sorted(spent.items(), key=lambda item: -item[1]))


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
    parser.add_argument(
        "--skip-plain", action="store_true", help="leave out (b) and (d), the full-context runs (large slices)"
    )
    parser.add_argument("--skip-padded", action="store_true", help="leave out (f), the padded-batch floor")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of (c), (e), (f), alternated; medians shown")
    parser.add_argument("--profile", action="store_true", help="one more (c) under torch.profiler, by operator kind")
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
        runs: dict[str, list[float]] = {}
        cpus: dict[str, list[float]] = {}

        def contender(key: str, label: str, work: Callable[[], Any]) -> Any:
            wall, cpu, out = timed(f"({key}) {label}", work)
            runs.setdefault(key, []).append(wall)
            cpus.setdefault(key, []).append(cpu)
            return out

        if not args.skip_lm_eval:
            lls["a"] = contender(
                "a", "lm-eval, built-in mmlu_<subject>, hf backend", lambda: run_lm_eval(args, tmp, args.device)
            )
        if not args.skip_plain:
            lls["b"] = contender("b", "instructeval run --no-prefix-cache", lambda: run_ours(args, tmp, "demo", False))
        if args.vllm:
            lls["v"] = contender(
                "v",
                "instructeval run --model vllm:<demo>",
                lambda: run_ours(args, tmp, f"vllm:{demo_model_dir()}", True),
            )
        lm = PrefixCachedHFLM(
            pretrained=str(demo_model_dir()), device=args.device, dtype="float32", batch_size=args.batch_size
        )
        sequences, starts = model_inputs(lm, args)
        total = sum(len(s) for s in sequences)
        with phase_timers() as spent:
            for round_ in range(args.repeats):  # the contenders compared most closely alternate
                lls["c"] = contender(
                    "c", "instructeval run (prefix cache)", partial(run_ours, args, tmp, "demo", True, round_)
                )
                unique = contender(
                    "e",
                    "pure forward over unique tokens, packed rows",
                    lambda: forward_unique(lm, sequences, starts, args.batch_size, packed=True),
                )
                if not args.skip_padded:
                    contender(
                        "f",
                        "pure forward over unique tokens, padded batches",
                        lambda: forward_unique(lm, sequences, starts, args.batch_size, packed=False),
                    )
        if not args.skip_plain:
            contender("d", "pure forward over the full contexts", lambda: forward_full(lm, sequences, args.batch_size))
        profile = profile_ops(lambda: run_ours(args, tmp, "demo", True, args.repeats), lm) if args.profile else None

    walls = {key: statistics.median(values) for key, values in runs.items()}
    cpu_s = {key: statistics.median(values) for key, values in cpus.items()}
    figures.update(
        questions=len(sequences),
        context_tokens=total,
        unique_tokens=unique,
        wall_s={k: [round(v, 2) for v in values] for k, values in runs.items()},
        cpu_s={k: [round(v, 2) for v in values] for k, values in cpus.items()},
    )
    print(
        f"\n{len(sequences)} questions, {total} context tokens ({total / len(sequences):.0f} each), "
        f"{unique} unique tokens ({total / unique:.1f}x fewer); load average {os.getloadavg()[0]:.1f}"
    )
    for key, label in (
        ("a", "lm-eval"),
        ("b", "plain"),
        ("c", "prefix-cached"),
        ("v", "vllm"),
        ("d", "forward floor"),
        ("e", "unique-token floor"),
        ("f", "unique, padded"),
    ):
        if key in walls:
            each = ", ".join(f"{v:.1f}" for v in runs[key]) if len(runs[key]) > 1 else ""
            print(
                f"  ({key}) {label:20s} {walls[key]:8.1f} s wall {cpu_s[key]:8.1f} s CPU "
                f"{total / walls[key]:8.0f} context tokens/s   {each}"
            )
    breakdown = {name: seconds / args.repeats for name, seconds in phases(sum(runs["c"]), spent).items()}
    figures["phases_c_s"] = {k: round(v, 3) for k, v in breakdown.items()}
    print("  (c) by phase (mean of its runs):")
    for name, seconds in breakdown.items():
        print(f"      {name:48s} {seconds:7.2f} s  {100 * seconds / statistics.mean(runs['c']):5.1f} %")
    if profile is not None:
        figures["profile_c_ops_s"] = {k: round(v, 3) for k, v in profile.items()}
        print("  (c) by operator kind (one more run under torch.profiler; self CPU time of its operators):")
        for name, seconds in profile.items():
            print(f"      {name:48s} {seconds:7.2f} s  {100 * seconds / sum(profile.values()):5.1f} %")
    ratios = {}
    if "a" in walls:
        ratios["lm-eval / prefix-cached (speed-up)"] = walls["a"] / walls["c"]
        ratios["lm-eval / prefix-cached, CPU time"] = cpu_s["a"] / cpu_s["c"]
    ratios["prefix-cached / unique-token floor"] = walls["c"] / walls["e"]
    ratios["prefix-cached / unique-token floor, CPU time"] = cpu_s["c"] / cpu_s["e"]
    if "f" in walls:
        ratios["padded / packed unique-token floor"] = walls["f"] / walls["e"]
    if args.repeats > 1:
        per_round = [c / e for c, e in zip(runs["c"], runs["e"], strict=True)]
        ratios["prefix-cached / floor, round by round (worst)"] = max(per_round)
    if "b" in walls:
        if "a" in walls:
            ratios["plain / lm-eval"] = walls["b"] / walls["a"]
        ratios["plain / forward floor"] = walls["b"] / walls["d"]
        ratios["plain / prefix-cached (speed-up)"] = walls["b"] / walls["c"]
    if "v" in walls:
        ratios["vllm / prefix-cached"] = walls["v"] / walls["c"]
    for name, value in ratios.items():
        print(f"  {name:46s} {value:6.2f}x")
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
