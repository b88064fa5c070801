"""The persistent Chroma index: incremental, hash-based builds that are swapped in atomically.

Layout of the index folder::

    index/CURRENT               name of the active version folder (replaced atomically)
    index/v-<time>-<id>/chroma  Chroma PersistentClient data
    index/v-<time>-<id>/links.json   older passages → newer passages on the same point (links.py)
    index/v-<time>-<id>/onnx    the embedding model exported to ONNX, for embedding questions (embeddings.py)
    index/v-<time>-<id>/manifest.json

A build copies the active version into a new folder, re-embeds only documents whose hash changed,
links the passages of older sources to the newer ones, writes the manifest and then points CURRENT
at it. An interrupted or failed build leaves CURRENT
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
from chromadb.errors import ChromaError
from filelock import FileLock, Timeout

from azcompare.corpus.chunking import ChunkerParams, alias_note, chunk_document
from azcompare.corpus.loaders import load_documents
from azcompare.corpus.sources import SourcesError, load_source_list, sync_sources
from azcompare.embeddings import embedding_function, export_query_encoder, model_id
from azcompare.index_state import (
    CHROMA_DIR,
    CURRENT,
    LOCK_FILE,
    MANIFEST,
    PROGRESS_FILE,
    BuildProgress,
    DiskFull,
    IndexBusy,
    IndexDamaged,
    IndexReadOnly,
    IndexUnavailable,
    clear_progress,
    failure_reason,
    inspect_index,
    now_iso,
    orphans,
    read_progress,
    remove_leftovers,
    storage_error,
    write_progress,
)
from azcompare.links import LinkCorpus, LinkRecipe, make_links, write_links
from azcompare.settings import Settings
from azcompare.text import quotable_sentences
from azcompare.types import Chunk, Document

log = logging.getLogger(__name__)

COLLECTION = "chunks"
SENTENCES = "sentences"
# Chroma keeps vectors it has not yet written into its HNSW files in a log, and every process that opens
# the collection replays that log into its own in-memory graph, in an order that varies between
# processes: the approximate search, and so the answer, then differed from one process to the next.
# Writing the graph after every batch leaves nothing to replay, so every reader loads the same graph.
COSINE: dict[str, Any] = {"hnsw": {"space": "cosine", "batch_size": 2, "sync_threshold": 2}}
SCHEMA_VERSION = 4  # 4: links.json in every version
EMBED_BATCH = 64
CHROMA_SETTINGS = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
# How often a waiting process looks at the lock, and a running build writes its progress (seconds).
POLL_SECONDS = 0.5

Progress = Callable[[int, int], None]
WaitNotice = Callable[[BuildProgress | None], None]


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
    links: int = 0
    link_seconds: float = 0.0
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
            f"and {self.embedded_sentences} sentences, made {self.links} links from older statements to newer "
            f"passages ({self.link_seconds:.1f}s), in {self.seconds:.1f}s"
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
    links: dict[str, Any] = field(default_factory=dict)  # the LinkRecipe links.json was made with
    query_encoder: str = ""  # folder of the ONNX export that embeds questions ("": none, use torch)

    @classmethod
    def read(cls, path: Path) -> IndexManifest | None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except (OSError, ValueError, TypeError):  # ValueError: bad JSON or bytes that are not UTF-8
            return None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8")


def current_version(index_dir: Path) -> Path | None:
    """The active, complete version folder; None when there is none or it cannot be used."""
    return inspect_index(index_dir).version


def read_manifest(settings: Settings) -> IndexManifest | None:
    """The manifest of the active index version."""
    assert settings.index_dir is not None
    folder = current_version(settings.index_dir)
    return IndexManifest.read(folder / MANIFEST) if folder else None


def index_is_current(settings: Settings) -> bool:
    """True when an index exists and was built with this format, embedding model and chunker."""
    return read_manifest(settings) is not None and rebuild_reason(settings) is None


def rebuild_reason(settings: Settings) -> str | None:
    """Why the active index must be built again before use ("embedding model changed …"); None if not."""
    manifest = read_manifest(settings)
    if manifest is None:
        return None
    full, reason = _full_rebuild_reason(manifest, model_id(settings), chunker_params(settings), rebuild=False)
    if full:
        return reason
    return "link settings changed" if manifest.links != link_recipe(settings).to_dict() else None


def link_recipe(settings: Settings) -> LinkRecipe:
    """How older passages are linked to newer ones: "older" is `dated_span_days` before the newest source."""
    return LinkRecipe(span_days=settings.dated_span_days)


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
    on_wait: WaitNotice | None = None,
) -> BuildReport:
    """Bring the index up to date with the corpus and swap the result in atomically.

    When another process is building, wait up to `wait` seconds for it, calling `on_wait` with its
    progress about twice a second, then raise IndexBusy. A damaged index is rebuilt from scratch.
    """
    assert settings.index_dir is not None
    index_dir = settings.index_dir
    lock = _acquire(index_dir, wait, on_wait)
    try:
        return _build_locked(settings, rebuild=rebuild, progress=_reporting(index_dir, progress))
    except (OSError, ChromaError) as exc:
        error = storage_error(exc, index_dir)
        if isinstance(error, DiskFull | IndexReadOnly):  # other failures keep their own message
            raise error from exc
        raise
    finally:
        clear_progress(index_dir)
        lock.release()


def _acquire(index_dir: Path, wait: float, on_wait: WaitNotice | None) -> FileLock:
    """The build lock, or IndexBusy once `wait` seconds have passed (IndexReadOnly when it cannot exist)."""
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(index_dir / LOCK_FILE))
        deadline = time.monotonic() + wait
        while True:
            try:
                lock.acquire(timeout=min(POLL_SECONDS, max(deadline - time.monotonic(), 0.0)))
                return lock
            except Timeout:
                if time.monotonic() >= deadline:
                    raise IndexBusy(busy_message(index_dir)) from None
                if on_wait is not None:
                    on_wait(read_progress(index_dir))
    except OSError as exc:
        raise storage_error(exc, index_dir) from exc


def busy_message(index_dir: Path) -> str:
    """What to tell a user who cannot wait for the build another process is running."""
    running = read_progress(index_dir)
    detail = f" ({running.describe()})" if running else ""
    return f"the index is being built by another process{detail}; try again when it is done"


def _reporting(index_dir: Path, progress: Progress | None) -> Progress:
    """Pass progress on, and write it (at most twice a second) for processes waiting for this build."""
    started, last = now_iso(), 0.0

    def report(done: int, total: int) -> None:
        nonlocal last
        if progress is not None:
            progress(done, total)
        if done >= total or time.monotonic() - last >= POLL_SECONDS:
            last = time.monotonic()
            write_progress(index_dir, BuildProgress(os.getpid(), started, done, total))

    report(0, 0)
    return report


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
    lock_file = settings.index_dir / LOCK_FILE
    if not lock_file.exists():
        return False
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    except OSError:  # read-only storage: nobody can be building there
        return False
    lock.release()
    return False


def remove_orphans(settings: Settings) -> list[str]:
    """Delete what interrupted builds left behind (version folders, a progress file) when no build runs.

    Returns the names of the folders removed. A process calls this when it first opens the index.
    """
    assert settings.index_dir is not None
    index_dir = settings.index_dir
    if not orphans(index_dir) and not (index_dir / PROGRESS_FILE).exists():
        return []
    lock = FileLock(str(index_dir / LOCK_FILE))
    try:
        lock.acquire(timeout=0)
    except (Timeout, OSError):
        return []  # a build is running (its folder is not an orphan) or the folder is read-only
    try:
        found = orphans(index_dir)
        removed = remove_leftovers(index_dir, keep=set(os.listdir(index_dir)) - found)
        clear_progress(index_dir)
    finally:
        lock.release()
    if removed:
        log.warning("removed %d unfinished index version(s) left by an interrupted build: %s", len(removed), removed)
    return removed


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
    state = inspect_index(settings.index_dir)
    previous_dir = state.version
    problem = state.problem or (_probe(previous_dir) if previous_dir and not rebuild else None)
    if problem:
        notices.append(f"the index was damaged ({problem}): building it again from scratch")
        previous_dir = None
    previous = IndexManifest.read(previous_dir / MANIFEST) if previous_dir else None
    recipe = link_recipe(settings)
    full, reason = _full_rebuild_reason(previous, model, params, rebuild)
    # Links follow from the stored vectors: a new link recipe relinks without embedding anything again.
    relink = not full and previous is not None and previous.links != recipe.to_dict()
    # An index from before the ONNX export gets one the same way, without embedding anything again.
    export = not full and previous is not None and not previous.query_encoder
    if problem:
        reason = "the index was damaged"
    if full and previous is not None and not rebuild:
        notices.append(f"{reason}: rebuilding the whole index")
    plan = _plan(documents, None if full else previous, params)
    report = plan.report
    report.full, report.reason, report.notices = full, reason, notices
    if relink and not report.changed:
        report.reason = "link settings changed"
    elif export and not report.changed:
        report.reason = "adding the ONNX query encoder"
    if previous_dir is not None and not report.changed and not relink and not export:
        report.version, report.reason = previous_dir.name, "up to date"
        report.total_chunks = previous.chunk_count if previous else 0
        report.seconds = time.perf_counter() - started
        return report

    version = f"v-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    target = settings.index_dir / version
    remove_leftovers(settings.index_dir, keep={previous_dir.name} if previous_dir else set())
    try:
        if not full and previous_dir is not None:
            shutil.copytree(previous_dir / CHROMA_DIR, target / CHROMA_DIR)
        else:
            (target / CHROMA_DIR).mkdir(parents=True)
        report.total_chunks = _apply(target, plan, settings, progress)
        _link(target, plan, recipe)
        encoder, notice = export_query_encoder(settings, target, previous_dir)
        notices.extend([notice] if notice else [])
        report.version = version
        IndexManifest(
            embedding_model=model,
            chunker=_recipe(params),
            documents=_manifest_documents(documents, plan.counts),
            built_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            chunk_count=report.total_chunks,
            links=recipe.to_dict(),
            query_encoder=encoder,
        ).write(target / MANIFEST)
        _point_current(settings.index_dir, version)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    # Keep the version just replaced: a reader that opened it a moment ago can finish its query.
    remove_leftovers(settings.index_dir, keep={version, previous_dir.name if previous_dir else ""})
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
    client = chromadb.PersistentClient(path=str(target / CHROMA_DIR), settings=CHROMA_SETTINGS)
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


def _link(target: Path, plan: _Plan, recipe: LinkRecipe) -> None:
    """Link the statements of older sources to newer passages from the vectors just stored; write links.json.

    Every build links the whole corpus again (seconds): a changed page can change any link.
    """
    started = time.perf_counter()
    client = chromadb.PersistentClient(path=str(target / CHROMA_DIR), settings=CHROMA_SETTINGS)
    try:
        corpus = LinkCorpus.from_collections(client.get_collection(COLLECTION), client.get_collection(SENTENCES))
    finally:
        client.close()
    links = make_links(corpus, plan.aliases, recipe)
    write_links(target, links, recipe)
    plan.report.links = len(links)
    plan.report.link_seconds = time.perf_counter() - started


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


def _probe(version_dir: Path) -> str | None:
    """Why the version's Chroma data cannot be read (None when it can): a build must not copy damage.

    A full disk or read-only storage is not damage: those stop the build with their own message.
    """
    client = None
    try:
        client = chromadb.PersistentClient(path=str(version_dir / CHROMA_DIR), settings=CHROMA_SETTINGS)
        for name in (COLLECTION, SENTENCES):
            collection = client.get_collection(name)
            stored = collection.get(limit=1, include=["embeddings"])["embeddings"]
            if len(stored):
                collection.query(query_embeddings=[stored[0]], n_results=1, include=[])
        return None
    except Exception as exc:
        error = storage_error(exc, version_dir.parent)
        if not isinstance(error, IndexDamaged):
            raise error from exc
        return failure_reason(exc)
    finally:
        if client is not None:
            client.close()
