"""The naive baseline: the usual RAG-tutorial pipeline, scored beside ours to show what our parts add.

What it does, as the tutorials do: read each raw file as it is (no front-matter parsing, no cleaning
of Hugo or Microsoft Learn syntax, tables left as pipes), split it into fixed 1000-character pieces
with 200 characters of overlap, embed the pieces with the same sentence-transformers model into a
Chroma collection, and retrieve the 4 nearest pieces by dense similarity alone (no BM25, no fusion,
no sentence ranking, no service boost, no date metadata). What it shares with ours, so that the
difference is the ingestion and retrieval: question cleaning, follow-up condensation, the embedding
model and the extractive answerer with its abstention threshold.

`NaiveKnowledgeBase` gives the extractive answerer the interface of `retrieval.KnowledgeBase` that it
uses (`idf`, `sentences`), over a Chroma collection in a temporary folder removed on `close()`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

import chromadb
import numpy as np
from langchain_text_splitters import RecursiveCharacterTextSplitter

from azcompare.answering.condense import Turn, condense_question
from azcompare.answering.extractive import extractive_answer
from azcompare.answering.pipeline import QuestionError, clean_question
from azcompare.corpus.loaders import load_documents
from azcompare.corpus.sources import SourcesError, sync_sources
from azcompare.embeddings import embedding_function, model_id
from azcompare.index import CHROMA_SETTINGS, COSINE
from azcompare.retrieval import SearchResult, SentenceUnit
from azcompare.settings import Settings, apply_offline_env
from azcompare.text import WordForms, index_terms, match_key, quotable_sentences, terms
from azcompare.types import Answer, Chunk, Hit, Link

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200
TOP_K = 4
NAME = "baseline"
_BATCH = 64

Progress = Callable[[int, int], None]


def describe(settings: Settings) -> dict[str, Any]:
    """The baseline's recipe, recorded in a run's config.json."""
    return {
        "name": NAME,
        "splitter": f"RecursiveCharacterTextSplitter(chunk_size={CHUNK_SIZE}, chunk_overlap={CHUNK_OVERLAP})",
        "input": "raw files (no cleaning, no front matter, tables as text)",
        "retrieval": f"dense only, top {TOP_K}",
        "embedding_model": model_id(settings),
        "answerer": "extractive (same as ours)",
        "abstain_threshold": settings.abstain_threshold,
    }


def split_raw(doc_id: str, title: str, raw: str) -> list[Chunk]:
    """Fixed-size character splits of a raw file, as the tutorials make them."""
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP)
    return [
        Chunk(id=f"{doc_id}#{i}", doc_id=doc_id, title=title, text=piece, position=i)
        for i, piece in enumerate(splitter.split_text(raw))
    ]


def raw_chunks(settings: Settings) -> list[Chunk]:
    """The baseline's chunks: the same documents as our index, read raw from their files.

    With a mirror set, the pages are copied in first, exactly as our index build does.
    """
    if settings.mirror_dir is not None:
        # Our index build reports a broken mirror; the baseline uses whatever pages are there.
        with contextlib.suppress(SourcesError):
            sync_sources(settings)
    chunks: list[Chunk] = []
    for doc in load_documents(settings):  # for the ids and file paths only; the text is read raw
        path = Path(doc.path)
        chunks.extend(split_raw(doc.id, path.name, path.read_text(encoding="utf-8-sig")))
    return chunks


class NaiveKnowledgeBase:
    """A Chroma collection of raw chunks in a temporary folder, searched by dense similarity only."""

    def __init__(self, settings: Settings, chunks: Sequence[Chunk], progress: Progress | None = None) -> None:
        self.chunks = list(chunks)
        self._ef = embedding_function(settings)
        self._dir = Path(tempfile.mkdtemp(prefix="azcompare-baseline-"))
        self._client = chromadb.PersistentClient(path=str(self._dir), settings=CHROMA_SETTINGS)
        try:
            self._collection = self._client.create_collection(
                "baseline", embedding_function=self._ef, configuration=COSINE
            )
            self._add(progress)
        except BaseException:
            self.close()
            raise
        self._by_id = {c.id: c for c in self.chunks}
        df: dict[str, int] = {}
        for chunk in self.chunks:
            for term in set(index_terms(chunk.text)):
                df[term] = df.get(term, 0) + 1
        n = max(len(self.chunks), 1)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._max_idf = math.log(1 + (n + 0.5) / 0.5)
        self._sentences: dict[str, list[SentenceUnit]] = {}
        self.lazy_embed_ms = 0.0  # time spent embedding sentences on first retrieval (ours does it at index time)

    def _add(self, progress: Progress | None) -> None:
        total = len(self.chunks)
        if progress:
            progress(0, total)
        for start in range(0, total, _BATCH):
            batch = self.chunks[start : start + _BATCH]
            self._collection.add(
                ids=[c.id for c in batch],
                documents=[c.text for c in batch],
                metadatas=[{"doc_id": c.doc_id, "position": c.position} for c in batch],
            )
            if progress:
                progress(min(start + _BATCH, total), total)

    def idf(self, term: str) -> float:
        """Inverse document frequency over the raw chunks (what the extractive answerer weighs terms by)."""
        return self._idf.get(match_key(term), self._max_idf)

    def knows(self, term: str) -> bool:
        """Whether any raw chunk holds the term."""
        return match_key(term) in self._idf

    @cached_property
    def _word_forms(self) -> WordForms:
        return WordForms(self._idf)

    def forms(self, key: str) -> frozenset[str]:
        """The raw chunks' match keys that are forms of the same word as `key` (text.WordForms), as in ours."""
        return self._word_forms(key)

    @property
    def newest_date(self) -> dt.date | None:
        """The newest document's date (the answerer dates older sources against it)."""
        return max((c.date for c in self.chunks if c.date), default=None)

    def section(self, chunk: Chunk) -> list[Chunk]:
        """The naive pipeline knows no sections: a raw chunk is its own (answering.steps reads a how-to's)."""
        return [chunk]

    def newer(self, chunk_id: str) -> list[Link]:
        """The naive pipeline links nothing."""
        return []

    def sentences(self, chunk: Chunk) -> list[SentenceUnit]:
        """A chunk's quotable sentences with embeddings, computed when the chunk is first retrieved.

        Embedding only retrieved chunks' sentences keeps the baseline build to one vector per chunk.
        """
        units = self._sentences.get(chunk.id)
        if units is None:
            started = time.perf_counter()
            found = quotable_sentences(chunk.text)
            vectors = self._ef([s.text for s in found]) if found else []
            self.lazy_embed_ms += (time.perf_counter() - started) * 1000
            units = [
                SentenceUnit(s, terms(s.text), np.asarray(v, dtype=np.float32))
                for s, v in zip(found, vectors, strict=True)
            ]
            self._sentences[chunk.id] = units
        return units

    def search(self, text: str, top_k: int = TOP_K) -> SearchResult:
        """The `top_k` nearest raw chunks by cosine similarity."""
        t0 = time.perf_counter()
        embedding = np.asarray(self._ef([text])[0], dtype=np.float32)
        t1 = time.perf_counter()
        n = min(top_k, len(self.chunks))
        found = self._collection.query(query_embeddings=[embedding], n_results=n, include=["distances"])
        t2 = time.perf_counter()
        hits = [
            Hit(chunk=self._by_id[cid], score=1.0 - float(d), rank=rank, dense_score=1.0 - float(d))
            for rank, (cid, d) in enumerate(zip(found["ids"][0], found["distances"][0], strict=True), 1)
        ]
        timings = {"embed_ms": (t1 - t0) * 1000, "vector_search_ms": (t2 - t1) * 1000}
        best = max((h.score for h in hits), default=0.0)
        return SearchResult(hits=hits, query_vector=embedding, timings=timings, best_dense=best)

    def close(self) -> None:
        """Release Chroma and remove the temporary folder."""
        try:
            self._client.close()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


