"""`instructeval contamination --model M --tasks T --probe min-k`: on the tiny Llama, every score, the threshold and
the flags recomputed here from the model's own forward passes; (slow) after the tiny Llama memorised two test
examples by training on them, those two are flagged."""

from __future__ import annotations

import contextlib
import io
import shutil
from pathlib import Path

import pytest

from instructeval.cli import main
from instructeval.contamination import load_examples
from instructeval.contamination._probe import min_k_score, perturbed_copies
from instructeval.data.source import DataSource
from instructeval.registry import resolve_tasks
from instructeval.results import ContaminationResult

MEMORISED = (1, 4)


def test_min_k_averages_the_lowest_k_percent_of_token_logprobs() -> None:
    assert min_k_score([-1.0, -5.0, -2.0, -0.5, -3.0], 40) == pytest.approx(-4.0)
    assert min_k_score([-2.0], 20) == -2.0


def test_perturbed_copies_are_seeded_and_keep_every_word() -> None:
    text = "one two three four five six seven eight nine ten"
    copies = perturbed_copies(text, 3, seed=7)
    assert copies == perturbed_copies(text, 3, seed=7) and copies != perturbed_copies(text, 3, seed=8)
    assert all(sorted(c.split()) == sorted(text.split()) and c != text for c in copies)


def memorising_model(tiny_llama: Path, texts: list[str], target: Path) -> Path:
    """The tiny Llama after enough Adam steps on `texts` to have them by heart."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    batches = [torch.tensor([[tokenizer.bos_token_id, *tokenizer(t)["input_ids"]]]) for t in texts]
    for _ in range(60):
        for ids in batches:
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
            optimiser.step()
            optimiser.zero_grad()
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.mark.slow
def test_the_probe_flags_examples_the_model_memorised(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    [info] = resolve_tasks("mmlu_anatomy", None)
    examples = load_examples(info, DataSource("local", data_dir), 12)
    model = memorising_model(tiny_llama, [examples[i].text for i in MEMORISED], tmp_path / "memorised")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            ["contamination", "--model", f"hf:{model}", "--tasks", "mmlu_anatomy", "--probe", "min-k", "--limit", "12",
             "--data-dir", str(data_dir), "--output", str(tmp_path / "report"), "--device", "cpu"]
        )  # fmt: skip
    assert code == 0
    report = ContaminationResult.model_validate_json((tmp_path / "report" / "contamination.json").read_text())
    probe = report.probe["mmlu"]
    assert (probe.examples, probe.k_percent, probe.copies, probe.false_positive_rate) == (12, 20.0, 4, 0.05)
    flagged = {e.doc_id for e in probe.flagged}
    assert set(MEMORISED) <= flagged
    assert len(flagged) <= 4  # the others stay near the false-positive rate
    assert probe.flag_rate.value == pytest.approx(len(flagged) / 12) and probe.flag_rate.ci_method == "wilson"
    assert "Min-K% Prob of hf:" in out.getvalue()
    shutil.rmtree(model)


def token_logprobs(model: object, tokenizer: object, text: str) -> list[float]:
    import torch

    ids = torch.tensor([[tokenizer.bos_token_id, *tokenizer(text)["input_ids"]]])  # type: ignore[attr-defined]
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0, :-1]  # type: ignore[operator]
    return torch.log_softmax(logits, dim=-1)[torch.arange(ids.shape[1] - 1), ids[0, 1:]].tolist()


def test_scores_threshold_and_flags_match_a_recomputation(tiny_llama: Path, data_dir: Path, tmp_path: Path) -> None:
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    code = main(
        ["contamination", "--model", f"hf:{tiny_llama}", "--tasks", "gsm8k", "--probe", "min-k", "--limit", "6",
         "--copies", "3", "--fpr", "0.3", "--k-percent", "10", "--data-dir", str(data_dir), "--output", str(tmp_path),
         "--device", "cpu"]
    )  # fmt: skip
    assert code == 0
    probe = ContaminationResult.model_validate_json((tmp_path / "contamination.json").read_text()).probe["gsm8k"]
    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    model = AutoModelForCausalLM.from_pretrained(tiny_llama, dtype=torch.float32).eval()
    [info] = resolve_tasks("gsm8k", None)
    margins, null = [], []
    for example in load_examples(info, DataSource("local", data_dir), 6):
        scores = [
            min_k_score(token_logprobs(model, tokenizer, t), 10)
            for t in (example.text, *perturbed_copies(example.text, 3, 1234))
        ]
        margins.append(scores[0] - float(np.median(scores[1:])))
        null += [scores[j] - float(np.median([s for k, s in enumerate(scores[1:], 1) if k != j])) for j in (1, 2, 3)]
    threshold = float(np.quantile(null, 0.7))
    assert probe.threshold == pytest.approx(threshold, abs=1e-4)
    assert [e.doc_id for e in probe.flagged] == [i for i, m in enumerate(margins) if m > threshold]
    assert [e.calibrated for e in probe.flagged] == pytest.approx([m for m in margins if m > threshold], abs=1e-4)


def test_a_remote_model_is_refused_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["contamination", "--model", "openai:gpt-4o-mini", "--tasks", "gsm8k", "--probe", "min-k"])
    assert code == 2
    assert "use demo or hf:<model>" in capsys.readouterr().err
