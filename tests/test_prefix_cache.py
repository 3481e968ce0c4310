"""The prefix-cached log-likelihood path gives lm-eval's plain path's numbers, request by request.

Pure tests cover the prefix plan and the packed rows; fast ones score hand-made requests on the tiny Llama
under each attention implementation the packed rows support. The slow tests load the demo model once and score
the same lm-eval `Instance`s twice, through `PrefixCachedHFLM` and through lm-eval's own `HFLM` path on the same
weights: MMLU (5-shot, one-token continuations), HHH (`hhh_mc`: whole responses as multi-token continuations)
and hand-made requests whose context/continuation boundary is awkward for the tokenizer. One end-to-end run
compares `instructeval run` with and without the prefix cache.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from instructeval.models._packing import MAX_PACKED_TOKENS, pack, packs, row_budget
from instructeval.models._prefix_kv import unsupported_reason
from instructeval.models._prefix_plan import PrefixNode, plan_prefixes, unique_tokens
from instructeval.models.prefix_cache import _pad_after_prefix

TOLERANCE = 1e-4

# ---- the plan (pure) ------------------------------------------------------------------------------------------


def _check_plan(root: PrefixNode, sequences: Sequence[Sequence[int]], starts: Sequence[int]) -> None:
    """Every sequence is a leaf exactly once, under prefixes that are its own leading tokens and end before
    its first scored position."""
    seen: list[int] = []
    stack: list[tuple[PrefixNode, tuple[int, ...]]] = [(root, ())]
    while stack:
        node, above = stack.pop()
        covered = above + node.tokens
        assert len(covered) == node.end
        for i in node.leaves:
            assert tuple(sequences[i][: node.end]) == covered
            assert node.end <= starts[i]
            seen.append(i)
        for child in node.children:
            assert child.start == node.end < child.end
            stack.append((child, covered))
    assert sorted(seen) == list(range(len(sequences)))


def test_plan_shares_a_few_shot_block_then_each_question() -> None:
    shots = list(range(100, 160))  # 60 tokens shared by every request of a "subject"
    questions = [[200 + q] * 20 for q in range(3)]
    sequences = [shots + question + [300 + c] for question in questions for c in range(4)]
    starts = [len(seq) - 1 for seq in sequences]
    root = plan_prefixes(sequences, starts)
    _check_plan(root, sequences, starts)
    assert [child.end for child in root.children] == [60]
    assert sorted(grand.end for grand in root.children[0].children) == [80, 80, 80]
    assert unique_tokens(root, sequences) == 60 + 3 * 20 + 12


def test_plan_never_covers_a_scored_position() -> None:
    shared = list(range(1, 80))
    sequences = [[*shared, 5, 6], [*shared, 7, 8, 9]]
    starts = [40, 79]  # the first sequence is scored from inside the shared part
    root = plan_prefixes(sequences, starts)
    _check_plan(root, sequences, starts)
    assert max(node.end for node in root.walk()) <= 40


def test_plan_skips_prefixes_that_save_too_little() -> None:
    sequences = [[1, 2, 3, 4], [1, 2, 3, 5]]
    root = plan_prefixes(sequences, [3, 3])
    assert root.children == () and sorted(root.leaves) == [0, 1]


def test_plan_invariants_on_random_sequences() -> None:
    rng = random.Random(7)
    stems = [[rng.randrange(50) for _ in range(rng.randrange(1, 60))] for _ in range(4)]
    sequences = list(
        {tuple(rng.choice(stems) + [rng.randrange(50) for _ in range(rng.randrange(1, 30))]) for _ in range(60)}
    )
    starts = [rng.randrange(len(seq)) for seq in sequences]
    root = plan_prefixes(sequences, starts, min_saved=4)
    _check_plan(root, sequences, starts)
    assert unique_tokens(root, sequences) <= sum(len(seq) for seq in sequences)


def test_plan_rejects_a_score_start_outside_the_sequence() -> None:
    with pytest.raises(ValueError, match="outside"):
        plan_prefixes([[1, 2]], [2])


def test_padding_moves_to_just_after_the_shared_prefix() -> None:
    context = torch.tensor([[0, 0, 7, 8, 9], [7, 8, 1, 2, 3]])
    mask = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    ids, new_mask = _pad_after_prefix(context, mask, 2)
    assert ids.tolist() == [[7, 8, 0, 0, 9], [7, 8, 1, 2, 3]]
    assert new_mask.tolist() == [[1, 1, 0, 0, 1], [1, 1, 1, 1, 1]]


# ---- packed rows --------------------------------------------------------------------------------------------


def test_a_packed_suffix_sees_the_prefix_and_its_own_past_only() -> None:
    row = pack(
        [[11, 12], [13, 14, 15]], [1, 0], offset=2, attention="sdpa", dtype=torch.float32, device=torch.device("cpu")
    )
    assert row.ids.tolist() == [[11, 12, 13, 14, 15]]
    assert row.positions.tolist() == [[2, 3, 2, 3, 4]]  # where each token sits in its own sequence
    assert row.keep.tolist() == [[False, True, True, True, True]]
    assert row.mask.shape == (1, 1, 5, 7)
    assert row.mask[0, 0].int().tolist() == [
        [1, 1, 1, 0, 0, 0, 0],
        [1, 1, 1, 1, 0, 0, 0],
        [1, 1, 0, 0, 1, 0, 0],
        [1, 1, 0, 0, 1, 1, 0],
        [1, 1, 0, 0, 1, 1, 1],
    ]


def test_eager_attention_gets_the_same_mask_as_additive_floats() -> None:
    args = ([[5, 6], [7]], [0, 0], 1)
    sdpa = pack(*args, attention="sdpa", dtype=torch.float32, device=torch.device("cpu")).mask
    eager = pack(*args, attention="eager", dtype=torch.float32, device=torch.device("cpu")).mask
    assert eager.dtype == torch.float32
    assert torch.equal(eager == 0, sdpa)
    assert bool((eager[~sdpa] == torch.finfo(torch.float32).min).all())


def test_packs_hold_at_most_the_token_budget() -> None:
    assert packs([5, 5, 5], max_tokens=10) == [range(0, 2), range(2, 3)]
    assert packs([1500, 600, 600, 100], max_tokens=2048) == [range(0, 1), range(1, 4)]
    assert packs([3000, 10], max_tokens=2048) == [range(0, 1), range(1, 2)]  # an oversized suffix alone
    assert packs([], max_tokens=8) == []


def test_a_row_holds_what_a_padded_batch_of_the_longest_would() -> None:
    assert row_budget(batch_size=1, longest=300) == 300
    assert row_budget(batch_size=64, longest=300) == MAX_PACKED_TOKENS


def test_attention_without_custom_masks_leaves_the_prefix_cache_off(tiny_llama: Path) -> None:
    from types import SimpleNamespace

    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_llama)
    config._attn_implementation = "sdpa"  # what loading a model sets
    assert unsupported_reason(SimpleNamespace(config=config)) is None
    config._attn_implementation = "flex_attention"
    reason = unsupported_reason(SimpleNamespace(config=config))
    assert reason is not None and "flex_attention" in reason


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_packed_rows_match_the_plain_path_on_the_tiny_llama(tiny_llama: Path, attention: str) -> None:
    from instructeval.models.prefix_cache import PrefixCachedHFLM

    cached = PrefixCachedHFLM(
        pretrained=str(tiny_llama), device="cpu", dtype="float32", batch_size=3, attn_implementation=attention
    )
    assert cached.prefix_cache_active and cached.model.config._attn_implementation == attention
    plain = PrefixCachedHFLM(pretrained=cached.model, tokenizer=cached.tokenizer, batch_size=3, prefix_cache=False)
    shots = "The capital of France is Paris. The capital of Italy is Rome. " * 6
    pairs = [
        (shots + f"Question {i}: the capital of {country} is", answer)
        for i, country in enumerate(["Germany", "Spain", "the United Kingdom of Great Britain", "Peru"])
        for answer in [" Berlin", " Madrid", "London", " Lima, a city of ten million people"]
    ] + [("short", " x y z"), ("An unshared context", " with a long continuation of several tokens")]
    _, _, ran = _compare((cached, plain), _instances(pairs))
    assert ran < sum(len(cached.tok_encode(c + a)) for c, a in pairs) / 2  # the shared block ran once


# ---- against lm-eval's plain path on the demo model ------------------------------------------------------------


class _Recorder:
    """A cache hook that keeps what the backend reports, to check both paths report the same answers."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, tuple[float, bool]]] = []

    def add_partial(self, method: str, args: Any, result: tuple[float, bool]) -> None:
        self.calls.append((method, args, result))


