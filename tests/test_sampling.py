"""Sampled decoding on a local model: self-consistency (maj@K) on the chain-of-thought tasks, pass@k on HumanEval.

End to end through `instructeval run` on the tiny random Llama (real forward passes, real sandbox), plus the
backend itself: K samples of one request differ, a row's sample does not depend on its batch neighbours, the
same seed draws the same samples and another seed others. Votes and scores are recomputed here from the
written samples with this file's own answer extraction, and must equal what the run reported.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lm_eval.api.instance import Instance
from lm_eval.tasks import TaskManager

from instructeval.cache import RequestCache, ResumableLM, seed_repeats
from instructeval.cli import main
from instructeval.evaluator import RunOptions
from instructeval.models.backends import BackendOptions, build_lm
from instructeval.models.spec import parse_model_spec
from instructeval.overrides import apply_overrides
from instructeval.paths import TASKS_DIR
from instructeval.results import load_results, read_samples

K = 2
LIMIT = 2
GSM8K_FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
BBH_ANSWER = re.compile(r"(?<=the answer is )(.*)(?=.)")
LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _run(model: Path, output: Path, name: str, tasks: str, data_dir: Path, *extra: str) -> Path:
    code = main(
        [
            "run", "--model", f"hf:{model}", "--tasks", tasks, "--limit", str(LIMIT), "--max-gen-toks", "12",
            "--data-dir", str(data_dir), "--output", str(output), "--run-name", name, *extra,
        ]
    )  # fmt: skip
    assert code == 0
    return next(output.glob(f"*/{name}"))


@pytest.fixture(scope="module")
def sampled_run(tiny_llama: Path, data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One run: maj@2 on gsm8k, one MGSM language and one BBH task; 2 samples per HumanEval problem; DROP greedy."""
    output = tmp_path_factory.mktemp("sampling")
    tasks = "gsm8k,mgsm_en,bbh_navigate,humaneval,drop"
    return _run(tiny_llama, output, "sampled", tasks, data_dir, "--self-consistency", str(K), "--samples", str(K))


def _first_group(pattern: re.Pattern[str], group_select: int = 0) -> Callable[[str], str]:
    """lm-eval's regex extraction, written out: the selected match, its first non-empty group, or [invalid]."""

    def extract(response: str) -> str:
        matches = pattern.findall(response)
        if not matches:
            return "[invalid]"
        match = matches[group_select]
        if isinstance(match, tuple):
            match = next((m for m in match if m), "[invalid]")
        return str(match).strip()

    return extract


def _vote(answers: list[str]) -> str:
    """The most common answer; ties go to the one seen first (as lm-eval's majority_vote)."""
    return Counter(answers).most_common(1)[0][0]


def _check_votes(run_dir: Path, task: str, metric: str, filter_name: str, extract: Callable[[str], str],
                 correct: Callable[[str, dict[str, Any]], bool]) -> None:  # fmt: skip
    """Each record's K responses differ, its recorded vote is the vote of their answers, the mean is the metric."""
    result = load_results(run_dir).tasks[task]
    key = f"{metric},{filter_name}"
    assert result.primary_metric == key
    assert result.generation_kwargs["do_sample"] is True and result.generation_kwargs["repeats"] == K
    records = read_samples(run_dir, task)
    assert len(records) == LIMIT
    values = []
    for record in records:
        assert len(record["responses"]) == K and len(set(record["responses"])) == K
        vote = _vote([extract(response) for response in record["responses"]])
        assert record["details"]["extracted_by_filter"][filter_name] == vote
        values.append(float(correct(vote, record)))
        assert record["scores"][key] == values[-1]
    assert result.metrics[key].value == pytest.approx(sum(values) / len(values))
    assert result.metrics[key].n == LIMIT


