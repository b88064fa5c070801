"""Hybrid retrieval: Chroma dense search plus BM25 keyword search, fused by reciprocal rank fusion.

Fusion is written here rather than taken from LangChain's EnsembleRetriever because that one returns
bare documents; we need each hit's dense similarity and keyword score for abstention and the UI.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
import tempfile
import threading
import time
import weakref
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import cache, cached_property
from itertools import combinations
from pathlib import Path

import bm25s
import chromadb
import numpy as np
from threadpoolctl import threadpool_limits

from azcompare.chroma_server import ServerIndex, connect_server, server_cache
from azcompare.embeddings import query_embedder, vocabulary_words
from azcompare.index import (
    CHROMA_SETTINGS,
    COLLECTION,
    IndexManifest,
    remove_orphans,
    server_version_folder,
)
from azcompare.index_state import (
    BM25_DIR,
    CHROMA_DIR,
    CHROMA_FILE,
    CHUNKS_FILE,
    IDF_FILE,
    MANIFEST,
    OFFSETS_FILE,
    READER_DIR,
    SENTENCES_FILE,
    DiskFull,
    IndexDamaged,
    IndexReadOnly,
    IndexUnavailable,
    damaged,
    inspect_index,
    is_writable,
    storage_error,
)
from azcompare.links import is_links_section, read_links
from azcompare.records import chunk_from_record
from azcompare.settings import Settings
from azcompare.text import Sentence, WordForms, index_terms, match_key, quotable_sentences, terms
from azcompare.types import Chunk, Hit, Link

log = logging.getLogger(__name__)
logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
# Newer passages brought in for each retrieved older one (its best links to distinct passages).
LINKED_PER_HIT = 2
# Dense similarities equal to this many decimals are a tie (float noise below it); TIE_MARGIN more passages
# than asked for are fetched so a tie across the cut is settled by index order too (dense_search).
TIE_DECIMALS, TIE_MARGIN = 6, 10
# Near-copies say the same thing (another edition of a page, a shared include, another vendor's copy of a
# text): the embedding cannot tell which of them the question means, the words they name can. Two
# passages are near-copies when their mean sentence vectors are this similar (a quarter of today's
# passages have such a twin: matrix rows, the 2023 overview)...
NEAR_COPY_SIMILARITY = 0.95
# ...or when they sit under the same headings and share this much of their words: a renamed product moves
# a short passage's vector far (a matrix row with both products renamed: 0.6-0.75). Words and headings count
# once each document's own title words are set aside, so templated pages for different products
# ("Azure OpenAI roles" / "Contoso roles") count as copies of each other.
NEAR_COPY_WORDS = 0.7
# A near-copy whose document names the question's subject in less than this share of what the most
# on-subject copy's document does is set aside (see _named_first).
OFF_SUBJECT_SHARE = 0.5
# What a long message tells around its question (its team, its setup, what it read) is searched at this weight
# beside the question: it may name what the question only points back to ("that part about layering …").
BACKGROUND_WEIGHT = 0.3
# The keyword ranking's best passage ranks no lower than this, after the fused leader: among the hits when the
# fusion ranked it lower, as support when it left it out. The keyword ranking alone has the right document first
# more often than either embedding ranking (dev: 81 % against 77 % and 73 %), yet two embedding rankings outvote
# it in the fusion. The fused leader keeps first place: it is what all three rankings agree on.
KEYWORD_PLACE = 2
# "Provisioned throughput units (PTU)": up to six words whose initials spell the capitals in brackets.
_DEFINED = re.compile(r"((?:[A-Za-z][\w-]*\s+){1,6}?)\(([A-Z][A-Za-z]{1,6})\)")


@dataclass
class SearchResult:
    """Ranked hits plus what the answerer needs to judge them.

    `keyword` holds the best keyword match when the fusion left it out of the hits (see `_keyword_best`); it
    ranks at KEYWORD_PLACE among them.
    `linked` holds the newer passages on the same point as the older passages among the hits (each
    Hit's `via_link` names the older chunk), `links` the links that brought them.
    """

    hits: list[Hit]
    query_vector: np.ndarray
    timings: dict[str, float] = field(default_factory=dict)
    best_dense: float = 0.0
    linked: list[Hit] = field(default_factory=list)
    links: list[Link] = field(default_factory=list)
    keyword: list[Hit] = field(default_factory=list)
    background: str = ""  # what the message said around its question, searched at BACKGROUND_WEIGHT

    @property
    def all_hits(self) -> list[Hit]:
        """The hits with the best keyword match the fusion left out in its place (rank order), then the newer
        passages linked to them."""
        return sorted(self.hits + self.keyword, key=lambda h: h.rank) + self.linked


@dataclass(frozen=True)
class SentenceUnit:
    """A quotable sentence of a chunk with its terms and its (normalized) embedding."""

    sentence: Sentence
    terms: frozenset[str]
    vector: np.ndarray


class KnowledgeBase:
    """An opened index version: the Chroma collection, and the chunks, BM25 index and sentence vectors.

    Only the Chroma client is opened on Chroma: everything else comes from the reader files the build
    wrote beside it (index.py), memory-mapped where they are arrays, so opening costs file loading.
    """

    def __init__(self, settings: Settings, version_dir: Path, server: ServerIndex | None = None) -> None:
        """Open a version: `version_dir` holds its reader files; its Chroma data is there or on `server`."""
        self.version_dir = version_dir
        self.server = server
        _blas_on_one_thread()
        self._load()
        manifest = IndexManifest.read(version_dir / MANIFEST)
        self._embed = query_embedder(settings, version_dir, manifest.query_encoder if manifest else "")
        with self._storage():
            # Queried by vector only: no embedding function, so Chroma never loads the one it recorded.
            if server is not None:
                self._client = server.client
                self._collection = server.collection(version_dir.name, COLLECTION)
            else:
                self._client = _open_client(version_dir)
                self._collection = self._client.get_collection(COLLECTION, embedding_function=None)
        # Links are an addition: a version without readable links still answers, and says why it has none.
        self._links, self.links_problem = read_links(version_dir)
        if self.links_problem:
            log.warning("%s", self.links_problem)

    @contextmanager
    def _storage(self) -> Iterator[None]:
        """Chroma's and the file system's failures as one clear IndexUnavailable."""
        try:
            yield
        except IndexUnavailable:
            raise
        except Exception as exc:
            log.debug("index %s failed", self.version_dir, exc_info=True)
            if self.server is not None:
                raise self.server.fail(exc) from exc
            raise storage_error(exc, self.version_dir.parent) from exc

    def _load(self) -> None:
        """Load the chunks, the BM25 index, the idf table and the sentence vectors from the reader files."""
        reader = self.version_dir / READER_DIR
        self._file = CHUNKS_FILE  # the file being read, named when it fails
        try:
            self._read_files(reader)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, FileNotFoundError):
                error = storage_error(exc, self.version_dir.parent)
                if not isinstance(error, IndexDamaged):
                    raise error from exc
            problem = _reader_problem(self.version_dir.name, self._file, exc)
            raise damaged(self.version_dir.parent, problem) from exc

    def _read_files(self, reader: Path) -> None:
        records = json.loads((reader / CHUNKS_FILE).read_text(encoding="utf-8"))
        rows = zip(records["ids"], records["documents"], records["metadatas"], strict=True)
        self.chunks: list[Chunk] = [chunk_from_record(i, d, m) for i, d, m in rows]
        self._by_id = {c.id: i for i, c in enumerate(self.chunks)}
        self._file = IDF_FILE
        table = json.loads((reader / IDF_FILE).read_text(encoding="utf-8"))
        self._idf: dict[str, float] = table["idf"]
        self._max_idf = float(table["max_idf"])
        self._file = BM25_DIR
        self._bm25 = bm25s.BM25.load(str(reader / BM25_DIR), mmap=True, load_corpus=False)
        if int(self._bm25.scores["num_docs"]) != max(len(self.chunks), 1):
            raise ValueError(f"it indexes {self._bm25.scores['num_docs']} passages, not {len(self.chunks)}")
        self._file = OFFSETS_FILE
        self._offsets = np.load(reader / OFFSETS_FILE, mmap_mode="r", allow_pickle=False)
        if self._offsets.shape != (len(self.chunks) + 1,):
            raise ValueError(f"it has {len(self._offsets)} entries for {len(self.chunks)} passages")
        self._file = SENTENCES_FILE
        # All sentence vectors in one matrix: one product scores every sentence against a question.
        self._sentence_matrix = np.load(reader / SENTENCES_FILE, mmap_mode="r", allow_pickle=False)
        if self._sentence_matrix.ndim != 2 or len(self._sentence_matrix) != int(self._offsets[-1]):
            raise ValueError(f"it holds {len(self._sentence_matrix)} vectors, not {int(self._offsets[-1])}")
        self._sentence_owner = np.repeat(np.arange(len(self.chunks), dtype=np.int64), np.diff(self._offsets))
        self._units: dict[str, list[SentenceUnit]] = {}
        self._chunk_keys: dict[tuple[int, bool], frozenset[str]] = {}
        self._doc_keys: dict[str, frozenset[str]] = {}
        self._titles: dict[str, frozenset[str]] = {}
        self._shares: dict[tuple[str, frozenset[str]], float] = {}
        self._vectors: dict[int, np.ndarray] = {}

    def idf(self, term: str) -> float:
        """Inverse document frequency over chunks of a term's match key; unseen terms get the maximum."""
        return self._idf.get(match_key(term), self._max_idf)

    @cached_property
    def abbreviations(self) -> dict[str, str]:
        """Abbreviations the documents define, "PTU" -> "provisioned throughput units" (first definition)."""
        found: dict[str, str] = {}
        for chunk in self.chunks:
            for match in _DEFINED.finditer(chunk.text):
                short = match.group(2).removesuffix("s")
                words = match.group(1).split()[-len(short) :]
                if len(words) == len(short) and "".join(w[0] for w in words).lower() == short.lower():
                    found.setdefault(short, " ".join(words).lower())
        return found

    def spelled_out(self, text: str) -> str:
        """`text` followed by the long form of each abbreviation it uses without it ("PTU": "provisioned
        throughput units"): a passage may use either, and neither keywords nor the embedding relate them."""
        lowered = text.lower()
        extra = [
            long
            for short, long in self.abbreviations.items()
            if re.search(rf"(?<![\w-]){re.escape(short)}s?(?![\w-])", text) and long not in lowered
        ]
        return " ".join([text, *dict.fromkeys(extra)])

    @cached_property
    def _word_forms(self) -> WordForms:
        return WordForms(self._idf)

    def forms(self, key: str) -> frozenset[str]:
        """The match keys of the passages' terms that are forms of the same word as `key` (text.WordForms)."""
        return self._word_forms(key)

    @cached_property
    def word_counts(self) -> Counter[str]:
        """How often each lower-case word occurs in the passages, their titles and headings (as written, not
        stemmed): the words a misspelt question is read against (answering.spelling)."""
        counts: Counter[str] = Counter()
        for chunk in self.chunks:
            counts.update(re.findall(r"[a-z]+", f"{chunk.title} {chunk.heading} {chunk.text}".lower()))
        return counts

    @cached_property
    def english_words(self) -> frozenset[str]:
        """Whole words the query encoder knows: English words, spelt right, that the passages may not use."""
        return vocabulary_words(self._embed)

    def knows(self, term: str) -> bool:
        """Whether any passage holds the term (compared by its match key)."""
        return match_key(term) in self._idf

    @cached_property
    def newest_date(self) -> dt.date | None:
        """The date of the newest document: sources far older than it are the stale ones."""
        return max((c.date for c in self.chunks if c.date), default=None)

    def sentences(self, chunk: Chunk) -> list[SentenceUnit]:
        """A chunk's quotable sentences with their terms and embeddings (split when first asked for)."""
        units = self._units.get(chunk.id)
        if units is None:
            index = self._by_id.get(chunk.id)
            if index is None:
                return []
            start = int(self._offsets[index])
            units = [
                SentenceUnit(s, terms(s.text), np.array(self._sentence_matrix[start + i], dtype=np.float32))
                for i, s in enumerate(quotable_sentences(self.chunks[index].text))
            ]
            self._units[chunk.id] = units  # the same list for every caller: threads may race to make it
        return units

    def section(self, chunk: Chunk) -> list[Chunk]:
        """The passages a section of a document was cut into (same headings), in order: this one among them."""
        same = [self.chunks[i] for i in self._doc_chunks.get(chunk.doc_id, [])]
        return sorted((c for c in same if c.heading_path == chunk.heading_path), key=lambda c: c.position)

    def newer(self, chunk_id: str) -> list[Link]:
        """The links from an older passage to newer passages on the same point, best first (none for others)."""
        return list(self._links.get(chunk_id, []))

    def linked_hits(self, hits: list[Hit]) -> tuple[list[Hit], list[Link]]:
        """The newer passages linked to the older passages among `hits` (not already hits), and the links used."""
        retrieved = {h.chunk.id for h in hits}
        seen = set(retrieved)
        linked: list[Hit] = []
        used: list[Link] = []
        for hit in hits:
            taken = 0
            for link in self._links.get(hit.chunk.id, []):
                if taken == LINKED_PER_HIT:
                    break
                index = self._by_id.get(link.new_chunk_id)
                if index is None:
                    continue
                if link.new_chunk_id in seen:
                    if link.new_chunk_id in retrieved:  # retrieved anyway: the link still tells what changed
                        taken += 1
                        used.append(link)
                    continue
                seen.add(link.new_chunk_id)
                taken += 1
                used.append(link)
                linked.append(
                    Hit(
                        chunk=self.chunks[index],
                        score=hit.score,
                        rank=len(hits) + len(linked) + 1,
                        via_link=hit.chunk.id,
                    )
                )
        return linked, used

    def embed(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Normalized vectors of texts, as the index's were made (its ONNX export, else sentence-transformers)."""
        return self._embed(texts) if texts else []

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]

    def dense_search(self, embedding: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(chunk index, cosine similarity) of the nearest chunks.

        Passages at the same distance (copies of one text in several pages) come in the order of the index,
        not in the order the search met them, which varies from one build of the index to the next; a few
        more than `n` are fetched so that a tie across the cut is settled the same way.
        """
        n = min(n, len(self.chunks))
        if n == 0:
            return []
        fetch = min(n + TIE_MARGIN, len(self.chunks))
        with self._storage():
            result = self._collection.query(query_embeddings=[embedding], n_results=fetch, include=["distances"])
        found = [
            (self._by_id[cid], 1.0 - float(dist))
            for cid, dist in zip(result["ids"][0], result["distances"][0], strict=True)
            if cid in self._by_id
        ]
        return sorted(found, key=lambda hit: (-round(hit[1], TIE_DECIMALS), hit[0]))[:n]

    def sentence_search(self, embedding: np.ndarray, n: int) -> list[tuple[int, float]]:
        """(chunk index, best sentence similarity) for the chunks holding the nearest sentences."""
        if not len(self._sentence_owner):
            return []
        sims = np.asarray(self._sentence_matrix @ embedding)
        best: dict[int, float] = {}
        for j in np.argsort(-sims)[: n * 3]:
            owner = int(self._sentence_owner[j])
            if owner not in best:
                best[owner] = float(sims[j])
                if len(best) == n:
                    break
        return list(best.items())

    def keyword_search(self, text: str, n: int, background: str = "") -> list[tuple[int, float]]:
        """(chunk index, BM25 score) of the best keyword matches (only positive scores); the terms of
        `background` count at BACKGROUND_WEIGHT."""
        tokens = index_terms(text)
        if not tokens or not self.chunks:
            return []
        total = self._bm25_scores(tokens)
        if background:
            total = total + BACKGROUND_WEIGHT * self._bm25_scores(index_terms(background))
        # Equal scores (copies of one text) in index order, as in dense_search: not the order of a top-k pick.
        best = np.argsort(-np.round(total, TIE_DECIMALS), kind="stable")[: min(n, len(self.chunks))]
        return [(int(d), float(total[d])) for d in best if total[d] > 0]

    def _bm25_scores(self, tokens: list[str]) -> np.ndarray:
        """Every passage's BM25 score for the tokens (zeros when none is in the index's vocabulary)."""
        ids = self._bm25.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(len(self.chunks))
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=float)[: len(self.chunks)]

    def search(
        self,
        text: str,
        top_k: int,
        candidates: int,
        rrf_k: int,
        max_per_doc: int = 0,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
        boost: Callable[[Chunk], float] | None = None,
        required: Sequence[re.Pattern[str]] = (),
        subject: str = "",
        background: str = "",
    ) -> SearchResult:
        """Three rankings fused by weighted reciprocal rank fusion; the best `top_k` as hits.

        The rankings: chunks by embedding (Chroma), chunks by BM25 keywords, and chunks by their best
        sentence's embedding (a passage that holds one exact answer sentence among others).
        `boost` scales a chunk's fused score (the caller's knowledge of what the question is about).
        Abbreviations the documents define are searched with their long form too (`spelled_out`).
        `subject` names what the question is about; among near-copies the one naming it ranks first
        (`_named_first`).
        `max_per_doc` (0: no cap) keeps one long page from filling every slot, so that the passages
        show each document that speaks to the question. `required` are things the question asks for by
        name (a region, a model): when no fused hit holds them all, the best keyword match that does
        takes the last slot, since a passage found by one ranking alone rarely wins the fusion.
        `background` (what a message says around its question) is searched at BACKGROUND_WEIGHT: its words
        in the keyword ranking, its embedding added to the question's.
        """
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        text = self.spelled_out(text)
        embedding = self._query_vector(text, background)
        t1 = time.perf_counter()
        dense = self.dense_search(embedding, candidates)
        t2 = time.perf_counter()
        keyword = self.keyword_search(text, candidates, background)
        sentence = self.sentence_search(embedding, candidates)
        t3 = time.perf_counter()
        fused: dict[int, float] = {}
        for weight, ranking in zip(weights, (dense, keyword, sentence), strict=True):
            for rank, (index, _) in enumerate(ranking):
                fused[index] = fused.get(index, 0.0) + weight / (rrf_k + rank + 1)
        if boost is not None:
            fused = {i: score * boost(self.chunks[i]) for i, score in fused.items()}
        dense_by = dict(dense)
        bm25_by = dict(keyword)
        ranked = sorted(fused, key=lambda i: (-fused[i], -dense_by.get(i, -1.0), i))
        named, aside = self._named_first(ranked, text, subject)
        score = {i: fused[at] for i, at in zip(named, ranked, strict=True)}  # a place keeps its score
        order = _diverse(
            named,
            [self.chunks[i].doc_id for i in range(len(self.chunks))],
            top_k,
            max_per_doc,
        )
        order = self._with_required(order, keyword, required, top_k)
        places = [score.get(i, 0.0) for i in order]
        order = _keyword_leader_up(order, keyword, aside)
        score.update(zip(order, places, strict=True))  # a place keeps its score
        added = self._keyword_best(order, keyword)
        place = min(KEYWORD_PLACE - 1, len(order))
        found = [
            Hit(
                chunk=self.chunks[i],
                score=score.get(i, 0.0),
                rank=rank + 1,
                dense_score=dense_by.get(i),
                bm25_score=bm25_by.get(i),
                support=i in added,  # the keyword match: quoted after the lead only (Hit.support)
            )
            for rank, i in enumerate([*order[:place], *added, *order[place:]])
        ]
        hits, extra = [h for h in found if not h.support], [h for h in found if h.support]
        timings["embed_ms"] = (t1 - t0) * 1000
        timings["vector_search_ms"] = (t2 - t1) * 1000
        timings["keyword_search_ms"] = (t3 - t2) * 1000
        timings["fusion_ms"] = (time.perf_counter() - t3) * 1000
        best = max((s for _, s in dense), default=0.0)
        # HNSW search is approximate: a passage the other rankings found may be missing from the dense
        # candidates. Its exact similarity still counts, so that whether the knowledge base covers a
        # question (the abstention decision) does not hinge on the vector index's recall.
        unscored = [h.chunk.id for h in hits if h.dense_score is None]
        if unscored:
            best = max(best, self._exact_similarity(unscored, embedding))
        t4 = time.perf_counter()
        linked, links = self.linked_hits(hits + extra)
        support = {h.chunk.id for h in extra}
        linked = [replace(h, support=True) if h.via_link in support else h for h in linked]
        timings["links_ms"] = (time.perf_counter() - t4) * 1000
        return SearchResult(
            hits=hits,
            query_vector=embedding,
            timings=timings,
            best_dense=best,
            linked=linked,
            links=links,
            keyword=extra,
            background=background,
        )

    def _keyword_best(self, order: list[int], keyword: list[tuple[int, float]]) -> list[int]:
        """The best keyword match, when the fusion left it out of `order` (else nothing).

        A passage that holds the question's rare words but says them in a list, a table or among other
        topics ranks low by embedding, and two embedding rankings outvote one keyword ranking in the
        fusion: it then reaches no hit though no other passage matches the words as well. It is added
        beside the hits (at KEYWORD_PLACE) rather than in place of one. An older passage whose newer
        counterpart is already among the hits is not: it would add only the stale version of what the hits say.
        """
        if not keyword or keyword[0][0] in order:
            return []
        best = keyword[0][0]
        retrieved = {self.chunks[i].id for i in order}
        if any(link.new_chunk_id in retrieved for link in self._links.get(self.chunks[best].id, [])):
            return []
        return [best]

    def _query_vector(self, text: str, background: str) -> np.ndarray:
        """The question's embedding, with the background's added at BACKGROUND_WEIGHT (normalized again)."""
        if not background:
            return self.embed_query(text)
        question, told = self.embed([text, background])
        blended = question + BACKGROUND_WEIGHT * told
        return blended / (np.linalg.norm(blended) or 1.0)

    def _named_first(self, order: list[int], text: str, subject: str) -> tuple[list[int], set[int]]:
        """`order` with each group of near-copies re-ranked among the places it holds: first the passage
        that holds more of the question's and the subject's words (weighted by rarity), then the one whose
        document names more of the subject's; ties keep their fused order. Then the copies whose documents
        name the subject in under OFF_SUBJECT_SHARE of the passages the group's most on-subject document
        does go last: they repeat what that one says, and their places go to other passages.

        Which passages fill the first places changes only where one copy names what the question is about
        and another does not. Returns the order and the copies set aside.
        """
        if len(order) < 2:
            return order, set()
        vectors = np.stack([self._passage_vector(i) for i in order])
        similar = vectors @ vectors.T >= NEAR_COPY_SIMILARITY
        words = [self._keys(i, heading=False) - self._title_keys(i) for i in order]
        headings = [frozenset(index_terms(" ".join(self.chunks[i].heading_path))) for i in order]
        place = [(self.chunks[i].kind, h - self._title_keys(i)) for i, h in zip(order, headings, strict=True)]
        for a, b in combinations(range(len(order)), 2):
            if place[a] == place[b] and len(words[a] & words[b]) >= NEAR_COPY_WORDS * len(words[a] | words[b]):
                similar[a, b] = similar[b, a] = True
        np.fill_diagonal(similar, False)
        groups: dict[int, list[int]] = {}  # first position of a group: its positions in `order`
        for position in np.flatnonzero(similar.any(axis=0)).tolist():  # most passages have no near-copy
            head = next((h for h in groups if similar[h, position]), position)
            groups.setdefault(head, []).append(position)
        wanted = {match_key(t): self.idf(t) for t in terms(f"{text} {subject}")}
        about = frozenset(match_key(t) for t in terms(subject))
        result = list(order)
        aside: set[int] = set()
        for positions in groups.values():
            members = [order[p] for p in positions]
            rank = {
                i: (
                    -sum(w for k, w in wanted.items() if k in self._keys(i)),
                    -len(about & self._document_keys(self.chunks[i].doc_id)),
                )
                for i in members
            }
            for p, i in zip(positions, sorted(members, key=rank.__getitem__), strict=True):
                result[p] = i  # sorted() is stable: ties keep the fused order
            share = {i: self._share_about(self.chunks[i].doc_id, about) for i in members}
            most = max(share.values())
            aside.update(i for i in members if share[i] < OFF_SUBJECT_SHARE * most)
        return [i for i in result if i not in aside] + [i for i in result if i in aside], aside

    def _passage_vector(self, index: int) -> np.ndarray:
        """The normalized mean of a passage's sentence vectors (zero for a passage without sentences)."""
        vector = self._vectors.get(index)
        if vector is None:
            start, end = int(self._offsets[index]), int(self._offsets[index + 1])
            vector = np.asarray(self._sentence_matrix[start:end], dtype=np.float32).sum(axis=0)  # 0 if none
            vector = self._vectors[index] = vector / (float(np.linalg.norm(vector)) or 1.0)
        return vector

    def _keys(self, index: int, heading: bool = True) -> frozenset[str]:
        """The match keys of a passage's words, with its title and headings or without (cached)."""
        keys = self._chunk_keys.get((index, heading))
        if keys is None:
            chunk = self.chunks[index]
            keys = frozenset(index_terms(chunk.embed_text if heading else chunk.text))
            self._chunk_keys[index, heading] = keys
        return keys

    def _share_about(self, doc_id: str, about: frozenset[str]) -> float:
        """The share of a document's passages (with their title and headings) that name all of `about`."""
        key = (doc_id, about)
        share = self._shares.get(key)
        if share is None:
            passages = self._doc_chunks[doc_id]
            share = self._shares[key] = sum(about <= self._keys(i) for i in passages) / len(passages)
        return share

    def _title_keys(self, index: int) -> frozenset[str]:
        """The match keys of a passage's document title (cached per title)."""
        title = self.chunks[index].title
        keys = self._titles.get(title)
        if keys is None:
            keys = self._titles[title] = frozenset(index_terms(title))
        return keys

    def _document_keys(self, doc_id: str) -> frozenset[str]:
        """The match keys of every passage of a document (cached)."""
        keys = self._doc_keys.get(doc_id)
        if keys is None:
            keys = self._doc_keys[doc_id] = frozenset().union(*(self._keys(i) for i in self._doc_chunks[doc_id]))
        return keys

    @cached_property
    def _doc_chunks(self) -> dict[str, list[int]]:
        """Each document's passages (their indices)."""
        found: dict[str, list[int]] = {}
        for i, chunk in enumerate(self.chunks):
            found.setdefault(chunk.doc_id, []).append(i)
        return found

    def _with_required(
        self, order: list[int], keyword: list[tuple[int, float]], required: Sequence[re.Pattern[str]], top_k: int
    ) -> list[int]:
        def holds(i: int) -> bool:
            # A links-only section ("Help and support") may name the thing without saying anything about it.
            chunk = self.chunks[i]
            return not is_links_section(chunk.heading) and all(p.search(chunk.text) for p in required)

        if not required or any(holds(i) for i in order):
            return order
        extra = next((i for i, _ in keyword if holds(i)), None)
        return order if extra is None else [*order[: max(top_k - 1, 0)], extra]

    def _exact_similarity(self, ids: list[str], embedding: np.ndarray) -> float:
        """The highest cosine similarity between the query and the stored vectors of these chunks."""
        with self._storage():
            stored = self._collection.get(ids=ids, include=["embeddings"])["embeddings"]
        vectors = np.asarray(stored, dtype=np.float32)
        if vectors.size == 0:
            return 0.0
        norms = np.linalg.norm(vectors, axis=1) * (np.linalg.norm(embedding) or 1.0)
        return float(np.max(vectors @ embedding / np.where(norms == 0, 1.0, norms)))

    def close(self) -> None:
        """Close a local version's Chroma client (a server's client is shared by every version)."""
        if self.server is None:
            self._client.close()


