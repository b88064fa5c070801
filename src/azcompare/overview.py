"""What the assistant knows: the indexed documents with their dates, and what is missing."""

from __future__ import annotations

from dataclasses import dataclass

from azcompare.corpus.sources import source_status
from azcompare.index import read_manifest
from azcompare.index_state import IndexUnavailable
from azcompare.settings import Settings


@dataclass(frozen=True)
class KnownDocument:
    """One indexed document as the header lists it."""

    id: str
    title: str
    date: str | None
    kind: str
    url: str
    chunks: int


@dataclass(frozen=True)
class KnowledgeOverview:
    """The indexed documents (article first, then newest first) and a notice about missing pages."""

    documents: tuple[KnownDocument, ...]
    missing_notice: str | None
    built_at: str | None


def knowledge_overview(settings: Settings) -> KnowledgeOverview:
    """Describe the active index; empty when none is built yet."""
    try:
        manifest = read_manifest(settings)
    except IndexUnavailable:  # a Chroma server that is down: the page starts, and questions say why
        manifest = None
    documents: list[KnownDocument] = []
    if manifest is not None:
        for doc_id, meta in manifest.documents.items():
            documents.append(
                KnownDocument(
                    id=doc_id,
                    title=str(meta.get("title") or doc_id),
                    date=meta.get("date"),
                    kind=str(meta.get("kind") or "page"),
                    url=str(meta.get("url") or ""),
                    chunks=int(meta.get("chunks") or 0),
                )
            )
    # Stable sorts: by title, then newest first, then the article before the pages.
    documents.sort(key=lambda d: d.title)
    documents.sort(key=lambda d: d.date or "", reverse=True)
    documents.sort(key=lambda d: d.kind != "article")
    return KnowledgeOverview(
        documents=tuple(documents),
        missing_notice=source_status(settings).notice(settings),
        built_at=manifest.built_at if manifest else None,
    )
