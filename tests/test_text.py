"""Sentence splitting: a list item always carries its lead-in, however long the list."""

from __future__ import annotations

from azcompare.text import split_sentences


def test_items_of_a_long_list_keep_their_lead_in():
    lead = "Your prompts, completions and training data:"
    items = [f"- are NOT used for purpose number {i} of a long list of purposes that goes on and on." for i in range(9)]
    passage = "\n".join([lead, *items])
    sentences = split_sentences(passage)
    assert len(sentences) > 1  # too long for one sentence
    assert all(s.text.startswith(lead) for s in sentences)
    assert all(f"purpose number {i} " in " ".join(s.text for s in sentences) for i in range(9))
    # Every span is an exact slice of the passage.
    assert all(passage[a:b].rstrip(".;") in s.text for s in sentences for a, b in s.spans)


def test_a_short_list_is_one_sentence_with_its_lead_in():
    sentences = split_sentences("Your data is:\n- not shared\n- not used for training\n\nAfter the list.")
    assert [s.text for s in sentences] == ["Your data is: not shared; not used for training", "After the list."]


def test_numbered_steps_are_items_with_their_sub_items_and_exact_spans():
    from azcompare.answering.steps import numbered_steps

    passage = (
        "To connect, follow these steps:\n\n"
        "1. Sign in to the portal.\n"
        "2. On the Data source page:\n\n"
        "    - Select Upload files.\n"
        "    - Select Next.\n"
        "3. Resolve the address with nslookup. For example:\n\n"
        "```\nnslookup example.com\n```\n\n"
        "Afterwards the data is indexed.\n\n"
        "1. Review your configuration.\n"
    )
    steps = numbered_steps(passage)
    assert [s.text for s in steps] == [
        "Sign in to the portal.",
        "On the Data source page: Select Upload files; Select Next",
        "Resolve the address with nslookup.",  # the "For example:" before the code is left out
        "Review your configuration.",
    ]
    for step in steps:
        assert all(passage[a:b] in step.text or passage[a:b].rstrip(".") in step.text for a, b in step.spans)


def test_a_short_step_joins_the_step_before_it_and_a_lone_lead_in_is_left_out():
    from azcompare.answering.citations import Evidence
    from azcompare.answering.steps import _readable, numbered_steps
    from azcompare.types import Chunk, Hit

    passage = (
        "1. Switch the managed identity status to On.\n2. Save your changes.\n3. On the Upload files page:\n"
        "4. Review your configuration and then select Save and close.\n"
    )
    hit = Hit(chunk=Chunk(id="p#0", doc_id="p", title="P", text=passage), score=1.0, rank=1)
    steps, left_out = _readable([Evidence(hit, s, 1.0, 1.0) for s in numbered_steps(passage)])
    assert [s.sentence.text for s in steps] == [
        "Switch the managed identity status to On; Save your changes.",
        "Review your configuration and then select Save and close.",
    ]
    assert left_out and [passage[a:b] for a, b in steps[0].sentence.spans] == [
        "Switch the managed identity status to On.",
        "Save your changes.",
    ]


def test_a_nested_lead_in_whose_items_go_on_in_the_next_sentence_does_not_end_the_first():
    lead = "Before you turn on the feature, the storage account has to be set up as follows:"
    items = [
        "- Turn on versioning and soft delete for every container that the service will write its output files to.",
        "- When the account sits behind a firewall, let trusted platform services reach it so that exports succeed.",
        "- Network rules:",
        "  - With a private endpoint, approve the connection request that the service sends to the account owner"
        " when it is set up.",
        "  - With service endpoints, add the subnet of the service to the allowed virtual networks of the account.",
    ]
    sentences = split_sentences("\n".join([lead, *items]))
    assert len(sentences) == 2
    assert all(not s.text.rstrip().endswith(":") for s in sentences)
    assert "let trusted platform services reach it" in sentences[0].text
    assert "approve the connection request" in sentences[1].text and sentences[1].text.startswith(lead)


def test_a_long_sentence_is_not_cut_before_a_clause_that_shares_its_subject():
    shared = (
        "Uploaded files are kept in the storage account of the region that the customer picked when creating"
        " the resource group and the"
        " resource, but may be copied to a paired region inside the same country for disaster recovery and backup."
    )
    own = (
        "Uploaded files are kept in the storage account of the region that the customer picked when creating"
        " the resource group and the"
        " resource, and the service deletes them automatically thirty days after the last job that used them ends."
    )
    assert [s.text for s in split_sentences(shared)] == [shared]
    assert len(split_sentences(own)) == 2  # a clause with its own subject still stands alone
