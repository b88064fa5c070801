"""Hand-made evaluation items and answers for the metric, diagnosis and report tests."""

from __future__ import annotations

import datetime as dt

from azcompare.evaluation.dataset import EvalItem
from azcompare.types import Answer, Chunk, Citation, Hit

ARTICLE_DATE = dt.date(2024, 6, 1)
PAGE_DATE = dt.date(2025, 11, 1)


def item(
    kind: str = "fact",
    facts=(),
    sources=(),
    item_id: str = "q1",
    split: str = "dev",
    *,
    absent: str = "",
    stale=(),
    verdict: str = "",
) -> EvalItem:
    """An evaluation item; `facts` is a list of groups of phrasings, `stale` the older source's phrasings."""
    return EvalItem(
        id=item_id,
        question=f"question {item_id}?",
        kind=kind,
        expected_facts=tuple(tuple(g) for g in facts),
        expected_sources=tuple(sources),
        split=split,
        absent=absent,
        stale_facts=tuple(stale),
        verdict=verdict,
    )


def hit(doc: str, rank: int, text: str = "some passage text", date: dt.date | None = None) -> Hit:
    """A retrieved chunk of document `doc` at `rank`."""
    chunk = Chunk(id=f"{doc}/{rank}", doc_id=doc, title=doc.title(), text=text, date=date)
    return Hit(chunk=chunk, score=1.0 / rank, rank=rank, dense_score=0.5)


def cite(n: int, h: Hit, snippet: str) -> Citation:
    """A citation numbered n of hit h, quoting `snippet`."""
    c = h.chunk
    return Citation(
        n=n,
        title=c.title,
        url="",
        source=c.doc_id,
        heading="",
        snippet=snippet,
        date=c.date.isoformat() if c.date else None,
        passage=c.text,
        chunk_id=c.id,
    )


def answer(
    text: str = "", hits=(), citations=(), abstained: bool = False, status: str | None = None, missing=()
) -> Answer:
    """An Answer as the pipeline would return it; `missing` is what it says the knowledge base lacks."""
    return Answer(
        question="q",
        text=text,
        standalone_question="q",
        abstained=abstained,
        status=status or ("abstained" if abstained else "answered"),
        citations=list(citations),
        hits=list(hits),
        timings={"embed_ms": 2.0, "total_ms": 10.0},
        strength=0.3 if abstained else 0.7,
        missing=list(missing),
    )
