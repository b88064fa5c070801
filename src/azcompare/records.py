"""How a chunk is stored in Chroma (flat metadata) and read back, in pages a server or SQLite can serve.

Chroma's embedded SQLite refuses one `get()` of tens of thousands of records ("too many SQL variables"),
and a server limits what one answer holds, so every whole-collection read goes through `read_pages`.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from azcompare.types import Chunk

# Records per `get()` when a whole collection is read.
READ_BATCH = 2000


def read_pages(collection: Any, include: list[str]) -> Iterator[dict[str, Any]]:
    """The records of a collection (ids and `include`), one `get()` answer of at most READ_BATCH at a time."""
    total = collection.count()
    for offset in range(0, total, READ_BATCH):
        yield collection.get(include=include, limit=READ_BATCH, offset=offset)


def read_all(collection: Any, include: list[str]) -> dict[str, list[Any]]:
    """Every record of a collection (ids and `include`), read page by page."""
    found: dict[str, list[Any]] = {"ids": [], **{key: [] for key in include}}
    for data in read_pages(collection, include):
        for key in found:
            found[key].extend(data[key] if data[key] is not None else [])
    return found


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """Chroma metadata for a chunk (flat scalar values only)."""
    return {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "heading_path": json.dumps(list(chunk.heading_path), ensure_ascii=False),
        "kind": chunk.kind,
        "url": chunk.url,
        "date": chunk.date.isoformat() if chunk.date else "",
        "position": chunk.position,
        "note": chunk.note,
    }


def chunk_from_record(chunk_id: str, text: str | None, meta: dict[str, Any] | None) -> Chunk:
    """Rebuild a Chunk from what Chroma stored."""
    meta = meta or {}
    date = meta.get("date") or ""
    return Chunk(
        id=chunk_id,
        doc_id=str(meta.get("doc_id", "")),
        title=str(meta.get("title", "")),
        text=text or "",
        heading_path=tuple(json.loads(meta.get("heading_path") or "[]")),
        kind=meta.get("kind", "section"),
        url=str(meta.get("url", "")),
        date=dt.date.fromisoformat(date) if date else None,
        position=int(meta.get("position", 0)),
        note=str(meta.get("note", "")),
    )
