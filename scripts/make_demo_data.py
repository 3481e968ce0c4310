"""Rebuild instructeval/demo_data/ (the few examples the offline demo ships) from a full data folder.

The demo folder has the same layout as the full data folder (`../shared/data`), so the same local loaders
read both. Usage: python scripts/make_demo_data.py [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "instructeval" / "demo_data"
MMLU_SUBJECTS = ("high_school_geography", "college_biology")
BBH_TASKS = ("boolean_expressions", "sports_understanding")
MGSM_LANGS = ("en", "de")
N_TEST = 3
DROP_EXEMPLARS = 3  # tasks/drop takes its 3 shots from the file's first passages and tests on the rest


def _read_jsonl_gz(path: Path) -> list[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(path, "wb", mtime=0) as raw:
        raw.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8"))


def _subset_bigbench(src: Path, dst: Path, n: int) -> None:
    task = json.loads(src.read_text(encoding="utf-8"))
    task["examples"] = task["examples"][:n]
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_text(json.dumps(task, ensure_ascii=False, indent=1), encoding="utf-8")


def build(data: Path) -> None:
    """Copy the demo subset of every benchmark from `data` into OUT."""
    if OUT.exists():
        shutil.rmtree(OUT)
    for split in ("test", "dev"):
        rows = [r for r in _read_jsonl_gz(data / "mmlu" / f"mmlu_{split}.jsonl.gz") if r["subject"] in MMLU_SUBJECTS]
        keep = []
        for subject in MMLU_SUBJECTS:
            of_subject = [r for r in rows if r["subject"] == subject]
            keep += of_subject if split == "dev" else of_subject[:N_TEST]
        _write_jsonl_gz(OUT / "mmlu" / f"mmlu_{split}.jsonl.gz", keep)
    for task in BBH_TASKS:
        src = json.loads((data / "bbh" / "bbh" / f"{task}.json").read_text(encoding="utf-8"))
        src["examples"] = src["examples"][:N_TEST]
        dst = OUT / "bbh" / "bbh" / f"{task}.json"
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_text(json.dumps(src, ensure_ascii=False, indent=1), encoding="utf-8")
    lines = (data / "gsm8k" / "test.jsonl").read_text(encoding="utf-8").splitlines()[:N_TEST]
    (OUT / "gsm8k").mkdir(parents=True)
    (OUT / "gsm8k" / "test.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (OUT / "mgsm").mkdir()
    for lang in MGSM_LANGS:
        rows_tsv = (data / "mgsm" / f"mgsm_{lang}.tsv").read_text(encoding="utf-8").splitlines()[:2]
        (OUT / "mgsm" / f"mgsm_{lang}.tsv").write_text("\n".join(rows_tsv) + "\n", encoding="utf-8")
    shutil.copy(data / "mgsm" / "exemplars.json", OUT / "mgsm" / "exemplars.json")
    _write_jsonl_gz(
        OUT / "humaneval" / "HumanEval.jsonl.gz", _read_jsonl_gz(data / "humaneval" / "HumanEval.jsonl.gz")[:N_TEST]
    )
    _write_jsonl_gz(
        OUT / "drop" / "drop_v0_dev.jsonl.gz",
        _read_jsonl_gz(data / "drop" / "drop_v0_dev.jsonl.gz")[: DROP_EXEMPLARS + N_TEST],
    )
    _subset_bigbench(data / "crass" / "crass_ai" / "task.json", OUT / "crass" / "crass_ai" / "task.json", 4)
    for category in ("harmless", "helpful", "honest", "other"):
        src = data / "hhh_alignment" / category / "task.json"
        _subset_bigbench(src, OUT / "hhh_alignment" / category / "task.json", 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--data-dir", type=Path, default=Path(os.environ.get("INSTRUCTEVAL_DATA_DIR", "../shared/data"))
    )
    build(parser.parse_args().data_dir)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
