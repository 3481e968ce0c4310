"""`instructeval contamination` end to end on the benchmark data: planted MMLU and GSM8K questions are found in
a corpus of files, a folder and a hub-format dataset; a finished tiny-Llama run is re-scored on its clean subset."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from instructeval.cli import main
from instructeval.contamination import load_examples
from instructeval.data.source import DataSource
from instructeval.registry import resolve_tasks
from instructeval.results import ContaminationResult, load_results, read_records, samples_path
from instructeval.stats import summarize


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(list(args))
    return code, out.getvalue()


def questions(task: str, data_dir: Path, limit: int) -> dict[int, str]:
    """doc id -> the raw question field of the first examples (each over 15 words, so it holds 13-grams)."""
    [info] = resolve_tasks(task, None)
    found = {}
    for example in load_examples(info, DataSource("local", data_dir), limit):
        question = example.question.split("\n")[0].removeprefix("Q: ")
        if len(question.split()) > 15:
            found[example.doc_id] = question
    return found


@pytest.fixture(scope="module")
def planted(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A corpus: mmlu_anatomy's first long question verbatim in JSONL, the second re-cased, re-punctuated and
    wrapped over lines in a text file inside a folder, a gsm8k question in a parquet hub-format dataset, and
    12-word pieces (one short of n) of another gsm8k question."""
    import datasets

    root = tmp_path_factory.mktemp("corpus")
    anatomy = questions("mmlu_anatomy", data_dir, 12)
    gsm8k = questions("gsm8k", data_dir, 6)
    (a1, q1), (a2, q2) = list(anatomy.items())[:2]
    (g1, q3), (g2, q4) = list(gsm8k.items())[:2]
    train = root / "train.jsonl"
    train.write_text(json.dumps({"text": "filler " * 30}) + "\n" + json.dumps({"messages": [{"content": q1}]}) + "\n")
    folder = root / "folder"
    folder.mkdir()
    words = q2.upper().split()
    (folder / "notes.txt").write_text("intro\n" + ", ".join(words[:7]) + "\n" + " ... ".join(words[7:]) + "\n")
    near = q4.split()
    (folder / "near.jsonl").write_text(
        "".join(json.dumps({"text": " ".join(near[i : i + 12])}) + "\n" for i in range(len(near) - 11))
    )
    hub = root / "hub"
    (hub / "data").mkdir(parents=True)
    datasets.Dataset.from_list([{"text": "nothing"}, {"text": q3}]).to_parquet(str(hub / "data" / "train.parquet"))
    return {"root": root, "train": train, "folder": folder, "hub": hub, "ids": (a1, a2, g1, g2)}


def test_planted_questions_are_found_in_files_folders_and_a_hub_dataset(
    planted: dict[str, object], data_dir: Path, tmp_path: Path
) -> None:
    a1, a2, g1, _ = planted["ids"]  # type: ignore[misc]
    code, out = cli(
        "contamination", "--corpus", str(planted["train"]), str(planted["folder"]), f"hf:{planted['hub']}",
        "--tasks", "mmlu_anatomy,gsm8k", "--limit", "12", "--data-dir", str(data_dir), "--output", str(tmp_path),
    )  # fmt: skip
    assert code == 0
    report = ContaminationResult.model_validate_json((tmp_path / "contamination.json").read_text())
    assert report.ngram == 13
    mmlu = {
        e.doc_id: (Path(e.locations[0].source).name, e.locations[0].line) for e in report.tasks["mmlu"].contaminated
    }
    assert mmlu == {a1: ("train.jsonl", 2), a2: ("notes.txt", 2)}
    gsm = {e.doc_id: (e.locations[0].source, e.locations[0].line) for e in report.tasks["gsm8k"].contaminated}
    assert gsm == {g1: (f"hf:{planted['hub']}@train", 2)}  # the near miss (12 words at most) is not there
    assert report.tasks["mmlu"].examples == report.tasks["gsm8k"].examples == 12
    assert report.tasks["mmlu"].contaminated_share.value == pytest.approx(2 / report.tasks["mmlu"].checkable)
    assert "mmlu_anatomy #" in out and "notes.txt:2" in out


