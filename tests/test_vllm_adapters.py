"""vLLM multi-LoRA and data parallelism on CPU, on the tiny Llama and two random LoRA adapters of it.

The sweep's job for a vLLM base and its adapters (what its Ray task runs, here called in a .venv-vllm subprocess,
which has no Ray) evaluates the base's and both adapters' pairs on one engine, each request carrying its adapter;
every pair equals `instructeval run --model hf:... --adapter` (peft). Marked slow (two more engine starts): an
adapter's pairs equal `instructeval run --model vllm:... --adapter --data-parallel-size 2`, whose two engine
replicas share the requests. The refusals and the replicas' core and request split run without vLLM.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from test_vllm import LOGLIKELIHOOD_TOLERANCE, needs_vllm_venv, records, results, run_here, run_in_vllm_venv
from vllm_server import VLLM_PYTHON, vllm_env

from instructeval.cli import main
from instructeval.errors import InstructEvalError
from instructeval.models.vllm_replicas import cpu_binds, gpu_sets, merge, split

TASKS = ("crass", "gsm8k")
FLAGS = ["--tasks", ",".join(TASKS), "--limit", "2", "--max-gen-toks", "16"]
SWEEP_JOB = """
import json, sys
from instructeval.cli.sweep import build_run_options
from instructeval.sweep import ModelEntry, SweepConfig, evaluate_model, evaluations_from_flags, model_jobs, plan_pairs

if __name__ == "__main__":  # vLLM's engine process re-imports the main module
    llama, output, *adapters = sys.argv[1:]
    base = f"vllm:{llama}"
    models = (ModelEntry(base), *(ModelEntry(base, adapter=adapter, base=base) for adapter in adapters))
    options = {"limit": 2, "max_gen_toks": 16, "output": output}
    pairs = plan_pairs(SweepConfig(models, evaluations_from_flags("crass,gsm8k", None), options), {}, build_run_options)
    jobs = model_jobs(pairs, gpus=False, cpus_per_worker=2)
    events = type("Events", (list,), {"put": list.append})()
    outcomes = [outcome for job, _ in jobs for outcome in evaluate_model(job, events)]
    rows = [[str(o.run_dir), o.status, o.error, o.load_seconds] for o in outcomes]
    print(json.dumps({"jobs": len(jobs), "outcomes": rows}))
"""


def _lora_adapter(base: Path, target: Path, seed: int) -> Path:
    """A LoRA adapter on the tiny Llama with random (not zero) weights, so it changes the model's answers."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=32, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(AutoModelForCausalLM.from_pretrained(base), config).save_pretrained(target)
    return target


