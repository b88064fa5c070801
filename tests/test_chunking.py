"""Heading-aware and table-aware chunking, including the article's feature matrix."""

from __future__ import annotations

import pytest

from azcompare.corpus.chunking import ChunkerParams, chunk_document, table_row_sentences
from azcompare.corpus.loaders import load_local_file
from azcompare.corpus.sources import load_source_list
from azcompare.types import Document
from conftest import ROOT

PARAMS = ChunkerParams(chunk_size=900, chunk_overlap=120)


@pytest.fixture(scope="module")
def article_chunks():
    sources = load_source_list(ROOT / "corpus" / "sources.toml")
    doc = load_local_file(ROOT / "corpus" / "openai-vs-azure-openai.md", sources)
    return doc, chunk_document(doc, PARAMS)


def test_every_chunk_knows_its_heading_path(article_chunks):
    doc, chunks = article_chunks
    paths = {c.heading_path for c in chunks}
    assert ("OpenAI", "Key Features of OpenAI") in paths
    assert ("Microsoft Azure OpenAI", "Key Features of Microsoft Azure OpenAI") in paths
    for chunk in chunks:
        assert chunk.embed_text.startswith(" > ".join((doc.title, *chunk.heading_path)))
        assert chunk.doc_id == doc.id and chunk.date == doc.date


def test_feature_matrix_rows_become_sentences(article_chunks):
    _, chunks = article_chunks
    rows = [c.text for c in chunks if c.kind == "row"]
    assert "Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes" in rows
    assert "Data Security, Data Residency: OpenAI no; Azure OpenAI no" in rows
    assert "Ethical AI, Content Moderator Opt-Out: OpenAI no; Azure OpenAI yes" in rows
    # A category-only row ("Infrastructure Security | | |") names the rows under it.
    assert "Infrastructure Security, Private Link: OpenAI no; Azure OpenAI yes" in rows
    assert len(rows) == 22
    assert not any("✔" in r or "❌" in r for r in rows)
    row = next(c for c in chunks if c.text.startswith("Network Security, Private Endpoints"))
    assert row.heading_path == ("Key Differences and Feature Matrix",)


def test_empty_category_cell_inherits_the_one_above():
    table = [
        "| Category | Feature | A | B |",
        "|---|---|---|---|",
        "| **Net** | VNet | ✔️ | ❌ |",
        "| | Private Link | ❌ | ✔️ |",
        "| Keys | | | |",
        "| | CMK | ✅ | ✔️ |",
    ]
    assert table_row_sentences(table) == [
        "Net, VNet: A yes; B no",
        "Net, Private Link: A no; B yes",
        "Keys, CMK: A yes; B yes",
    ]


def test_text_tables_keep_header_names():
    table = ["| Limit name | Limit value |", "| --- | --- |", "| Resources per region | 30 |"]
    assert table_row_sentences(table) == ["Resources per region: Limit value: 30"]


def test_a_row_named_only_by_a_code_says_what_the_code_is():
    table = [
        "| Exit status | Meaning |",
        "|---|---|",
        "| 3 | The job timed out. |",
        "| Retry | The job is queued again. |",
    ]
    assert table_row_sentences(table) == [
        "Exit status 3: Meaning: The job timed out.",
        "Retry: Meaning: The job is queued again.",
    ]


def test_long_sections_are_split_with_overlap_and_same_path():
    para = " ".join(f"Sentence number {i} talks about quotas and limits." for i in range(80))
    doc = Document(id="d", title="T", text=f"# T\n\n## Quotas\n\n{para}\n")
    chunks = chunk_document(doc, ChunkerParams(chunk_size=400, chunk_overlap=80))
    assert len(chunks) > 5
    assert all(len(c.text) <= 400 for c in chunks)
    assert all(c.heading_path == ("Quotas",) for c in chunks)
    assert [c.position for c in chunks] == list(range(len(chunks)))


def test_headings_inside_code_blocks_are_not_sections():
    doc = Document(id="d", title="T", text="# T\n\n## Real\n\n```\n## fake\n```\nafter\n")
    chunks = chunk_document(doc, PARAMS)
    assert {c.heading_path for c in chunks} == {("Real",)}
