"""Links from older passages to the newer passages on the same point, on the real session index.

The older sources are derived from dates: the 2024 article and the 2023 snapshot of the overview page
lie more than `dated_span_days` before the newest Microsoft Learn pages.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from markdown_it import MarkdownIt

from azcompare import answer, build_index
from azcompare.index import current_version, rebuild_reason
from azcompare.links import LINKS_FILE, older_documents, read_links
from azcompare.retrieval import KnowledgeBase, open_knowledge_base
from azcompare.types import Answer, Chunk, Link
from azcompare.ui import render

ARTICLE = "openai-vs-azure-openai"
OVERVIEW_2023 = "azure-openai-overview-2023-azure-docs"


@pytest.fixture(scope="module")
def kb(kb_settings) -> KnowledgeBase:
    return open_knowledge_base(kb_settings)


def _all_links(kb: KnowledgeBase) -> list[Link]:
    return [link for chunk in kb.chunks for link in kb.newer(chunk.id)]


def _chunk(kb: KnowledgeBase, doc_id: str, text: str, kind: str = "row") -> Chunk:
    return next(c for c in kb.chunks if c.doc_id == doc_id and c.kind == kind and text in c.text)


def test_older_sources_are_derived_from_dates():
    def chunk(doc: str, date: str) -> Chunk:
        return Chunk(id=f"{doc}#0", doc_id=doc, title=doc, text="t", date=dt.date.fromisoformat(date))

    chunks = [chunk("old", "2023-10-16"), chunk("mid", "2025-06-01"), chunk("new", "2026-02-17")]
    assert older_documents(chunks, 365) == {"old"}
    assert older_documents(chunks, 200) == {"old", "mid"}
    assert older_documents([Chunk(id="u#0", doc_id="u", title="u", text="t")], 365) == set()


def test_a_renamed_term_links_to_its_current_name(kb):
    studio = _chunk(kb, OVERVIEW_2023, "Azure OpenAI Service Studio")
    renames = [link for link in kb.newer(studio.id) if link.kind == "rename"]
    assert renames, kb.newer(studio.id)
    assert ("Azure OpenAI Service Studio", "Microsoft Foundry") in renames[0].renamed
    assert "Microsoft Foundry" in " ".join(renames[0].new_sentences)


def test_the_articles_matrix_rows_get_newer_counterparts(kb):
    rows = [c for c in kb.chunks if c.doc_id == ARTICLE and c.kind == "row"]
    linked = [c for c in rows if kb.newer(c.id)]
    assert len(rows) >= 20 and len(linked) >= len(rows) // 3, f"{len(linked)} of {len(rows)} rows linked"
    expected = {
        "Customer Managed Keys": "azure-openai-encrypt-data-at-rest",
        "Private Endpoints": "azure-openai-network-private-endpoints",
        "Azure RBAC": "azure-openai-role-based-access-control",
    }
    for feature, page in expected.items():
        assert page in {link.new_doc_id for link in kb.newer(_chunk(kb, ARTICLE, feature).id)}, feature
    entra = kb.newer(_chunk(kb, ARTICLE, "Azure AD:").id)
    assert any(("Azure AD", "Microsoft Entra ID") in link.renamed for link in entra), entra


def test_an_unrelated_passage_gets_no_counterpart(kb):
    conclusion = _chunk(kb, ARTICLE, "By understanding these differences", kind="section")
    assert kb.newer(conclusion.id) == []


def test_newer_never_links_to_older(kb):
    links = _all_links(kb)
    assert links
    older = {ARTICLE, OVERVIEW_2023}
    for link in links:
        assert link.old_doc_id in older and link.new_doc_id not in older, link
        assert link.new_date and link.old_date and link.new_date > link.old_date, link
    assert not any(kb.newer(c.id) for c in kb.chunks if c.doc_id not in older)


def test_links_persist_across_reopen(kb_settings, kb):
    reopened = KnowledgeBase(kb_settings, kb.version_dir)
    try:
        assert reopened.links_problem is None
        assert _all_links(reopened) == _all_links(kb)
    finally:
        reopened.close()
    stored, problem = read_links(kb.version_dir)
    assert problem is None and sum(len(v) for v in stored.values()) == len(_all_links(kb))


def test_the_manifest_records_the_link_recipe(kb_settings):
    assert rebuild_reason(kb_settings) is None
    assert rebuild_reason(kb_settings.with_overrides(dated_span_days=30)) == "link settings changed"


def test_a_new_link_recipe_relinks_without_embedding_and_swaps_atomically(index_copy):
    before = current_version(index_copy.index_dir)
    wider = index_copy.with_overrides(dated_span_days=150)  # pages of mid-2025 become older too
    report = build_index(wider)
    assert report.reason == "link settings changed" and report.embedded_chunks == 0 and report.links > 0
    after = current_version(index_copy.index_dir)
    assert after != before and (after / LINKS_FILE).is_file() and (before / LINKS_FILE).is_file()
    links = _all_links(open_knowledge_base(wider))
    assert len(links) == report.links and {ARTICLE, OVERVIEW_2023} < {link.old_doc_id for link in links}
    assert all(link.new_date > link.old_date for link in links if link.new_date and link.old_date)
    assert rebuild_reason(wider) is None and build_index(wider).reason == "up to date"


@pytest.mark.parametrize("damage", ["garbage", "missing"])
def test_damaged_links_give_a_clear_problem_not_a_crash(index_copy, damage):
    path = current_version(index_copy.index_dir) / LINKS_FILE
    if damage == "garbage":
        path.write_text('{"links": [{"old_chunk_id": 1', encoding="utf-8")
    else:
        path.unlink()
    kb = open_knowledge_base(index_copy)
    assert kb.links_problem and LINKS_FILE in kb.links_problem
    assert ("missing" if damage == "missing" else "azcompare index --rebuild") in kb.links_problem
    assert _all_links(kb) == []
    result = answer("Does Azure OpenAI offer Azure OpenAI Service Studio?", settings=index_copy)
    assert result.status == "answered" and result.links == []


def test_retrieval_appends_the_newer_counterparts_of_an_old_passage(kb):
    result = kb.search("Azure OpenAI Service Studio for model exploration and fine-tuning", 8, 30, 60)
    old_hits = [h for h in result.hits if kb.newer(h.chunk.id)]
    assert old_hits, [h.chunk.id for h in result.hits]
    assert result.linked and result.links
    hit_ids = {h.chunk.id for h in result.hits + result.keyword}  # the keyword match's counterparts follow too
    for hit in result.linked:
        assert hit.via_link in hit_ids and hit.chunk.id not in hit_ids
        assert hit.chunk.id in {link.new_chunk_id for link in kb.newer(hit.via_link)}
    assert result.all_hits == sorted(result.hits + result.keyword, key=lambda h: h.rank) + result.linked
    assert [h.rank for h in result.all_hits] == list(range(1, len(result.all_hits) + 1))


def test_an_answer_carries_the_links_it_used(kb_settings):
    result = answer("Is Azure AD supported for identity and access management in Azure OpenAI?", settings=kb_settings)
    assert result.links, [h.chunk.id for h in result.hits]
    hit_ids = {h.chunk.id for h in result.hits}
    assert all(link.old_chunk_id in hit_ids for link in result.links)
    stored = result.to_dict()["links"]
    assert json.loads(json.dumps(stored)) == [link.to_dict() for link in result.links]
    assert [Link.from_dict(item) for item in stored] == result.links


def test_the_panel_shows_links_escaped():
    link = Link(
        old_chunk_id="a#0001", old_doc_id="a", old_title="Article <i>2024</i>", old_date=dt.date(2024, 6, 1),
        old_sentence='Use <script>alert("x")</script> Studio.', new_chunk_id="b#0002", new_doc_id="b",
        new_title="Page", new_date=dt.date(2026, 1, 14), new_sentences=("Use the Microsoft Foundry portal & more.",),
        kind="rename", score=0.81, renamed=(("Azure OpenAI Studio", "Microsoft Foundry"),),
    )  # fmt: skip
    panel = render.how_markdown(Answer(question="q", text="t", links=[link]))
    assert '<table class="az-links">' in panel
    assert "<script>" not in panel and "&lt;script&gt;" in panel and "&lt;i&gt;2024&lt;/i&gt;" in panel
    assert "(2024-06-01)" in panel and "(2026-01-14)" in panel and "Azure OpenAI Studio → Microsoft Foundry" in panel
    assert "portal &amp; more" in panel and ">rename<" in panel
    rendered = MarkdownIt("commonmark", {"html": True}).render(panel)  # as the page's Markdown shows it
    assert '<table class="az-links">' in rendered and "<script>" not in rendered
    assert "Newer passages" not in render.how_markdown(Answer(question="q", text="t"))


def test_a_stale_exclusive_claim_links_to_the_sentence_that_turns_it_around(kb):
    claim = _chunk(kb, ARTICLE, "available exclusively to Microsoft Enterprise customers and requires", kind="section")
    links = [k for k in kb.newer(claim.id) if "requires an Azure subscription" in k.old_sentence]
    turned = [k for k in links if k.turned]
    assert turned, [(k.new_chunk_id, k.new_sentences) for k in links]
    assert "all Azure customers are eligible" in turned[0].new_sentences[0]


def test_the_sentence_that_turns_a_leading_stale_claim_around_leads_the_answer(kb_settings):
    result = answer("Do you have to be a Microsoft Enterprise customer to get Azure OpenAI?", settings=kb_settings)
    first, _, rest = result.text.partition("[1]")
    assert "all Azure customers are eligible" in first, result.text
    assert "2024 article (2024-06-01)" in rest and "exclusively" in rest, result.text


@pytest.mark.parametrize(
    ("question", "change", "stale"),
    [
        # preview -> generally available
        ("Are DALL-E models in preview?", "generally available", "currently in preview"),
        # an unconditional step -> a conditional one
        (
            "Is every high-detail image shrunk until its shortest side measures 768 pixels?",
            "If the shortest side is larger than 768 pixels",
            "scaled down so that the shortest side is 768 pixels",
        ),
    ],
)
def test_a_newer_sentence_saying_what_changed_leads_and_the_stale_claim_follows_dated(
    kb_settings, question, change, stale
):
    result = answer(question, settings=kb_settings)
    first, _, rest = result.text.partition("[1]")
    assert change in first, result.text
    assert stale in rest and "(2023-10-16)" in rest, result.text
