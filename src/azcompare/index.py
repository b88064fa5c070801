"""The persistent Chroma index: incremental, hash-based builds that are swapped in atomically.

Layout of the index folder::

    index/CURRENT               name of the active version folder (replaced atomically)
    index/v-<time>-<id>/chroma  Chroma PersistentClient data
    index/v-<time>-<id>/links.json   older passages → newer passages on the same point (links.py)
    index/v-<time>-<id>/reader/       what a reader needs besides Chroma, loaded without reading Chroma:
        chunks.json                  every chunk record (id, text, metadata) in reading order
        bm25/                        the BM25 keyword index (bm25s, memory-mapped when opened)
        sentences.npy                one vector per quotable sentence, chunk by chunk (memory-mapped)
        sentence_offsets.npy         where each chunk's sentences start in sentences.npy
        idf.json                     inverse document frequencies of the chunks' terms
    index/v-<time>-<id>/onnx    the embedding model exported to ONNX, for embedding questions (embeddings.py)
    index/v-<time>-<id>/manifest.json

A build copies the active version into a new folder, re-embeds only documents whose hash changed,
links the passages of older sources to the newer ones, writes the reader files and the manifest and then points CURRENT
at it. An interrupted or failed build leaves CURRENT
(and so the previous index) untouched. A changed embedding model or chunker rebuilds everything.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import bm25s
import chromadb
import httpx
import numpy as np
from chromadb.errors import ChromaError
from filelock import FileLock, Timeout

from azcompare.chroma_server import (
    FILE_PART,
    POINTER,
    SERVER_FILES,
    SERVER_PREFIX,
    ServerIndex,
    collection_name,
    connect_server,
    server_cache,
)
from azcompare.corpus.chunking import ChunkerParams, alias_note, chunk_document
from azcompare.corpus.loaders import load_documents
from azcompare.corpus.sources import SourcesError, load_source_list, sync_sources
from azcompare.embeddings import embedding_function, export_query_encoder, model_id
from azcompare.index_state import (
    BM25_DIR,
    CHROMA_DIR,
    CHUNKS_FILE,
    CURRENT,
    IDF_FILE,
    LOCK_FILE,
    MANIFEST,
    OFFSETS_FILE,
    PROGRESS_FILE,
    READER_DIR,
    SENTENCES_FILE,
    VERSION_PREFIX,
    BuildProgress,
    ChromaServerError,
    DiskFull,
    IndexBusy,
    IndexDamaged,
    IndexReadOnly,
    IndexUnavailable,
    clear_progress,
    failure_reason,
    inspect_index,
    is_version_name,
    now_iso,
    orphans,
    read_progress,
    remove_leftovers,
    server_error,
    storage_error,
    write_progress,
)
from azcompare.links import LinkCorpus, LinkRecipe, make_links, write_links
from azcompare.records import chunk_from_record, chunk_metadata, read_all, read_pages
from azcompare.settings import Settings
from azcompare.text import index_terms, quotable_sentences
from azcompare.types import Chunk, Document

log = logging.getLogger(__name__)

COLLECTION = "chunks"
SENTENCES = "sentences"
# Chroma keeps vectors it has not yet written into its HNSW files in a log, and every process that opens
# the collection replays that log into its own in-memory graph, in an order that varies between
# processes: the approximate search, and so the answer, then differed from one process to the next.
# Writing the graph after every batch leaves nothing to replay, so every reader loads the same graph.
# At Chroma's default ef_search (100) the approximate search missed true neighbours: two builds of the same
# corpus disagreed on the 30 nearest passages for 15 of the 266 eval questions, enough to move an eval figure
# by an item. Searching 1000 candidates returns the exact nearest at this size (640 passages; not measured at
# the scale benchmark's 20x); what differs then is only the order of passages at the same distance (dense_search).
EF_SEARCH = 1000
COSINE: dict[str, Any] = {"hnsw": {"space": "cosine", "ef_search": EF_SEARCH, "batch_size": 2, "sync_threshold": 2}}
# 5: the reader files (BM25, sentence vectors, chunks) in every version. 6: EF_SEARCH. An index of an older
# format is rebuilt (answer() does it on first use, as for a changed model): one reader, no second way to open.
SCHEMA_VERSION = 6
EMBED_BATCH = 64
# Records per add request; Chroma's own limit (max_batch_size) is above 5000 here.
ADD_BATCH = 4000
CHROMA_SETTINGS = chromadb.Settings(anonymized_telemetry=False, allow_reset=False)
# Records read from Chroma per request when a build reads a whole collection back.
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
    """The manifest of the active index version (on the Chroma server when settings.chroma_url is set)."""
    assert settings.index_dir is not None
    if settings.chroma_url:
        return server_manifest(settings)
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


def build_needed(settings: Settings) -> str | None:
    """Why a question must wait for an index build (none yet, or made by another recipe); None if not.

    A damaged local index gives None: it is reported, never silently rebuilt inside a question.
    """
    assert settings.index_dir is not None
    if settings.chroma_url:
        return "there was none yet" if server_manifest(settings) is None else rebuild_reason(settings)
    state = inspect_index(settings.index_dir)
    if state.problem:
        return None
    if state.version is None:
        return "there was none yet"
    return rebuild_reason(settings)


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
        if settings.chroma_url:
            return _build_on_server(settings, rebuild=rebuild, progress=_reporting(index_dir, progress))
        return _build_locked(settings, rebuild=rebuild, progress=_reporting(index_dir, progress))
    except ChromaServerError:
        raise
    except httpx.HTTPError as exc:
        assert settings.chroma_url is not None
        raise server_error(exc, settings.chroma_url, settings.chroma_timeout, tuple(settings.secrets())) from exc
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
    """True while some process holds the build lock (a rebuild is under way).

    The probe takes a shared lock, which the builder's exclusive one excludes but other probes do not:
    taking the build lock itself for a moment made two questions answered at once see each other as a build.
    """
    assert settings.index_dir is not None
    try:
        fd = os.open(settings.index_dir / LOCK_FILE, os.O_RDONLY)
    except OSError:  # no lock file: no build ever ran here
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:  # a file system without locks: nobody can be building there
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


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
    documents = _corpus(settings, notices)
    state = inspect_index(settings.index_dir)
    previous_dir = state.version
    problem = state.problem or (_probe(previous_dir) if previous_dir and not rebuild else None)
    if problem:
        notices.append(f"the index was damaged ({problem}): building it again from scratch")
        previous_dir = None
    previous = IndexManifest.read(previous_dir / MANIFEST) if previous_dir else None
    work = _decide(settings, documents, previous, rebuild=rebuild, notices=notices, damaged=bool(problem))
    plan, report = work.plan, work.plan.report
    if previous_dir is not None and not work.needed:
        return _up_to_date(report, previous_dir.name, previous, started)

    version = _version_name()
    target = settings.index_dir / version
    remove_leftovers(settings.index_dir, keep={previous_dir.name} if previous_dir else set())
    try:
        if not work.full and previous_dir is not None:
            shutil.copytree(previous_dir / CHROMA_DIR, target / CHROMA_DIR)
        else:
            (target / CHROMA_DIR).mkdir(parents=True)
        report.total_chunks = _apply(target, plan, settings, progress)
        _link(target, plan, work.recipe)
        _write_reader(target)
        encoder, notice = export_query_encoder(settings, target, previous_dir)
        notices.extend([notice] if notice else [])
        report.version = version
        work.manifest(report.total_chunks, encoder).write(target / MANIFEST)
        _point_current(settings.index_dir, version)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    # Keep the version just replaced: a reader that opened it a moment ago can finish its query.
    remove_leftovers(settings.index_dir, keep={version, previous_dir.name if previous_dir else ""})
    report.seconds = time.perf_counter() - started
    log.info("index %s: %s", version, report.summary())
    return report


def _corpus(settings: Settings, notices: list[str]) -> list[Document]:
    """The documents to index, refreshed from the mirror when there is one."""
    if settings.mirror_dir is not None:
        # Copying from a local mirror needs no network, so every build refreshes from it.
        try:
            sync_sources(settings)
        except SourcesError as exc:
            notices.append(f"mirror not used: {exc}")
    documents = load_documents(settings)
    if not documents:
        raise IndexUnavailable("no documents found: check AZCOMPARE_CORPUS_DIRS and corpus/sources.toml")
    return documents


@dataclass
class _Work:
    """What a build is to do, decided from the documents and the previous version's manifest."""

    plan: _Plan
    full: bool
    needed: bool  # False: the previous version is up to date
    model: str
    params: ChunkerParams
    recipe: LinkRecipe
    documents: list[Document]

    def manifest(self, chunk_count: int, query_encoder: str) -> IndexManifest:
        """The manifest of the version this build makes."""
        return IndexManifest(
            embedding_model=self.model,
            chunker=_recipe(self.params),
            documents=_manifest_documents(self.documents, self.plan.counts),
            built_at=dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            chunk_count=chunk_count,
            links=self.recipe.to_dict(),
            query_encoder=query_encoder,
        )


