"""Benchmark: greedy chain-of-thought generation (gsm8k, bbh) through our hf path, plain and prefix-cached, and vLLM.

Builds the `generate_until` requests of our `gsm8k` (8-shot CoT) and one bbh subtask (3-shot CoT) on local rows,
then in one process generates them on the demo model with: (plain) lm-eval's hf path, (cached) our prefix-cached
hf path, and with `--vllm` (run from vLLM's venv, `make setup-vllm`) one vLLM engine built by our `vllm:`
backend, timed both as (vllm-own) vLLM's `LLM.generate` on the prompt texts and as (vllm-ours) our backend's
`generate_until` behind the run's request cache, vLLM's prefix cache emptied before each run. Each path runs
`--repeats` times, alternating within its engine; medians are compared. Prints wall time, new tokens/s and the
share of outputs identical to the plain path; exits non-zero when the prefix-cached path differs from the plain.

    .venv-vllm/bin/python scripts/bench_generation.py --vllm [--limit 4] [--max-gen-toks 32] [--batch-size 4]
        [--repeats 2] [--hf-repeats 1] [--bbh-task bbh_date_understanding] [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


@dataclass
class PathTimes:
    """One contender's timed runs: wall seconds, new tokens and the outputs of its last run."""

    walls: list[float] = field(default_factory=list)
    new_tokens: int = 0
    outputs: list[str] = field(default_factory=list)

    def figures(self, reference: list[str]) -> dict[str, Any]:
        """Median wall, new tokens/s at the median, identical share against the reference outputs."""
        wall = statistics.median(self.walls)
        same = sum(a == b for a, b in zip(self.outputs, reference, strict=True))
        return {
            "wall_s": [round(w, 2) for w in self.walls],
            "median_s": round(wall, 2),
            "new_tokens": self.new_tokens,
            "new_tokens_per_s": round(self.new_tokens / wall, 2),
            "identical_to_plain": f"{same}/{len(reference)}",
        }


def cot_requests(data_dir: Path, tasks: list[str], limit: int, max_gen_toks: int) -> list[Any]:
    """Our tasks' generate_until requests for the first `limit` rows of each, capped at `max_gen_toks`."""
    from lm_eval.api.instance import Instance
    from lm_eval.tasks import TaskManager

    from instructeval.paths import TASKS_DIR

    metadata = {"data_source": "local", "data_dir": str(data_dir), "limit": limit}
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    requests = []
    for task in manager.load(tasks)["tasks"].values():
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        for instance in task.instances:
            context, kwargs = instance.arguments
            capped = {**kwargs, "max_gen_toks": max_gen_toks}
            requests.append(Instance("generate_until", {}, (context, capped), instance.idx))
    return requests


def alternate(
    contenders: dict[str, Callable[[], list[str]]], repeats: int, count: Callable[[list[str]], int]
) -> dict[str, PathTimes]:
    """Time each contender `repeats` times, alternating, keeping its last outputs and their new-token count."""
    times = {name: PathTimes() for name in contenders}
    for _ in range(repeats):
        for name, generate in contenders.items():
            start = time.perf_counter()
            outputs = generate()
            times[name].walls.append(time.perf_counter() - start)
            times[name].outputs, times[name].new_tokens = outputs, count(outputs)
            print(f"  {name:10s} {times[name].walls[-1]:8.1f} s  {times[name].new_tokens} new tokens", flush=True)
    return times


def hf_contenders(
    folder: str, device: str, batch_size: int, requests: list[Any]
) -> tuple[dict[str, Callable[[], list[str]]], Any]:
    """lm-eval's plain hf path and our prefix-cached one, sharing one loaded model; and the tokenizer."""
    from instructeval.models.prefix_cache import PrefixCachedHFLM

    cached = PrefixCachedHFLM(pretrained=folder, device=device, dtype="float32", batch_size=batch_size)
    plain = PrefixCachedHFLM(
        pretrained=cached.model, tokenizer=cached.tokenizer, batch_size=batch_size, prefix_cache=False
    )
    return {
        "plain": lambda: plain.generate_until(requests, disable_tqdm=True),
        "cached": lambda: cached.generate_until(requests, disable_tqdm=True),
    }, cached.tokenizer


