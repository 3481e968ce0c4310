"""Each task's Jinja prompt template compiled once per process, not once per document.

lm-eval renders `doc_to_text`, `doc_to_target` and `doc_to_choice` through `lm_eval.utils.apply_template`,
which compiles the template string anew on every call; on a 5-shot MMLU prompt that compilation costs more
than tokenising it. Compiled templates are pure functions of their source, so keeping them changes no prompt.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import lm_eval.utils
from jinja2 import Template

COMPILED_TEMPLATES = 1024
"""How many distinct template strings stay compiled (a run uses a few per task)."""


@lru_cache(maxsize=COMPILED_TEMPLATES)
def _compiled(source: str) -> Template:
    template: Template = lm_eval.utils.env.from_string(source)
    return template


def _apply_template(template: str, doc: dict[str, Any]) -> str:
    """lm-eval's `apply_template`, with the compiled template reused."""
    return _compiled(template).render(**doc)


def reuse_compiled_templates() -> None:
    """Route lm-eval's template rendering through the compiled-template cache (idempotent)."""
    lm_eval.utils.apply_template = _apply_template
