"""search(): the passages the knowledge base holds for a query, without writing an answer.

For callers that bring their own answerer (a LangChain chain, an agent's search tool). It checks the
query like `answer()` checks a question, opens the index the same way and runs the same retrieval, so
the passages are the ones an answer would be drawn from: the ranked matches and the passages that
come with them (`Passage.role`). A caller reading an older passage thus gets the newer ones on the same
point too, as an answer would quote them, instead of presenting a superseded statement as current.
Like `answer()`, it never raises: a bad query or an unusable index gives a result whose `error` says
what to change.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from azcompare.answering.inputs import (
    QuestionError,
    check_top_k,
    clean_message,
    read_message,
)
from azcompare.answering.pipeline import (
    build_needed,
    ensure_index,
    index_notices,
    retrieve,
    spelled_right,
    unavailable_message,
)
from azcompare.answering.redact import protect_logs, scrub
from azcompare.index_state import IndexUnavailable
from azcompare.settings import Settings, apply_offline_env
from azcompare.types import Hit, encodable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Passage:
    """One retrieved passage with where it comes from and how each retriever scored it.

    `role` says why it is there: "match" (one of the `k` ranked matches), "keyword" (the best keyword
    match the ranking left out: it holds the query's words, often among other topics) or "newer" (a
    newer source's passage on the same point as the older match `updates` names, the chunk id).
    """

    rank: int
    chunk_id: str
    title: str
    heading: str
    url: str
    date: str | None
    source: str
    text: str
    score: float
    dense_score: float | None
    keyword_score: float | None
    role: str = "match"
    updates: str | None = None

    @classmethod
    def from_hit(cls, hit: Hit, rank: int | None = None, role: str = "match") -> Passage:
        """The passage of a hit, at `rank` (default: the hit's own rank)."""
        c = hit.chunk
        return cls(
            rank=hit.rank if rank is None else rank,
            chunk_id=c.id,
            title=c.title,
            heading=c.heading,
            url=c.url,
            date=c.date.isoformat() if c.date else None,
            source=c.doc_id,
            text=c.text,
            score=round(hit.score, 6),
            dense_score=None if hit.dense_score is None else round(hit.dense_score, 6),
            keyword_score=None if hit.bm25_score is None else round(hit.bm25_score, 6),
            role="newer" if hit.via_link else role,
            updates=hit.via_link or None,
        )

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SearchResults:
    """The result of `search()`: passages in rank order, or `error` (a message for the user) and none."""

    query: str
    passages: list[Passage] = field(default_factory=list)
    error: str = ""
    notices: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serializable form of every field."""
        return {
            "query": self.query,
            "passages": [p.to_dict() for p in self.passages],
            "error": self.error,
            "notices": list(self.notices),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }


def search(query: str, k: int | None = None, *, settings: Settings | None = None) -> SearchResults:
    """The `k` passages (1–50; default `settings.top_k`) that best match `query`, best first, with the
    passages an answer would draw from with them (see Passage.role): the best keyword match the ranking
    left out in its place among them, and after them the newer sources' passages on the points of older
    matches.

    Never raises: an empty, overlong or non-text query, a bad `k` or an index that is damaged or being
    built elsewhere gives SearchResults with no passages and the same message `answer()` would give.
    """
    apply_offline_env()
    raw = encodable(query) if isinstance(query, str) else ""
    if settings is not None and not isinstance(settings, Settings):
        return SearchResults(raw, error="settings must be an azcompare Settings object.")
    settings = settings or Settings()
    protect_logs(settings.secrets())
    started = time.perf_counter()
    try:
        top_k = check_top_k(k) or settings.top_k
        message = clean_message(query, settings.max_question_chars)
        text, background = read_message(message)
    except QuestionError as exc:
        return SearchResults(raw, error=str(exc))
    try:
        building = build_needed(settings)  # as answer() does, say so when this call had to build the index
        kb = ensure_index(settings)
        notices = [f"The index was built first ({building})."] if building else []
        notices += index_notices(settings)
        result = retrieve(kb, spelled_right(text, kb), top_k, settings, background)
    except IndexUnavailable as exc:
        return SearchResults(raw, error=unavailable_message(exc))
    except Exception as exc:  # a bug must not fail the caller either: one line here, the trace in the log
        why = scrub(str(exc).strip().split("\n")[0][:160] or type(exc).__name__, settings.secrets())
        log.error("search failed: %s: %s", type(exc).__name__, why)
        log.debug("search failed", exc_info=True)
        return SearchResults(raw, error=f"Something went wrong while searching ({type(exc).__name__}: {why}).")
    timings = {**result.timings, "total_ms": (time.perf_counter() - started) * 1000}
    # In the answer's order: the keyword match the fusion left out in its place among the matches (it never
    # leads: retrieval.KEYWORD_PLACE), the newer passages after them; numbered by that order.
    keyword = {id(h) for h in result.keyword}
    passages = [
        Passage.from_hit(h, rank, "keyword" if id(h) in keyword else "match")
        for rank, h in enumerate(result.all_hits, start=1)
    ]
    return SearchResults(raw, passages, notices=notices, timings=timings)