def _gsm8k_match(vote: str, record: dict[str, Any]) -> bool:
    """exact_match with gsm8k.yaml's ignore_case and regexes_to_ignore."""

    def clean(text: str) -> str:
        for pattern in (",", r"\$", r"(?s).*#### ", r"\.$"):
            text = re.sub(pattern, "", text)
        return text.lower()

    return clean(vote) == clean(record["target"])


def test_gsm8k_reports_the_vote_of_its_flexible_extraction(sampled_run: Path) -> None:
    extract = _first_group(GSM8K_FLEXIBLE, group_select=-1)
    _check_votes(sampled_run, "gsm8k", "exact_match", f"maj@{K}-flexible-extract", extract, _gsm8k_match)
    assert load_results(sampled_run).tasks["gsm8k"].generation_kwargs["temperature"] == 0.7


def _last_number(response: str) -> str:
    """MGSM's answer extraction: the last number in the response, or nothing."""
    numbers = LAST_NUMBER.findall(response)
    return numbers[-1] if numbers else ""


def _same_number(vote: str, record: dict[str, Any]) -> bool:
    return bool(vote) and float(vote.replace(",", "")) == float(record["target"].replace(",", ""))


def test_mgsm_reports_the_vote_of_last_numbers(sampled_run: Path) -> None:
    _check_votes(sampled_run, "mgsm", "acc", f"maj@{K}", _last_number, _same_number)


def test_bbh_reports_the_vote_of_its_extracted_answers(sampled_run: Path) -> None:
    extract = _first_group(BBH_ANSWER)
    _check_votes(sampled_run, "bbh", "exact_match", f"maj@{K}-get-answer", extract, lambda v, r: v == r["target"])


def test_humaneval_samples_give_pass_at_k_from_every_completion(sampled_run: Path) -> None:
    _check_pass_at_k(sampled_run, temperature=0.8)


def _check_pass_at_k(run_dir: Path, temperature: float) -> None:
    """HumanEval's K samples per problem differ, each ran in the sandbox, and pass@1 is the passed fraction."""
    result = load_results(run_dir).tasks["humaneval"]
    assert result.primary_metric == "pass@1,none"
    assert result.generation_kwargs["temperature"] == temperature and result.generation_kwargs["repeats"] == K
    records = read_samples(run_dir, "humaneval")
    per_problem = []
    for record in records:
        assert len(record["responses"]) == K and len(set(record["responses"])) == K
        runs = record["details"]["sandbox,none"]
        assert len(runs) == K  # every sample ran in the sandbox
        per_problem.append(sum(run["status"] == "passed" for run in runs) / K)  # pass@1 = c / n
        assert record["scores"]["pass@1,none"] == pytest.approx(per_problem[-1])
    assert result.metrics["pass@1,none"].value == pytest.approx(sum(per_problem) / len(per_problem))


def test_a_task_untouched_by_the_flags_reports_its_declared_metric(sampled_run: Path) -> None:
    """DROP declares f1 (written without its filter); em, its first metric, must not take the headline."""
    result = load_results(sampled_run).tasks["drop"]
    assert result.primary_metric == "f1,none" and result.generation_kwargs["repeats"] == 1
    values = [record["scores"]["f1,none"] for record in read_samples(sampled_run, "drop")]
    assert len(values) == LIMIT and result.metrics["f1,none"].value == pytest.approx(sum(values) / len(values))


def test_the_same_seed_draws_the_same_samples_another_seed_others(
    sampled_run: Path, tiny_llama: Path, data_dir: Path, tmp_path: Path
) -> None:
    again = _run(tiny_llama, tmp_path, "again", "gsm8k", data_dir, "--self-consistency", str(K))
    other = _run(tiny_llama, tmp_path, "other", "gsm8k", data_dir, "--self-consistency", str(K), "--seed", "7")
    first = (sampled_run / "samples" / "gsm8k.jsonl").read_bytes()
    assert (again / "samples" / "gsm8k.jsonl").read_bytes() == first
    ours = [r["responses"] for r in read_samples(sampled_run, "gsm8k")]
    theirs = [r["responses"] for r in read_samples(other, "gsm8k")]
    assert all(a != b for doc_a, doc_b in zip(ours, theirs, strict=True) for a, b in zip(doc_a, doc_b, strict=True))


