"""Deterministic follow-up condensation."""

from __future__ import annotations

import pytest

from azcompare.answering.condense import asks_about_openai_too, condense_question

PREVIOUS = [("Does Azure OpenAI support private endpoints?", "Yes [1].")]


@pytest.mark.parametrize(
    ("follow_up", "standalone"),
    [
        ("And OpenAI?", "Does OpenAI support private endpoints?"),
        ("And the regular OpenAI API?", "Does OpenAI support private endpoints?"),
        ("What about customer-managed keys?", "Does Azure OpenAI support customer-managed keys?"),
        ("Is it available in Europe?", "Is Azure OpenAI available in Europe?"),
    ],
)
def test_follow_ups_become_standalone(follow_up, standalone):
    assert condense_question(follow_up, PREVIOUS) == standalone


def test_standalone_questions_are_left_alone():
    for question in ("How does content filtering work?", "In which regions is Azure OpenAI available?"):
        assert condense_question(question, PREVIOUS) == question
    assert condense_question("And OpenAI?", None) == "And OpenAI?"


def test_chained_follow_ups_resolve_through_history():
    history = [("Does OpenAI support private endpoints?", ""), ("And Azure OpenAI?", "")]
    assert (
        condense_question("What about encryption at rest?", history) == "Does Azure OpenAI support encryption at rest?"
    )


def test_unresolvable_follow_up_keeps_the_earlier_question_beside_it():
    history = [("What can the Cognitive Services OpenAI Contributor role do?", "")]
    standalone = condense_question("Can it see quota as well?", history)
    assert "Can it see quota as well?" in standalone and "Contributor role" in standalone


@pytest.mark.parametrize(
    ("question", "too"),
    [
        ("Do both platforms meet privacy standards?", True),
        ("Does OpenAI support private endpoints?", True),
        ("Unterstützt Azure OpenAI private Endpunkte, und OpenAI auch?", True),
        ("Does Azure OpenAI support private endpoints?", False),
        ("Is each Azure OpenAI deployment type regional?", False),  # a service named: "each" is about it
        ("How is data at rest encrypted?", False),
        (
            "The comparison says Azure OpenAI is regional, unlike OpenAI. Can an Azure OpenAI deployment run anywhere?",
            False,
        ),
    ],
)
def test_a_question_about_openai_too_is_told_apart(question, too):
    assert asks_about_openai_too(question) is too
