"""`inject --augment local|global|both` and its amounts: which prompts augmented-finetune sends its generator.

The generator here is a stand-in that records the conversations it is sent and answers with numbered lines
(the strategy choice is ours; what a real model writes is covered by the demo-model test in
test_knowledge_demo.py and the tiny-Llama run in test_contamination_inject.py)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from instructeval.cli import main
from instructeval.knowledge.methods.augment import GLOBAL_PROMPT, AugmentSettings, augment
from instructeval.knowledge.sets import load_knowledge_set


class RecordingGenerator:
    supports_choices = False

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.max_tokens: list[int] = []

    def generate(self, conversations: Sequence[Sequence[dict[str, str]]], max_tokens: int) -> list[str]:
        self.max_tokens.append(max_tokens)
        replies = []
        for conversation in conversations:
            self.sent.append(conversation[-1]["content"])
            replies.append("\n".join(f"{i}. generated statement number {len(self.sent)}-{i}" for i in range(1, 9)))
        return replies

    def choice_loglikelihoods(self, requests: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        raise AssertionError("augmentation only generates")


@pytest.mark.parametrize(
    ("strategies", "local", "global_"), [(("local",), 8, 0), (("global",), 0, 3), (("local", "global"), 8, 3)]
)
def test_each_strategy_sends_only_its_own_prompts(strategies: tuple[str, ...], local: int, global_: int) -> None:
    kset = load_knowledge_set("invented:reversal", size=8)
    facts = len(kset.facts)
    generator = RecordingGenerator()
    settings = AugmentSettings(strategies=strategies, per_fact=2, group_size=3, per_group=4, max_tokens=40)
    made = augment(generator, kset, settings)
    global_prompts = [s for s in generator.sent if s.endswith(GLOBAL_PROMPT.split("}")[-1])]
    assert len(generator.sent) - len(global_prompts) == (facts if local else 0)
    assert len(global_prompts) == (-(-facts // 3) if global_ else 0)
    assert sum(a.kind == "local" for a in made) == (2 * facts if local else 0)
    assert sum(a.kind == "global" for a in made) == 4 * len(global_prompts)
    assert all(len(a.sources) <= 3 for a in made if a.kind == "global") and generator.max_tokens == [40]


def test_augment_flags_without_augmented_finetune_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["inject", "--model", "demo", "--knowledge", "invented:reversal", "--method", "finetune", "--augment", "local"]
    )
    assert code == 2
    assert "--augment and its settings shape augmented-finetune's data" in capsys.readouterr().err