@pytest.fixture(scope="module")
def models() -> tuple[Any, Any]:
    """(prefix-cached, plain) backends sharing one loaded demo model."""
    from instructeval.models.demo import demo_model_dir
    from instructeval.models.prefix_cache import PrefixCachedHFLM

    cached = PrefixCachedHFLM(pretrained=str(demo_model_dir()), device="cpu", dtype="float32", batch_size=8)
    assert cached._prefix_ok
    plain = PrefixCachedHFLM(pretrained=cached.model, tokenizer=cached.tokenizer, batch_size=8, prefix_cache=False)
    return cached, plain


def _instances(pairs: Sequence[tuple[str, str]]) -> list[Any]:
    from lm_eval.api.instance import Instance

    return [
        Instance(request_type="loglikelihood", doc={}, arguments=pair, idx=i, metadata=("t", i, 1))
        for i, pair in enumerate(pairs)
    ]


def _compare(models: tuple[Any, Any], requests: list[Any]) -> Any:
    """Score `requests` on both paths; assert equal log-likelihoods, greedy flags and hook reports."""
    cached, plain = models
    hooks = _Recorder(), _Recorder()
    cached.set_cache_hook(hooks[0])
    plain.set_cache_hook(hooks[1])
    before = cached.prefix_stats.suffix_tokens + cached.prefix_stats.prefix_tokens
    ours = cached.loglikelihood(requests, disable_tqdm=True)
    theirs = plain.loglikelihood(requests, disable_tqdm=True)
    assert len(ours) == len(theirs) == len(requests)
    for (ll, greedy), (their_ll, their_greedy) in zip(ours, theirs, strict=True):
        assert abs(ll - their_ll) < TOLERANCE
        assert greedy == their_greedy
    assert sorted((m, a) for m, a, _ in hooks[0].calls) == sorted((m, a) for m, a, _ in hooks[1].calls)
    ran = cached.prefix_stats.suffix_tokens + cached.prefix_stats.prefix_tokens - before
    return ours, theirs, ran


