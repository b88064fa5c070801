"""The persistent Chroma index: incremental, hash-based builds that are swapped in atomically.

Layout of the index folder::

    index/CURRENT               name of the active version folder (replaced atomically)
    index/v-<time>-<id>/chroma  Chroma PersistentClient data
    index/v-<time>-<id>/manifest.json

A build copies the active version into a new folder, re-embeds only documents whose hash changed,
writes the manifest and then points CURRENT at it. An interrupted or failed build leaves CURRENT
(and so the previous index) untouched. A changed embedding model or chunker rebuilds everything.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import chromadb
from filelock import FileLock, Timeout

from azcompare.corpus.chunking import ChunkerParams, alias_note, chunk_document
from azcompare.corpus.loaders import load_documents
from azcompare.corpus.sources import SourcesError, load_source_list, sync_sources
from azcompare.embeddings import embedding_function, model_id
from azcompare.settings import Settings
from azcompare.text import quotable_sentences
from azcompare.types import Chunk, Document

log = logging.getLogger(__name__)

COLLECTION = "chunks"
SENTENCES = "sentences"
COSINE: dict[str, Any] = {"hnsw": {"space": "cosine"}}
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
SCHEMA_VERSION = 2
EMBED_BATCH = 64
CHROMA_SETTINGS = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)

Progress = Callable[[int, int], None]


class IndexUnavailable(RuntimeError):
    """The index cannot be built or opened; the message says why and what to do."""


class IndexBusy(IndexUnavailable):
    """Another process is building the index right now."""


@dataclass
class BuildReport:
    """What a build did."""

    version: str
    full: bool
    reason: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    embedded_chunks: int = 0
    embedded_sentences: int = 0
    total_chunks: int = 0
    seconds: float = 0.0
    notices: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.full)

    def summary(self) -> str:
        what = "full build" if self.full else "incremental update"
        docs = (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged"
        )
        return (
            f"{what} ({self.reason}): {docs}; embedded {self.embedded_chunks} of {self.total_chunks} chunks "
            f"and {self.embedded_sentences} sentences in {self.seconds:.1f}s"
        )


@dataclass(frozen=True)
class IndexManifest:
    """What an index version holds and how it was made."""

    embedding_model: str
    chunker: dict[str, int]
    documents: dict[str, dict[str, Any]]
    built_at: str
    chunk_count: int
    schema: int = SCHEMA_VERSION

    @classmethod
    def read(cls, path: Path) -> IndexManifest | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, json.JSONDecodeError, TypeError):
            return None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")


def current_version(index_dir: Path) -> Path | None:
    """The active version folder, or None when no index has been built."""
    pointer = index_dir / CURRENT
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    folder = index_dir / name
    return folder if name and (folder / MANIFEST).exists() else None


def read_manifest(settings: Settings) -> IndexManifest | None:
    """The manifest of the active index version."""
    assert settings.index_dir is not None
    folder = current_version(settings.index_dir)
    return IndexManifest.read(folder / MANIFEST) if folder else None


def index_is_current(settings: Settings) -> bool:
    """True when an index exists and was built with this format, embedding model and chunker."""
    manifest = read_manifest(settings)
    return (
        manifest is not None
        and not _full_rebuild_reason(manifest, model_id(settings), chunker_params(settings), rebuild=False)[0]
    )


def chunker_params(settings: Settings) -> ChunkerParams:
    """The chunking recipe: sizes from settings, renamed-term aliases from sources.toml."""
    assert settings.sources_file is not None
    return ChunkerParams(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        aliases=load_source_list(settings.sources_file).aliases,
    )


def build_index(
    settings: Settings,
    *,
    rebuild: bool = False,
    progress: Progress | None = None,
    wait: float = 600.0,
) -> BuildReport:
    """Bring the index up to date with the corpus and swap the result in atomically."""
    assert settings.index_dir is not None
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.index_dir / ".build.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout as exc:
        raise IndexBusy("the index is being rebuilt by another process; try again in a moment") from exc
    try:
        return _build_locked(settings, rebuild=rebuild, progress=progress)
    finally:
        lock.release()


@dataclass
class _Plan:
    """Which documents to add, replace or drop, and the chunks to embed."""

    report: BuildReport
    to_embed: list[Chunk]
    counts: dict[str, int]
    aliases: tuple[tuple[str, str], ...] = ()


def build_in_progress(settings: Settings) -> bool:
    """True while some process holds the build lock (a rebuild is under way)."""
    assert settings.index_dir is not None
    lock_file = settings.index_dir / ".build.lock"
    if not lock_file.exists():
        return False
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


def _build_locked(settings: Settings, *, rebuild: bool, progress: Progress | None) -> BuildReport:
    assert settings.index_dir is not None
    started = time.perf_counter()
    notices: list[str] = []
    if settings.mirror_dir is not None:
        # Copying from a local mirror needs no network, so every build refreshes from it.
        try:
            sync_sources(settings)
        except SourcesError as exc:
            notices.append(f"mirror not used: {exc}")
    documents = load_documents(settings)
    if not documents:
        raise IndexUnavailable("no documents found: check AZCOMPARE_CORPUS_DIRS and corpus/sources.toml")

    params = chunker_params(settings)
    model = model_id(settings)
    previous_dir = current_version(settings.index_dir)
    previous = IndexManifest.read(previous_dir / MANIFEST) if previous_dir else None
    full, reason = _full_rebuild_reason(previous, model, params, rebuild)
    if full and previous is not None and not rebuild:
        notices.append(f"{reason}: rebuilding the whole index")
    plan = _plan(documents, None if full else previous, params)
    report = plan.report
    report.full, report.reason, report.notices = full, reason, notices
    if previous_dir is not None and not report.changed:
        report.version, report.reason = previous_dir.name, "up to date"
        report.total_chunks = previous.chunk_count if previous else 0
        report.seconds = time.perf_counter() - started
        return report

    version = f"v-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    target = settings.index_dir / version
    _remove_stale_versions(settings.index_dir, keep={previous_dir.name} if previous_dir else set())
    try:
        if not full and previous_dir is not None:
            shutil.copytree(previous_dir / "chroma", target / "chroma")
        else:
            (target / "chroma").mkdir(parents=True)
        report.total_chunks = _apply(target, plan, settings, progress)
        report.version = version
        IndexManifest(
            embedding_model=model,
            chunker=_recipe(params),
            documents=_manifest_documents(documents, plan.counts),
            built_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            chunk_count=report.total_chunks,
        ).write(target / MANIFEST)
        _point_current(settings.index_dir, version)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    # Keep the version just replaced: a reader that opened it a moment ago can finish its query.
    _remove_stale_versions(settings.index_dir, keep={version, previous_dir.name if previous_dir else ""})
    report.seconds = time.perf_counter() - started
    log.info("index %s: %s", version, report.summary())
    return report


def _full_rebuild_reason(
    previous: IndexManifest | None, model: str, params: ChunkerParams, rebuild: bool
) -> tuple[bool, str]:
    if rebuild:
        return True, "rebuild requested"
    if previous is None:
        return True, "no index yet"
    if previous.schema != SCHEMA_VERSION:
        return True, "index format changed"
    if previous.embedding_model != model:
        return True, f"embedding model changed ({previous.embedding_model} → {model})"
    recipe = _recipe(params)
    if previous.chunker != recipe:
        changed = sorted(k for k in recipe.keys() | previous.chunker.keys() if recipe.get(k) != previous.chunker.get(k))
        return True, f"chunker settings changed ({', '.join(changed)})"
    return False, "documents changed"


def _recipe(params: ChunkerParams) -> dict[str, Any]:
    """The chunker parameters as they read back from the manifest's JSON (tuples become lists)."""
    return json.loads(json.dumps(asdict(params)))


