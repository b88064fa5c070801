"""Which documents the knowledge base holds, and bringing referenced pages in.

`corpus/sources.toml` lists the local documents (the article, with the date it carries) and every
page the article references or that backs its claims. `sync_sources` copies those pages from an
offline mirror (a folder whose manifest.json maps url → file) or, with no mirror, downloads them and
converts HTML to Markdown. Either way they land in a git-ignored cache that the index reads.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import logging
import os
import re
import tempfile
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from azcompare.corpus.clean import html_to_markdown, parse_date
from azcompare.settings import Settings

log = logging.getLogger(__name__)

STATE_FILE = "pages.json"
_LOCALE = re.compile(r"^/[a-z]{2}-[a-z]{2}(?=/)")
_KEEP_QUERY = {"pivots", "tabs"}


class SourcesError(ValueError):
    """sources.toml or a mirror manifest is unreadable; the message says where and why."""


@dataclass(frozen=True)
class PageSource:
    """One referenced page: where it lives on the web and how to present it."""

    url: str
    title: str
    publisher: str = "Microsoft Learn"
    date: dt.date | None = None
    note: str = ""


@dataclass(frozen=True)
class LocalSource:
    """Metadata for a file kept in a corpus folder (the article)."""

    file: str
    title: str = ""
    url: str = ""
    date: dt.date | None = None
    note: str = ""


@dataclass(frozen=True)
class SourceList:
    """The parsed sources.toml."""

    documents: tuple[LocalSource, ...]
    pages: tuple[PageSource, ...]
    aliases: tuple[tuple[str, str], ...] = ()

    def local(self, filename: str) -> LocalSource | None:
        return next((d for d in self.documents if d.file == filename), None)

    def page(self, url: str) -> PageSource | None:
        key = normalize_url(url)
        return next((p for p in self.pages if normalize_url(p.url) == key), None)


@dataclass(frozen=True)
class SyncedPage:
    """A page file in the cache, with where it came from."""

    id: str
    file: str
    url: str
    title: str
    origin: str  # "mirror" or "download"
    synced_at: str
    date: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SyncReport:
    """What a sync did, for the CLI and the UI."""

    origin: str
    synced: list[SyncedPage] = field(default_factory=list)
    missing: list[PageSource] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"{len(self.synced)} page file(s) synced from {self.origin}"]
        if self.missing:
            parts.append(f"{len(self.missing)} referenced page(s) not available")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return "; ".join(parts)


@dataclass(frozen=True)
class SourceStatus:
    """Which referenced pages the cache holds and which it lacks."""

    synced: tuple[SyncedPage, ...]
    missing: tuple[PageSource, ...]

    def notice(self, settings: Settings) -> str | None:
        """One line telling the user what is missing and how to add it, or None."""
        if not self.missing:
            return None
        how = (
            f"run `azcompare sources sync` (mirror: {settings.mirror_dir})"
            if settings.mirror_dir
            else "set AZCOMPARE_MIRROR_DIR to an offline mirror or run `azcompare sources sync` online"
        )
        return f"{len(self.missing)} referenced page(s) are not in the knowledge base; to add them, {how}."


def normalize_url(url: str) -> str:
    """A comparable form of a URL: no locale segment, fragment, tracking query or trailing slash."""
    parts = urlsplit(url.strip())
    path = _LOCALE.sub("", parts.path.lower()).rstrip("/")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query) if k in _KEEP_QUERY))
    return urlunsplit(("https", parts.netloc.lower(), path, query, ""))


def load_source_list(path: Path) -> SourceList:
    """Parse sources.toml; a missing file means no extra metadata and no referenced pages.

    Every question checks the index recipe, which names the aliases: the parsed file is kept until the
    file changes (its size or modification time).
    """
    try:
        stat = path.stat()
    except FileNotFoundError:
        return SourceList((), ())
    return _parse_source_list(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _parse_source_list(path: Path, _mtime_ns: int, _size: int) -> SourceList:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SourcesError(f"{path}: not valid TOML ({exc})") from exc
    documents = []
    for i, item in enumerate(data.get("document", [])):
        if "file" not in item:
            raise SourcesError(f"{path}: [[document]] #{i + 1} needs a 'file'")
        documents.append(
            LocalSource(
                file=str(item["file"]),
                title=str(item.get("title", "")),
                url=str(item.get("url", "")),
                date=_date_field(path, item, f"[[document]] {item['file']}"),
                note=str(item.get("date_note", "")),
            )
        )
    pages = []
    for i, item in enumerate(data.get("page", [])):
        if "url" not in item:
            raise SourcesError(f"{path}: [[page]] #{i + 1} needs a 'url'")
        pages.append(
            PageSource(
                url=str(item["url"]),
                title=str(item.get("title", item["url"])),
                publisher=str(item.get("publisher", "Microsoft Learn")),
                date=_date_field(path, item, f"[[page]] {item['url']}"),
                note=str(item.get("date_note", "")),
            )
        )
    aliases = data.get("aliases", {})
    if not isinstance(aliases, dict) or not all(isinstance(v, str) for v in aliases.values()):
        raise SourcesError(f"{path}: [aliases] must map a current name to its former name")
    return SourceList(tuple(documents), tuple(pages), tuple(sorted(aliases.items())))


def read_state(pages_dir: Path) -> list[SyncedPage]:
    """The pages the cache holds (empty when nothing was synced)."""
    state = pages_dir / STATE_FILE
    if not state.exists():
        return []
    try:
        items = json.loads(state.read_text(encoding="utf-8"))
        return [SyncedPage(**item) for item in items if (pages_dir / item["file"]).exists()]
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        log.warning("ignoring unreadable %s: %s", state, exc)
        return []


def source_status(settings: Settings) -> SourceStatus:
    """Compare sources.toml with the cache."""
    assert settings.sources_file is not None
    sources = load_source_list(settings.sources_file)
    synced = read_state(settings.pages_dir)
    have = {normalize_url(p.url) for p in synced}
    missing = tuple(p for p in sources.pages if normalize_url(p.url) not in have)
    return SourceStatus(tuple(synced), missing)


def sync_sources(
    settings: Settings,
    *,
    progress: Callable[[str], None] | None = None,
    client: httpx.Client | None = None,
) -> SyncReport:
    """Bring every referenced page into the cache: from the mirror when one is set, else download."""
    assert settings.sources_file is not None
    sources = load_source_list(settings.sources_file)
    if settings.mirror_dir is not None:
        return _sync_from_mirror(sources, settings.mirror_dir, settings.pages_dir, progress)
    return _sync_by_download(sources, settings, progress, client)


def read_mirror_manifest(mirror_dir: Path) -> list[dict[str, Any]]:
    """The mirror's manifest entries (each with at least url and file)."""
    manifest = mirror_dir / "manifest.json"
    if not mirror_dir.is_dir():
        raise SourcesError(f"mirror folder {mirror_dir} does not exist")
    if not manifest.exists():
        raise SourcesError(f"mirror folder {mirror_dir} has no manifest.json")
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise SourcesError(f"{manifest}: not valid JSON ({exc})") from exc
    if isinstance(data, dict):  # also accept a plain {url: file} mapping
        data = [{"url": url, "file": file} for url, file in data.items()]
    entries = []
    for i, item in enumerate(data):
        if not isinstance(item, dict) or "url" not in item or "file" not in item:
            raise SourcesError(f"{manifest}: entry #{i + 1} needs 'url' and 'file'")
        entries.append(item)
    return entries