def _decide(
    settings: Settings,
    documents: list[Document],
    previous: IndexManifest | None,
    *,
    rebuild: bool,
    notices: list[str],
    damaged: bool = False,
) -> _Work:
    """Full or incremental, what to embed, and whether anything is to be done at all (local and server)."""
    params, model, recipe = chunker_params(settings), model_id(settings), link_recipe(settings)
    full, reason = _full_rebuild_reason(previous, model, params, rebuild)
    # Links follow from the stored vectors: a new link recipe relinks without embedding anything again.
    relink = not full and previous is not None and previous.links != recipe.to_dict()
    # An index from before the ONNX export gets one the same way, without embedding anything again.
    export = not full and previous is not None and not previous.query_encoder
    if damaged:
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
    needed = report.changed or relink or export
    return _Work(plan, full, needed, model, params, recipe, documents)


def _up_to_date(report: BuildReport, version: str, previous: IndexManifest | None, started: float) -> BuildReport:
    report.version, report.reason = version, "up to date"
    report.total_chunks = previous.chunk_count if previous else 0
    report.seconds = time.perf_counter() - started
    return report


def _version_name() -> str:
    return f"v-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


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
        return _embed(chunks, sentences, plan, ef, progress)
    finally:
        client.close()


def _embed(chunks: Any, sentences: Any, plan: _Plan, ef: Any, progress: Progress | None) -> int:
    """Embed the plan's chunks and their quotable sentences into the two collections; return the chunk total."""
    sentence_rows = [
        (
            f"{c.id}/{i}",
            s.text + alias_note(s.text, plan.aliases),
            s.text,
            {"doc_id": c.doc_id, "chunk_id": c.id, "position": i},
        )
        for c in plan.to_embed
        for i, s in enumerate(quotable_sentences(c.text))
    ]
    chunk_rows = [(c.id, c.embed_text, c.text, chunk_metadata(c)) for c in plan.to_embed]
    vectors = _encode([r[1] for r in chunk_rows + sentence_rows], ef, progress)
    for collection, rows, offset in ((chunks, chunk_rows, 0), (sentences, sentence_rows, len(chunk_rows))):
        _add_rows(
            collection,
            [(r[0], r[2], r[3], vectors[offset + i]) for i, r in enumerate(rows)],
        )
    plan.report.embedded_chunks = len(chunk_rows)
    plan.report.embedded_sentences = len(sentence_rows)
    return int(chunks.count())


