"""End-to-end answers with the extractive provider on the real index."""

from __future__ import annotations

import re

import pytest

from azcompare import answer
from azcompare.evaluation.metrics import fact_present

ARTICLE = "openai-vs-azure-openai"

REPRESENTATIVE = [
    ("Does OpenAI support private endpoints?", ["Private Endpoints: OpenAI no"], [ARTICLE]),
    ("Can the OpenAI API be deployed into a virtual network?", ["Virtual Networks: OpenAI no"], [ARTICLE]),
    ("Can I bring my own encryption keys to OpenAI?", ["Customer Managed Keys: OpenAI no"], [ARTICLE]),
    (
        "Is Azure OpenAI data encrypted at rest?",
        ["FIPS 140-2", "encrypts your data"],
        ["azure-openai-encrypt-data-at-rest"],
    ),
    (
        "Which built-in role lets someone view quota?",
        ["Cognitive Services Usages Reader"],
        ["azure-openai-role-based-access-control"],
    ),
    (
        "Does Azure OpenAI use my prompts to improve OpenAI models?",
        ["NOT used to improve OpenAI models", "are NOT used by Azure Direct Model providers to improve"],
        [ARTICLE, "azure-openai-data-privacy"],
    ),
    (
        "How many Azure OpenAI resources can one subscription have per region?",
        ["Limit value: 30"],
        ["azure-openai-quotas-limits"],
    ),
    ("How much cheaper is a Global Batch deployment?", ["50%"], ["foundry-deployment-types"]),
    (
        "Can an app use a managed identity to call Azure OpenAI?",
        ["managed identit"],
        ["azure-openai-managed-identity-entra-id"],
    ),
    # Was a known gap (its passage ranked outside top_k); the 2024 claim's turned link now brings it.
    ("Who is eligible to use Azure OpenAI?", ["all Azure customers are eligible"], ["azure-openai-limited-access"]),
    ("Which compliance certifications apply to Azure OpenAI?", ["ISO 22301", "SOC1,2,3"], [ARTICLE]),
    ("Is the Azure OpenAI Service run by OpenAI?", ["fully controlled by Microsoft"], [ARTICLE]),
    ("Can I opt out of API data retention with OpenAI?", ["opt-out of API data retention: OpenAI no"], [ARTICLE]),
    pytest.param(
        "What does Azure OpenAI content filtering check prompts for?",
        ["hate", "violence"],
        ["azure-openai-content-filter"],
        marks=pytest.mark.xfail(
            strict=True,
            reason="known gap: the category list sits in a sentence that never says 'content filtering'",
        ),
    ),
]

OFF_TOPIC = [
    "What is the capital of France?",
    "How do I bake sourdough bread?",
    "Who won the 2018 football World Cup?",
    "What was Apple's stock price yesterday?",
    "Write a poem about my cat.",
    "How do I change a flat bicycle tyre?",
]


@pytest.mark.parametrize(("question", "facts", "sources"), REPRESENTATIVE)
def test_representative_questions_get_facts_and_cite_the_source(kb_settings, question, facts, sources):
    result = answer(question, settings=kb_settings)
    assert result.status == "answered" and not result.abstained
    assert fact_present(facts, result.text), result.text
    assert any(c.source in sources for c in result.citations), [c.source for c in result.citations]
    _assert_well_cited(result)


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_questions_abstain(kb_settings, question):
    result = answer(question, settings=kb_settings)
    assert result.abstained and result.status == "abstained"
    assert result.citations == []
    assert "not in the knowledge base" in result.text
    assert "[1]" not in result.text


def test_sources_of_different_dates_are_given_newest_first(kb_settings):
    result = answer("Who can get access to Azure OpenAI?", settings=kb_settings)
    # The 2025 page: registration only for some models; the 2023 page: access limited, apply.
    assert fact_present(["registration form is required to access some"], result.text), result.text
    assert fact_present(["Access is currently limited"], result.text), result.text
    dates = [c.date for c in result.citations]
    assert dates[0] == max(dates), result.text  # the newest source speaks first
    for citation in result.citations:
        if citation.date < "2025-01-01":  # an older source says how old it is, where it is quoted
            assert re.search(rf"\({citation.date}\)( said)?: [^\[]*\[{citation.n}\]", result.text), result.text


def test_follow_up_uses_history(kb_settings):
    history = [("Does Azure OpenAI support private endpoints?", "Yes [1].")]
    result = answer("And OpenAI?", history=history, settings=kb_settings)
    assert result.standalone_question == "Does OpenAI support private endpoints?"
    assert fact_present(["Private Endpoints: OpenAI no"], result.text)


def test_answers_are_deterministic(kb_settings):
    first = answer("Does Azure OpenAI support customer-managed keys?", settings=kb_settings)
    second = answer("Does Azure OpenAI support customer-managed keys?", settings=kb_settings)
    assert first.text == second.text
    assert [c.to_dict() for c in first.citations] == [c.to_dict() for c in second.citations]


def _assert_well_cited(result) -> None:
    """Every sentence ends with [n]; numbers follow first use; each snippet is exact passage text."""
    sentences = [s for s in re.split(r"(?<=\]\.)\s+", result.text) if s]
    assert sentences and all(re.search(r"\[\d+\]\.$", s) for s in sentences), result.text
    used = [int(n) for n in re.findall(r"\[(\d+)\]", result.text)]
    first_use = list(dict.fromkeys(used))
    assert first_use == list(range(1, len(result.citations) + 1))
    retrieved = {h.chunk.id for h in result.hits}
    for citation in result.citations:
        assert citation.chunk_id in retrieved
        assert citation.date and citation.title
        pieces = [citation.passage[a:b] for a, b in citation.spans]
        assert all(p and p in citation.passage for p in pieces)
        assert all(p.rstrip(".") in citation.snippet for p in pieces)
