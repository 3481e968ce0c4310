"""N-gram overlap with planted test questions: found exactly (verbatim, re-cased and re-punctuated, split across
lines and blocks, in JSONL, text, parquet and hub-format folders); near misses shorter than n are not."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from instructeval.cli import main
from instructeval.contamination import TestExample, check_overlap
from instructeval.contamination._corpus import iter_blocks
from instructeval.contamination._overlap import NgramIndex, scan

QUESTION = (
    "Which of the following best describes the role of the mitochondria in the eukaryotic cell during aerobic "
    "respiration under normal conditions?"
)
OTHER = "A farmer has 17 sheep and all but nine of them run away from the farm during a storm. How many are left?"
SHORT = "What is two plus two?"


def examples() -> list[TestExample]:
    return [
        TestExample("mmlu", "mmlu_biology", 0, "hash-0", QUESTION, "It makes ATP."),
        TestExample("gsm8k", "gsm8k", 0, "hash-1", OTHER, "9"),
        TestExample("mmlu", "mmlu_biology", 1, "hash-2", SHORT, "4"),
    ]


def found(tmp_path: Path, corpus: list[str], n: int = 13) -> dict[str, list[tuple[int, str, int]]]:
    result = check_overlap(examples(), corpus, n, progress=lambda _: None)
    return {
        task: [(e.doc_id, Path(e.locations[0].source).name, e.locations[0].line) for e in t.contaminated]
        for task, t in result.tasks.items()
    }


def test_verbatim_jsonl_record_is_found_at_its_line(tmp_path: Path) -> None:
    corpus = tmp_path / "train.jsonl"
    corpus.write_text(
        json.dumps({"text": "unrelated words " * 20})
        + "\n\n"
        + json.dumps({"prompt": QUESTION, "completion": "ATP"})
        + "\n"
    )
    assert found(tmp_path, [str(corpus)]) == {"mmlu": [(0, "train.jsonl", 3)], "gsm8k": []}


def test_changed_case_and_punctuation_split_across_lines_is_found(tmp_path: Path) -> None:
    corpus = tmp_path / "notes.txt"
    words = OTHER.upper().replace(" ", " ,, ").split(" ")
    middle = len(words) // 2
    corpus.write_text("header\n\n" + " ".join(words[:middle]) + "\n" + " — ".join(words[middle:]) + "!\n")
    assert found(tmp_path, [str(corpus)]) == {"mmlu": [], "gsm8k": [(0, "notes.txt", 3)]}


def test_a_question_split_across_reading_blocks_is_found_with_its_first_line(tmp_path: Path) -> None:
    corpus = tmp_path / "big.txt"
    filler = "".join(f"filler line {i}\n" for i in range(300))
    wrapped = "\n".join(QUESTION.split(" "))  # one word per line: every n-gram spans 13 lines
    corpus.write_text(filler + wrapped + "\n" + filler)
    index = NgramIndex.build(examples(), 13)
    small_blocks = list(iter_blocks([str(corpus)], block_bytes=97))
    assert len(small_blocks) > 50
    matches = scan(index, small_blocks)
    lines = sorted(loc.line for found in matches.locations.values() for loc in found)
    question_words = len(QUESTION.split(" "))
    assert len(lines) == question_words - 13 + 1  # every 13-gram of the question, none of the others
    assert lines[0] == 301 and lines[-1] == 301 + question_words - 13


def test_near_misses_below_n_words_are_not_found(tmp_path: Path) -> None:
    words = QUESTION.split(" ")
    corpus = tmp_path / "near.jsonl"
    corpus.write_text(
        "".join(json.dumps({"text": " ".join(words[start : start + 12])}) + "\n" for start in range(len(words) - 11))
        + json.dumps({"text": " ".join([*words[:6], "cytoplasm", *words[7:14]])})
        + "\n"
    )
    assert found(tmp_path, [str(corpus)]) == {"mmlu": [], "gsm8k": []}
    assert found(tmp_path, [str(corpus)], n=12)["mmlu"] == [(0, "near.jsonl", 1)]


def test_short_examples_are_counted_as_not_checkable(tmp_path: Path) -> None:
    corpus = tmp_path / "c.txt"
    corpus.write_text(SHORT + "\n")
    result = check_overlap(examples(), [str(corpus)], 13, progress=lambda _: None)
    assert (result.tasks["mmlu"].examples, result.tasks["mmlu"].checkable) == (2, 1)
    assert result.tasks["mmlu"].contaminated == []


def test_parquet_and_hub_format_folders_are_read_row_by_row(tmp_path: Path) -> None:
    import datasets

    rows = [{"id": i, "text": f"row {i} about nothing"} for i in range(5)]
    rows[3]["text"] = OTHER
    hub_folder = tmp_path / "hub-dataset"
    (hub_folder / "data").mkdir(parents=True)
    datasets.Dataset.from_list(rows).to_parquet(str(hub_folder / "data" / "train-00000-of-00001.parquet"))
    assert found(tmp_path, [str(hub_folder)])["gsm8k"] == [(0, "train-00000-of-00001.parquet", 4)]
    saved = tmp_path / "saved"
    datasets.DatasetDict({"train": datasets.Dataset.from_list(rows)}).save_to_disk(str(saved))
    result = check_overlap(examples(), [f"hf:{hub_folder}", f"hf:{saved}"], 13, progress=lambda _: None)
    sources = sorted(e.locations[0].source for e in result.tasks["gsm8k"].contaminated)
    assert sources == [f"hf:{hub_folder}@train"]  # one location per n-gram: the first source that has it
    assert result.corpus_documents == 10


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--corpus", "missing.jsonl", "--tasks", "gsm8k"], "corpus missing.jsonl does not exist"),
        (["--tasks", "gsm8k"], "nothing to check"),
        (["--corpus", "x", "--tasks", "gsm8k", "--ngram", "0"], "--ngram must be a positive"),
        (["--report", "r", "--corpus", "x"], "--report reads an earlier check for --run"),
        (["--run", "not-a-run"], "is not a run folder"),
        (["--corpus", "x", "--tasks", "gsm8k", "--copies", "3"], "--copies set the probe: add --model M --probe"),
        (["--model", "demo", "--probe", "min-k", "--tasks", "gsm8k", "--ngram", "8"], "--ngram and --report are for"),
    ],
)
def test_bad_input_is_one_line(args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("contamination", *args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_dirty_minus_clean_interval_matches_newcombes_published_example() -> None:
    from instructeval.stats import difference_of_independent_means, summarize, two_sample_test

    clean = [1.0] * 48 + [0.0] * 32
    dirty = [1.0] * 56 + [0.0] * 14
    difference = difference_of_independent_means(summarize(clean, kind="binary"), summarize(dirty, kind="binary"))
    # Newcombe (1998), Stat. Med. 17:873, method 10 on 56/70 - 48/80: 0.2000 (0.0524, 0.3339)
    assert (difference.value, difference.ci_low, difference.ci_high) == pytest.approx((0.2, 0.0524, 0.3339), abs=1e-4)
    assert two_sample_test(dirty, clean, "binary").name == "fisher_exact"


def test_suite_demo_reads_the_shipped_subset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from instructeval.contamination import load_examples
    from instructeval.data.source import DataSource
    from instructeval.registry import resolve_tasks

    monkeypatch.delenv("INSTRUCTEVAL_DATA_DIR", raising=False)
    [gsm8k] = resolve_tasks("gsm8k", None)
    shipped = load_examples(gsm8k, DataSource.from_metadata({"data_source": "embedded"}), 2)
    corpus = tmp_path / "c.txt"
    corpus.write_text(shipped[1].question + "\n")
    code, out, _ = cli("contamination", "--corpus", str(corpus), "--suite", "demo", "--output", str(tmp_path / "r"))
    assert code == 0
    assert "gsm8k #1:" in out and "gsm8k #0" not in out
