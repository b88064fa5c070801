"""Misspelt words are read as the knowledge base's words one slip away; right words and names are kept."""

from __future__ import annotations

import pytest

from azcompare import answer
from azcompare.answering.spelling import corrected
from azcompare.retrieval import open_knowledge_base

COUNTS = {"encryption": 9, "filters": 5, "filter": 7, "private": 4, "with": 50, "which": 20, "encrypts": 2}
ENGLISH = frozenset({"days", "says", "date", "encryption", "with", "which"})


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("encyrption at rest", "encryption at rest"),  # two letters swapped
        ("wich filtrs apply?", "with filters apply?"),  # a letter missing; the most frequent word one slip away
        ("privat endpoints", "private endpoints"),
        ("how many days, the page says", "how many days, the page says"),  # English the documents lack: kept
        ("can we encrypt it", "can we encrypt it"),  # another form of a word the documents use
        ("PTU Encription gpt4.1 finish_reasn", "PTU Encription gpt4.1 finish_reasn"),  # names and identifiers
        ("wat wen", "wat wen"),  # too short to tell which word was meant
    ],
)
def test_a_word_one_slip_from_a_documents_word_is_read_as_it(typed, read):
    assert corrected(typed, COUNTS, ENGLISH) == read


def test_without_a_word_list_nothing_is_read_as_a_slip():
    assert corrected("encyrption", COUNTS, frozenset()) == "encyrption"


def test_the_knowledge_bases_words_keep_plain_english_and_mend_slips(kb_settings):
    kb = open_knowledge_base(kb_settings)
    assert kb.word_counts["encryption"] > 0 and "days" in kb.english_words
    question = "Which days does the retirment page list, and what does it says about regions?"
    assert corrected(question, kb.word_counts, kb.english_words) == question.replace("retirment", "retirement")


def test_a_misspelt_question_is_answered_and_its_standalone_question_shows_the_reading(kb_settings):
    result = answer("how do i rotate the encyrption key for azure openai??", settings=kb_settings)
    assert result.standalone_question == "how do i rotate the encryption key for azure openai??"
    assert not result.abstained
    assert result.citations and all("encrypt-data-at-rest" in c.url for c in result.citations)