@cache
def _blas_on_one_thread() -> None:
    """Numpy's BLAS (OpenBLAS) on one thread for the rest of the process, once a knowledge base opens.

    Its products here are small (a question against a few thousand vectors); its threads, woken for each
    one and spinning beside the encoder's and the server's on a 2-core machine, cost more than they save:
    answer() p50 went from 32 to 11 ms. Torch (OpenMP) and onnxruntime keep their own threads.
    """
    threadpool_limits(1, user_api="blas")


def _reader_problem(version: str, name: str, exc: BaseException) -> str:
    """ "reader/chunks.json of v-… cannot be read (…)": which file failed and the gist of why."""
    if isinstance(exc, FileNotFoundError):
        missing = f"{name}/{Path(exc.filename).name}" if name == BM25_DIR and exc.filename else name
        return f"{READER_DIR}/{missing} of {version} is missing"
    reason = type(exc).__name__ if isinstance(exc, KeyError) else (str(exc).strip().splitlines() or [""])[0][:120]
    return f"{READER_DIR}/{name} of {version} cannot be read ({reason or type(exc).__name__})"


def _diverse(order: list[int], doc_of: list[str], top_k: int, max_per_doc: int) -> list[int]:
    """The first `top_k` of `order` with at most `max_per_doc` per document (backfilled if short)."""
    if max_per_doc <= 0:
        return order[:top_k]
    picked: list[int] = []
    per_doc: dict[str, int] = {}
    for i in order:
        if per_doc.get(doc_of[i], 0) < max_per_doc:
            picked.append(i)
            per_doc[doc_of[i]] = per_doc.get(doc_of[i], 0) + 1
            if len(picked) == top_k:
                return picked
    rest = [i for i in order if i not in picked]
    return picked + rest[: top_k - len(picked)]


