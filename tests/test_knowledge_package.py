"""The knowledge package's public names: each one imports from its module when first used."""

from __future__ import annotations

import pytest

import instructeval.knowledge as knowledge


def test_every_public_name_resolves_to_the_object_in_its_module() -> None:
    assert sorted(knowledge.__all__) == sorted(knowledge._HOME)
    for name in knowledge.__all__:
        module = __import__(f"instructeval.knowledge.{knowledge._HOME[name]}", fromlist=[name])
        assert getattr(knowledge, name) is getattr(module, name)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="has no attribute 'injct'"):
        _ = knowledge.injct  # type: ignore[attr-defined]