def test_a_finished_run_is_rescored_on_its_clean_subset(
    planted: dict[str, object], tiny_llama: Path, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _ = cli(
        "run", "--model", f"hf:{tiny_llama}", "--tasks", "mmlu_anatomy", "--limit", "12", "--device", "cpu",
        "--data-dir", str(data_dir), "--output", str(tmp_path / "runs"), "--run-name", "r",
    )  # fmt: skip
    assert code == 0
    run = next((tmp_path / "runs").glob("*/r"))
    monkeypatch.chdir(tmp_path)
    code, _ = cli("contamination", "--corpus", str(planted["train"]), str(planted["folder"]), "--tasks", "mmlu,gsm8k",
                  "--limit", "12", "--data-dir", str(data_dir))  # fmt: skip
    assert code == 0
    code, out = cli("contamination", "--run", str(run))  # the report just written to contamination/
    assert code == 0
    section = load_results(run).contamination
    assert section is not None and set(section.tasks) == {"mmlu"}  # the run's tasks, narrowed to its subject
    assert (section.tasks["mmlu"].examples, list(section.tasks["mmlu"].subtasks)) == (12, ["mmlu_anatomy"])
    clean = section.tasks["mmlu"].clean_subset
    assert clean is not None and clean.metric == "acc,none"
    a1, a2, _, _ = planted["ids"]  # type: ignore[misc]
    records = read_records(samples_path(run, "mmlu"))
    dirty = [r.scores["acc,none"] for r in records if r.doc_id in (a1, a2)]
    rest = [r.scores["acc,none"] for r in records if r.doc_id not in (a1, a2)]
    assert (clean.dirty.n, clean.clean.n, clean.full.n) == (2, 10, 12)
    assert clean.full == load_results(run).tasks["mmlu"].metrics["acc,none"]
    assert clean.clean.value == pytest.approx(sum(rest) / 10)
    assert clean.clean.ci_low == pytest.approx(summarize(rest, kind="binary").ci_low)
    assert clean.dirty_minus_clean.value == pytest.approx(sum(dirty) / 2 - sum(rest) / 10)
    assert clean.dirty_minus_clean.ci_low is not None and clean.dirty_minus_clean.ci_low < clean.dirty_minus_clean.value
    assert clean.test == "fisher_exact" and clean.p_value is not None
    assert "dirty - clean" in out
    code, _ = cli("leaderboard", "build", str(tmp_path / "runs"), "--out", str(tmp_path / "site"))
    assert code == 0  # the score carries a marker with the share and the clean-subset score
    site = json.loads((tmp_path / "site" / "data" / "leaderboard.json").read_text())
    view = next(v for v in site["views"] if v["id"] == "problem-solving")
    column = next(j for j, c in enumerate(view["columns"]) if c["id"] == "mmlu")
    [row] = view["rows"]
    mark = row["contamination"][str(column)]
    assert (mark["contaminated"], mark["checkable"], mark["ngram"]) == (2, 12, 13)
    assert mark["clean"][0] == pytest.approx(clean.clean.value, abs=1e-6)
    assert mark["share"][0] == pytest.approx(2 / 12, abs=1e-6)
    [detail] = site["models"]
    assert next(t for t in detail["tasks"] if t["task"] == "mmlu")["contamination"] == mark
    code, _ = cli("contamination", "--run", str(run), "--corpus", str(planted["train"]), "--output", "again")
    assert code == 0  # checked now, on the run's own examples (its tasks, limit and data)
    again = ContaminationResult.model_validate_json((tmp_path / "again" / "contamination.json").read_text())
    assert set(again.tasks) == {"mmlu"} and [e.doc_id for e in again.tasks["mmlu"].contaminated] == [a1]
