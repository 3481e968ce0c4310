"""Fixture runs for the leaderboard tests, built as RunResults in code: honest models, missing tasks, hostile names.

Every string a results file can carry into the page (model name, task name, category, knowledge set, scorer,
writing rubric) has a hostile variant here, so the tests can check none of them runs as script.
"""

from __future__ import annotations

from pathlib import Path

from instructeval.results import (
    CleanSubsetScore,
    Comparison,
    ContaminatedExample,
    ContaminationResult,
    CurvePoint,
    FlippedExample,
    KnowledgeCell,
    KnowledgeResult,
    ModelInfo,
    PairedTaskComparison,
    RunInfo,
    RunResults,
    Score,
    SubtaskOverlap,
    TaskContamination,
    TaskResult,
)
from instructeval.run import save_results, write_json_atomic
from instructeval.writing.report import (
    BudgetReport,
    GroupScore,
    RubricInfo,
    SelfPreference,
    UsageReport,
    WritingReport,
    WritingSection,
)

PWN_IMG = "<img src=x onerror=alert(1)>"
PWN_SCRIPT = '"><script>window.__pwned=1</script>'
PWN_TASK = "<script>window.__pwned=2</script>"
PWN_GROUP = '"><svg onload="window.__pwned=3">'
PWN_SET = "</script><script>window.__pwned=4</script>"
PWN_TITLE = "<b>board</b><script>window.__pwned=5</script>"
HOSTILE = (PWN_IMG, PWN_SCRIPT, PWN_TASK, PWN_GROUP, PWN_SET)

SMOL = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOL_BASE = "HuggingFaceTB/SmolLM2-135M"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA_JUDGE = "hf:meta-llama/Llama-3.1-70B-Instruct"
CORE = ("mmlu", "bbh", "gsm8k", "mgsm", "humaneval", "drop", "crass")


def score(value: float | None, n: int = 200, half: float = 0.03) -> Score:
    if value is None:
        return Score(value=None, n=0)
    low, high = value - half, value + half
    if value <= 1.0:  # a proportion's interval stays inside [0, 1], as a Wilson interval does
        low, high = max(0.0, low), min(1.0, high)
    return Score(value=value, stderr=half / 1.96, ci_low=low, ci_high=high, n=n, ci_method="wilson")


def task(
    name: str,
    value: float | None,
    breakdown: dict[str, dict[str, dict[str, Score]]] | None = None,
    *,
    setting: tuple[int, str] | None = None,
    votes: int | None = None,
) -> TaskResult:
    """A task's result; `setting` (shots, reasoning) and `votes` (maj@K) as a run under a prompt setting records
    them, `name` being its results key (`gsm8k@0shot-cot`)."""
    metric = "exact_match" if name.partition("@")[0] in ("gsm8k", "mgsm", "drop") else "acc"
    return TaskResult(
        task=name,
        protocol="loglikelihood" if metric == "acc" else "generate",
        protocol_version="1",
        output_type="multiple_choice" if metric == "acc" else "generate_until",
        num_fewshot=setting[0] if setting else 0,
        reasoning=setting[1] if setting else None,
        self_consistency=votes,
        primary_metric=metric,
        metrics={metric: score(value), "extra_metric": score(None if value is None else value / 2)},
        breakdown=breakdown or {},
        data_source=f"local:{name}",
        data_hash=f"data-{name}-hash",
        prompt_hash=f"prompt-{name}-hash",
        chat_template_applied=True,
        chat_template_hash="tmpl-hash",
        wall_seconds=1.0,
        n_samples=200,
        samples_file=f"samples/{name}.jsonl",
    )


