"""scripts/compare_providers.py: the kept rate, why answers were replaced, and how right the kept leads are."""

from __future__ import annotations

from azcompare.evaluation.dataset import EvalItem
from azcompare.evaluation.runner import score_item, summarize
from azcompare.types import Answer
from conftest import load_script

ITEMS = [
    EvalItem("q1", "Is data encrypted at rest?", "fact", expected_facts=(("256-bit AES",),), verdict="yes"),
    EvalItem("q2", "Are prompts used for training?", "fact", expected_facts=(("not used to train",),), verdict="no"),
    EvalItem("q3", "What is the resource limit?", "fact", expected_facts=(("Limit value: 30",),)),
    EvalItem("q4", "Which role lets us call models?", "fact", expected_facts=(("OpenAI User",),)),
]
EXTRACTIVE = [
    "Yes — data is encrypted with 256-bit AES [1].",
    "No — prompts are not used to train any model [1].",
    "Resources per region: Limit value: 30 [1].",
    "Cognitive Services OpenAI User can call deployed models [1].",
]


def _run(answers: list[Answer]):
    return summarize([score_item(item, a, 0.1) for item, a in zip(ITEMS, answers, strict=True)])


def test_the_summary_counts_drop_reasons_and_compares_kept_leads_with_the_extractive_ones():
    script = load_script("compare_providers")
    asked = {"generate_ms": 500.0, "total_ms": 900.0, "first_token_ms": 300.0}
    reference = _run(
        [Answer(q.question, text, provider="extractive") for q, text in zip(ITEMS, EXTRACTIVE, strict=True)]
    )
    local = _run(
        [
            # Kept, with the expected fact and verdict in its lead.
            Answer(
                ITEMS[0].question,
                "Yes, data is encrypted with 256-bit AES [1].\n\nBody.",
                provider="local",
                timings=asked,
            ),
            # Kept, the right verdict, but the lead misses the expected fact.
            Answer(
                ITEMS[1].question, "No, Microsoft keeps them private [1].\n\nBody.", provider="local", timings=asked
            ),
            # Replaced: the lead was backed by no statement.
            Answer(ITEMS[2].question, EXTRACTIVE[2], provider="extractive", timings=asked, fallback="uncited"),
            # Replaced: the model ran out of time (no generate_ms: the fallback says it was asked).
            Answer(
                ITEMS[3].question, EXTRACTIVE[3], provider="extractive", timings={"total_ms": 5.0}, fallback="timeout"
            ),
        ]
    )
    row = script.summarize("local:smollm2", local, 1.0, {r.item.id: r for r in reference.results})
    assert row["model_calls"] == 4 and row["kept_rate"] == 0.5
    assert row["dropped"] == {"uncited": 1, "timeout": 1}
    assert row["kept_lead_accuracy"] == 0.5 and row["kept_lead_acc_extractive"] == 1.0
    assert row["kept_verdict_accuracy"] == 1.0 and row["kept_verdict_acc_extractive"] == 1.0