def _plan(documents: list[Document], previous: IndexManifest | None, params: ChunkerParams) -> _Plan:
    """Compare document hashes with the previous manifest (None: everything is new)."""
    old_docs = previous.documents if previous else {}
    report = BuildReport(version="", full=previous is None, reason="")
    to_embed: list[Chunk] = []
    counts: dict[str, int] = {}
    for doc in documents:
        before = old_docs.get(doc.id)
        if before is None:
            report.added.append(doc.id)
        elif before.get("sha256") != doc.sha256:
            report.updated.append(doc.id)
        else:
            report.unchanged.append(doc.id)
            counts[doc.id] = int(before.get("chunks", 0))
            continue
        chunks = chunk_document(doc, params)
        counts[doc.id] = len(chunks)
        to_embed.extend(chunks)
    report.removed = sorted(set(old_docs) - {d.id for d in documents})
    return _Plan(report, to_embed, counts, params.aliases)


def _apply(target: Path, plan: _Plan, settings: Settings, progress: Progress | None) -> int:
    """Delete the entries of changed documents and embed the new ones; return the chunk total.

    Two collections: `chunks` (what retrieval searches) and `sentences` (one vector per quotable
    sentence of each chunk, which lets the extractive answerer pick sentences by meaning).
    """
    ef = embedding_function(settings)
    client = chromadb.PersistentClient(path=str(target / "chroma"), settings=CHROMA_SETTINGS)
    try:
        chunks = client.get_or_create_collection(COLLECTION, embedding_function=ef, configuration=COSINE)
        sentences = client.get_or_create_collection(SENTENCES, embedding_function=ef, configuration=COSINE)
        stale = plan.report.updated + plan.report.removed
        if stale:
            chunks.delete(where={"doc_id": {"$in": stale}})
            sentences.delete(where={"doc_id": {"$in": stale}})
        units = [(chunks, c.id, c.embed_text, c.text, chunk_metadata(c)) for c in plan.to_embed] + [
            (
                sentences,
                f"{c.id}/{i}",
                s.text + alias_note(s.text, plan.aliases),
                s.text,
                {"doc_id": c.doc_id, "chunk_id": c.id, "position": i},
            )
            for c in plan.to_embed
            for i, s in enumerate(quotable_sentences(c.text))
        ]
        total = len(units)
        if progress:
            progress(0, total)
        for start in range(0, total, EMBED_BATCH):
            batch = units[start : start + EMBED_BATCH]
            vectors = ef([u[2] for u in batch])
            for collection in {id(u[0]): u[0] for u in batch}.values():
                rows = [(u, v) for u, v in zip(batch, vectors, strict=True) if u[0] is collection]
                collection.add(
                    ids=[u[1] for u, _ in rows],
                    embeddings=[v for _, v in rows],
                    documents=[u[3] for u, _ in rows],
                    metadatas=[u[4] for u, _ in rows],
                )
            if progress:
                progress(min(start + EMBED_BATCH, total), total)
        plan.report.embedded_chunks = len(plan.to_embed)
        plan.report.embedded_sentences = total - len(plan.to_embed)
        return chunks.count()
    finally:
        client.close()


def _manifest_documents(documents: Iterable[Document], counts: dict[str, int]) -> dict[str, dict[str, Any]]:
    return {
        d.id: {
            "sha256": d.sha256,
            "title": d.title,
            "url": d.url,
            "date": d.date.isoformat() if d.date else None,
            "kind": d.kind,
            "chunks": counts.get(d.id, 0),
        }
        for d in documents
    }


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


def _point_current(index_dir: Path, version: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=index_dir, prefix=".CURRENT.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(version + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, index_dir / CURRENT)


def _remove_stale_versions(index_dir: Path, keep: set[str]) -> None:
    for child in index_dir.iterdir():
        if child.is_dir() and child.name.startswith("v-") and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(".CURRENT.") and child.suffix == ".tmp":
            child.unlink(missing_ok=True)
