"""Numbered citations: build them from evidence in order of first use, and render the answer text."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from azcompare.text import Sentence
from azcompare.types import Citation, Hit

_TERMINAL = re.compile(r"[\s.!?:;,]+$")
_CLAUSE_BEFORE = re.compile(r",\s+(?:and|so|but|while|whereas)\s+$")  # text.py _CLAUSE_BREAK, at its end
_NOTE_LABEL = re.compile(r"^(Note|Tip|Important|Caution|Warning):\s+(?=\S)")


@dataclass(frozen=True)
class Evidence:
    """One sentence of one retrieved passage, scored for the question."""

    hit: Hit
    sentence: Sentence
    score: float
    coverage: float
    vector: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, tuple[tuple[int, int], ...]]:
        return self.hit.chunk.id, self.sentence.spans

    @property
    def support(self) -> bool:
        """Whether this may only back the lead, never be it (a passage found by its keywords alone: Hit.support)."""
        return self.hit.support


def cite(evidence: Evidence, n: int) -> Citation:
    """The citation for one piece of evidence, numbered n."""
    chunk = evidence.hit.chunk
    return Citation(
        n=n,
        title=chunk.title,
        url=chunk.url,
        source=chunk.doc_id,
        heading=chunk.heading,
        snippet=evidence.sentence.text,
        date=chunk.date.isoformat() if chunk.date else None,
        passage=chunk.text,
        chunk_id=chunk.id,
        spans=[list(span) for span in evidence.sentence.spans],
    )


class Citer:
    """Numbers evidence in order of first use; the same sentence cited twice keeps its number."""

    def __init__(self) -> None:
        self._numbers: dict[tuple[str, tuple[tuple[int, int], ...]], int] = {}
        self.citations: list[Citation] = []

    def number(self, evidence: Evidence) -> int:
        """The citation number of this evidence (a new one on first use)."""
        n = self._numbers.get(evidence.key)
        if n is None:
            n = len(self.citations) + 1
            self._numbers[evidence.key] = n
            self.citations.append(cite(evidence, n))
        return n


def body(evidence: Evidence) -> str:
    """The quoted sentence without its closing punctuation (the [n] and a full stop follow it), nor the
    label of the note it stood in ("Important:", "Tip:"), as `shown_sentence` gives it."""
    return _TERMINAL.sub("", _NOTE_LABEL.sub("", shown_sentence(evidence)))


def shown_sentence(evidence: Evidence) -> str:
    """The sentence as an answer shows it: a clause that a long sentence was split into (text.py `_clauses`:
    "…, so customers are not required to …") starts with a capital, as a sentence does; any other
    lower-case start (a fragment, a name such as "gpt-4o") is left as it is."""
    text = evidence.sentence.text
    before = evidence.hit.chunk.text[: evidence.sentence.spans[0][0]]
    if text[:1].islower() and _CLAUSE_BEFORE.search(before):
        text = text[:1].upper() + text[1:]
    return text


def render(statements: list[tuple[str, Evidence]], citer: Citer | None = None) -> tuple[str, list[Citation]]:
    """Join (lead-in, evidence) statements into text where every sentence ends with its [n]."""
    citer = citer or Citer()
    parts = [f"{lead}{body(evidence)} [{citer.number(evidence)}]." for lead, evidence in statements]
    return " ".join(parts), citer.citations