def _keyword_leader_up(order: list[int], keyword: list[tuple[int, float]], aside: set[int]) -> list[int]:
    """`order` with the keyword ranking's best passage moved up to KEYWORD_PLACE when it ranks lower in it, unless
    it is a near-copy set `aside` for its document's being about something else (_named_first)."""
    place = KEYWORD_PLACE - 1
    if not keyword or keyword[0][0] in aside or keyword[0][0] not in order[place + 1 :]:
        return order
    best = keyword[0][0]
    rest = [i for i in order if i != best]
    return [*rest[:place], best, *rest[place:]]


def _open_client(version_dir: Path) -> chromadb.ClientAPI:
    """A Chroma client on the version, or on a private copy of it when the folder cannot be written.

    Chroma writes to its database even to read it, so an index on read-only storage (or on a full disk)
    is read from a copy in the temporary folder, removed when the process no longer uses it.
    """
    folder = version_dir / CHROMA_DIR
    if is_writable(folder) and is_writable(folder / CHROMA_FILE):
        try:
            return chromadb.PersistentClient(path=str(folder), settings=CHROMA_SETTINGS)
        except Exception as exc:
            error = storage_error(exc, version_dir.parent)
            if not isinstance(error, IndexReadOnly | DiskFull):
                raise error from exc
    copy = Path(tempfile.mkdtemp(prefix="azcompare-index-"))
    try:
        shutil.copytree(folder, copy, dirs_exist_ok=True)
        client = chromadb.PersistentClient(path=str(copy), settings=CHROMA_SETTINGS)
    except BaseException:
        shutil.rmtree(copy, ignore_errors=True)
        raise
    weakref.finalize(client, shutil.rmtree, copy, ignore_errors=True)
    log.info("the index in %s cannot be written; reading it from a private copy in %s", version_dir, copy)
    return client