def _predictions(answers: Sequence[tuple[float, bool]], per_doc: Sequence[int]) -> list[int]:
    out, k = [], 0
    for n in per_doc:
        lls = [answers[k + i][0] for i in range(n)]
        out.append(max(range(n), key=lls.__getitem__))
        k += n
    return out


def _task_requests(names: list[str], data_dir: Path, limit: int) -> tuple[list[Any], list[int]]:
    """The lm-eval instances our task YAMLs build (first `limit` docs per task), and the choices per doc."""
    from lm_eval.tasks import TaskManager

    from instructeval.paths import TASKS_DIR

    metadata = {"data_source": "local", "data_dir": str(data_dir), "writing_set": "embedded"}
    manager = TaskManager(include_path=str(TASKS_DIR), include_defaults=False, metadata=metadata)
    requests: list[Any] = []
    per_doc: list[int] = []
    for task in manager.load(names)["tasks"].values():
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        by_doc: dict[int, list[Any]] = {}
        for instance in task.instances:
            by_doc.setdefault(instance.doc_id, []).append(instance)
        for doc_id in sorted(by_doc):
            requests += by_doc[doc_id]
            per_doc.append(len(by_doc[doc_id]))
    return requests, per_doc


@pytest.mark.slow
def test_mmlu_matches_plain_path(models: tuple[Any, Any], data_dir: Path) -> None:
    requests, per_doc = _task_requests(["mmlu_anatomy", "mmlu_high_school_geography"], data_dir, limit=4)
    assert len(per_doc) == 8 and set(per_doc) == {4}
    ours, theirs, ran = _compare(models, requests)
    assert _predictions(ours, per_doc) == _predictions(theirs, per_doc)
    full = sum(len(models[0].tok_encode(r.args[0] + r.args[1])) for r in requests[::4])
    assert ran < full / 2  # each subject's 5-shot block ran once


@pytest.mark.slow
def test_hhh_multi_token_responses_match_plain_path(models: tuple[Any, Any], data_dir: Path) -> None:
    requests, per_doc = _task_requests(["hhh_mc"], data_dir, limit=2)
    assert len(per_doc) == 8
    assert sum(len(models[0].tok_encode(r.args[1])) > 3 for r in requests) > len(requests) // 2
    ours, theirs, _ = _compare(models, requests)
    assert _predictions(ours, per_doc) == _predictions(theirs, per_doc)