def _encode(texts: list[str], ef: Any, progress: Progress | None) -> list[Any]:
    """Vectors of the texts, in their order, embedded longest first in batches of EMBED_BATCH.

    Texts of like length share a batch, so little of it is padding (sentence-transformers sorts the same
    way within one `encode` call; the build calls it batch by batch to report progress).
    """
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    vectors: list[Any] = [None] * len(texts)
    if progress:
        progress(0, len(texts))
    for start in range(0, len(order), EMBED_BATCH):
        batch = order[start : start + EMBED_BATCH]
        for i, vector in zip(batch, ef([texts[i] for i in batch]), strict=True):
            vectors[i] = vector
        if progress:
            progress(min(start + EMBED_BATCH, len(texts)), len(texts))
    return vectors


def _add_rows(collection: Any, rows: Sequence[tuple[str, str, Any, Any]]) -> None:
    """Add (id, document, metadata, vector) rows in large requests.

    Chroma writes the collection's HNSW files after every request (COSINE's sync_threshold), a cost that
    grows with the collection, so a few large requests build it in a fraction of the time of many small.
    """
    for start in range(0, len(rows), ADD_BATCH):
        batch = rows[start : start + ADD_BATCH]
        collection.add(
            ids=[r[0] for r in batch],
            documents=[r[1] for r in batch],
            metadatas=[r[2] for r in batch],
            embeddings=[r[3] for r in batch],
        )


