"""The typed records that flow through the pipeline: Document → Chunk → Hit → Citation → Answer."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Literal

ChunkKind = Literal["section", "row"]
AnswerStatus = Literal["answered", "abstained", "rejected"]
LinkKind = Literal["rename", "similar"]


@dataclass(frozen=True)
class Document:
    """One cleaned source document (the article or a Microsoft Learn page)."""

    id: str
    title: str
    text: str
    url: str = ""
    date: dt.date | None = None
    description: str = ""
    kind: Literal["article", "page"] = "page"
    path: str = ""
    sha256: str = ""


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage: a heading-delimited piece of a document, or one table row."""

    id: str
    doc_id: str
    title: str
    text: str
    heading_path: tuple[str, ...] = ()
    kind: ChunkKind = "section"
    url: str = ""
    date: dt.date | None = None
    position: int = 0
    note: str = ""  # former names of renamed things the text mentions (searched, not shown)

    @property
    def heading(self) -> str:
        return " > ".join(self.heading_path)

    @property
    def embed_text(self) -> str:
        """What gets embedded and keyword-indexed: title and heading path give the passage its context."""
        context = " > ".join((self.title, *self.heading_path))
        return f"{context}\n{self.text}{self.note}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the per-retriever evidence behind it."""

    chunk: Chunk
    score: float
    rank: int
    dense_score: float | None = None
    bm25_score: float | None = None
    via_link: str = ""  # the id of the retrieved older passage this newer one was brought in for
    # Brought in by its keywords alone (or linked to such a passage): the answerer quotes it after the lead only.
    support: bool = False

    @property
    def source(self) -> str:
        return self.chunk.doc_id

    @property
    def heading(self) -> str:
        return self.chunk.heading

    def to_dict(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "rank": self.rank,
            "chunk_id": c.id,
            "source": c.doc_id,
            "title": c.title,
            "heading": c.heading,
            "kind": c.kind,
            "score": round(self.score, 6),
            "dense_score": None if self.dense_score is None else round(self.dense_score, 6),
            "bm25_score": None if self.bm25_score is None else round(self.bm25_score, 6),
            "date": _iso(c.date),
            "url": c.url,
            "text": c.text,
            "via_link": self.via_link,
            "support": self.support,
        }


@dataclass(frozen=True)
class Link:
    """An older source's statement and a newer passage that speaks to the same point (made at build time).

    `kind` is "rename" when the newer passage uses the current name of something the older statement
    names by a former one (`renamed`: (former, current) pairs), else "similar". `same_text` says the
    newer statement reads the same as the older one (nothing changed but the date); `turned` that it
    turns the older one around (a quantifier or a negation flipped on the same terms).
    """

    old_chunk_id: str
    old_doc_id: str
    old_title: str
    old_date: dt.date | None
    old_sentence: str
    new_chunk_id: str
    new_doc_id: str
    new_title: str
    new_date: dt.date | None
    new_sentences: tuple[str, ...]
    kind: LinkKind
    score: float
    renamed: tuple[tuple[str, str], ...] = ()
    same_text: bool = False
    turned: bool = False

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.update(
            old_date=_iso(self.old_date),
            new_date=_iso(self.new_date),
            new_sentences=list(self.new_sentences),
            renamed=[list(pair) for pair in self.renamed],
            score=round(self.score, 4),
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Link:
        """The Link `to_dict` wrote; KeyError, TypeError or ValueError when the data is not one."""
        if data["kind"] not in ("rename", "similar"):
            raise ValueError(f"unknown link kind {data['kind']!r}")
        return cls(
            old_chunk_id=str(data["old_chunk_id"]),
            old_doc_id=str(data["old_doc_id"]),
            old_title=str(data["old_title"]),
            old_date=_date(data["old_date"]),
            old_sentence=str(data["old_sentence"]),
            new_chunk_id=str(data["new_chunk_id"]),
            new_doc_id=str(data["new_doc_id"]),
            new_title=str(data["new_title"]),
            new_date=_date(data["new_date"]),
            new_sentences=tuple(str(s) for s in data["new_sentences"]),
            kind=data["kind"],
            score=float(data["score"]),
            renamed=tuple((str(a), str(b)) for a, b in data.get("renamed", [])),
            same_text=bool(data.get("same_text", False)),
            turned=bool(data.get("turned", False)),
        )


@dataclass(frozen=True)
class Citation:
    """A numbered reference from the answer text to the exact passage that supports it."""

    n: int
    title: str
    url: str
    source: str
    heading: str
    snippet: str
    date: str | None
    passage: str = ""
    chunk_id: str = ""
    spans: list[list[int]] = field(default_factory=list)  # where the snippet sits in the passage

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Answer:
    """The result of `answer()`: grounded text with [n] markers plus everything needed to check it."""

    question: str
    text: str
    standalone_question: str = ""
    abstained: bool = False
    status: AnswerStatus = "answered"
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    provider: str = "extractive"
    notices: list[str] = field(default_factory=list)
    strength: float | None = None  # how well the knowledge base covers the question (0–1)
    unsupported: list[str] = field(default_factory=list)  # sentences their citation does not back
    usage: dict[str, int] = field(default_factory=dict)  # model tokens: prompt_tokens, completion_tokens
    # What the question asked for that the knowledge base does not say (a price, an SLA figure, a
    # region...): non-empty means a partial "not covered" even when the topic is answered.
    missing: list[str] = field(default_factory=list)
    # Older passages among the hits and the newer passages on the same point that came with them.
    links: list[Link] = field(default_factory=list)
    # Why a generative provider's answer was replaced by the extractive one, as a short code: the check
    # its lead failed ("unsupported", "verdict", "not_an_answer", ...), "abstained", "timeout", "error".
    # "" when the provider asked wrote the answer (or no model was asked).
    fallback: str = ""

    def __post_init__(self) -> None:
        # The status follows from `abstained`; callers only say it for a rejected question.
        if self.abstained and self.status == "answered":
            self.status = "abstained"
        # The question is kept as asked, except what cannot be written as UTF-8 (a lone surrogate, or an
        # undecodable byte of a command line): JSON, files and the page must be able to show it.
        self.question = encodable(self.question)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable form of every field."""
        return {
            "question": self.question,
            "standalone_question": self.standalone_question,
            "text": self.text,
            "abstained": self.abstained,
            "status": self.status,
            "provider": self.provider,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "notices": list(self.notices),
            "strength": None if self.strength is None else round(self.strength, 4),
            "unsupported": list(self.unsupported),
            "usage": dict(self.usage),
            "missing": list(self.missing),
            "links": [link.to_dict() for link in self.links],
            "fallback": self.fallback,
        }


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """The text with every lone surrogate replaced by U+FFFD, so that it can be encoded as UTF-8."""
    return _SURROGATE.sub("\ufffd", text)


def _iso(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _date(value: object) -> dt.date | None:
    return dt.date.fromisoformat(str(value)) if value else None