def results(
    spec: str,
    name: str,
    started: str,
    tasks: dict[str, TaskResult],
    *,
    status: str = "complete",
    writing: WritingSection | None = None,
    knowledge: list[KnowledgeResult] | None = None,
) -> RunResults:
    return RunResults(
        run=RunInfo(
            status=status,  # type: ignore[arg-type]
            started_at=started,
            finished_at=started,
            command=["instructeval", "run"],
            seed=1234,
            limit=None,
            batch_size="1",
            config_hash="cfg-hash",
            instructeval_version="0.1.0",
            packages={},
            device="cpu",
        ),
        model=ModelInfo(spec=spec, backend="hf", name=name, revision=f"rev-{name}"[:40]),
        tasks=tasks,
        writing=writing,
        knowledge=knowledge,
    )


def writing_section(
    categories: dict[str, float], missing: int = 0, self_preference: list[SelfPreference] | None = None
) -> WritingSection:
    def group(value: float) -> GroupScore:
        return GroupScore(score=score(value, n=20, half=0.3), missing_answers=missing)

    scores = {
        rubric: {**{c: group(v) for c, v in categories.items()}, "overall": group(sum(categories.values()) / 2)}
        for rubric in ("relevance", "coherence")
    }
    usage = UsageReport(
        requests=0, replies_paid=0, cache_hits=0, reused_judgments=0, prompt_tokens=0, completion_tokens=0,
        usage_estimated=0, cost_usd=0.0, by_judge={},
    )  # fmt: skip
    pointwise = WritingReport(
        task="writing", judges=["gpt-judge"], repeats=1, temperature=0.0, max_tokens=256, complete=True,
        rubrics={"relevance": RubricInfo(name="relevance", version=1, sha256="abc123" * 6)},
        n_answers=20, scores=scores, by_judge={}, agreement={}, self_agreement={}, repeat_spread={},
        length_correlation={}, usage=usage, budget=BudgetReport(limit_usd=None, spent_usd=0.0, stopped=False),
        judgments_file="samples/writing_judgments.jsonl", self_preference=self_preference or [],
    )  # fmt: skip
    return WritingSection(pointwise=pointwise)


def knowledge(kset: str, method: str, value: float, scorer: str = "exact", epochs: int = 0) -> KnowledgeResult:
    """A result with two splits; with `epochs`, a learning curve rising to `value` (reversal stays at half)."""
    cell = KnowledgeCell(score=score(value, n=50), scorer=scorer)
    curve = [
        CurvePoint(
            epoch=e,
            splits={
                "memorisation": {scorer: KnowledgeCell(score=score(value * e / epochs, n=50), scorer=scorer)},
                "reversal": {scorer: KnowledgeCell(score=score(value / 2, n=50), scorer=scorer)},
            },
        )
        for e in range(1, epochs + 1)
    ]
    return KnowledgeResult(
        knowledge_set=kset,
        method=method,  # type: ignore[arg-type]
        splits={"memorisation": {scorer: cell}, "reversal": {scorer: cell}},
        tuned_model=None,
        curve=curve or None,
    )


def hhh(values: dict[str, float]) -> TaskResult:
    groups = {group: {"acc": score(v, n=50)} for group, v in values.items()}
    return task("hhh", sum(values.values()) / len(values), {"category": groups})


def flip(doc_id: int, subtask: str, direction: str, text: str) -> FlippedExample:
    """A flipped MMLU-like example whose every string is `text` (hostile in the fixtures)."""
    improved = direction == "improved"
    return FlippedExample(
        subtask=subtask,
        doc_id=doc_id,
        doc_hash=f"{doc_id:064x}",
        direction="improved" if improved else "regressed",
        base_score=0.0 if improved else 1.0,
        other_score=1.0 if improved else 0.0,
        prompt=f"Question {doc_id}: {text}\nAnswer:",
        target=text,
        base_output=f"base says {text}",
        other_output=f"tuned says {text}",
        choices=[" A", text],
        base_loglikelihoods=[-1.0, -2.0] if not improved else [-2.0, -1.0],
        other_loglikelihoods=[-2.0, -1.0] if not improved else [-1.0, -2.0],
        base_reasons=[f"judge: {text}"],
    )


