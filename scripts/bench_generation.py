"""Benchmark: greedy generation on GSM8K 8-shot CoT, lm-eval's plain path vs the prefix-cached one, same weights.

Builds lm-eval's built-in `gsm8k_cot` requests on local rows (the prompts `tests/test_parity.py` checks), then
times `generate_until` on one loaded demo model with the prefix cache off and on, alternating, `--repeats`
times each (the VM's speed drifts, so the two are always measured side by side), and checks that the two
paths generate identical text. Prints each wall time and the plain/cached ratio of the medians.

    nice -n 10 .venv/bin/python scripts/bench_generation.py [--limit 4] [--max-gen-toks 32] [--batch-size 4]
        [--repeats 2] [--device cpu|cuda] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def gsm8k_requests(data_dir: Path, limit: int, max_gen_toks: int) -> list[Any]:
    """lm-eval's `gsm8k_cot` generate_until requests for the first `limit` test rows, capped at `max_gen_toks`."""
    from lm_eval.api.instance import Instance
    from lm_eval.tasks import TaskManager

    from instructeval.parity import builtin_task_overrides

    with tempfile.TemporaryDirectory() as name:
        manager = TaskManager(
            include_path=str(builtin_task_overrides(Path(name), data_dir, (), gsm8k=True)), include_defaults=False
        )
        task = manager.load(["gsm8k_cot"])["tasks"]["gsm8k_cot"]
        task.build_all_requests(limit=limit, rank=0, world_size=1)
    requests = []
    for instance in task.instances:
        context, kwargs = instance.arguments
        capped = {**kwargs, "max_gen_toks": max_gen_toks}
        requests.append(Instance("generate_until", {}, (context, capped), instance.idx))
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=4, help="GSM8K test questions")
    parser.add_argument("--max-gen-toks", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each path, alternating")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("INSTRUCTEVAL_DATA_DIR", REPO.parent / "shared" / "data"))
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from instructeval.models.demo import demo_model_dir
    from instructeval.models.prefix_cache import PrefixCachedHFLM

    cached = PrefixCachedHFLM(
        pretrained=str(demo_model_dir()), device=args.device, dtype="float32", batch_size=args.batch_size
    )
    plain = PrefixCachedHFLM(
        pretrained=cached.model, tokenizer=cached.tokenizer, batch_size=args.batch_size, prefix_cache=False
    )
    requests = gsm8k_requests(args.data_dir, args.limit, args.max_gen_toks)
    prompt_tokens = sum(len(cached.tok_encode(r.arguments[0])) for r in requests)
    print(f"{len(requests)} prompts, {prompt_tokens} prompt tokens, up to {args.max_gen_toks} new tokens each")

    walls: dict[str, list[float]] = {"plain": [], "cached": []}
    outputs: dict[str, list[str]] = {}
    for _ in range(args.repeats):
        for name, lm in (("plain", plain), ("cached", cached)):
            start = time.perf_counter()
            outputs[name] = lm.generate_until(requests, disable_tqdm=True)
            walls[name].append(time.perf_counter() - start)
            print(f"  {name:6s} {walls[name][-1]:8.1f} s", flush=True)

    identical = outputs["plain"] == outputs["cached"]
    ratio = statistics.median(walls["plain"]) / statistics.median(walls["cached"])
    print(f"identical generations: {identical}; plain/cached (medians): {ratio:.2f}x")
    if args.json:
        figures = {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, device {args.device}",
            "prompts": len(requests),
            "prompt_tokens": prompt_tokens,
            "max_gen_toks": args.max_gen_toks,
            "batch_size": args.batch_size,
            "wall_s": {k: [round(v, 2) for v in vs] for k, vs in walls.items()},
            "plain_over_cached": round(ratio, 3),
            "identical": identical,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if not identical:
        raise SystemExit("MISMATCH: the prefix-cached path generated different text")


if __name__ == "__main__":
    main()
