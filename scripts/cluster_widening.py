"""How much wider a clustered interval is than the naive one, on DROP (questions cluster by passage).

    python scripts/cluster_widening.py subset DATA_DIR OUT_DIR [--passages 6] [--max-questions 25]
    instructeval run --model demo --tasks drop --data-dir OUT_DIR --run-name drop-clusters
    python scripts/cluster_widening.py report RUN [--task drop]

`subset` writes a DROP data folder (shared/data layout) holding the three few-shot passages and every question
of the next `--passages` passages with at most `--max-questions` questions each, so a CPU can answer it while
the clusters keep their real sizes. `report` prints each metric's naive and clustered stderr and 95 % interval
from a run's results.json, and their ratios.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

DROP_FILE = Path("drop") / "drop_v0_dev.jsonl.gz"
EXEMPLAR_PASSAGES = 3  # tasks/drop/hooks.py takes its exemplars from the first three distinct passages


def _passage(row: dict[str, Any]) -> str:
    return str(row["context"]).rpartition("\nQuestion: ")[0]


def subset(data_dir: Path, out: Path, passages: int, max_questions: int) -> int:
    """Write the subset; returns how many test questions it holds."""
    with gzip.open(data_dir / DROP_FILE, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    sizes = Counter(_passage(row) for row in rows)
    order = list(dict.fromkeys(_passage(row) for row in rows))
    exemplars = order[:EXEMPLAR_PASSAGES]
    chosen = set([p for p in order[EXEMPLAR_PASSAGES:] if sizes[p] <= max_questions][:passages])
    first = [next(row for row in rows if _passage(row) == p) for p in exemplars]
    questions = [row for row in rows if _passage(row) in chosen]
    (out / DROP_FILE).parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(out / DROP_FILE, "wt", encoding="utf-8") as handle:
        for row in first + questions:
            handle.write(json.dumps(row) + "\n")
    return len(questions)


def report(run: Path, task: str) -> None:
    """Naive against clustered stderr and interval width, per metric of the task."""
    from instructeval.results import load_results

    result = load_results(run).tasks[task]
    columns = ("metric", "value", "n", "clusters", "naive stderr", "clustered stderr", "ratio", "naive 95% CI")
    print("| " + " | ".join((*columns, "clustered 95% CI", "ratio")) + " |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for metric, score in result.metrics.items():
        naive = score.naive
        if naive is None or None in (score.stderr, naive.stderr, score.ci_low, score.ci_high, naive.ci_low):
            print(f"| {metric} | not clustered |")
            continue
        assert score.stderr and naive.stderr and score.ci_low is not None and score.ci_high is not None
        assert naive.ci_low is not None and naive.ci_high is not None
        width, naive_width = score.ci_high - score.ci_low, naive.ci_high - naive.ci_low
        print(
            f"| {metric} | {score.value:.3f} | {score.n} | {score.clusters} | {naive.stderr:.4f} | {score.stderr:.4f} "
            f"| {score.stderr / naive.stderr:.2f} | [{naive.ci_low:.3f}, {naive.ci_high:.3f}] "
            f"| [{score.ci_low:.3f}, {score.ci_high:.3f}] | {width / naive_width:.2f} |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("subset", help="write a DROP data folder of whole passages")
    make.add_argument("data_dir", type=Path)
    make.add_argument("out", type=Path)
    make.add_argument("--passages", type=int, default=6)
    make.add_argument("--max-questions", type=int, default=25)
    show = commands.add_parser("report", help="naive vs clustered uncertainty of a run's task")
    show.add_argument("run", type=Path)
    show.add_argument("--task", default="drop")
    args = parser.parse_args()
    if args.command == "subset":
        print(f"{subset(args.data_dir, args.out, args.passages, args.max_questions)} questions in {args.out}")
    else:
        report(args.run, args.task)
    return 0


if __name__ == "__main__":
    sys.exit(main())