@pytest.fixture(scope="module")
def adapters(tiny_llama: Path, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("adapters")
    return [_lora_adapter(tiny_llama, folder / f"lora-{seed}", seed) for seed in (0, 1)]


@pytest.fixture(scope="module")
def sweep_job(
    tiny_llama: Path, adapters: list[Path], data_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The sweep's job over the base and its two adapters, run as a Ray worker runs it: its report."""
    output = tmp_path_factory.mktemp("vllm-sweep")
    done = subprocess.run(
        [str(VLLM_PYTHON), "-c", SWEEP_JOB, str(tiny_llama), str(output), *map(str, adapters)],
        env=vllm_env(data_dir),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _model_of(run_dir: Path) -> tuple[str, str | None]:
    model = results(run_dir)["model"]
    return model["spec"], model["adapter"]


def _assert_same_samples(ours: Path, theirs: Path, task: str, tolerance: float) -> None:
    mine, other = records(ours, task), records(theirs, task)
    assert mine.keys() == other.keys() and mine
    for key, record in mine.items():
        assert record["responses"] == other[key]["responses"], (ours, task, key)
        assert record["scores"] == other[key]["scores"], (ours, task, key)
        if record["choice_loglikelihoods"] is not None:
            pairs = zip(record["choice_loglikelihoods"], other[key]["choice_loglikelihoods"], strict=True)
            assert max(abs(a - b) for a, b in pairs) <= tolerance, (ours, task, key)
    assert results(ours)["tasks"][task]["metrics"] == results(theirs)["tasks"][task]["metrics"]


@pytest.fixture(scope="module")
def pair_runs(sweep_job: dict[str, Any], tiny_llama: Path) -> dict[tuple[str | None, str], Path]:
    """The job's run folders by (adapter, task)."""
    folders = {}
    for run_dir in (Path(outcome[0]) for outcome in sweep_job["outcomes"]):
        spec, adapter = _model_of(run_dir)
        assert spec == f"vllm:{tiny_llama}"
        folders[(adapter, run_dir.name.rsplit("-", 1)[0])] = run_dir
    return folders


@needs_vllm_venv
def test_adapters_share_one_engine_and_equal_peft_runs(
    sweep_job: dict[str, Any],
    pair_runs: dict[tuple[str | None, str], Path],
    tiny_llama: Path,
    adapters: list[Path],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    """One job, one engine load, six pairs done; each pair's samples equal `run --model hf: --adapter` (peft)
    within float32 noise, and each adapter changes the base's answers."""
    assert sweep_job["jobs"] == 1
    outcomes = sweep_job["outcomes"]
    assert [status for _, status, _, _ in outcomes] == ["done"] * 6, outcomes
    assert sum(1 for *_, load_seconds in outcomes if load_seconds) == 1
    assert {adapter for adapter, _ in pair_runs} == {None, *map(str, adapters)}
    hf_runs = {}
    for number, adapter in enumerate([None, *adapters]):
        flags = [*FLAGS, "--data-dir", str(data_dir), *(["--adapter", str(adapter)] if adapter else [])]
        hf_runs[adapter] = run_here(f"hf:{tiny_llama}", tmp_path, f"hf-{number}", flags)
        for task in TASKS:
            ours = pair_runs[(str(adapter) if adapter else None, task)]
            _assert_same_samples(ours, hf_runs[adapter], task, LOGLIKELIHOOD_TOLERANCE)
    base, tuned = (
        [value for record in records(hf_runs[a], "crass").values() for value in record["choice_loglikelihoods"]]
        for a in (None, adapters[0])
    )
    assert base != pytest.approx(tuned, abs=1e-3)


@pytest.mark.slow  # two more engine starts (about 80 s on a 2-core CPU)
@needs_vllm_venv
def test_two_replicas_with_an_adapter_give_one_engines_samples(
    pair_runs: dict[tuple[str | None, str], Path],
    tiny_llama: Path,
    adapters: list[Path],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    """`run --model vllm: --adapter A --data-parallel-size 2`: two engines share the requests, and the samples
    (answers, log-likelihoods, scores) are the one shared engine's for A."""
    flags = [*FLAGS, "--adapter", str(adapters[0]), "--data-parallel-size", "2"]
    replicas = run_in_vllm_venv(f"vllm:{tiny_llama}", tmp_path, "vllm-dp2", flags, vllm_env(data_dir))
    for task in TASKS:
        _assert_same_samples(pair_runs[(str(adapters[0]), task)], replicas, task, 1e-6)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--data-parallel-size", "2"], "--data-parallel-size is a vLLM setting that hf models ignore"),
        (["--data-parallel-size", "0"], "--data-parallel-size 0 is not valid: pass 1 or more replicas"),
    ],
)
def test_data_parallel_size_is_refused_where_it_does_nothing(
    flags: list[str], message: str, tiny_llama: Path, tmp_path: Path, capsys: Any
) -> None:
    args = ["run", "--model", f"hf:{tiny_llama}", "--tasks", "crass", "--output", str(tmp_path), *flags]
    assert main(args) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert message in line


def test_replicas_split_the_cores_and_the_requests() -> None:
    """Each replica its own cores (each tensor-parallel rank its own run of them) or GPUs; requests dealt
    round-robin and merged back in their order."""
    assert cpu_binds(2, 1, [0, 1]) == ["0", "1"]
    assert cpu_binds(2, 2, range(9)) == ["0,1|2,3", "4,5|6,7"]
    assert gpu_sets(2, 2, ["0", "1", "2", "3"]) == ["0,1", "2,3"]
    with pytest.raises(InstructEvalError, match="lower --data-parallel-size"):
        cpu_binds(3, 1, [0, 1])
    with pytest.raises(InstructEvalError, match="needs 4 GPUs; 2 visible"):
        gpu_sets(2, 2, ["0", "1"])
    items = list(range(7))
    assert split(items, 3) == [[0, 3, 6], [1, 4], [2, 5]]
    assert merge(split(items, 3)) == items and merge(split(items[:1], 2)) == [0]