AWKWARD_SHOTS = (
    "Q: What is the capital of France?\nA: Paris\n\nQ: Wie heißt die Hauptstadt Österreichs?\nA: Wien\n\n"
    "Q: 日本の首都はどこですか?\nA: 東京\n\nQ: Name a café drink.\nA: Café au lait ☕\n\n"
)
AWKWARD = [
    (AWKWARD_SHOTS + "Q: Capital of Italy?\nA:", " Rome"),  # the usual leading space
    (AWKWARD_SHOTS + "Q: Capital of Italy?\nA:", "Rome"),  # continuation without a space
    (AWKWARD_SHOTS + "Q: Capital of Italy?\nA: ", "Rome"),  # context ends in whitespace (lm-eval moves it)
    (AWKWARD_SHOTS + "Q: Capital of Italy?\nA:  ", "\tRome\n"),  # several trailing spaces, tab and newline
    (AWKWARD_SHOTS + "Q: Capital of Italy?\nA: Ro", "me, then Milan"),  # a word split mid-token
    (AWKWARD_SHOTS + "Q: Une boisson?\nA: Caf", "é crème ☕☕"),  # unicode across the boundary
    (AWKWARD_SHOTS + "Q: 中国的首都?\nA:", " 北京市"),  # multi-byte tokens
    (AWKWARD_SHOTS + "Q: 中国的首都?\nA: 北", "京"),
    (AWKWARD_SHOTS + "Q: Emoji?\nA: 👍", "🏽 yes"),  # a byte-level token split inside one grapheme
    (AWKWARD_SHOTS + "Q: Capital of Italy?\nA:", " Rome"),  # a duplicate request
    ("x", " y"),  # a one-token context with no shared prefix
]


@pytest.mark.slow
def test_awkward_boundaries_match_plain_path(models: tuple[Any, Any]) -> None:
    requests = _instances(AWKWARD)
    ours, _, ran = _compare(models, requests)
    assert ours[0] == ours[-2]
    assert ran < sum(len(models[0].tok_encode(c + x)) for c, x in AWKWARD)


@pytest.mark.slow
def test_left_truncation_matches_plain_path(models: tuple[Any, Any]) -> None:
    from instructeval.models.prefix_cache import PrefixCachedHFLM

    cached, _ = models
    short = {"tokenizer": cached.tokenizer, "batch_size": 4, "max_length": 48}
    truncating = PrefixCachedHFLM(pretrained=cached.model, **short)
    plain = PrefixCachedHFLM(pretrained=cached.model, prefix_cache=False, **short)
    _compare((truncating, plain), _instances(AWKWARD[:6]))


@pytest.mark.slow
def test_generation_reuses_the_prefix_and_matches_plain_path(models: tuple[Any, Any]) -> None:
    from lm_eval.api.instance import Instance

    cached, plain = models
    questions = ["What is the capital of Spain?", "Name a large ocean on Earth, please.", "2 + 2 ="]
    until = {"until": ["\n\n", "Q:"], "max_gen_toks": 10, "do_sample": False}
    requests = [
        Instance(request_type="generate_until", doc={}, arguments=(f"{AWKWARD_SHOTS}Q: {q}\nA:", until), idx=0)
        for q in questions
    ]
    hits = cached.prefix_stats.generation_prefix_tokens
    assert cached.generate_until(requests, disable_tqdm=True) == plain.generate_until(requests, disable_tqdm=True)
    assert cached.prefix_stats.generation_prefix_tokens > hits


@pytest.mark.slow
def test_run_with_and_without_prefix_cache_agree(tmp_path: Path, data_dir: Path) -> None:
    from instructeval.evaluator import RunOptions, evaluate
    from instructeval.results import read_records

    runs = []
    for prefix_cache in (True, False):
        options = RunOptions(
            model="demo",
            tasks="mmlu_anatomy",
            data_dir=data_dir,
            limit=3,
            output=tmp_path / str(prefix_cache),
            prefix_cache=prefix_cache,
        )
        runs.append(read_records(evaluate(options, progress=lambda _line: None) / "samples" / "mmlu.jsonl"))
    assert len(runs[0]) == len(runs[1]) == 3
    for ours, theirs in zip(*runs, strict=True):
        assert ours.doc_id == theirs.doc_id
        assert ours.choice_loglikelihoods is not None and theirs.choice_loglikelihoods is not None
        assert (
            max(abs(a - b) for a, b in zip(ours.choice_loglikelihoods, theirs.choice_loglikelihoods, strict=True))
            < TOLERANCE
        )
        assert ours.scores == theirs.scores
