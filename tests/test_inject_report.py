"""`inject report`: FineTuneBench's table layout from `inject score` runs of constructed response files.

The released response files are not redistributable, so responses of known kinds are written here in their
format from the dataset rows in the data folder (read in place): every cell's value, n and Wilson interval
are recomputed from the kinds written. Medical responses (never released upstream) are constructed to keep
the pre-update answer on a known share of rows, which the report counts apart from wrong answers.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from test_inject_score_finetunebench import EXPECTED, MODELS, cli, dataset_rows, kind_of, write_released_format

from instructeval.knowledge.paper_table import MISSING_MARK
from instructeval.knowledge.report import score_text
from instructeval.score import Score
from instructeval.stats import summarize

RELEASED = {  # file written -> (task, dataset file role, our split)
    "latest_news_original_w_responses.csv": ("latest_news", "memorization", "memorisation"),
    "latest_news_rephrased_w_responses.csv": ("latest_news", "rephrased", "rephrased"),
    "fictional_people_secondary_w_responses.csv": ("fictional_people", "secondary", "secondary"),
}
STRICT = 0  # index of the strict scorer in EXPECTED's tuples


def expected_cell(values: list[float]) -> str:
    return score_text(Score.model_validate(summarize(values, kind="binary").to_dict()))


def medical_reply(number: int, row: dict[str, str]) -> str:
    """Every third answer is the updated one, every third the pre-update one, the rest wrong (keyed by our probe
    id: some medical questions repeat with other answers)."""
    return (row["answer"], row["answer_before"], "zzq unknowable")[number % 3]


@pytest.fixture
def scored_runs(tmp_path: Path, data_dir: Path) -> tuple[Path, dict[str, dict[str, list[float]]]]:
    """Score the constructed files with `inject score`; return the runs folder and the strict values per cell."""
    out = tmp_path / "runs"
    expected: dict[str, dict[str, list[float]]] = {model: {} for model in MODELS}
    for name, (task, role, split) in RELEASED.items():
        rows = dataset_rows(data_dir, task, role)
        path = tmp_path / name
        write_released_format(path, rows)
        for model in MODELS:
            expected[model][f"{task}: {split}"] = [float(EXPECTED[kind_of(model, i)][STRICT]) for i in range(len(rows))]
        argv = ["inject", "score", "--knowledge", f"finetunebench:{task}", "--data-dir", str(data_dir)]
        assert cli(*argv, "--responses", str(path), "--output", str(out)) == 0
    medical = dataset_rows(data_dir, "medical", "memorization")
    path = tmp_path / "medical_original_w_responses.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["id", "answer", "model-a_response"])
        writer.writeheader()
        writer.writerows(
            {"id": f"memorisation-medical-{r['id']}", "answer": r["answer"], "model-a_response": medical_reply(i, r)}
            for i, r in enumerate(medical)
        )
    argv = ["inject", "score", "--knowledge", "finetunebench:medical", "--data-dir", str(data_dir)]
    assert cli(*argv, "--responses", str(path), "--output", str(out)) == 0
    replies = [medical_reply(i, r).strip().lower() for i, r in enumerate(medical)]
    expected["model-a"]["medical: memorisation"] = [
        float(a == r["answer"].strip().lower()) for a, r in zip(replies, medical, strict=True)
    ]
    expected["model-a"]["old"] = [
        float(a == r["answer_before"].strip().lower()) for a, r in zip(replies, medical, strict=True)
    ]
    return out, expected


def markdown_rows(text: str) -> dict[str, dict[str, str]]:
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[1:]]
    return {row[0]: dict(zip(header, row, strict=True)) for row in rows}


def test_report_lays_out_the_papers_table_with_n_and_ci_per_cell(scored_runs, capsys):
    out, expected = scored_runs
    capsys.readouterr()
    assert cli("inject", "report", str(out), "--format", "markdown") == 0
    text = capsys.readouterr().out
    rows = markdown_rows(text)
    assert set(rows) == set(MODELS)
    for model, cells in expected.items():
        for column, values in cells.items():
            if column != "old":
                assert rows[model][column].startswith(expected_cell(values)), (model, column)
    # the pre-update answer is counted apart from a wrong one
    new, old = (expected_cell(expected["model-a"][c]) for c in ("medical: memorisation", "old"))
    assert rows["model-a"]["medical: memorisation"] == f"{new}; old {old}"
    assert sum(expected["model-a"]["old"]) > 0
    # cells the paper's averages cover but no released response does are marked, and so is every partial average
    assert rows["model-b"]["medical: memorisation"] == f"— {MISSING_MARK}"
    assert all(rows[m]["coding: code-update"] == f"— {MISSING_MARK}" for m in MODELS)
    assert rows["model-b"]["updated knowledge: average"] == f"— {MISSING_MARK}"
    present = [v for c, v in expected["model-a"].items() if c.startswith(("latest_news", "fictional_people"))]
    mean = sum(sum(v) / len(v) for v in present) / len(present)
    average = rows["model-a"]["new knowledge: average"]
    assert average.startswith(f"{mean:.3f} [") and average.endswith(f"({sum(map(len, present))}) {MISSING_MARK}")
    assert "released no medical or coding responses" in text


def test_report_prints_the_same_table_in_the_terminal_and_refuses_an_empty_folder(scored_runs, tmp_path, capsys):
    out, expected = scored_runs
    capsys.readouterr()
    assert cli("inject", "report", str(out)) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "FineTuneBench layout (one column per model): strict" in text
    assert "model-a" in text and "model-b" in text
    assert expected_cell(expected["model-b"]["latest_news: rephrased"]) in text
    (tmp_path / "empty").mkdir()
    assert cli("inject", "report", str(tmp_path / "empty")) == 2
    assert "no knowledge results under" in capsys.readouterr().err