_open_lock = threading.Lock()
_open: dict[Path | str, KnowledgeBase] = {}  # by index folder, or by server URL


def open_knowledge_base(settings: Settings) -> KnowledgeBase:
    """The active index version, opened once and reopened when a rebuild swaps in a new one.

    The first time a process opens an index it removes what interrupted builds left behind.
    """
    assert settings.index_dir is not None
    if settings.chroma_url:
        return _open_on_server(settings)
    state = inspect_index(settings.index_dir)
    if state.problem:
        raise damaged(settings.index_dir, state.problem)
    if state.version is None:
        raise IndexUnavailable(f"no index in {settings.index_dir}; build it with `azcompare index`")
    key = settings.index_dir.resolve()
    with _open_lock:
        kb = _open.get(key)
        if kb is None:
            remove_orphans(settings)
        if kb is None or kb.version_dir != state.version:
            # The replaced version is not closed here: a request may still be reading it.
            kb = KnowledgeBase(settings, state.version)
            _open[key] = kb
        return kb


def _open_on_server(settings: Settings) -> KnowledgeBase:
    """The version the Chroma server's pointer names (looked at about once a second), opened once per version.

    A failure (server down, slow, refusing the token) is raised, never remembered: the next request tries again.
    """
    server = connect_server(settings)
    pointer = server.pointer()
    if pointer is None:
        raise IndexUnavailable(f"no index on the Chroma server at {server.url}; build it with `azcompare index`")
    with _open_lock:
        kb = _open.get(server.url)
        if kb is None or kb.version_dir.name != pointer[0]:
            # The replaced version is not closed here: a request may still be reading it.
            try:
                folder = server_version_folder(settings, server, pointer[0])
            except OSError as exc:  # this machine's cache folder: full, read-only
                raise storage_error(exc, server_cache(settings)) from exc
            kb = KnowledgeBase(settings, folder, server=server)
            _open[server.url] = kb
        return kb
