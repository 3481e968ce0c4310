"""`inject score` on response files in FineTuneBench's released format, with its own `strict` scorer.

FineTuneBench's `model_responses/<task>/<task>_<split>_w_responses.csv` carry the dataset's own columns (its
`id` is the dataset row id, shared by every split) and one `<model>_response` column per model. Those files
are not redistributable, so the CI test writes files in that format from the dataset rows in the data folder,
with responses of known kinds whose score under every scorer is known by construction. The released files
themselves are scored when INSTRUCTEVAL_FINETUNEBENCH_RESPONSES names a copy of `model_responses/`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from pathlib import Path

import pytest

from instructeval.cli import main
from instructeval.knowledge import ScoreOptions, score_responses, strict_match
from instructeval.results import load_results, samples_path
from instructeval.stats import summarize

RESPONSES_ENV = "INSTRUCTEVAL_FINETUNEBENCH_RESPONSES"
SCORERS = ("strict", "exact", "lenient")
EXPECTED = {  # kind of response -> (strict, exact, lenient)
    "verbatim": (1, 1, 1),
    "shouted": (1, 1, 1),
    "punctuated": (0, 1, 1),
    "sentence": (0, 0, 1),
    "wrong": (0, 0, 0),
}
KINDS = tuple(EXPECTED)
MODELS = {"model-a": 0, "model-b": 2}  # model -> offset into KINDS, so the two columns differ row by row
FILES = {  # released file name -> (task, dataset file role, our split)
    "latest_news_original_w_responses.csv": ("latest_news", "memorization", "memorisation"),
    "latest_news_date_changed_w_responses.csv": ("latest_news", "date_changed", "date-changed"),
    "fictional_people_secondary_w_responses.csv": ("fictional_people", "secondary", "secondary"),
}
SPLIT_OF_ROLE = {
    "original": "memorisation",
    "rephrased": "rephrased",
    "date_changed": "date-changed",
    "secondary": "secondary",
    "comparison": "comparison",
}


def cli(*argv: str) -> int:
    return main(list(argv))


def dataset_rows(root: Path, task: str, role: str) -> list[dict[str, str]]:
    """A FineTuneBench dataset file's rows, as the authors' notebook keeps them (used_in_analysis only)."""
    path = root / "finetunebench" / task / f"{task}_{role}.csv"
    text = (
        path.read_text(encoding="utf-8")
        if path.is_file()
        else gzip.decompress(Path(f"{path}.gz").read_bytes()).decode()
    )
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    return [row for row in rows if row.get("used_in_analysis", "True") == "True"]


def reply(kind: str, answer: str) -> str:
    """A response of a known kind for the gold `answer`."""
    shouted = answer.upper() if answer.upper().lower() == answer.lower() else answer
    return {
        "verbatim": answer,
        "shouted": f"  {shouted}\n",
        "punctuated": f"{answer}.",
        "sentence": f"I think it is {answer}",
        "wrong": "zzq unknowable",
    }[kind]


def kind_of(model: str, row_number: int) -> str:
    return KINDS[(row_number + MODELS[model]) % len(KINDS)]


def write_released_format(path: Path, rows: list[dict[str, str]]) -> None:
    """The dataset's own columns, then one `<model>_response` column per model, as FineTuneBench released them."""
    table = [
        {**row, **{f"{model}_response": reply(kind_of(model, i), row["answer"]) for model in MODELS}}
        for i, row in enumerate(rows)
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)


