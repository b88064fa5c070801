"""The local model's output grammar (its effect on a real model is tested in test_local_model.py)."""

from __future__ import annotations

from azcompare.answering.grammar import answer_grammar
from azcompare.answering.prompt import ABSTAIN_PHRASE


def test_the_grammar_names_only_the_passages_given_and_the_sentence_budget():
    text = answer_grammar(passages=3, max_sentences=2)
    assert 'num ::= "3" | "2" | "1"' in text
    assert text.splitlines()[0] == 'root ::= abstain | claim (" " claim)?'
    assert f'abstain ::= "{ABSTAIN_PHRASE}"' in text
    assert '"10"' in answer_grammar(passages=12, max_sentences=1)
