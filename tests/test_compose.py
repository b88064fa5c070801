"""How the extractive answer orders and labels newer and older statements (no index needed)."""

from __future__ import annotations

import datetime as dt

from azcompare.answering.citations import Evidence
from azcompare.answering.compose import compose
from azcompare.answering.question import read_question
from azcompare.text import Sentence
from azcompare.types import Chunk, Hit

ARTICLE = dt.date(2024, 6, 1)
PAGE = dt.date(2025, 11, 26)
SPAN = 365


def _evidence(doc_id: str, title: str, date: dt.date, text: str, score: float, via_link: str = "") -> Evidence:
    chunk = Chunk(id=f"{doc_id}#0", doc_id=doc_id, title=title, text=text, date=date)
    hit = Hit(chunk=chunk, score=score, rank=1, via_link=via_link)
    return Evidence(hit, Sentence(text, ((0, len(text)),)), score, 0.5)


def _article(text: str, score: float) -> Evidence:
    return _evidence("article", "The differences (article)", ARTICLE, text, score)


def _page(text: str, score: float) -> Evidence:
    return _evidence("page", "Encryption of data at rest", PAGE, text, score)


def test_a_newer_statement_as_relevant_leads_the_older_one():
    old = _article("Azure OpenAI uses customer data for training.", 0.5)
    new = _page("Azure OpenAI does not use customer data to train models.", 0.45)
    composed = compose(read_question("Does Azure OpenAI train on our data?"), [old, new], PAGE, SPAN)
    assert [e.hit.chunk.doc_id for e in composed.evidence] == ["page", "article"]
    assert "The 2024 article (2024-06-01) said:" in composed.text


def test_a_question_about_openai_alone_keeps_what_the_older_source_says_about_openai_first():
    # The current pages are Microsoft's: they speak for Azure OpenAI, not for OpenAI.
    old = _article("OpenAI used training data for model improvements prior to March 2023.", 0.5)
    new = _page("The Fine-tunes API allows customers to fine-tune the OpenAI models on their training data.", 0.45)
    composed = compose(read_question("Did OpenAI ever use API data to improve its models?"), [old, new], PAGE, SPAN)
    assert [e.hit.chunk.doc_id for e in composed.evidence] == ["article", "page"]
    assert composed.text.startswith("Yes — according to the 2024 article (2024-06-01): OpenAI used")
