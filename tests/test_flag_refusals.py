"""A flag the chosen tasks or backend would ignore is refused in one line naming the fix, before any model loads.

Each case runs `instructeval run` in this process against a real model folder (the tiny Llama) or a spec whose
backend is absent here (vllm:, an unreachable server): without the check the run would go on and either finish
(exit 0) or fail later with a different message, and a run folder would appear.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from instructeval.cli import main
from instructeval.results import load_results

UNREACHABLE = "openai-compatible:http://127.0.0.1:9/v1@m"


@pytest.mark.parametrize(
    ("model", "args", "expected"),
    [
        ("hf", ["--tasks", "mmlu_anatomy", "--self-consistency", "2"], "--self-consistency applies to gsm8k"),
        ("hf", ["--tasks", "gsm8k", "--samples", "2"], "--samples applies to humaneval, not to gsm8k: drop it"),
        ("hf", ["--tasks", "gsm8k", "--temperature", "0.5"], "add one of them or drop --temperature"),
        ("hf", ["--tasks", "gsm8k", "--self-consistency", "0"], "--self-consistency 0 is not valid"),
        ("hf", ["--tasks", "gsm8k", "--self-consistency", "2", "--temperature", "0"], "temperature above 0"),
        ("hf", ["--tasks", "gsm8k", "--tensor-parallel-size", "2"], "use a vllm: model or drop it"),
        ("hf", ["--tasks", "gsm8k", "--max-gen-toks", "0"], "--max-gen-toks 0 is not valid: pass a positive"),
        ("vllm", ["--tasks", "gsm8k", "--device", "cpu"], "CUDA_VISIBLE_DEVICES); drop --device"),
        (UNREACHABLE, ["--tasks", "gsm8k", "--device", "cuda"], "the server runs the model; drop --device"),
        ("vllm", ["--tasks", "gsm8k", "--no-prefix-cache"], "drop --no-prefix-cache"),
        (UNREACHABLE, ["--tasks", "gsm8k", "--prefix-cache"], "drop --prefix-cache"),
        (UNREACHABLE, ["--tasks", "gsm8k", "--batch-size", "4"], "one prompt each): drop --batch-size"),
    ],
)
def test_an_ignored_flag_is_refused_in_one_line(
    model: str, args: list[str], expected: str, tiny_llama: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = f"{model}:{tiny_llama}" if model in ("hf", "vllm") else model
    output = tmp_path / "runs"
    code = main(["run", "--model", spec, "--limit", "1", "--max-gen-toks", "4", "--output", str(output), *args])
    stderr = capsys.readouterr().err
    assert code == 2
    assert stderr.startswith("instructeval: error: ") and len(stderr.splitlines()) == 1
    assert expected in stderr
    assert not output.exists()  # refused before a run folder (or a model) was made


def test_flags_that_apply_are_accepted_with_tasks_they_do_not_apply_to(
    tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    """--self-consistency with one chain-of-thought task among others runs; it changes only that task."""
    code = main(
        [
            "run", "--model", f"hf:{tiny_llama}", "--tasks", "mmlu_anatomy,bbh_navigate", "--self-consistency", "2",
            "--temperature", "1.0", "--limit", "1", "--max-gen-toks", "4", "--data-dir", str(data_dir),
            "--output", str(tmp_path), "--run-name", "mixed",
        ]
    )  # fmt: skip
    assert code == 0
    results = load_results(next(tmp_path.glob("*/mixed")))
    assert results.tasks["bbh"].primary_metric == "exact_match,maj@2-get-answer"
    assert results.tasks["bbh"].generation_kwargs["temperature"] == 1.0
    assert results.tasks["mmlu"].primary_metric == "acc,none" and results.tasks["mmlu"].generation_kwargs == {}
