"""Question sets: the format's validation, and the shipped sets' coverage and ground truth."""

from __future__ import annotations

import json
import re

import pytest

from azcompare.corpus.chunking import chunk_document
from azcompare.corpus.loaders import load_documents
from azcompare.evaluation.dataset import KINDS, QuestionSetError, check_sources, load_question_set
from azcompare.evaluation.metrics import normalize
from azcompare.index import chunker_params
from conftest import ROOT, write

QUESTIONS = ROOT / "evals" / "questions.yaml"
GOOD_ITEM = """
  - id: q-1
    kind: fact
    question: "Does OpenAI support private endpoints?"
    expected_facts: [["Private Endpoints: OpenAI no"]]
    expected_sources: [openai-vs-azure-openai]
"""


def _one(**fields: str) -> str:
    """A file of one item: id q-1, a fact question, then `fields` (None drops a field)."""
    base = {"id": "q-1", "kind": "fact", "question": "x?", "expected_sources": "[a]"}
    base.update(fields)
    return "items:\n  - " + "\n    ".join(f"{k}: {v}" for k, v in base.items() if v is not None) + "\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_one(question=None), "item 'q-1': field 'question'"),
        (_one(kind="trivia"), "item 'q-1': field 'kind'"),
        (_one(expected_facts="[x]"), "item 'q-1': field 'expected_facts'"),
        (_one(expected_facts="[[]]"), "item 'q-1': field 'expected_facts'"),
        (_one(expected_sources="a"), "item 'q-1': field 'expected_sources'"),
        (_one(kind="followup", history="[[only-one]]"), "item 'q-1': field 'history'"),
        (_one(expected_source="[a]"), "item 'q-1': unknown field 'expected_source'"),
        (_one(expected_sources=None), "item 'q-1': an answerable item needs"),
        (_one(reference="[1]"), "item 'q-1': field 'reference'"),
        (_one(split="[dev]"), "item 'q-1': field 'split'"),
        (_one(kind="near_miss"), "item 'q-1': a near_miss item needs field 'absent'"),
        (_one(absent='"a price"'), "item 'q-1': field 'absent' is only for near_miss items"),
        (_one(kind="conflict"), "item 'q-1': a conflict item needs field 'stale_facts'"),
        (_one(kind="conflict", stale_facts="[]"), "item 'q-1': a conflict item needs field 'stale_facts'"),
        (_one(stale_facts="[old]"), "item 'q-1': field 'stale_facts' is only for conflict items"),
        (_one(kind="yes_no"), "item 'q-1': a yes_no item needs field 'verdict'"),
        (_one(kind="yes_no", verdict="maybe"), "item 'q-1': field 'verdict' must be one of yes, no, depends"),
        (_one(kind="out_of_scope", verdict="no", expected_sources=None), "item 'q-1': field 'verdict' needs"),
        (_one(id=None), "item #1: field 'id'"),
        ("items:" + GOOD_ITEM + GOOD_ITEM, "item id 'q-1' appears twice"),
        ("include: [missing.yaml]\n", "missing.yaml: no such question set file"),
        ("itemz: []\n", "unknown top-level field 'itemz'"),
        ("items: [\n", "not valid YAML"),
        ("split: 3\nitems:" + GOOD_ITEM, "field 'split' must be a string"),
    ],
)
def test_invalid_files_name_the_item_and_the_field(tmp_path, body, message):
    path = write(tmp_path / "set.yaml", body)
    with pytest.raises(QuestionSetError) as exc:
        load_question_set(path)
    assert message in str(exc.value)
    assert str(path) in str(exc.value) or "missing.yaml" in message


def test_jsonl_items_carry_their_own_split(tmp_path):
    rows = [
        {"id": "a", "kind": "fact", "question": "x?", "expected_sources": ["d"], "split": "dev"},
        {"id": "b", "kind": "out_of_scope", "question": "y?", "split": "heldout"},
    ]
    path = write(tmp_path / "set.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n\n")
    questions = load_question_set(path)
    assert [i.id for i in questions.split("dev")] == ["a"] and questions.splits == ["dev", "heldout"]
    bad = write(tmp_path / "bad.jsonl", json.dumps(rows[0]) + "\n{oops\n")
    with pytest.raises(QuestionSetError, match="line 2 is not valid JSON"):
        load_question_set(bad)


