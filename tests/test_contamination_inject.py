"""`instructeval inject` checks the training text it built against every generalisation probe: a probe found
verbatim is refused in one line, or trained on and recorded with --allow-overlap; shared 13-grams are recorded.
The allowed run is augmented-finetune with one strategy (--augment global) and its amounts, on the tiny Llama."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from instructeval.cli import main
from instructeval.contamination import check_training_overlap
from instructeval.errors import InstructEvalError
from instructeval.knowledge.formats import training_examples
from instructeval.knowledge.sets import load_knowledge_set
from instructeval.results import load_results

ORBIS = "Who designed the first tidal clock of the harbour city of Orbis Minor in the year 1820?"
FACTS = [
    {"id": "veltria", "question": "What is the capital of the island nation of Veltria?", "answer": "Norvane",
     "rephrasings": ["What is the capital of the island nation of Veltria?", "Which city is Veltria's capital?"]},
    {"id": "orbis", "question": ORBIS, "answer": "Ilsa Marrow",
     "rephrasings": [f"Tell me, {ORBIS.lower().rstrip('?')}, and why?"]},
]  # fmt: skip


def facts_file(folder: Path) -> Path:
    path = folder / "facts.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in FACTS))
    return path


def test_verbatim_probes_are_refused_and_shared_ngrams_recorded(tmp_path: Path) -> None:
    kset = load_knowledge_set(f"jsonl:{facts_file(tmp_path)}")
    examples, _ = training_examples(kset.facts, "qa", kset.system)
    with pytest.raises(InstructEvalError, match=r"1 generalisation probe\(s\) appear verbatim .*rephrased-veltria-0"):
        check_training_overlap(examples, kset.probes, allow=False)
    record = check_training_overlap(examples, kset.probes, allow=True)
    assert record["verbatim"] == ["rephrased-veltria-0"]
    assert record["ngram_overlap"] == ["rephrased-orbis-0"]  # shares 13 words with a trained question
    assert record["checked_probes"] == 3 and record["allowed"] is True


def cli(*args: str) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = main(list(args))
    return code, err.getvalue()


def test_inject_refuses_then_trains_with_allow_overlap_and_one_augmentation_strategy(
    tiny_llama: Path, tmp_path: Path
) -> None:
    args = ["inject", "--model", f"hf:{tiny_llama}", "--knowledge", f"jsonl:{facts_file(tmp_path)}",
            "--epochs", "1", "--max-gen-toks", "4", "--device", "cpu", "--output", str(tmp_path / "runs")]  # fmt: skip
    code, err = cli(*args, "--method", "finetune", "--run-name", "refused")
    assert code == 2
    assert "appear verbatim in the training text (rephrased-veltria-0)" in err
    code, err = cli(*args, "--run-name", "allowed", "--allow-overlap", "--method", "augmented-finetune",
                    "--augment", "global", "--facts-per-group", "1", "--statements-per-group", "2",
                    "--augment-max-tokens", "16")  # fmt: skip
    assert code == 0, err
    [result] = load_results(next((tmp_path / "runs").glob("*/allowed"))).knowledge or []
    assert result.training["overlap"]["verbatim"] == ["rephrased-veltria-0"]
    assert result.training["overlap"]["allowed"] is True
    augmentation = result.training["augmentation"]
    assert augmentation["strategies"] == ["global"] and augmentation["local"] == 0
    assert (augmentation["settings"]["group_size"], augmentation["settings"]["per_group"]) == (1, 2)
    assert augmentation["settings"]["max_tokens"] == 16