def _sync_from_mirror(
    sources: SourceList, mirror_dir: Path, pages_dir: Path, progress: Callable[[str], None] | None
) -> SyncReport:
    entries = read_mirror_manifest(mirror_dir)
    by_url: dict[str, list[dict[str, Any]]] = {}
    for entry in entries:
        by_url.setdefault(normalize_url(entry["url"]), []).append(entry)
    report = SyncReport(origin=f"mirror {mirror_dir}")
    staged: list[tuple[Path, SyncedPage]] = []
    now = _now()
    for page in sources.pages:
        matches = by_url.get(normalize_url(page.url), [])
        if not matches:
            report.missing.append(page)
            continue
        for entry in matches:
            src = mirror_dir / entry["file"]
            if not src.is_file():
                report.failed[page.url] = f"{entry['file']} is listed in the manifest but missing"
                continue
            name = Path(entry["file"]).name
            staged.append(
                (
                    src,
                    SyncedPage(
                        id=Path(name).stem,
                        file=name,
                        url=page.url,
                        title=str(entry.get("title") or page.title),
                        origin="mirror",
                        synced_at=now,
                        date=page.date.isoformat() if page.date else None,
                    ),
                )
            )
            if progress:
                progress(name)
    _write_cache(pages_dir, [(src.read_bytes(), page) for src, page in staged], replace_origin="mirror")
    report.synced = [page for _, page in staged]
    return report


