"""The README documents every setting a user can change (the docs must not drift from the code)."""

from __future__ import annotations

import pytest
from pydantic import AliasChoices

from azcompare.settings import Settings
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _env_names(name: str) -> list[str]:
    field = Settings.model_fields[name]
    names = [f"AZCOMPARE_{name.upper()}"]
    if isinstance(field.validation_alias, AliasChoices):
        names += [c for c in field.validation_alias.choices if isinstance(c, str)]
    return names


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name):
    names = _env_names(name)
    assert any(f"`{n}`" in README for n in names), f"README documents none of {names}"
