"""The extractive answerer's sentence score (extractive.sentence_features, hand_score) and the script that fits
and compares learned scores with it (scripts/fit_sentence_scorer.py), on a real index of a tiny corpus."""

from __future__ import annotations

import numpy as np
import pytest

from azcompare import build_index
from azcompare.answering.extractive import hand_score, score_sentences, sentence_features
from azcompare.answering.pipeline import retrieve
from azcompare.evaluation.dataset import EvalItem
from azcompare.retrieval import open_knowledge_base
from conftest import load_script, write

LIMITS = (
    "# Widgets\n\n## Limits\n\n"
    "Widgets are assembled in three factories around the world. "
    "Each widget account allows 40 widgets per region by default. "
    "The factories opened in 2019 and run on solar power.\n"
)
KEYS = (
    "# Vaults\n\n## Keys\n\n"
    "Vaults keep their secrets for ninety days after deletion. "
    "Every vault encrypts its secrets with customer-managed keys. "
    "Vaults are named after rivers.\n"
)
ITEMS = [
    EvalItem("w", "How many widgets per region does a widget account allow?", "fact", (("40 widgets per region",),)),
    EvalItem("v", "How are vault secrets encrypted?", "fact", (("customer-managed keys",),)),
    EvalItem("o", "Who painted the Mona Lisa?", "out_of_scope"),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Settings and the open knowledge base of a two-document corpus."""
    from azcompare import Settings

    home = tmp_path_factory.mktemp("tiny")
    write(home / "corpus" / "widgets.md", LIMITS)
    write(home / "corpus" / "vaults.md", KEYS)
    sources = write(home / "sources.toml", '[[document]]\nfile = "widgets.md"\ndate = 2025-01-02\n')
    settings = Settings(
        home=home,
        corpus_dirs=[home / "corpus"],
        sources_file=sources,
        cache_dir=home / "cache",
        index_dir=home / "index",
    )
    build_index(settings)
    return settings, open_knowledge_base(settings)


def test_the_sentence_holding_the_asked_for_fact_ranks_above_the_rest_of_its_passage(tiny):
    settings, kb = tiny
    question = ITEMS[0].question
    scored = score_sentences(question, retrieve(kb, question, settings.top_k, settings), kb)
    same_passage = [e for e in scored if e.hit.chunk.doc_id == scored[0].hit.chunk.doc_id]
    assert "40 widgets per region" in scored[0].sentence.text
    assert len(same_passage) == 3  # the off-point sentences of that passage rank below it
    assert all(e.score < scored[0].score for e in same_passage[1:])


def test_the_score_is_the_hand_score_of_the_features(tiny):
    settings, kb = tiny
    question = ITEMS[1].question
    result = retrieve(kb, question, settings.top_k, settings)
    candidates = sentence_features(question, result, kb)
    scores = {e.sentence.text: e.score for e in score_sentences(question, result, kb)}
    assert {c.sentence.text: hand_score(c.features) for c in candidates} == pytest.approx(scores)
    fact = next(c for c in candidates if "customer-managed keys" in c.sentence.text)
    assert fact.features["coverage"] > 0 and 0 < fact.features["similarity"] <= 1
    # A pointer counts half; an aside and a sentence about another service count their factors.
    assert hand_score(fact.features | {"pointer": 1.0}) == pytest.approx(hand_score(fact.features) / 2)
    assert hand_score(fact.features | {"aside": 1.0}) < hand_score(fact.features)


def test_the_fit_script_labels_fact_sentences_and_ranks_them(tiny):
    settings, kb = tiny
    script = load_script("fit_sentence_scorer")
    questions = script.collect(ITEMS, kb, settings)
    assert [q.id for q in questions] == ["w", "v"]  # the out-of-scope item has no facts to rank
    for q in questions:
        assert q.x.shape == (len(q.groups), len(script.FEATURES))
        assert q.labels.sum() == 1  # one sentence holds the fact
        shares = np.delete(q.x, script.FEATURES.index("similarity"), axis=1)  # the cosine may be negative
        assert ((shares >= 0) & (shares <= 1)).all()
    p1, r3 = script.per_question(questions, [q.hand for q in questions])
    assert p1.tolist() == [1.0, 1.0] and r3.tolist() == [1.0, 1.0]
    # A ranking model fit on them puts the fact sentence of each question first.
    w = script.pairwise(questions, list(range(len(script.FEATURES))), 1.0)
    p1, _ = script.per_question(questions, [q.x @ w for q in questions])
    assert p1.tolist() == [1.0, 1.0]
    # The difference from the hand score with its paired standard error.
    assert script.versus(np.array([1.0, 0.0]), np.array([1.0, 1.0])) == "0.500 (-0.500 ± 0.500)"
