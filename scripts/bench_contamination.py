"""Corpus throughput of `instructeval contamination`'s n-gram scan against a plain-Python baseline, side by side.

Generates a text corpus of --gigabytes (default 1) of words drawn from MMLU's test questions, with every
--plant-every-mb megabytes one real test question planted, then streams it against the 13-grams of every MMLU
test question: our numpy scan over the whole corpus, and a plain-Python scan (regex words, a set of word
tuples, the usual implementation) over its first --baseline-mb megabytes. Each contender runs in a
subprocess of its own, so each peak RSS is its own. Both must find the same planted questions.

    .venv/bin/python scripts/bench_contamination.py --data-dir ../shared/data
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from instructeval.contamination import TestExample

N = 13
WORDS_PER_LINE = 14
BASE_MB = 64


def mmlu_examples(data_dir: Path) -> list[TestExample]:
    from instructeval.contamination import load_examples
    from instructeval.data.source import DataSource
    from instructeval.registry import resolve_tasks

    [info] = resolve_tasks("mmlu", None)
    return load_examples(info, DataSource("local", data_dir.resolve()), None)


def generate(path: Path, gigabytes: float, plant_every_mb: int, data_dir: Path) -> dict[str, int]:
    """Random lines of MMLU vocabulary, one real test question planted every `plant_every_mb` MB.

    A base of BASE_MB of random lines is written again and again with its lines in a fresh random order each
    time (generating every word anew would take longer than the scan); every n-gram that spans lines differs.
    """
    import numpy as np

    examples = mmlu_examples(data_dir)
    vocabulary = sorted({w for e in examples for w in e.question.split()})
    spaced = np.array([w + " " for w in vocabulary], dtype=object)
    ended = np.array([w + "\n" for w in vocabulary], dtype=object)
    rng = np.random.default_rng(0)
    base_words = BASE_MB * 150_000  # about 7 bytes a word
    line_ends = np.arange(base_words) % WORDS_PER_LINE == WORDS_PER_LINE - 1
    picks = rng.integers(0, len(vocabulary), size=base_words)
    lines = np.array("".join(np.where(line_ends, ended[picks], spaced[picks]).tolist()).splitlines(True), dtype=object)
    per_plant = max(1, len(lines) * plant_every_mb // BASE_MB)
    questions = [e.question.split("\n")[0] for e in examples if len(e.question.split("\n")[0].split()) > N + 3]
    target, written, planted = int(gigabytes * 1e9), 0, 0
    with path.open("w", encoding="utf-8") as handle:
        while written < target:
            shuffled = lines[rng.permutation(len(lines))]
            for start in range(0, len(shuffled), per_plant):
                text = "".join(shuffled[start : start + per_plant].tolist())
                text += questions[planted * 97 % len(questions)] + "\n"
                planted += 1
                handle.write(text)
                written += len(text.encode("utf-8"))
    return {"bytes": written, "planted": planted}


def ours(corpus: Path, data_dir: Path) -> dict[str, Any]:
    from instructeval.contamination._corpus import iter_blocks
    from instructeval.contamination._overlap import NgramIndex, scan

    examples = mmlu_examples(data_dir)
    loaded_rss = peak_rss_mb()
    started = time.perf_counter()
    index = NgramIndex.build(examples, N)
    built = time.perf_counter() - started
    started, cpu = time.perf_counter(), cpu_seconds()
    matches = scan(index, iter_blocks([str(corpus)]))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    first_line: dict[int, int] = {}
    for position, locations in matches.locations.items():
        for owner in index.owners(position):
            first_line[owner] = min(first_line.get(owner, locations[0].line), locations[0].line)
    found = set(first_line)
    return {
        "examples": len(examples),
        "ngrams": int(index.hashes.size),
        "index_seconds": built,
        "bytes": matches.corpus_bytes,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "examples_found": len(found),
        "questions_found": len({examples[i].question for i in found}),
        "found": sorted(first_line.items()),
        "loaded_rss_mb": loaded_rss,
    }


def baseline(corpus: Path, data_dir: Path, megabytes: int) -> dict[str, Any]:
    """The plain-Python way: regex words per line, a rolling window, a set of n-gram tuples."""
    examples = mmlu_examples(data_dir)
    loaded_rss = peak_rss_mb()
    word = re.compile(r"[^\W_]+")
    started = time.perf_counter()
    owners: dict[tuple[str, ...], set[int]] = {}
    for number, example in enumerate(examples):
        tokens = word.findall(example.text.lower())
        for i in range(len(tokens) - N + 1):
            owners.setdefault(tuple(tokens[i : i + N]), set()).add(number)
    built = time.perf_counter() - started
    limit = megabytes << 20
    found: set[int] = set()
    window: list[str] = []
    read = lines = 0
    started, cpu = time.perf_counter(), cpu_seconds()
    with corpus.open("rb") as handle:
        for raw in handle:
            read += len(raw)
            lines += 1
            window.extend(word.findall(raw.decode("utf-8", errors="replace").lower()))
            for i in range(len(window) - N + 1):
                hit = owners.get(tuple(window[i : i + N]))
                if hit:
                    found |= hit
            del window[: max(0, len(window) - N + 1)]
            if read >= limit:
                break
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {
        "examples": len(examples),
        "ngrams": len(owners),
        "index_seconds": built,
        "bytes": read,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "examples_found": len(found),
        "questions_found": len({examples[i].question for i in found}),
        "found": sorted(found),
        "lines": lines,
        "loaded_rss_mb": loaded_rss,
    }


def cpu_seconds() -> float:
    """User and system CPU time of this process: less sensitive than wall time to other load on the host."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args: argparse.Namespace) -> None:
    result = (
        ours(args.corpus, args.data_dir)
        if args.worker == "ours"
        else baseline(args.corpus, args.data_dir, args.baseline_mb)
    )
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def run_worker(name: str, args: argparse.Namespace, corpus: Path) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", name, "--corpus", str(corpus), "--data-dir", str(args.data_dir),
               "--baseline-mb", str(args.baseline_mb)]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True, help="benchmark data (shared/data layout)")
    parser.add_argument("--gigabytes", type=float, default=1.0, help="size of the generated corpus (default 1)")
    parser.add_argument("--plant-every-mb", type=int, default=16, help="one real question per this many MB")
    parser.add_argument("--baseline-mb", type=int, default=64, help="MB the plain-Python baseline reads")
    parser.add_argument("--worker", choices=("ours", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    with tempfile.TemporaryDirectory() as folder:
        corpus = Path(folder) / "corpus.txt"
        started = time.perf_counter()
        made = generate(corpus, args.gigabytes, args.plant_every_mb, args.data_dir)
        print(f"corpus: {made['bytes'] / 1e9:.2f} GB, {made['planted']} questions planted "
              f"({time.perf_counter() - started:.0f} s to write)")  # fmt: skip
        results = {name: run_worker(name, args, corpus) for name in ("ours", "baseline")}
    for name, r in results.items():
        print(f"{name}: {r['examples']} examples, {r['ngrams']} distinct {N}-grams (index {r['index_seconds']:.1f} s); "
              f"{r['bytes'] / 1e6:.0f} MB in {r['seconds']:.1f} s wall, {r['cpu_seconds']:.1f} s CPU = "
              f"{r['bytes'] / 1e6 / r['seconds']:.1f} MB/s wall, {r['bytes'] / 1e6 / r['cpu_seconds']:.1f} MB/CPU-s; "
              f"peak RSS {r['peak_rss_mb']:.0f} MB ({r['loaded_rss_mb']:.0f} MB with the examples loaded); "
              f"{r['examples_found']} examples share a 13-gram with the corpus")  # fmt: skip
    ours_found = {owner for owner, line in results["ours"]["found"] if line <= results["baseline"]["lines"]}
    agree = "the same" if ours_found == set(results["baseline"]["found"]) else "DIFFERENT"
    print(f"examples found in the baseline's part of the corpus: {agree} ({len(ours_found)} by ours)")
    for clock in ("seconds", "cpu_seconds"):
        ours_rate, base_rate = (results[n]["bytes"] / results[n][clock] for n in ("ours", "baseline"))
        print(
            f"throughput ours / baseline ({'wall' if clock == 'seconds' else 'CPU'} time): {ours_rate / base_rate:.1f}x"
        )


if __name__ == "__main__":
    main()
