"""The built wheel works without the checkout: it carries tasks/, writing_prompts/ and leaderboard/.

The wheel is built from a copy of the source tree and installed with `--no-deps` into a fresh venv outside
the repository that takes its dependencies from the project venv (tests/source_tree.py). Everything runs
from a folder outside the repository as real subprocesses of that venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

import pytest
from source_tree import copy_source, venv_with_project_dependencies

from instructeval.paths import SHIPPED_FOLDERS
from instructeval.registry import all_tasks
from instructeval.writing.prompts import CATEGORIES

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Installed:
    """The wheel, the venv it is installed in, and how to run that venv's programs outside the checkout."""

    wheel: Path
    source: Path
    venv: Path
    site_packages: Path
    workdir: Path
    env: dict[str, str]

    def run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.venv / "bin" / program), *args],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        return result


def _source_files(folder: Path) -> set[str]:
    return {
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("wheel")
    source = copy_source(root / "source")
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(root / "dist"), str(source)],
        check=True,
        timeout=300,
    )
    (wheel,) = (root / "dist").glob("instructeval-*.whl")
    target = root / "venv"
    site_packages = venv_with_project_dependencies(target)
    python = target / "bin" / "python"
    subprocess.run([*pip, "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)], check=True)
    workdir = root / "work"
    workdir.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    env.update(INSTRUCTEVAL_CACHE_DIR=str(root / "cache"), COLUMNS="250", HF_HUB_OFFLINE="1")
    return Installed(wheel, source, target, site_packages, workdir, env)


def test_the_wheel_carries_every_file_of_the_package_and_the_shipped_folders(installed: Installed) -> None:
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    expected = {f"instructeval/{name}" for name in _source_files(installed.source / "instructeval")}
    for folder in SHIPPED_FOLDERS:
        files = _source_files(installed.source / folder)
        assert files, folder
        expected |= {f"instructeval/_{folder}/{name}" for name in files}
    assert expected - names == set()
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
    assert "instructeval/_tasks/bbh/cot-prompts/LICENSE" in names  # files without a suffix too


def test_the_installed_package_reads_its_folders_from_the_venv_not_the_checkout(installed: Installed) -> None:
    probe = (
        "import json, sys, instructeval, instructeval.paths as p\n"
        "print(json.dumps([instructeval.__file__, str(p.TASKS_DIR), str(p.WRITING_PROMPTS_DIR),"
        " str(p.LEADERBOARD_TEMPLATES_DIR), sys.path]))\n"
    )
    package, tasks, prompts, templates, path = json.loads(installed.run("python", "-c", probe).stdout)
    package_dir = installed.site_packages / "instructeval"
    assert Path(package) == package_dir / "__init__.py"
    assert [Path(tasks), Path(prompts), Path(templates)] == [package_dir / f"_{f}" for f in SHIPPED_FOLDERS]
    assert REPO not in [Path(entry).resolve() for entry in path if entry]  # the checkout is not importable


def test_instructeval_tasks_lists_every_task(installed: Installed) -> None:
    listing = installed.run("instructeval", "tasks").stdout
    rows = {line.split("│")[1].strip() for line in listing.splitlines() if line.startswith("│")}
    assert set(all_tasks()) <= rows


def test_runs_and_leaderboard_from_the_wheel(installed: Installed, tiny_llama: Path, data_dir: Path) -> None:
    """One example of log-likelihood, generation, BBH (task hooks, CoT files), HumanEval (sandbox) and writing
    tasks from the wheel; then the leaderboard site from its templates."""
    runs = installed.workdir / "runs"
    installed.run(
        "instructeval",
        "run",
        f"--model=hf:{tiny_llama}",
        "--tasks=mmlu_anatomy,gsm8k,bbh_boolean_expressions,humaneval,writing",
        "--limit=1",
        "--max-gen-toks=8",
        "--device=cpu",
        f"--data-dir={data_dir}",
        f"--output={runs}",
        "--run-name=wheel",
    )
    (run,) = runs.glob("*/wheel")
    results = json.loads((run / "results.json").read_text())
    assert set(results["tasks"]) == {"mmlu", "gsm8k", "bbh", "humaneval", "writing"}
    samples = {}
    for name, task in results["tasks"].items():
        samples[name] = [json.loads(line) for line in (run / task["samples_file"]).read_text().splitlines()]
        for metric, summary in task["metrics"].items():
            assert summary["n"] == len(samples[name])
            assert summary["value"] == pytest.approx(mean(s["scores"][metric] for s in samples[name]))
    assert [len(samples[name]) for name in ("mmlu", "gsm8k", "bbh", "humaneval")] == [1, 1, 1, 1]
    assert samples["mmlu"][0]["groups"]["subject"] == "anatomy"
    assert samples["gsm8k"][0]["prompt"].startswith("Q: There are 15 trees in the grove.")  # the task's 8 shots
    cot_prompt = (REPO / "tasks" / "bbh" / "cot-prompts" / "boolean_expressions.txt").read_text().split("-----\n")[1]
    assert samples["bbh"][0]["prompt"].startswith(cot_prompt.split("\n\nQ: ")[0])  # read by the task's hooks.py
    (verdict,) = samples["humaneval"][0]["details"]["sandbox,none"]  # the program ran up to the tests
    assert verdict["status"] in {"passed", "failed"} and "Error: No module" not in verdict["reason"], verdict
    assert samples["humaneval"][0]["scores"]["pass@1,none"] == (verdict["status"] == "passed")
    for sample in samples["writing"]:  # --limit 1: the first prompt of each category
        category = sample["groups"]["category"]
        first = json.loads((REPO / "writing_prompts" / f"{category}.jsonl").read_text().splitlines()[0])
        assert first["prompt"] in sample["prompt"]
    assert sorted(s["groups"]["category"] for s in samples["writing"]) == sorted(CATEGORIES)

    site = installed.workdir / "site"
    installed.run("instructeval", "leaderboard", "build", str(runs), f"--out={site}")
    assert "tiny-llama" in (site / "index.html").read_text()
    assets = REPO / "leaderboard" / "assets"
    assert sorted(p.name for p in (site / "assets").iterdir()) == sorted(p.name for p in assets.iterdir())
    for template in assets.iterdir():
        assert (site / "assets" / template.name).read_bytes() == template.read_bytes()
