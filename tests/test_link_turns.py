"""Links quote the newer sentence that turns an old statement around (a flipped quantifier or negation),
even when it sits in the next passage of the same section and another sentence is closer in wording."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from azcompare.links import LinkCorpus, Scorer, Statement, flips
from azcompare.types import Chunk, Link

OLD = "Azure OpenAI is available exclusively to enterprise customers with a subscription."
CLOSE = "Azure OpenAI is made available to customers under the terms of their subscription."
TURNED = "All Azure customers are eligible for access to Azure OpenAI."
OTHER = "Azure OpenAI customers can deploy models in many regions."


def test_flips_reads_quantifiers_and_negations():
    assert flips(OLD, TURNED)
    assert not flips(OLD, CLOSE)
    assert flips("Customer managed keys: Azure OpenAI yes", "Some preview features may not support customer keys.")
    assert not flips("Only admins can do it.", "Only owners can do it.")  # exclusive on both sides
    assert not flips("Keys are not stored.", "Keys are never shared.")  # negated on both sides


def _vector(*values: float) -> np.ndarray:
    v = np.asarray(values, np.float32)
    return v / np.linalg.norm(v)


def _chunk(doc: str, position: int, text: str, date: str, heading: str = "Access") -> Chunk:
    return Chunk(
        id=f"{doc}#{position:04d}",
        doc_id=doc,
        title=doc,
        text=text,
        date=dt.date.fromisoformat(date),
        heading_path=(heading,),
        position=position,
    )


def _scorer(neighbour_text: str, neighbour_heading: str = "Access") -> tuple[Scorer, Statement]:
    old = _chunk("article", 0, OLD, "2024-06-01")
    first = _chunk("page", 0, neighbour_text, "2025-11-01", neighbour_heading)
    second = _chunk("page", 1, CLOSE, "2025-11-01")
    statements = [
        Statement(old, OLD, _vector(1, 0, 0)),
        Statement(first, neighbour_text, _vector(0.7, 0.71414, 0)),  # cosine 0.7 to the old statement
        Statement(second, CLOSE, _vector(0.8, 0, 0.6)),  # cosine 0.8: closer in wording
    ]
    vectors = np.vstack([_vector(1, 0, 0), _vector(0.7, 0.71414, 0), _vector(0.8, 0, 0.6)])
    corpus = LinkCorpus([old, first, second], vectors, statements)
    return Scorer(corpus, {"article"}), statements[0]


def test_a_turning_sentence_of_the_neighbouring_passage_is_quoted_with_its_own_passage():
    scorer, old = _scorer(TURNED)
    links = scorer.links_for(old, threshold=0.0)
    best = links[0]
    assert best.new_sentences[0] == TURNED
    assert best.new_chunk_id == "page#0000" and best.turned


def test_a_neighbour_that_does_not_turn_the_statement_around_is_not_quoted():
    scorer, old = _scorer(OTHER)
    link = next(k for k in scorer.links_for(old, threshold=0.0) if k.new_chunk_id == "page#0001")
    assert link.new_sentences[0] == CLOSE and not link.turned


def test_another_sections_passage_is_no_neighbour():
    scorer, old = _scorer(TURNED, neighbour_heading="Pricing")
    link = next(k for k in scorer.links_for(old, threshold=0.0) if TURNED not in k.new_sentences)
    assert link.new_chunk_id == "page#0001" and link.new_sentences[0] == CLOSE and not link.turned


def test_turned_survives_the_links_file():
    link = Link(
        old_chunk_id="a#0",
        old_doc_id="a",
        old_title="a",
        old_date=None,
        old_sentence=OLD,
        new_chunk_id="p#0",
        new_doc_id="p",
        new_title="p",
        new_date=None,
        new_sentences=(TURNED,),
        kind="similar",
        score=0.7,
        turned=True,
    )
    assert Link.from_dict(link.to_dict()).turned
    legacy = link.to_dict()
    del legacy["turned"]
    assert not Link.from_dict(legacy).turned


def test_flips_reads_a_status_change_a_configurable_rule_and_a_condition():
    # Made-up sentences: each newer one changes what the old one says without a negation or a quantifier.
    assert flips("The widget API, currently in preview, draws charts.", "The widget API is generally available.")
    assert not flips("The widget API is generally available.", "The widget API v2 is generally available.")
    assert flips("Large files will be compressed.", "Customers can configure the compression level of large files.")
    assert not flips("Customers can configure the level.", "Admins can configure the level too.")
    assert flips("The photo is resized to 300 pixels wide.", "If the photo is wider than 300 pixels, it is resized.")
    assert not flips("If the photo is wide, it is resized.", "If the photo is tall, it is cropped.")


def test_flips_reads_a_restriction_lifted_and_storage_that_depends_on_a_feature():
    assert flips("Access requires a reviewed business case.", "Every customer is eligible for access.")
    assert not flips("Access requires a reviewed case.", "Access is allowed only with a reviewed case.")
    assert flips("The service is stateless, so chats are not kept.", "The history feature creates a data store.")
    assert not flips("The service is stateless.", "Its cache stores no chats either.")


def _one_passage(old_text: str, close: str, turning: str) -> tuple[Scorer, Statement]:
    """An old statement and one newer passage holding a sentence close in wording (cosine 0.9) and one that
    turns it around (cosine 0.6)."""
    old = _chunk("article", 0, old_text, "2023-06-01")
    new = _chunk("page", 0, f"{close} {turning}", "2025-11-01")
    statements = [
        Statement(old, old_text, _vector(1, 0, 0)),
        Statement(new, close, _vector(0.9, 0.43589, 0)),
        Statement(new, turning, _vector(0.6, 0, 0.8)),
    ]
    corpus = LinkCorpus([old, new], np.vstack([_vector(1, 0, 0), _vector(0.8, 0.6, 0)]), statements)
    return Scorer(corpus, {"article"}), statements[0]


@pytest.mark.parametrize(
    ("old", "newer", "quoted", "turned"),
    [
        # A status change is quoted ahead of a sentence closer in wording ...
        (
            "The widget API, currently in preview, draws charts for reports.",
            "The widget API is generally available for reports.",
            "The widget API is generally available for reports.",
            True,
        ),
        # ... a bare negation is not.
        (
            "The widget API draws charts for reports.",
            "The widget API does not export reports.",
            "The chart widgets draw charts for reports.",
            False,
        ),
    ],
)
def test_a_change_of_status_outranks_a_closer_sentence_and_a_bare_negation_does_not(old, newer, quoted, turned):
    scorer, statement = _one_passage(old, "The chart widgets draw charts for reports.", newer)
    link = scorer.links_for(statement, threshold=0.0)[0]
    assert link.new_sentences[0] == quoted and link.turned == turned
