"""Verification of generated answers against the real index: markers, support and snippets."""

from __future__ import annotations

import pytest

from azcompare.answering.pipeline import ensure_index
from azcompare.answering.verify import (
    FixedNumbering,
    MarkerStream,
    Renumbering,
    answer_sentences,
    attribute,
    tidy,
    verify,
)

QUESTION = "Does Azure OpenAI support private endpoints?"


@pytest.fixture(scope="module")
def retrieved(kb_settings):
    kb = ensure_index(kb_settings)
    result = kb.search(QUESTION, top_k=8, candidates=30, rrf_k=60)
    row = next(i for i, h in enumerate(result.hits, 1) if "Private Endpoints: OpenAI no" in h.chunk.text)
    other = next(i for i, h in enumerate(result.hits, 1) if i != row)
    return kb, result.hits, row, other


def test_markers_to_passages_not_given_are_removed_and_the_rest_renumbered_by_first_use():
    renumbering = Renumbering(given=3)
    text = tidy(renumbering.apply("A is true [3]. B is true [7]. C [1, 3] and D [Passage 2]. E [2][2]."))
    assert text == "A is true [1]. B is true. C [2][1] and D [3]. E [3]."
    assert renumbering.dropped == [7]
    assert renumbering.passage_of == {1: 3, 2: 1, 3: 2}


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_streamed_markers_are_renumbered_like_the_finished_text(size):
    text = "Azure supports it [2]. OpenAI does not [9]. Both [1, 2] agree [Passage 3]."
    stream = MarkerStream(3)
    shown = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.close()
    assert shown == tidy(Renumbering(3).apply(text)) == "Azure supports it [1]. OpenAI does not. Both [2][1] agree [3]."


def test_answer_sentences_keep_their_trailing_markers_and_drop_bullets():
    text = "Intro line:\n- First claim. [1]\n- Second claim [2]. Third claim, 3.5 GB in size [1]."
    assert answer_sentences(text) == [
        "Intro line:",
        "First claim. [1]",
        "Second claim [2].",
        "Third claim, 3.5 GB in size [1].",
    ]


def test_a_supported_sentence_passes_and_its_citation_quotes_the_supporting_sentence(retrieved, kb_settings):
    kb, hits, row, _ = retrieved
    checked = verify(f"Azure OpenAI supports private endpoints, while OpenAI does not [{row}].", hits, kb, kb_settings)
    assert checked.unsupported == [] and checked.supported == 1 and not checked.abstained
    assert checked.text.endswith("[1].")
    (citation,) = checked.citations
    assert citation.n == 1 and citation.source == "openai-vs-azure-openai"
    assert "Private Endpoints: OpenAI no; Azure OpenAI yes" in citation.snippet
    start, end = citation.spans[0]
    assert citation.passage[start:end] in citation.snippet


def test_unsupported_sentences_are_flagged(retrieved, kb_settings):
    kb, hits, row, other = retrieved
    raw = (
        f"Azure OpenAI supports private endpoints [{row}]. "
        f"Azure OpenAI is free for students and includes unlimited GPUs [{other}]. "
        f"Azure OpenAI allows 4711 private endpoints per region [{row}]. "
        "OpenAI also sells private endpoints to hospitals."
    )
    checked = verify(raw, hits, kb, kb_settings)
    assert checked.supported == 1
    assert checked.unsupported == [
        "Azure OpenAI is free for students and includes unlimited GPUs [2].",  # claim unrelated to its passage
        "Azure OpenAI allows 4711 private endpoints per region [1].",  # a figure the passage never states
        "OpenAI also sells private endpoints to hospitals.",  # a claim without any citation
    ]
    assert [c.n for c in checked.citations] == [1, 2]
    # Why each is not backed, as the local provider counts it when it drops a lead (Answer.fallback).
    assert [c.problem for c in checked.checks] == ["", "weak", "number", "uncited"]


@pytest.mark.parametrize(
    ("sentence", "supported"),
    [
        ("Yes, OpenAI supports private endpoints", False),
        ("Azure OpenAI does not support private endpoints", False),
        ("OpenAI does not support private endpoints", True),
        ("Azure OpenAI supports private endpoints", True),
        # Both services named in one sentence: each clause is read for the service it names.
        ("Yes, OpenAI supports private endpoints; Azure OpenAI yes", False),
        ("OpenAI does not support private endpoints; Azure OpenAI does", True),
    ],
)
def test_a_sentence_that_reverses_its_matrix_row_is_unsupported(retrieved, kb_settings, sentence, supported):
    kb, hits, row, _ = retrieved
    checked = verify(f"{sentence} [{row}].", hits, kb, kb_settings)
    assert checked.unsupported == ([] if supported else [f"{sentence} [1]."])
    assert checked.checks[0].problem == ("" if supported else "contradiction")


@pytest.mark.parametrize(
    ("sentence", "supported"),
    [
        ("Azure OpenAI automatically encrypts your data when it is persisted to the cloud", True),
        ("Azure OpenAI does not encrypt your data when it is persisted to the cloud", False),
    ],
)
def test_a_sentence_that_negates_its_passage_is_unsupported(kb_settings, sentence, supported):
    kb = ensure_index(kb_settings)
    hits = kb.search("How does Azure OpenAI encrypt data at rest?", top_k=8, candidates=30, rrf_k=60).hits
    n = next(i for i, h in enumerate(hits, 1) if "automatically encrypts your data" in h.chunk.text)
    checked = verify(f"{sentence} [{n}].", hits, kb, kb_settings)
    assert checked.unsupported == ([] if supported else [f"{sentence} [1]."])


def test_an_explicit_abstention_is_recognised(retrieved, kb_settings):
    kb, hits, _, _ = retrieved
    checked = verify("This is not in the knowledge base.", hits, kb, kb_settings)
    assert checked.abstained and checked.citations == [] and checked.unsupported == []


def test_an_uncited_sentence_gets_the_marker_of_the_passage_that_backs_it_and_a_made_up_one_none(retrieved):
    kb, hits, row, other = retrieved
    given = [hits[other - 1], hits[row - 1]]  # the matrix row is passage 2
    raw = "Azure OpenAI supports private endpoints. Azure OpenAI gives every student unlimited free GPUs."
    assert attribute(raw, given, kb) == (
        "Azure OpenAI supports private endpoints [2]. Azure OpenAI gives every student unlimited free GPUs."
    )
    # Numbered the way the facts were listed: the number moves to the end, where verification reads it.
    assert attribute("Fact 2: Azure OpenAI supports private endpoints.", given, kb) == (
        "Azure OpenAI supports private endpoints [2]."
    )
    assert attribute("[2] Azure OpenAI supports private endpoints.", given, kb).endswith("endpoints [2].")


def test_fixed_numbering_rewrites_markers_to_numbers_chosen_in_advance_and_drops_the_rest():
    numbering = FixedNumbering(3, {1: 4, 2: 2, 3: 0})  # passage 3 has no citation number
    stream = MarkerStream(3, numbering)
    shown = "".join(stream.feed(piece) for piece in ["A [1", "]. B [2, 3]. C [3]", "."]) + stream.close()
    assert tidy(shown) == "A [4]. B [2]. C."