def _sampled(context: str, seed: int = 1234) -> Instance:
    kwargs = {"until": ["\n\n"], "max_gen_toks": 8, "do_sample": True, "temperature": 0.7, "seed": seed}
    return Instance(request_type="generate_until", doc={}, arguments=(context, kwargs), idx=0)


@pytest.mark.parametrize("model", ["tiny_llama", "tiny_t5"])
def test_repeats_of_one_request_differ_and_do_not_depend_on_the_batch(
    model: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    folder = request.getfixturevalue(model)
    lm = build_lm(parse_model_spec(f"hf:{folder}"), BackendOptions(batch_size="4", device="cpu"))
    question, neighbour = "Q: What is 2 + 3?\nA:", "Q: Name a colour that is not red and say why.\nA:"
    batch = [_sampled(question), _sampled(neighbour), _sampled(question), _sampled(question)]
    crowded = ResumableLM(lm, RequestCache(tmp_path / "a.sqlite")).generate_until(batch)
    resumed = ResumableLM(lm, RequestCache(tmp_path / "a.sqlite"))
    assert resumed.generate_until(batch) == crowded and resumed.stats["cached"] == 4  # each sample its own entry
    alone = ResumableLM(lm, RequestCache(tmp_path / "b.sqlite")).generate_until([_sampled(question)])
    assert len({crowded[0], crowded[2], crowded[3]}) == 3  # three repeats, three different samples
    assert alone[0] == crowded[0]  # the first repeat draws the same sample without its batch neighbours
    reseeded = ResumableLM(lm, RequestCache(tmp_path / "c.sqlite")).generate_until([_sampled(question, seed=7)])
    assert reseeded[0] != crowded[0]


def test_each_repeat_carries_its_own_seed_for_every_backend() -> None:
    greedy = Instance(
        request_type="generate_until", doc={}, arguments=("Q:", {"until": ["\n"], "do_sample": False}), idx=0
    )
    seeded = seed_repeats([_sampled("Q: a"), _sampled("Q: a"), _sampled("Q: b"), greedy])
    seeds = [request.args[1]["seed"] for request in seeded[:3]]
    assert seeds[0] != seeds[1] and seeds[0] == seeds[2]  # per repeat of one request, the same across requests
    assert [r.args[1]["seed"] for r in seed_repeats([_sampled("Q: a"), _sampled("Q: a")])] == seeds[:2]
    assert seeded[3] is greedy
    assert all(0 <= seed < 2**31 for seed in seeds)  # fits the seed field of vLLM and OpenAI-compatible servers


def test_the_vote_counts_answers_not_texts(data_dir: Path) -> None:
    """The maj@K filter built from the real task configs votes on extracted answers (designed responses)."""
    metadata = {"data_source": "local", "data_dir": str(data_dir)}
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    options = RunOptions(model="demo", self_consistency=3)
    responses = {
        "gsm8k": (["so 12 - 4 = 8. The answer is 8.", "The answer is 9.", "We get 8. The answer is 8."], "8"),
        "mgsm_en": (["Step: 3 + 5 = 8", "it is 7", "that makes 8"], "8"),
        "bbh_navigate": (["So the answer is No.", "So the answer is Yes.", "So the answer is No."], "No"),
    }
    for name, (texts, expected) in responses.items():
        task = manager.load([name])["tasks"][name]
        apply_overrides({name: task}, options, seed=1)
        vote = next(f for f in task._filters if f.name.startswith("maj@3"))
        instance = Instance(request_type="generate_until", doc={}, arguments=("", {}), idx=0, resps=texts)
        vote.apply([instance])
        assert instance.filtered_resps[vote.name] == expected, name
