"""`scripts/bench_leaderboard.py` end to end at a tiny size: every figure it prints comes out of real builds, real
reads and real page loads in Chromium, and `--against` finds this checkout's site byte for byte the one a git
revision builds (the build time aside)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH = [sys.executable, str(ROOT / "scripts" / "bench_leaderboard.py"), "--models", "12", "--tasks", "10"]


def _bench(tmp_path: Path, *options: str) -> dict[str, Any]:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = subprocess.run([*BENCH, *options], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_the_bench_times_builds_reads_and_page_loads(tmp_path: Path) -> None:
    report = _bench(tmp_path, "--repeats", "1", "--first-builds", "1", "--loads", "1", "--lm-eval-sections")
    assert report["models"] == 12 and report["first_build_s"] > 0 and report["first_build_one_process_s"] > 0
    assert set(report["read_cpu_s"]) == {"full", "index", "breakdowns"}
    assert all(seconds > 0 for seconds in report["read_cpu_s"].values())
    assert report["load_index"]["median_s"] > 0 and report["load_model_page"]["median_s"] > 0
    assert report["site_bytes"] > report["index_bytes"] > 0


def test_the_bench_against_a_revision_finds_the_same_site(tmp_path: Path) -> None:
    report = _bench(tmp_path, "--repeats", "1", "--against", "HEAD", "--rounds", "1")
    assert report["against"] == "HEAD" and report["files"] > 12 and report["differing"] == []
    assert report["first build into an empty folder"]["wall"]["this checkout"] > 0


def test_the_bench_refuses_no_first_builds_in_one_line() -> None:
    done = subprocess.run([*BENCH, "--first-builds", "0"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1].endswith("--first-builds and --rounds take 1 or more")
