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
