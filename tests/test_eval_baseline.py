"""The naive tutorial baseline: raw fixed-size splits, dense top-4, our extractive answerer."""

from __future__ import annotations

import itertools
from pathlib import Path

from azcompare.evaluation.baseline import CHUNK_OVERLAP, CHUNK_SIZE, TOP_K, NaivePipeline, raw_chunks, split_raw
from azcompare.index import read_manifest

RAW_PAGE = (
    "---\ntitle: Networking\nms.date: 01/14/2026\n---\n\n# Networking\n\n"
    "| Feature | OpenAI | Azure OpenAI |\n|---|---|---|\n| Private Endpoints | ❌ | ✔️ |\n\n"
    + "\n\n".join(f"Paragraph {i} says something about virtual networks and private links." for i in range(60))
)


def test_raw_splits_are_fixed_size_with_overlap_and_no_cleaning():
    chunks = split_raw("page", "page.md", RAW_PAGE)
    assert len(chunks) > 3
    assert all(len(c.text) <= CHUNK_SIZE for c in chunks)
    assert chunks[0].text.startswith("---\ntitle: Networking")  # front matter kept as text
    assert "| Private Endpoints | ❌ | ✔️ |" in chunks[0].text  # the table row stays pipes and symbols
    assert all(c.heading_path == () and c.kind == "section" and c.date is None for c in chunks)
    for a, b in itertools.pairwise(chunks):
        shared = max(n for n in range(0, CHUNK_OVERLAP + 1) if a.text.endswith(b.text[:n]))
        assert shared > CHUNK_OVERLAP // 2  # consecutive pieces overlap


def test_raw_chunks_cover_the_same_documents_as_our_index(kb_settings):
    chunks = raw_chunks(kb_settings)
    manifest = read_manifest(kb_settings)
    assert manifest is not None
    assert {c.doc_id for c in chunks} == set(manifest.documents)
    assert any("ms.date:" in c.text for c in chunks)  # Microsoft Learn front matter left in
    assert any("{{< admonition" in c.text for c in chunks)  # Hugo shortcodes left in
    # The naive chunks are fewer and longer than ours (one vector per 1000 characters, no row chunks).
    assert len(chunks) < manifest.chunk_count


def test_naive_pipeline_answers_from_a_real_chroma_collection(small_corpus):
    with NaivePipeline(small_corpus) as pipeline:
        folder = pipeline.kb._dir
        assert folder.is_dir()
        result = pipeline.answer("Does Alpha support private endpoints?")
        assert result.provider == "baseline" and result.status == "answered"
        assert 0 < len(result.hits) <= TOP_K
        assert result.hits[0].source == "alpha"
        assert all(h.bm25_score is None and h.dense_score is not None for h in result.hits)  # dense only
        assert "private endpoints in every region [1]" in result.text
        assert result.citations[0].source == "alpha" and result.citations[0].date is None  # no date metadata
        assert {"embed_ms", "vector_search_ms", "sentence_embed_ms", "answer_ms", "total_ms"} <= set(result.timings)
        follow = pipeline.answer("And Beta?", history=[("Does Alpha encrypt data with customer-managed keys?", "")])
        assert follow.standalone_question != "And Beta?"  # the same follow-up condensation as ours
        assert pipeline.answer("   ").status == "rejected"
        # A how-to reads the procedure of a section (answering.steps): the raw chunks have none but their own.
        assert pipeline.answer("How do I set up private endpoints for Alpha?").status == "answered"
    assert not Path(folder).exists()  # the temporary index is removed
