"""Benchmark: warm answer() latency against its floor, and index build throughput against raw encoding.

    python scripts/benchmark.py [--rounds 3]

Prints figures from one run (timings on a shared machine are only comparable within a run):
- warm `answer()` p50/p95 with the extractive provider over the dev questions;
- the floor: one query embedding plus one Chroma vector search for the same questions, and the ratio;
- a full index build in a temporary folder, in chunks/s, against `model.encode` on the same texts.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from azcompare import Settings, answer, build_index
from azcompare.answering.pipeline import ensure_index
from azcompare.corpus.chunking import chunk_document
from azcompare.corpus.loaders import load_documents
from azcompare.embeddings import embedding_function
from azcompare.evaluation.dataset import load_question_set
from azcompare.evaluation.metrics import percentile
from azcompare.index import EMBED_BATCH, chunker_params
from azcompare.text import quotable_sentences

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes over the dev questions")
    args = parser.parse_args()
    settings = Settings()
    questions = [i.question for i in load_question_set(ROOT / "evals" / "dev.yaml").items]

    kb = ensure_index(settings)
    for q in questions:  # warm every code path once
        answer(q, settings=settings)

    answer_ms: list[float] = []
    floor_ms: list[float] = []
    for _ in range(args.rounds):
        for q in questions:
            t0 = time.perf_counter()
            answer(q, settings=settings)
            t1 = time.perf_counter()
            kb.dense_search(kb.embed_query(q), settings.top_k)
            t2 = time.perf_counter()
            answer_ms.append((t1 - t0) * 1000)
            floor_ms.append((t2 - t1) * 1000)
    a50, a95 = percentile(answer_ms, 50), percentile(answer_ms, 95)
    f50, f95 = percentile(floor_ms, 50), percentile(floor_ms, 95)
    assert a50 and a95 and f50 and f95
    print(f"warm answer() over {len(answer_ms)} calls ({len(questions)} distinct questions):")
    print(f"  answer p50 {a50:.1f} ms, p95 {a95:.1f} ms")
    print(f"  floor (1 query embedding + 1 vector search) p50 {f50:.1f} ms, p95 {f95:.1f} ms")
    print(f"  ratio p50 answer / p50 floor: {a50 / f50:.2f}x (target <= 3x, p50 <= 50 ms)")

    with tempfile.TemporaryDirectory() as tmp:
        build_settings = settings.with_overrides(index_dir=Path(tmp) / "index")
        documents = load_documents(build_settings)  # pages were synced by the warm-up build
        chunks = [c for d in documents for c in chunk_document(d, chunker_params(build_settings))]
        texts = [c.embed_text for c in chunks] + [s.text for c in chunks for s in quotable_sentences(c.text)]
        ef = embedding_function(build_settings)
        t0 = time.perf_counter()
        for start in range(0, len(texts), EMBED_BATCH):
            ef._model.encode(texts[start : start + EMBED_BATCH], normalize_embeddings=True)
        raw_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = build_index(build_settings, rebuild=True)
        build_s = time.perf_counter() - t0
    raw_rate, build_rate = len(chunks) / raw_s, report.total_chunks / build_s
    print(f"index build: {report.total_chunks} chunks + {report.embedded_sentences} sentences = {len(texts)} texts")
    print(f"  build {build_s:.1f} s = {build_rate:.1f} chunks/s (loading, cleaning, chunking, embedding, Chroma)")
    print(f"  raw model.encode on the same {len(texts)} texts {raw_s:.1f} s = {raw_rate:.1f} chunks/s")
    print(f"  ratio build / raw: {build_rate / raw_rate:.2f} (target >= 0.8)")


if __name__ == "__main__":
    main()
