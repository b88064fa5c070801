"""Rendering of answers and sources for the chat page: escaping, citation links, highlights."""

from __future__ import annotations

from markdown_it import MarkdownIt

from azcompare.answering.suggest import follow_up_suggestions
from azcompare.overview import KnowledgeOverview, KnownDocument
from azcompare.types import Answer, Chunk, Citation, Hit
from azcompare.ui import render

PASSAGE = 'Intro. <script>alert("x")</script> is text. Keys: <b>bold</b> stays literal.'


def _citation(n: int = 1) -> Citation:
    start = PASSAGE.index("<script>")
    return Citation(
        n=n, title="Doc <i>title</i>", url="https://learn.microsoft.com/x?a=1&b=2", source="doc", heading="A > B",
        snippet=PASSAGE[start : start + 36], date="2025-01-02", passage=PASSAGE, chunk_id="doc#0001",
        spans=[[start, start + 36]],
    )  # fmt: skip


def _answer(text: str = "It is *fine* [1].", **kw) -> Answer:
    return Answer(question="q <b>?</b>", text=text, standalone_question="q", citations=[_citation()], **kw)


def test_answer_markers_become_links_and_text_is_literal():
    html = render.answer_markup(_answer("Use <script>x</script> and *stars* [1]."), turn=2)
    assert '<a class="az-cite" href="#az-src-2-1">[1]</a>' in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert r"\*stars\*" in html  # Markdown emphasis shown literally


def test_unsupported_sentences_and_notices_are_flagged():
    result = _answer("Claim one [1]. Claim two [1].", unsupported=["Claim two [1]."], notices=["fell back"])
    html = render.answer_markup(result, turn=0)
    assert 'class="az-unsupported"' in html and "⚠ Claim two" in html
    assert "ⓘ fell back" in html


def test_sources_escape_corpus_text_and_mark_the_snippet():
    html = render.sources_html([_answer()])
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert '<mark class="az-snippet">&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;' in html
    assert 'id="az-src-0-1"' in html and "2025-01-02" in html
    assert 'href="https://learn.microsoft.com/x?a=1&amp;b=2"' in html and 'rel="noopener noreferrer"' in html
    assert "Doc &lt;i&gt;title&lt;/i&gt;" in html


def test_only_web_links_are_linked():
    citation = _citation()
    unsafe = Citation(**{**citation.to_dict(), "url": "javascript:alert(1)"})
    assert "javascript:" not in render.sources_html([_with(unsafe)])


def test_export_lists_each_answer_with_sources_as_literal_text():
    text = render.conversation_markdown([_answer()])
    assert "## Q1: q \\<b\\>?\\</b\\>" in text and "1. Doc \\<i\\>title\\</i\\> › A › B (2025\\-01\\-02)" in text
    # Rendered by a Markdown reader, every text reads exactly as it was written, and none of it is markup.
    html = MarkdownIt("commonmark", {"html": True}).render(text)
    assert "<h2>Q1: q &lt;b&gt;?&lt;/b&gt;</h2>" in html and "<script" not in html
    assert "Doc &lt;i&gt;title&lt;/i&gt; › A › B (2025-01-02)" in html
    assert 'href="https://learn.microsoft.com/x?a=1&amp;b=2"' in html


def test_knowledge_header_lists_dates_and_missing_pages():
    overview = KnowledgeOverview(
        documents=(
            KnownDocument("a", "The article", "2024-06-01", "article", "", 3),
            KnownDocument("p", "A page", "2025-11-26", "page", "https://learn.microsoft.com/p", 4),
        ),
        missing_notice="8 referenced page(s) are missing; to add them, run `azcompare sources sync`.",
        built_at=None,
    )
    text = render.knowledge_markdown(overview)
    assert "2 documents" in text and "(2024-06-01)" in text and "A page — 2025-11-26" in text
    assert r"⚠ 8 referenced page\(s\) are missing" in text  # Markdown-escaped, renders literally


def test_follow_up_suggestions_swap_the_service_and_use_uncited_rows():
    text = "Data Security, Customer Managed Keys: OpenAI no; Azure OpenAI yes"
    row = Chunk(id="a#1", doc_id="a", title="T", text=text, heading_path=("Key Differences",), kind="row")
    next_steps = Chunk(id="a#2", doc_id="a", title="T", text="Links.", heading_path=("Next steps",))
    result = Answer(
        question="Does Azure OpenAI support private endpoints?", text="Yes [1].",
        standalone_question="Does Azure OpenAI support private endpoints?",
        hits=[Hit(row, 0.1, 1), Hit(next_steps, 0.05, 2)],
    )  # fmt: skip
    assert follow_up_suggestions(result) == ["And OpenAI?", "Does OpenAI support Customer Managed Keys?"]


def _with(citation: Citation) -> Answer:
    return Answer(question="q", text="x [1].", citations=[citation])


def test_what_a_user_typed_renders_as_typed_and_inert():
    typed = "![x](http://evil.example/x.png) [c](javascript:alert(1)) <b>b</b> www.evil.example a@b.example"
    html = MarkdownIt("commonmark", {"html": True, "linkify": False}).render(render.user_markup(typed))
    assert "<img" not in html and "<a" not in html and "<b>" not in html
    assert "![x](http://evil.example/x.png)" in html.replace("&quot;", '"')


def test_a_comparison_table_in_an_answer_becomes_an_escaped_html_table_with_live_markers():
    text = (
        "Azure OpenAI has Private Endpoints, which OpenAI lacks [1].\n\n"
        "| Point | OpenAI | Azure OpenAI | Source |\n| --- | --- | --- | --- |\n"
        "| <img src=x onerror=alert(1)> | no | yes | [1] article, 2024-06-01 |"
    )
    html_out = render.answer_markup(Answer(question="q", text=text), 2)
    assert html_out.startswith('Azure OpenAI has Private Endpoints, which OpenAI lacks <a class="az-cite"')
    assert '<table class="az-compare"><thead><tr><th>Point</th>' in html_out
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in html_out and "<img" not in html_out
    assert '<td><a class="az-cite" href="#az-src-2-1">[1]</a> article, 2024-06-01</td>' in html_out


def test_the_sources_panel_assembled_from_kept_groups_equals_a_full_render():
    refused = Answer(question="x" * 3000, text="Too long.", status="rejected")
    turns = [_answer(), refused, _answer("Other [1].")]
    groups = [render.source_group(i, t) for i, t in enumerate(turns)]
    assert groups[1] == ""  # a refused question has no sources group
    panel = render.sources_panel(groups)
    assert panel == render.sources_html(turns)
    assert panel.index('data-turn="2"') < panel.index('data-turn="0"')  # latest first
    assert 'id="az-turn-2" open>' in panel and 'id="az-turn-0">' in panel
    assert render.sources_panel([]) == render.sources_html([])