def _link(target: Path, plan: _Plan, recipe: LinkRecipe) -> None:
    """Link the statements of older sources to newer passages from the vectors just stored; write links.json.

    Every build links the whole corpus again (seconds): a changed page can change any link.
    """
    client = chromadb.PersistentClient(path=str(target / CHROMA_DIR), settings=CHROMA_SETTINGS)
    try:
        _link_collections(target, client.get_collection(COLLECTION), client.get_collection(SENTENCES), plan, recipe)
    finally:
        client.close()


def _link_collections(target: Path, chunks: Any, sentences: Any, plan: _Plan, recipe: LinkRecipe) -> None:
    started = time.perf_counter()
    links = make_links(LinkCorpus.from_collections(chunks, sentences), plan.aliases, recipe)
    write_links(target, links, recipe)
    plan.report.links = len(links)
    plan.report.link_seconds = time.perf_counter() - started


def _write_reader(target: Path) -> None:
    client = chromadb.PersistentClient(path=str(target / CHROMA_DIR), settings=CHROMA_SETTINGS)
    try:
        write_reader_files(target, client.get_collection(COLLECTION), client.get_collection(SENTENCES))
    finally:
        client.close()


def write_reader_files(folder: Path, chunks_collection: Any, sentences_collection: Any) -> None:
    """Write what a reader needs besides Chroma into `folder`/reader, from the two collections of a version.

    The chunks in reading order (by document and position), their BM25 index, the idf table, and the
    vector of every quotable sentence of every chunk in that order (zeros for one Chroma lacks), so
    that opening an index loads files instead of reading every record out of Chroma.
    """
    reader = folder / READER_DIR
    reader.mkdir(parents=True, exist_ok=True)
    data = read_all(chunks_collection, ["documents", "metadatas"])
    rows = list(zip(data["ids"], data["documents"], data["metadatas"], strict=True))
    chunks = [chunk_from_record(i, d, m) for i, d, m in rows]
    order = sorted(range(len(chunks)), key=lambda k: (chunks[k].doc_id, chunks[k].position))
    records = {
        "ids": [rows[k][0] for k in order],
        "documents": [rows[k][1] or "" for k in order],
        "metadatas": [rows[k][2] or {} for k in order],
    }
    _write_json(reader / CHUNKS_FILE, records)
    chunks = [chunks[k] for k in order]

    corpus_tokens = [index_terms(c.embed_text) or ["\u2205"] for c in chunks]
    bm25 = bm25s.BM25()
    bm25.index(corpus_tokens or [["\u2205"]], show_progress=False)
    bm25.save(str(reader / BM25_DIR), show_progress=False)
    df: dict[str, int] = {}
    for tokens in corpus_tokens:
        for term in set(tokens):
            df[term] = df.get(term, 0) + 1
    n = max(len(chunks), 1)
    idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    _write_json(reader / IDF_FILE, {"idf": idf, "max_idf": math.log(1 + (n + 0.5) / 0.5)})

    data = read_all(sentences_collection, ["metadatas", "embeddings"])
    vectors: dict[tuple[str, int], np.ndarray] = {}
    for meta, vector in zip(data["metadatas"], data["embeddings"], strict=True):
        vectors[(str(meta["chunk_id"]), int(meta["position"]))] = np.asarray(vector, dtype=np.float32)
    dim = len(next(iter(vectors.values()))) if vectors else 1
    zero = np.zeros(dim, dtype=np.float32)
    offsets = [0]
    rows_out: list[np.ndarray] = []
    for chunk in chunks:
        found = quotable_sentences(chunk.text)
        rows_out.extend(vectors.get((chunk.id, i), zero) for i in range(len(found)))
        offsets.append(len(rows_out))
    matrix = np.vstack(rows_out) if rows_out else np.zeros((0, dim), np.float32)
    np.save(reader / SENTENCES_FILE, matrix.astype(np.float32, copy=False))
    np.save(reader / OFFSETS_FILE, np.asarray(offsets, dtype=np.int64))