FLIPS = [
    flip(0, "mmlu_anatomy", "improved", PWN_IMG),
    flip(1, "mmlu_anatomy", "regressed", PWN_SCRIPT),
    flip(2, PWN_GROUP, "improved", PWN_SET),
]
"""The mmlu row's flipped examples: two subtasks (one hostile), both directions, hostile text everywhere."""


def gsm8k_contamination() -> ContaminationResult:
    """`contamination --run` on a run: 40 of 200 GSM8K examples found in a corpus, the clean subset at 0.58."""
    examples = [
        ContaminatedExample(subtask="gsm8k", doc_id=i, doc_hash=f"h{i}", matched_ngrams=3, ngrams=40, locations=[])
        for i in range(40)
    ]
    checked = TaskContamination(
        task="gsm8k",
        examples=200,
        checkable=200,
        subtasks={"gsm8k": SubtaskOverlap(data_hash="d", examples=200, checkable=200)},
        contaminated=examples,
        contaminated_share=Score(value=0.2, ci_low=0.15, ci_high=0.26, n=200, ci_method="wilson"),
        clean_subset=CleanSubsetScore(
            metric="exact_match,flexible-extract",
            full=score(0.64),
            clean=Score(value=0.58, ci_low=0.5, ci_high=0.66, n=160, ci_method="wilson"),
            dirty=Score(value=0.88, ci_low=0.74, ci_high=0.95, n=40, ci_method="wilson"),
            dirty_minus_clean=Score(value=0.3, ci_low=0.15, ci_high=0.42, n=200, ci_method="mover"),
            test="fisher_exact",
            p_value=0.001,
        ),
    )
    return ContaminationResult(
        method="ngram", ngram=13, corpus=["train.jsonl"], tasks={"gsm8k": checked}, created_at="2026-02-02T11:00:00Z"
    )


SMOL_SETTINGS = {
    "mmlu@0shot-direct": task("mmlu@0shot-direct", 0.26, setting=(0, "direct")),
    "gsm8k@0shot-direct": task("gsm8k@0shot-direct", 0.05, setting=(0, "direct")),
    "gsm8k@8shot-direct": task("gsm8k@8shot-direct", 0.09, setting=(8, "direct")),
    "gsm8k@0shot-cot": task("gsm8k@0shot-cot", 0.18, setting=(0, "cot")),
}
"""SMOL's newest run in the settings other than the tasks' defaults (beside its gsm8k 8-shot cot, 0.27)."""


