"""Answer providers: what turns retrieved passages into cited text, streamed piece by piece.

Every provider yields `Delta`s (text to append, as it is produced) and ends with one `Draft` (the
final text, citations and flags, which may differ from the streamed text after verification). The
extractive provider is always available and is the fallback of every other.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from azcompare.answering.extractive import extractive_answer
from azcompare.retrieval import KnowledgeBase, SearchResult
from azcompare.settings import Settings
from azcompare.types import Citation


@dataclass(frozen=True)
class Delta:
    """A piece of answer text, streamed as soon as it exists."""

    text: str


@dataclass
class Draft:
    """A provider's finished answer, before the pipeline adds hits and timings."""

    text: str
    citations: list[Citation]
    abstained: bool
    strength: float
    notices: list[str] = field(default_factory=list)
    unsupported: list[str] = field(default_factory=list)  # answer sentences their citation does not back
    provider: str | None = None  # who wrote this text when not the provider asked (a verification fallback)
    timings: dict[str, float] = field(default_factory=dict)  # provider stages (generate_ms, verify_ms), ms
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens
    missing: list[str] = field(default_factory=list)  # what was asked for that the sources do not give
    # Why the model's own answer gave way to the extractive one (a check it failed); "" when it did not.
    fallback: str = ""


ProviderEvent = Delta | Draft


class Provider(Protocol):
    """An answerer behind `answer(..., provider=name)`."""

    name: str
    description: str

    def unavailable_reason(self, settings: Settings) -> str | None:
        """None when usable here; else one line saying what is missing (never a secret)."""
        ...

    def generate(
        self, question: str, result: SearchResult, kb: KnowledgeBase, settings: Settings
    ) -> Iterator[ProviderEvent]:
        """Stream the answer to `question` from the passages in `result`, ending with a Draft."""
        ...


class ExtractiveProvider:
    """Quotes the best sentences of the passages; deterministic, needs no model server."""

    name = "extractive"
    description = "offline, deterministic: quotes the passages"

    def unavailable_reason(self, settings: Settings) -> str | None:
        return None

    def generate(
        self, question: str, result: SearchResult, kb: KnowledgeBase, settings: Settings
    ) -> Iterator[ProviderEvent]:
        draft = extractive_answer(question, result, kb, settings)
        # Sentence by sentence (or line by line, for a table), whitespace kept: the pieces add up to the text.
        for piece in re.split(r"(?<=\]\.)(?=\s)|(?<=\n)", draft.text):
            if piece:
                yield Delta(piece)
        yield Draft(draft.text, draft.citations, draft.abstained, draft.strength, missing=draft.missing)


_PROVIDERS: dict[str, Provider] = {}


def register(provider: Provider) -> None:
    """Make a provider selectable by name."""
    _PROVIDERS[provider.name] = provider


def provider_names() -> list[str]:
    """Every registered provider, extractive first."""
    return list(_PROVIDERS)


def get_provider(name: str) -> Provider | None:
    return _PROVIDERS.get(name)


def provider_status(settings: Settings) -> dict[str, str | None]:
    """name → None when usable here, else why not (for the UI's provider selector)."""
    return {name: p.unavailable_reason(settings) for name, p in _PROVIDERS.items()}


EXTRACTIVE = ExtractiveProvider()
register(EXTRACTIVE)
