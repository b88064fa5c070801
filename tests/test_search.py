"""azcompare.search(): the passages an answer is drawn from, or the message answer() would give."""

from __future__ import annotations

import json

import pytest

import azcompare
from azcompare import Passage, SearchResults, answer, search

QUESTION = "What content filtering categories does Azure OpenAI apply?"


def test_search_returns_the_retrieval_of_answer_as_typed_passages(kb_settings):
    assert {"search", "Passage", "SearchResults"} <= set(azcompare.__all__)
    found = search(QUESTION, 5, settings=kb_settings)
    assert isinstance(found, SearchResults) and found.ok and found.error == ""
    assert all(isinstance(p, Passage) for p in found.passages)
    matches = [p for p in found.passages if p.role == "match"]
    assert len(matches) == 5 and [p.rank for p in found.passages] == list(range(1, len(found.passages) + 1))
    assert [p.score for p in matches] == sorted((p.score for p in matches), reverse=True)
    # Every passage the answer drew from, in its order: the ranked hits, then the keyword match it may quote
    # only in support (Hit.support) and the newer passages linked to older hits (Hit.via_link).
    hits = answer(QUESTION, settings=kb_settings, top_k=5).hits
    assert [p.chunk_id for p in found.passages] == [h.chunk.id for h in hits]
    assert [p.role for p in found.passages] == [
        "newer" if h.via_link else "keyword" if h.support else "match" for h in hits
    ]
    data = json.loads(json.dumps(found.to_dict()))
    assert set(data["passages"][0]) == {
        "rank", "chunk_id", "title", "heading", "url", "date", "source", "text", "score", "dense_score",
        "keyword_score", "role", "updates",
    }  # fmt: skip
    assert data["timings"]["total_ms"] > 0
    default = search(QUESTION, settings=kb_settings).passages
    assert len([p for p in default if p.role == "match"]) == kb_settings.top_k


def test_an_older_match_comes_with_the_newer_passages_on_its_point(kb_settings):
    # The 2024 article's claims are matched first here; a caller must also get what the current pages say.
    found = search("Is Azure OpenAI only offered to enterprise customers?", 5, settings=kb_settings)
    by_id = {p.chunk_id: p for p in found.passages}
    newer = [p for p in found.passages if p.role == "newer"]
    assert newer, [(p.role, p.source) for p in found.passages]
    for p in newer:
        older = by_id[p.updates]
        assert older.role == "match" and p.rank > older.rank
        assert p.date and older.date and p.date > older.date, (p.source, older.source)
    assert all(p.updates is None for p in found.passages if p.role != "newer")


@pytest.mark.parametrize(
    ("query", "k"),
    [("", None), (None, None), (7, None), ("x" * 3000, None), ("<b></b>", None), (QUESTION, 0), (QUESTION, "5")],
)
def test_bad_queries_get_the_message_of_answer_and_no_passages(kb_settings, query, k):
    found = search(query, k, settings=kb_settings)  # type: ignore[arg-type]
    assert not found.ok and found.passages == []
    assert found.error == answer(query, settings=kb_settings, top_k=k).text  # type: ignore[arg-type]


def test_settings_of_the_wrong_type_are_refused():
    assert search(QUESTION, settings={"top_k": 3}).error == "settings must be an azcompare Settings object."  # type: ignore[arg-type]


def test_search_reads_a_long_misspelt_message_as_answer_does(kb_settings):
    message = (
        "Some context first: our compliance team reviewed the support bot last week, and they now want every file "
        "we store there encrypted with a key we hold ourselves. Is that possible, and how often must we rotate the "
        "encyrption key?"
    )
    found = search(message, 5, settings=kb_settings)
    hits = answer(message, settings=kb_settings, top_k=5).hits
    assert [p.chunk_id for p in found.passages] == [h.chunk.id for h in hits]
    assert found.passages[0].source == "azure-openai-encrypt-data-at-rest"


def test_search_numbers_its_passages_in_order_when_the_keyword_match_ranks_among_them(kb_settings):
    from azcompare.answering.pipeline import ensure_index, retrieve
    from azcompare.retrieval import KEYWORD_PLACE

    query = "Is there a guaranteed availability figure for Global Standard?"
    result = retrieve(ensure_index(kb_settings), query, 5, kb_settings)
    # The fusion leaves out the keyword ranking's best passage here: it ranks among the hits, not after them.
    assert [h.rank for h in result.keyword] == [KEYWORD_PLACE]
    found = search(query, 5, settings=kb_settings)
    # Numbered in their order, the keyword match in its place among the five matches and marked as such.
    assert [p.rank for p in found.passages] == list(range(1, len(found.passages) + 1))
    matches = [p for p in found.passages if p.role == "match"]
    assert [p.chunk_id for p in matches] == [h.chunk.id for h in result.hits]
    keyword = found.passages[KEYWORD_PLACE - 1]
    assert keyword.role == "keyword" and keyword.chunk_id == result.keyword[0].chunk.id