def test_kind_fields_are_read_and_a_bare_yaml_yes_is_the_verdict_yes(tmp_path):
    body = (
        _one(id="a", kind="yes_no", verdict="yes")
        + _one(id="b", kind="near_miss", absent='"an SLA figure"')[len("items:\n") :]
        + _one(id="c", kind="conflict", stale_facts='["Azure AD"]', verdict='"depends"')[len("items:\n") :]
    )
    items = {i.id: i for i in load_question_set(write(tmp_path / "set.yaml", body)).items}
    assert items["a"].verdict == "yes" and items["a"].to_dict()["verdict"] == "yes"
    assert items["b"].near_miss and items["b"].absent == "an SLA figure" and items["b"].answerable
    assert items["c"].stale_facts == ("Azure AD",) and items["c"].verdict == "depends"


def test_unknown_document_ids_are_named():
    items = load_question_set(QUESTIONS).items[:1]
    with pytest.raises(QuestionSetError, match=r"item 'dev-001': field 'expected_sources' names 'openai-vs-azure"):
        check_sources(items, {"some-other-doc"})


def test_questions_yaml_includes_both_splits_without_duplicating_them():
    questions = load_question_set(QUESTIONS)
    dev, heldout = questions.split("dev"), questions.split("heldout")
    assert [p.name for p in questions.files] == ["questions.yaml", "dev.yaml", "heldout.yaml"]
    assert len(questions.items) == len(dev) + len(heldout) >= 100
    assert {i.kind for i in questions.items} == set(KINDS)
    assert {i.kind for i in heldout} == set(KINDS) and {i.kind for i in dev} == set(KINDS)
    counts = {kind: sum(i.kind == kind for i in questions.items) for kind in KINDS}
    assert counts["conflict"] >= 24 and counts["near_miss"] >= 30
    assert counts["comparison"] >= 15 and counts["yes_no"] >= 15
    assert counts["noisy"] >= 10 and counts["non_english"] >= 5
    # Each kind has items in both splits, held-out at least 30% of each: first split about 40/60, dev has since
    # grown by 56 and then 45 fresh questions.
    for kind in KINDS:
        share = sum(i.kind == kind for i in dev) / counts[kind]
        assert 0.25 <= share <= 0.70, f"{kind}: {share:.2f} of its items are in dev"
    # No question leaks from the tuning split into the reported one.
    asked = [re.sub(r"\W+", " ", i.question.lower()).strip() for i in questions.items]
    assert len(set(asked)) == len(asked)
    assert all(i.history for i in questions.items if i.kind == "followup")


@pytest.fixture(scope="module")
def corpus_texts(kb_settings) -> dict[str, list[str]]:
    """Each document's cleaned text and chunk texts, normalized, loaded with the project's loaders."""
    params = chunker_params(kb_settings)
    return {
        doc.id: [normalize(doc.text)] + [normalize(c.text) for c in chunk_document(doc, params)]
        for doc in load_documents(kb_settings)
    }


def test_every_document_is_an_expected_source_somewhere(corpus_texts):
    questions = load_question_set(QUESTIONS)
    check_sources(questions.items, corpus_texts)
    covered = {s for i in questions.items for s in i.expected_sources}
    assert set(corpus_texts) - covered == set()
    assert len(corpus_texts) == 21  # the article and the 20 mirrored pages


def test_every_expected_fact_phrasing_occurs_in_one_of_its_sources(corpus_texts):
    missing = []
    for item in load_question_set(QUESTIONS).items:
        assert not item.expected_facts or item.expected_sources, f"{item.id}: facts without sources"
        for group in (*item.expected_facts, item.stale_facts):
            for phrasing in group:
                needle = normalize(phrasing).rstrip(".,;:!?")
                if not any(needle in text for s in item.expected_sources for text in corpus_texts[s]):
                    missing.append(f"{item.id}: {phrasing!r} not in {', '.join(item.expected_sources)}")
    assert missing == []
