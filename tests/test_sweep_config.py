"""The sweep's matrix from a sweep file and the command line, without Ray: which pairs, with which run options,
and the one-line refusals of a file or flag the sweep cannot use."""

from __future__ import annotations

from pathlib import Path

import pytest
from e2e_checks import refusal

from instructeval.cli import build_parser
from instructeval.cli.sweep import _config, build_run_options
from instructeval.sweep import Pair, model_jobs, plan_pairs


def _pairs(argv: list[str]) -> list[Pair]:
    args = build_parser(argv).parse_args(argv)
    config, overrides = _config(args)
    return plan_pairs(config, overrides, build_run_options)


def test_options_come_from_the_file_then_the_model_then_the_task_then_the_command_line(tmp_path: Path) -> None:
    for name in ("ckpt-1", "ckpt-2", "base"):
        (tmp_path / name).mkdir()
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(
        f"""
models:
  - model: hf:{tmp_path}/ckpt-*
    base: hf:{tmp_path}/base
    max_gen_toks: 64
tasks:
  - crass
  - task: gsm8k
    max-gen-toks: 16
    chat_template: true
limit: 5
seed: 7
output: {tmp_path}/runs
"""
    )
    pairs = _pairs(["sweep", str(sweep), "--seed", "9"])
    assert [(p.model.rsplit("/", 1)[1], p.evaluation) for p in pairs] == [
        ("ckpt-1", "crass"), ("ckpt-1", "gsm8k"), ("ckpt-2", "crass"), ("ckpt-2", "gsm8k"),
        ("base", "crass"), ("base", "gsm8k"),
    ]  # fmt: skip
    crass, gsm8k = pairs[0].options, pairs[1].options
    assert (crass.tasks, crass.limit, crass.max_gen_toks, crass.chat_template, crass.seed) == ("crass", 5, 64, None, 9)
    assert (gsm8k.tasks, gsm8k.limit, gsm8k.max_gen_toks, gsm8k.chat_template, gsm8k.seed) == ("gsm8k", 5, 16, True, 9)
    assert pairs[0].base == (f"hf:{tmp_path}/base", None) and pairs[4].base is None
    assert pairs[0].run_dir.parent == tmp_path / "runs" / f"{tmp_path.name}--ckpt-1"
    assert pairs[0].run_dir.name.startswith("crass-") and pairs[0].run_dir != pairs[2].run_dir
    again = _pairs(["sweep", str(sweep), "--seed", "9"])
    assert [p.run_dir for p in again] == [p.run_dir for p in pairs]  # the same settings find the same folders
    other = _pairs(["sweep", str(sweep), "--seed", "10"])
    assert not {p.run_dir for p in other} & {p.run_dir for p in pairs}


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("models: [hf:x]\ntasks: [crass]\nlimt: 5\n", "unknown key `limt`"),
        ("models: [hf:x]\ntasks: [crass]\nrun_name: a\n", "`run_name` is set by the sweep itself"),
        ("models: [hf:x]\n", "needs a non-empty `tasks:` list"),
        ("models: [{model: hf:x, data_parallel_size: 2}]\ntasks: [crass]\n", "a vLLM setting that hf models ignore"),
        ("models: [hf:./no-such-ckpt-*]\ntasks: [crass]\n", "hf:./no-such-ckpt-* matches no folder"),
        ("models: [hf:x]\ntasks: [crass]\nlimit: many\n", "run option argument --limit: invalid int value"),
        ("- just a list\n", "must be a mapping"),
    ],
)
def test_a_sweep_file_it_cannot_use_is_refused_in_one_line(tmp_path: Path, document: str, expected: str) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(document)
    assert expected in refusal(["sweep", str(sweep), "--status"])


def test_base_applies_to_every_other_model(tmp_path: Path) -> None:
    pairs = _pairs(["sweep", "--models", "hf:a,hf:b", "--base", "hf:b", "--tasks", "crass", "--output", str(tmp_path)])
    assert [(p.model, p.base) for p in pairs] == [("hf:a", ("hf:b", None)), ("hf:b", None)]


def test_flags_the_sweep_chooses_itself_are_refused(tmp_path: Path) -> None:
    line = refusal(["sweep", "--models", "hf:x", "--tasks", "crass", "--resume", "--output", str(tmp_path)])
    assert line == "instructeval: error: --resume is chosen by the sweep for each pair: drop it"
    line = refusal(["sweep", "--models", "hf:x", "--output", str(tmp_path)])
    assert "the sweep has no tasks" in line
    line = refusal(["sweep", "--models", "hf:x", "--tasks", "crass", "--workers", "0", "--output", str(tmp_path)])
    assert line == "instructeval: error: --workers 0 is not a number of workers: pass 1 or more"


def test_a_vllm_model_with_adapters_is_one_job_whose_task_asks_for_its_replicas_gpus(tmp_path: Path) -> None:
    """A vLLM base and its adapters are one Ray task (one engine serves them all); with data_parallel_size 2 and
    tensor_parallel_size 2 it asks a GPU cluster for 4 GPUs, a CPU one for none. The replica count does not
    change the pairs' folders (the replicas give one engine's answers)."""
    for name in ("base", "lora-a", "lora-b"):
        (tmp_path / name).mkdir()
    sweep = tmp_path / "sweep.yaml"
    model = f"vllm:{tmp_path}/base"
    sweep.write_text(
        f"""
models:
  - model: {model}
    data_parallel_size: 2
    tensor_parallel_size: 2
  - model: {model}
    adapter: {tmp_path}/lora-*
    data_parallel_size: 2
    tensor_parallel_size: 2
tasks: [crass, gsm8k]
output: {tmp_path}/runs
"""
    )
    pairs = _pairs(["sweep", str(sweep)])
    assert len(pairs) == 6 and {p.options.data_parallel_size for p in pairs} == {2}
    ((job, on_gpus),) = model_jobs(pairs, gpus=True, cpus_per_worker=2)
    assert len(job.pairs) == 6 and on_gpus["num_gpus"] == 4
    ((_, on_cpus),) = model_jobs(pairs, gpus=False, cpus_per_worker=2)
    assert on_cpus["num_gpus"] == 0
    one_replica = _pairs(["sweep", str(sweep), "--data-parallel-size", "1"])
    assert [p.run_dir for p in one_replica] == [p.run_dir for p in pairs]
