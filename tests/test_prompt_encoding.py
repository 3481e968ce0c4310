"""What the log-likelihood path reuses instead of recomputing gives the same prompts and token ids as lm-eval.

Compiled prompt templates (`instructeval.prompt_templates`) against a fresh compilation of the same MMLU
template, and `PrefixCachedHFLM`'s kept encodings against lm-eval's own `HFLM._encode_pair` on the tiny model.
"""

from __future__ import annotations

from pathlib import Path

import lm_eval.tasks
import lm_eval.utils
import pytest
import yaml
from jinja2 import Environment, StrictUndefined

from instructeval.prompt_templates import _compiled, reuse_compiled_templates

DOCS = [
    {"question": "Which bone is the longest?", "choices": ["Femur", "Tibia", "Ulna", "Radius"], "answer": 0},
    {"question": "Capital of {France}?\n", "choices": ["Paris ", " Lyon", "<b>Nice</b>", "&"], "answer": 0},
]


def _mmlu_template() -> str:
    """lm-eval's own MMLU prompt template (the one ours is byte-identical to)."""
    folder = Path(lm_eval.tasks.__file__).parent / "mmlu" / "default"
    return str(yaml.safe_load((folder / "_default_template_yaml").read_text())["doc_to_text"])


def test_compiled_templates_render_as_a_fresh_compilation() -> None:
    template = _mmlu_template()
    fresh = Environment(undefined=StrictUndefined, keep_trailing_newline=True)
    reuse_compiled_templates()
    _compiled.cache_clear()
    for doc in DOCS * 3:
        assert lm_eval.utils.apply_template(template, doc) == fresh.from_string(template).render(**doc)
    assert _compiled.cache_info().misses == 1 and _compiled.cache_info().hits == 5


def test_kept_encodings_equal_lm_evals(tiny_llama: Path) -> None:
    from lm_eval.models.huggingface import HFLM

    from instructeval.models.prefix_cache import PrefixCachedHFLM

    ours = PrefixCachedHFLM(pretrained=str(tiny_llama), device="cpu", dtype="float32", batch_size=2)
    theirs = HFLM(pretrained=str(tiny_llama), device="cpu", dtype="float32", batch_size=2)
    pairs = [
        (context, choice)
        for context in ("Question: 2+2?\nAnswer:", "Question: 2+2?\nAnswer: ", "Q: hello\n\nA:")
        for choice in (" A", " B", "4", " four ", "\n")
    ]
    pairs += pairs[:3]  # a context met again after others
    for context, continuation in pairs:
        assert ours._encode_pair(context, continuation) == theirs._encode_pair(context, continuation)


@pytest.mark.parametrize("source", ["{{question}}", "{{ question.strip() }}\nA. {{choices[0]}}"])
def test_distinct_templates_do_not_share_a_compilation(source: str) -> None:
    reuse_compiled_templates()
    assert lm_eval.utils.apply_template(source, DOCS[1]) == Environment().from_string(source).render(**DOCS[1])