def _sync_by_download(
    sources: SourceList,
    settings: Settings,
    progress: Callable[[str], None] | None,
    client: httpx.Client | None,
) -> SyncReport:
    report = SyncReport(origin="download")
    fetched: list[tuple[bytes, SyncedPage]] = []
    own_client = client is None
    client = client or httpx.Client(
        timeout=settings.download_timeout, follow_redirects=True, headers={"User-Agent": "azcompare/0.1"}
    )
    try:
        for page in sources.pages:
            if progress:
                progress(page.url)
            try:
                response = client.get(page.url)
                response.raise_for_status()
            except httpx.HTTPError as exc:
                report.failed[page.url] = _one_line(exc)
                continue
            ctype = response.headers.get("content-type", "")
            if "html" not in ctype and "markdown" not in ctype and "text/plain" not in ctype:
                report.failed[page.url] = f"not an HTML page ({ctype or 'unknown type'})"
                continue
            markdown, meta = html_to_markdown(response.text, page.url)
            if not markdown.strip():
                report.failed[page.url] = "no readable text in the page"
                continue
            page_id = _slug(page.url)
            date = page.date or parse_date(meta.get("date") or "")
            header = {"title": meta.get("title") or page.title, "url": page.url}
            if date:
                header["date"] = date.isoformat()
            content = _front_matter(header) + markdown
            fetched.append(
                (
                    content.encode("utf-8"),
                    SyncedPage(
                        id=page_id,
                        file=f"{page_id}.md",
                        url=page.url,
                        title=header["title"],
                        origin="download",
                        synced_at=_now(),
                        date=date.isoformat() if date else None,
                    ),
                )
            )
    finally:
        if own_client:
            client.close()
    if fetched:
        _write_cache(settings.pages_dir, fetched, replace_origin="download")
    report.synced = [p for _, p in fetched]
    if not fetched and report.failed:
        report.missing = list(sources.pages)
    return report


def _write_cache(pages_dir: Path, files: list[tuple[bytes, SyncedPage]], *, replace_origin: str) -> None:
    """Write page files and the state atomically enough that a crash never leaves a torn state file."""
    pages_dir.mkdir(parents=True, exist_ok=True)
    previous = read_state(pages_dir)
    new_ids = {p.id for _, p in files}
    # Pages from the other origin stay (a later download can add what the mirror lacks).
    kept = [p for p in previous if p.origin != replace_origin and p.id not in new_ids]
    stale = [p for p in previous if p.origin == replace_origin and p.id not in new_ids]
    for data, page in files:
        target = pages_dir / page.file
        if not target.exists() or target.read_bytes() != data:
            _atomic_write(target, data)
    state = [p.to_dict() for p in kept] + [p.to_dict() for _, p in files]
    _atomic_write(pages_dir / STATE_FILE, json.dumps(state, indent=2, ensure_ascii=False).encode("utf-8"))
    for page in stale:
        (pages_dir / page.file).unlink(missing_ok=True)


def _atomic_write(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _date_field(path: Path, item: dict[str, Any], where: str) -> dt.date | None:
    if "date" not in item:
        return None
    parsed = parse_date(item["date"])
    if parsed is None:
        raise SourcesError(f"{path}: {where} has an unreadable date {item['date']!r} (use YYYY-MM-DD)")
    return parsed


def _slug(url: str) -> str:
    parts = urlsplit(normalize_url(url))
    slug = re.sub(r"[^a-z0-9]+", "-", f"{parts.netloc.split('.')[-2]}-{parts.path}".lower()).strip("-")
    return slug[:100] or hashlib.sha1(url.encode()).hexdigest()[:12]


def _front_matter(meta: dict[str, str]) -> str:
    lines = [f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in meta.items()]
    return "---\n" + "\n".join(lines) + "\n---\n\n"


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