def test_released_format_is_scored_per_model_with_the_papers_strict_scorer(tmp_path, data_dir, capsys):
    ids: dict[str, list[set[str]]] = {}
    for name, (task, role, split) in FILES.items():
        rows = dataset_rows(data_dir, task, role)
        ids.setdefault(task, []).append({row["id"] for row in rows})
        responses = tmp_path / name
        write_released_format(responses, rows)
        output = tmp_path / "runs"
        argv = ["inject", "score", "--knowledge", f"finetunebench:{task}", "--data-dir", str(data_dir)]
        assert cli(*argv, "--responses", str(responses), "--output", str(output)) == 0
        printed = capsys.readouterr().out
        for model in MODELS:
            run = next((output / f"{responses.stem}-{model}").iterdir())
            results = load_results(run)
            assert results.model.name == model and results.model.spec == f"external:{model}"
            (result,) = results.knowledge or []
            assert list(result.splits) == [split] and result.training["response_column"] == f"{model}_response"
            expected = [EXPECTED[kind_of(model, i)] for i in range(len(rows))]
            for position, scorer in enumerate(SCORERS):
                reference = summarize([e[position] for e in expected], kind="binary")
                cell = result.splits[split][scorer].score
                assert (cell.value, cell.n, cell.ci_low, cell.ci_high) == (
                    reference.value,
                    len(rows),
                    reference.ci_low,
                    reference.ci_high,
                ), (name, model, scorer)
            records = [
                json.loads(line)
                for line in samples_path(run, f"knowledge_finetunebench-{task}_external").read_text().splitlines()
            ]
            assert len(records) == len(rows)
            by_question = {record["prompt"].strip(): record for record in records}
            for i, row in enumerate(rows):
                record = by_question[row["prompt"].strip()]
                assert record["subtask"] == split and record["target"] == row["answer"]
                assert record["response"] == reply(kind_of(model, i), row["answer"])
                assert tuple(record["scores"][s] for s in SCORERS) == EXPECTED[kind_of(model, i)]
            assert f"{model}: accuracy" in printed
    original, date_changed = ids["latest_news"]
    assert original == date_changed  # the dataset id is shared by the splits: no key on its own


def test_response_column_chooses_one_model_and_bad_files_are_refused(tmp_path, data_dir, capsys):
    rows = dataset_rows(data_dir, "latest_news", "date_changed")
    responses = tmp_path / "news.csv"
    write_released_format(responses, rows)
    argv = ["inject", "score", "--knowledge", "finetunebench:latest_news", "--data-dir", str(data_dir)]
    argv += ["--output", str(tmp_path / "runs"), "--responses", str(responses)]
    assert cli(*argv, "--response-column", "model-b_response", "--scorers", "strict") == 0
    (run_parent,) = (tmp_path / "runs").iterdir()
    results = load_results(next(run_parent.iterdir()))
    assert run_parent.name == "news" and results.model.name == "model-b"
    (result,) = results.knowledge or []
    strict = [EXPECTED[kind_of("model-b", i)][0] for i in range(len(rows))]
    assert list(result.splits["date-changed"]) == ["strict"]
    assert result.splits["date-changed"]["strict"].score.value == pytest.approx(sum(strict) / len(strict))
    capsys.readouterr()

    assert cli(*argv, "--response-column", "nobody_response") == 2
    error = capsys.readouterr().err.strip()
    assert "--response-column 'nobody_response' is not in the responses file" in error and "\n" not in error

    rows[3] = {**rows[3], "answer": "a different answer"}
    write_released_format(responses, rows)
    assert cli(*argv) == 2
    error = capsys.readouterr().err.strip()
    assert "row 4 gives the answer 'a different answer'" in error and "\n" not in error


def test_strict_is_the_notebooks_comparison_of_stripped_answers():
    assert strict_match("  Marie Curie\n", ["marie curie"]) == 1.0
    assert strict_match("Marie Curie.", ["Marie Curie"]) == 0.0  # punctuation counts, unlike exact
    assert strict_match("None \n", ["None"]) == 1.0
    assert strict_match("", [""]) == 0.0


@pytest.mark.skipif(not os.environ.get(RESPONSES_ENV), reason=f"{RESPONSES_ENV} does not name FineTuneBench's files")
def test_released_files_score_every_row_of_every_model(tmp_path, data_dir):
    root = Path(os.environ[RESPONSES_ENV])
    files = sorted(root.glob("*/*_w_responses.csv"))
    assert files, f"no <task>/<task>_<split>_w_responses.csv under {root}"
    for path in files:
        task = path.parent.name
        split = SPLIT_OF_ROLE[path.name.removeprefix(f"{task}_").removesuffix("_w_responses.csv")]
        with path.open(encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        options = ScoreOptions(f"finetunebench:{task}", path, data_dir=data_dir, output=tmp_path / "runs")
        runs = score_responses(options, progress=lambda _: None)
        columns = [c for c in rows[0] if c.endswith("_response")]
        assert len(runs) == len(columns)
        for run, column in zip(runs, columns, strict=True):
            (result,) = load_results(run).knowledge or []
            cells = result.splits[split]
            strict = sum(row[column].strip().lower() == row["answer"].strip().lower() for row in rows)
            assert cells["strict"].score.n == len(rows), (path.name, column)
            assert cells["strict"].score.value == pytest.approx(strict / len(rows)), (path.name, column)
            assert cells["strict"].score.value <= cells["exact"].score.value <= cells["lenient"].score.value