def _write_json(path: Path, payload: Any) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False)


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


def server_manifest(settings: Settings) -> IndexManifest | None:
    """The manifest of the version the server serves (None before the first build)."""
    server = connect_server(settings)
    pointer = server.pointer()
    if pointer is None:
        return None
    version = pointer[0]
    cached = server_cache(settings) / version / MANIFEST
    if cached.is_file():
        found = IndexManifest.read(cached)
        if found is not None:
            return found
    try:
        return IndexManifest(**json.loads(server.read_file(version, MANIFEST)))
    except (ValueError, TypeError) as exc:
        raise ChromaServerError(f"the manifest of {version} on the Chroma server at {server.url} is damaged") from exc


def server_version_folder(settings: Settings, server: ServerIndex, version: str) -> Path:
    """The local folder of a server version's reader files, recreated from the server when missing."""
    cache = server_cache(settings)
    folder = cache / version
    if (folder / MANIFEST).is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    with FileLock(str(cache / ".fetch.lock")):
        if (folder / MANIFEST).is_file():  # another process of this machine fetched it meanwhile
            return folder
        staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".fetch-{version}-"))
        try:
            write_reader_files(staging, server.collection(version, COLLECTION), server.collection(version, SENTENCES))
            for name in SERVER_FILES:  # the manifest last: a folder with a manifest is complete
                (staging / name).write_text(server.read_file(version, name), encoding="utf-8")
            os.replace(staging, folder)
        except OSError:
            raise  # this machine's disk, not the server: storage_error names it
        except Exception as exc:  # the server failed while the files were read from it
            raise server.fail(exc) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    log.info("fetched the reader files of %s from the Chroma server at %s", version, server.url)
    _prune_cache(cache, keep={version, *(server.pointer() or ())})
    return folder


def _prune_cache(cache: Path, keep: set[str]) -> None:
    """Remove cached versions the server no longer serves (open files stay readable until closed)."""
    for child in cache.iterdir():
        if child.is_dir() and is_version_name(child.name) and child.name not in keep:
            shutil.rmtree(child, ignore_errors=True)