def write_fixture_runs(root: Path) -> dict[str, RunResults]:
    """Write the fixture runs (and one comparison) under root; returns each run folder's results by label."""
    mmlu_subjects = {"subject": {"anatomy": {"acc": score(0.31)}, "astronomy": {"acc": score(0.27)}}}
    smol_old = {t: task(t, 0.20) for t in CORE}
    smol_new = {t: task(t, 0.25 + 0.01 * i) for i, t in enumerate(CORE)}
    smol_new["hhh"] = hhh({"harmless": 0.6, "helpful": 0.55, "honest": 0.5, "other": 0.7})
    smol_new["gsm8k"] = task("gsm8k", 0.27, setting=(8, "cot"))  # gsm8k's default setting: the plain key
    smol_new["mmlu"] = task("mmlu", 0.29, mmlu_subjects, setting=(5, "direct"))
    smol_new.update(SMOL_SETTINGS)
    smol_voted = {**smol_old, "gsm8k": task("gsm8k", 0.4, setting=(8, "cot"), votes=8)}  # older, maj@8: kept too
    smol_failed = {t: task(t, 0.99) for t in CORE}
    llama = {t: task(t, 0.6 + 0.02 * i) for i, t in enumerate(CORE) if t != "drop"}  # no DROP: average is missing
    llama["crass"] = task("crass", 0.0)  # a real zero, shown as 0.0, not as missing
    llama["gsm8k"] = task("gsm8k", 0.64, setting=(8, "cot"))
    llama["gsm8k@0shot-cot"] = task("gsm8k@0shot-cot", 0.5, setting=(0, "cot"))
    llama["hhh"] = hhh({"harmless": 0.8, "helpful": 0.75, "honest": 0.7, "other": 0.9})
    hostile = {"mmlu": task("mmlu", 0.41, {"subject": {PWN_GROUP: {"acc": score(0.4)}}}), PWN_TASK: task(PWN_TASK, 0.5)}
    hostile["hhh"] = hhh({PWN_GROUP: 0.5, "helpful": 0.5})
    hostile[f"{PWN_TASK}@0shot-cot"] = task(f"{PWN_TASK}@0shot-cot", 0.7, setting=(0, "cot"))
    runs = {
        "smol/old": results(f"hf:{SMOL}", SMOL, "2026-01-01T10:00:00+00:00", smol_voted),
        "smol/new": results(
            f"hf:{SMOL}",
            SMOL,
            "2026-02-01T10:00:00+00:00",
            smol_new,
            writing=writing_section({"brainstorming": 3.5, "poetry": 2.8}),
            knowledge=[
                knowledge("invented:reversal", "base", 0.1),
                knowledge("invented:reversal", "icl", 0.8),
                knowledge("invented:reversal", "finetune", 0.6, epochs=4),
            ],
        ),
        "smol/failed": results(f"hf:{SMOL}", SMOL, "2026-03-01T10:00:00+00:00", smol_failed, status="failed"),
        "smol-base/run": results(f"hf:{SMOL_BASE}", SMOL_BASE, "2026-02-01T09:00:00+00:00", smol_old),
        "llama/run": results(
            f"hf:{LLAMA}",
            LLAMA,
            "2026-02-02T10:00:00Z",
            llama,
            writing=writing_section(
                {"poetry": 4.1},
                self_preference=[SelfPreference(judge=LLAMA_JUDGE, role="model", model=LLAMA, family="llama")],
            ),
        ),
        "img/run": results(
            f"hf:{PWN_IMG}",
            PWN_IMG,
            "2026-02-03T10:00:00",
            hostile,
            writing=writing_section(
                {PWN_GROUP: 3.0},
                self_preference=[SelfPreference(judge=PWN_SCRIPT, role="model", model=PWN_IMG, family=PWN_TASK)],
            ),
            knowledge=[knowledge(PWN_SET, "finetune", 0.3, scorer=PWN_IMG, epochs=2)],
        ),
        "script/run": results(f"hf:{PWN_SCRIPT}", PWN_SCRIPT, "2026-02-03T10:00:00", {"gsm8k": task("gsm8k", 0.12)}),
    }
    runs["llama/run"].contamination = gsm8k_contamination()
    for label, run in runs.items():
        save_results(root / label, run)
    diff = Score(value=0.05, stderr=0.01, ci_low=0.02, ci_high=0.08, n=200, ci_method="paired bootstrap")
    rows = [
        PairedTaskComparison(
            task=t,
            metric="acc",
            n_paired=200,
            base=score(0.20),
            other=score(0.25 if t == "mmlu" else 0.21),
            difference=diff if t == "mmlu" else Score(value=0.01, ci_low=-0.02, ci_high=0.04, n=200),
            test="paired bootstrap",
            p_value=0.001 if t == "mmlu" else 0.4,
            p_adjusted=0.007 if t == "mmlu" else 0.8,
            significant=t == "mmlu",
            wins=30,
            losses=20,
            ties=150,
            verdict="better" if t == "mmlu" else "inconclusive",
            mde=0.04,
            flipped=FLIPS if t == "mmlu" else [],
        )
        for t in ("mmlu", "bbh")
    ]
    comparison = Comparison(
        base_run="runs/smol-base/run",
        other_run="runs/smol/new",
        base_model=f"hf:{SMOL_BASE}",
        other_model=f"hf:{SMOL}",
        alpha=0.05,
        margin=0.02,
        forced=False,
        tasks=rows,
        created_at="2026-02-04T10:00:00+00:00",
    )
    write_json_atomic(root / "smol/new/comparison-vs-smol-base-run.json", comparison.model_dump(mode="json"))
    return runs