class NaivePipeline:
    """The baseline behind the same call shape as `answer()`, so the runner scores it the same way."""

    def __init__(self, settings: Settings, progress: Progress | None = None) -> None:
        apply_offline_env()
        self.settings = settings
        self.kb = NaiveKnowledgeBase(settings, raw_chunks(settings), progress)

    def __enter__(self) -> NaivePipeline:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove the baseline's temporary index."""
        self.kb.close()

    def answer(
        self,
        question: str,
        history: Sequence[Turn] | None = None,
        provider: str | None = None,
        *,
        settings: Settings | None = None,
        top_k: int | None = None,
    ) -> Answer:
        """Answer with the extractive answerer over the naive retrieval; `provider` and `top_k` are fixed."""
        settings = settings or self.settings
        started = time.perf_counter()
        raw = question if isinstance(question, str) else ""
        try:
            text = clean_question(question, settings.max_question_chars)
        except QuestionError as exc:
            return Answer(question=raw, text=str(exc), status="rejected", provider=NAME)
        turns = _clean_turns(history, settings.max_question_chars)
        t0 = time.perf_counter()
        standalone = condense_question(text, turns)
        timings = {"condense_ms": (time.perf_counter() - t0) * 1000}
        result = self.kb.search(standalone, TOP_K)
        timings.update(result.timings)
        t0, lazy_before = time.perf_counter(), self.kb.lazy_embed_ms
        draft = extractive_answer(standalone, result, self.kb, settings)  # type: ignore[arg-type]
        # Sentence vectors that ours computes at index time are computed here on first use: report
        # that as its own stage and keep it out of answer_ms and total_ms, so that the totals compare.
        lazy = self.kb.lazy_embed_ms - lazy_before
        timings["sentence_embed_ms"] = lazy
        timings["answer_ms"] = (time.perf_counter() - t0) * 1000 - lazy
        timings["total_ms"] = (time.perf_counter() - started) * 1000 - lazy
        return Answer(
            question=raw,
            text=draft.text,
            standalone_question=standalone,
            abstained=draft.abstained,
            citations=draft.citations,
            hits=result.hits,
            timings=timings,
            provider=NAME,
            strength=draft.strength,
        )


def _clean_turns(history: Sequence[Turn] | None, max_chars: int) -> list[Turn]:
    """Earlier turns cleaned like the pipeline cleans them; malformed ones are skipped."""
    turns: list[Turn] = []
    for turn in history or []:
        try:
            user, assistant = turn
            turns.append((clean_question(user, max_chars), assistant if isinstance(assistant, str) else ""))
        except (TypeError, ValueError):
            continue
    return turns