def _build_on_server(settings: Settings, *, rebuild: bool, progress: Progress | None) -> BuildReport:
    """Build a new version on the Chroma server and switch its pointer to it (see above)."""
    started = time.perf_counter()
    notices: list[str] = []
    documents = _corpus(settings, notices)
    server = connect_server(settings)
    pointer = server.pointer(fresh=True)
    previous_version = pointer[0] if pointer else None
    previous = server_manifest(settings) if previous_version else None
    work = _decide(settings, documents, previous, rebuild=rebuild, notices=notices)
    plan, report = work.plan, work.plan.report
    if previous_version is not None and not work.needed:
        return _up_to_date(report, previous_version, previous, started)

    version = _version_name()
    keep = {previous_version} if previous_version else set()
    cache = server_cache(settings)
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cache, prefix=f".build-{version}-"))
    try:
        _drop_versions(server, keep)  # what interrupted builds left
        ef = embedding_function(settings)
        client = server.client
        chunks = client.create_collection(
            collection_name(version, COLLECTION), embedding_function=ef, configuration=COSINE
        )
        sentences = client.create_collection(
            collection_name(version, SENTENCES), embedding_function=ef, configuration=COSINE
        )
        if not work.full and previous_version is not None:
            stale = plan.report.updated + plan.report.removed
            for part, target in ((COLLECTION, chunks), (SENTENCES, sentences)):
                _copy_collection(server.collection(previous_version, part), target, stale)
        report.total_chunks = _embed(chunks, sentences, plan, ef, progress)
        _link_collections(staging, chunks, sentences, plan, work.recipe)
        write_reader_files(staging, chunks, sentences)
        # The export stays on this machine (the server keeps only the manifest and links): readers elsewhere
        # use their own machine's export, or torch (embeddings.query_embedder).
        encoder, notice = export_query_encoder(
            settings, staging, cache / previous_version if previous_version else None
        )
        notices.extend([notice] if notice else [])
        report.version = version
        work.manifest(report.total_chunks, encoder).write(staging / MANIFEST)
        files = client.create_collection(collection_name(version, "files"))
        _store_files(files, staging)
        _switch(server, version, previous_version or "")
    except ChromaError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise server.fail(exc) from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    os.replace(staging, cache / version)
    # Keep the version just replaced: a reader that opened it a moment ago can finish its query.
    _drop_versions(server, {version, *keep})
    _prune_cache(cache, {version, *keep})
    report.seconds = time.perf_counter() - started
    log.info("index %s on %s: %s", version, server.url, report.summary())
    return report


def _copy_collection(source: Any, target: Any, stale: list[str]) -> None:
    """Copy the records (vectors included) of documents that did not change: nothing is embedded again."""
    for data in read_pages(source, ["documents", "metadatas", "embeddings"]):
        rows = [r for r in zip(data["ids"], data["documents"], data["metadatas"], data["embeddings"], strict=True)]
        _add_rows(target, [r for r in rows if (r[2] or {}).get("doc_id") not in stale])


def _store_files(files: Any, folder: Path) -> None:
    """Store manifest.json and links.json as documents (split in parts), so other machines can read them."""
    for name in SERVER_FILES:
        text = (folder / name).read_text(encoding="utf-8")
        parts = [text[i : i + FILE_PART] for i in range(0, len(text), FILE_PART)] or [""]
        files.add(
            ids=[f"{name}/{i}" for i in range(len(parts))],
            documents=parts,
            metadatas=[{"file": name, "part": i} for i in range(len(parts))],
            embeddings=[[1.0] for _ in parts],  # a collection needs vectors; these are never searched
        )


def _switch(server: ServerIndex, version: str, previous: str) -> None:
    """Point readers at the new version: one metadata write, seen by every process at its next look."""
    meta = {"version": version, "previous": previous, "switched_at": now_iso()}
    pointer = server.client.get_or_create_collection(POINTER, metadata=meta)
    pointer.modify(metadata=meta)
    server.pointer(fresh=True)


def _drop_versions(server: ServerIndex, keep: set[str]) -> list[str]:
    """Delete the collection sets of versions not in `keep` (older versions, unfinished builds)."""
    dropped: list[str] = []
    for collection in server.client.list_collections():
        name = collection.name if hasattr(collection, "name") else str(collection)
        if not name.startswith(SERVER_PREFIX + VERSION_PREFIX):
            continue
        version = name[len(SERVER_PREFIX) :].rsplit("-", 1)[0]
        if version not in keep:
            server.client.delete_collection(name)
            dropped.append(name)
    return dropped
