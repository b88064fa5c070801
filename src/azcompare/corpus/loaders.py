"""Read the corpus folders and the synced pages into cleaned `Document`s with their metadata."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from azcompare.corpus.clean import (
    clean_markdown,
    html_to_markdown,
    inline_to_text,
    metadata_date,
    split_front_matter,
)
from azcompare.corpus.sources import SourceList, load_source_list, read_state
from azcompare.settings import Settings
from azcompare.types import Document

log = logging.getLogger(__name__)

TEXT_SUFFIXES = {".md", ".markdown", ".txt", ".html", ".htm"}
_H1 = re.compile(r"^#\s+(.+?)\s*#*\s*$", re.MULTILINE)


class CorpusError(ValueError):
    """A document could not be read; the message names the file."""


def load_documents(settings: Settings) -> list[Document]:
    """Every document the index should hold: local corpus files, then synced pages, sorted by id."""
    assert settings.sources_file is not None
    sources = load_source_list(settings.sources_file)
    docs: dict[str, Document] = {}
    for folder in settings.corpus_dirs:
        if not folder.is_dir():
            log.warning("corpus folder %s does not exist; skipped", folder)
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and path.suffix.lower() in TEXT_SUFFIXES and not path.name.startswith("."):
                doc = load_local_file(path, sources)
                docs.setdefault(doc.id, doc)
    for page in read_state(settings.pages_dir):
        path = settings.pages_dir / page.file
        meta_override = sources.page(page.url)
        doc = load_file(
            path,
            doc_id=page.id,
            kind="page",
            url=page.url,
            title_hint=page.title,
            date_override=meta_override.date if meta_override else None,
        )
        if doc.id in docs:
            log.warning("document id %s appears twice; keeping the first", doc.id)
            continue
        docs[doc.id] = doc
    return [docs[key] for key in sorted(docs)]


def load_local_file(path: Path, sources: SourceList) -> Document:
    """A file from a corpus folder, with title/url/date from its sources.toml entry when there is one."""
    entry = sources.local(path.name)
    return load_file(
        path,
        doc_id=path.stem,
        kind="article",
        url=entry.url if entry else "",
        title_hint=entry.title if entry else "",
        date_override=entry.date if entry else None,
        title_wins=bool(entry and entry.title),
    )


def load_file(
    path: Path,
    *,
    doc_id: str,
    kind: str,
    url: str = "",
    title_hint: str = "",
    date_override: Any = None,
    title_wins: bool = False,
) -> Document:
    """Read, clean and describe one file. HTML is converted to Markdown first."""
    try:
        raw_bytes = path.read_bytes()
        raw = raw_bytes.decode("utf-8-sig")
    except OSError as exc:
        raise CorpusError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path} is not UTF-8 text") from exc
    if path.suffix.lower() in {".html", ".htm"}:
        markdown, html_meta = html_to_markdown(raw, url)
        meta: dict[str, Any] = {k: v for k, v in html_meta.items() if v}
        body = markdown
    else:
        meta, body = split_front_matter(raw)
    text = clean_markdown(body)
    h1 = _H1.search(text)
    front_title = inline_to_text(str(meta.get("title") or "")).strip()
    if title_wins and title_hint:
        title = title_hint
    else:
        title = front_title or (inline_to_text(h1.group(1)).strip() if h1 else "") or title_hint or path.stem
    date = date_override or metadata_date(meta)
    url = url or str(meta.get("url") or meta.get("canonical_url") or "")
    description = inline_to_text(str(meta.get("description") or "")).strip()
    # The hash covers the bytes and the metadata we attach, so a new date or title re-embeds the doc.
    digest = hashlib.sha256(raw_bytes)
    digest.update(json.dumps([title, url, str(date), kind], ensure_ascii=False).encode())
    return Document(
        id=doc_id,
        title=title,
        text=text,
        url=url,
        date=date,
        description=description,
        kind=kind,  # type: ignore[arg-type]
        path=str(path),
        sha256=digest.hexdigest(),
    )