def vllm_contenders(folder: str, requests: list[Any], scratch: Path) -> dict[str, Callable[[], list[str]]]:
    """One engine from our `vllm:` backend, driven by vLLM's own `LLM.generate` and by our backend and cache."""
    from vllm import SamplingParams

    from instructeval.cache import RequestCache, ResumableLM
    from instructeval.models.backends import BackendOptions, build_lm
    from instructeval.models.spec import parse_model_spec

    lm = build_lm(parse_model_spec(f"vllm:{folder}"), BackendOptions())
    prompts = [request.args[0] for request in requests]
    params = [
        SamplingParams(temperature=0, max_tokens=kwargs["max_gen_toks"], stop=kwargs["until"])
        for _, kwargs in (request.args for request in requests)
    ]
    runs = itertools.count()

    def own() -> list[str]:
        lm.model.reset_prefix_cache()  # every run computes its prompts, as the hf paths do
        return [output.outputs[0].text for output in lm.model.generate(prompts, params, use_tqdm=False)]

    def ours() -> list[str]:
        lm.model.reset_prefix_cache()
        cache = RequestCache(scratch / f"requests-{next(runs)}.sqlite")  # fresh: every answer is computed
        try:
            return list(ResumableLM(lm, cache).generate_until(requests))
        finally:
            cache.close()

    return {"vllm-own": own, "vllm-ours": ours}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=4, help="questions per task")
    parser.add_argument("--max-gen-toks", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=4, help="hf paths' batch size (vLLM batches itself)")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each vLLM path, alternating")
    parser.add_argument("--hf-repeats", type=int, default=1, help="timed runs of each hf path, alternating")
    parser.add_argument("--bbh-task", default="bbh_date_understanding")
    parser.add_argument("--vllm", action="store_true", help="also time vLLM (run from vLLM's venv)")
    parser.add_argument("--device", default="cpu", help="hf paths: cpu or cuda")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("INSTRUCTEVAL_DATA_DIR", REPO.parent / "shared" / "data"))
    )
    parser.add_argument("--model-dir", help="a model folder instead of the demo model")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    import torch

    from instructeval.models.demo import demo_model_dir

    folder = args.model_dir or str(demo_model_dir())
    requests = cot_requests(args.data_dir, ["gsm8k", args.bbh_task], args.limit, args.max_gen_toks)
    contenders, tokenizer = hf_contenders(folder, args.device, args.batch_size, requests)
    prompt_tokens = sum(len(tokenizer(r.arguments[0]).input_ids) for r in requests)
    print(f"{len(requests)} prompts, {prompt_tokens} prompt tokens, up to {args.max_gen_toks} new tokens each")

    def count(outputs: list[str]) -> int:
        return sum(len(tokenizer(text, add_special_tokens=False).input_ids) for text in outputs)

    times = alternate(contenders, args.hf_repeats, count)
    with tempfile.TemporaryDirectory() as scratch:
        if args.vllm:
            times |= alternate(vllm_contenders(folder, requests, Path(scratch)), args.repeats, count)
    reference = times["plain"].outputs
    figures: dict[str, Any] = {name: t.figures(reference) for name, t in times.items()}
    for name, row in figures.items():
        print(
            f"{name:10s} median {row['median_s']:7.1f} s  {row['new_tokens_per_s']:7.1f} new tokens/s  "
            f"identical to plain {row['identical_to_plain']}"
        )
    ratios = {"plain / cached": statistics.median(times["plain"].walls) / statistics.median(times["cached"].walls)}
    if args.vllm:
        own, ours = (statistics.median(times[n].walls) for n in ("vllm-own", "vllm-ours"))
        ratios["vllm-ours throughput / vllm-own"] = own / ours
        ratios["cached / vllm-ours"] = statistics.median(times["cached"].walls) / ours
        figures["vllm_identical_to_own"] = times["vllm-ours"].outputs == times["vllm-own"].outputs
    print("  ".join(f"{k}: {v:.2f}" for k, v in ratios.items()))
    if args.json:
        figures |= {
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, device {args.device}",
            "prompts": len(requests),
            "prompt_tokens": prompt_tokens,
            "max_gen_toks": args.max_gen_toks,
            "batch_size": args.batch_size,
            "ratios": {k: round(v, 3) for k, v in ratios.items()},
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    if times["cached"].outputs != reference:
        raise SystemExit("MISMATCH: the prefix-cached path generated different text")


if __name__ == "__main__":
    main()
