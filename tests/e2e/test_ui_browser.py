"""The chat page in headless Chromium: streaming, clickable citations, panels, feedback, safety."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from loopback_servers import LoopbackServer

CHAT_INPUT = "#az-question textarea"


@pytest.fixture
def page(browser, ui_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(ui_server["url"], wait_until="load")
    page.wait_for_selector(CHAT_INPUT, timeout=60_000)
    yield page
    context.close()


def ask(page, question: str, turn: int = 0) -> dict[str, float]:
    """Type a question, press Enter, wait for the streamed text and the finished answer (seconds)."""
    page.fill(CHAT_INPUT, question)
    started = time.perf_counter()
    page.press(CHAT_INPUT, "Enter")
    page.wait_for_function(
        "n => document.querySelectorAll('#az-chat [data-testid=bot]').length >= n "
        "&& /\\w/.test(document.querySelectorAll('#az-chat [data-testid=bot]')[n - 1].innerText)",
        arg=turn + 1,
        timeout=60_000,
    )
    first = time.perf_counter() - started
    page.wait_for_selector(f"#az-sources details[data-turn='{turn}']", timeout=60_000)
    return {"first_text_s": first, "full_answer_s": time.perf_counter() - started}


def test_answer_streams_and_citations_bring_sources_into_view(page, ui_server, capsys):
    timings = ask(page, "Does OpenAI support private endpoints?")
    with capsys.disabled():
        print(
            f"\n[ui timing] Enter → first streamed text {timings['first_text_s'] * 1000:.0f} ms, "
            f"→ full answer {timings['full_answer_s'] * 1000:.0f} ms (extractive provider)"
        )
    bot = page.locator("#az-chat [data-testid=bot]").last
    assert "Private Endpoints: OpenAI no" in bot.inner_text()
    page.locator("#az-chat a.az-cite").first.click()
    active = page.locator(".az-source.az-active")
    active.wait_for(timeout=10_000)
    assert active.get_attribute("id") == "az-src-0-1"
    in_view = (
        "() => { const r = document.querySelector('.az-source.az-active').getBoundingClientRect();"
        " return r.top >= 0 && r.bottom <= window.innerHeight; }"
    )
    page.wait_for_function(in_view)
    highlighted = active.locator("mark.az-snippet").inner_text()
    assert "Private Endpoints: OpenAI no" in highlighted
    assert "2024-06-01" in active.inner_text()


# Records the length of the last answer's text each time it changes, until its sources arrive.
SAMPLE_LENGTHS = """() => {
  window.__lengths = [];
  const timer = setInterval(() => {
    const bots = document.querySelectorAll('#az-chat [data-testid=bot]');
    const n = bots.length ? bots[bots.length - 1].innerText.length : 0;
    if (n && window.__lengths[window.__lengths.length - 1] !== n) window.__lengths.push(n);
    if (document.querySelector("#az-sources details[data-turn='0']")) clearInterval(timer);
  }, 15);
}"""


def test_a_generative_answer_streams_token_by_token_and_flags_an_unsupported_sentence(page, ui_server, model_server):
    page.get_by_text("Settings").click()
    page.locator("#az-provider input").click()
    page.get_by_role("option", name="openai", exact=True).click()
    page.evaluate(SAMPLE_LENGTHS)
    ask(page, "Does Azure OpenAI support private endpoints?")
    lengths = page.evaluate("window.__lengths")
    assert len(lengths) >= 5, lengths  # the text grew piece by piece as the model server sent tokens
    flagged = page.locator("#az-chat .az-unsupported")
    assert "unlimited free GPUs" in flagged.inner_text()
    assert "Azure OpenAI supports private endpoints" not in flagged.inner_text()
    assert "Private Endpoints: OpenAI no" in page.locator("#az-src-0-1 mark.az-snippet").inner_text()
    page.get_by_text("How this answer was made").click()
    how = page.locator("#az-how-body")
    how.wait_for(state="visible")
    assert "Provider: openai" in how.inner_text() and "generate_ms" in how.inner_text()
    assert "Model tokens: prompt_tokens" in how.inner_text()
    sent = model_server.requests[-1]
    assert sent.path == "/v1/chat/completions" and sent.body["stream"] is True
    assert sent.headers["authorization"] == f"Bearer {ui_server['openai_key']}"
    assert ui_server["openai_key"] not in page.content()


def test_how_panel_suggestions_and_follow_up(page):
    ask(page, "Does Azure OpenAI support private endpoints?")
    page.get_by_text("How this answer was made").click()
    how = page.locator("#az-how-body")
    how.wait_for(state="visible")
    assert "Standalone question" in how.inner_text() and "embed_ms" in how.inner_text()
    suggestion = page.locator(".az-suggestion", has_text="And OpenAI?")
    suggestion.wait_for(timeout=10_000)
    suggestion.click()
    page.wait_for_selector("#az-sources details[data-turn='1']", timeout=60_000)
    assert "Does OpenAI support private endpoints?" in how.inner_text()


def test_a_comparison_answer_shows_its_table_and_each_row_cites_a_source(page):
    ask(page, "What's the difference between OpenAI and Azure OpenAI in terms of data privacy?")
    table = page.locator("#az-chat table.az-compare")
    table.wait_for(state="visible")
    assert table.locator("th").all_inner_texts() == ["Point", "OpenAI", "Azure OpenAI", "Source"]
    rows = table.locator("tbody tr")
    assert rows.count() >= 2
    rows.nth(1).locator("a.az-cite").click()
    n = rows.nth(1).locator("a.az-cite").inner_text().strip("[]")
    source = page.locator(f"#az-src-0-{n}")
    source.wait_for(state="visible")
    assert source.is_visible()


def test_thumbs_up_is_saved_with_question_answer_and_citations(page, ui_server):
    ask(page, "Can I use customer-managed keys with Azure OpenAI?")
    before = _feedback(ui_server)
    page.locator("#az-chat button[aria-label='Like']").last.click()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(_feedback(ui_server)) == len(before):
        time.sleep(0.2)
    entry = _feedback(ui_server)[-1]
    assert entry["rating"] == "up"
    assert entry["question"] == "Can I use customer-managed keys with Azure OpenAI?"
    assert entry["answer"] and entry["citations"][0]["n"] == 1


def test_script_in_a_document_is_shown_not_run(page):
    ask(page, "What does the sanitizer test page say about scripts?")
    sources = page.locator("#az-sources")
    answer_text = page.locator("#az-chat [data-testid=bot]").last.inner_text()  # shown if the check fails
    assert "<script>window.__xss = 1</script>" in sources.inner_text(), answer_text
    assert page.evaluate("() => window.__xss") is None
    assert page.locator("#az-sources script, #az-chat script, #az-sources img").count() == 0


def test_abstention_and_input_messages(page, ui_server):
    ask(page, "How long should I boil an egg to get a runny yolk?")
    bot = page.locator("#az-chat [data-testid=bot]").last
    assert "not in the knowledge base" in bot.inner_text()
    assert "Nearby topics" in bot.inner_text()
    # The same question, in another process on the same index, gets the same answer (nearby topics included).
    cli = subprocess.run(
        [sys.executable, "-m", "azcompare.cli", "ask", "--json", "How long should I boil an egg to get a runny yolk?"],
        env=ui_server["env"], capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert " ".join(bot.inner_text().split()) == " ".join(json.loads(cli.stdout)["text"].split())
    page.fill(CHAT_INPUT, "x" * 3000)
    page.press(CHAT_INPUT, "Enter")
    page.wait_for_function("() => /limit is 2,000/.test(document.querySelector('#az-chat').innerText)", timeout=30_000)


def test_users_do_not_see_each_other(browser, ui_server):
    first, second = browser.new_context(), browser.new_context()
    try:
        a, b = first.new_page(), second.new_page()
        for p in (a, b):
            p.goto(ui_server["url"], wait_until="load")
            p.wait_for_selector(CHAT_INPUT, timeout=60_000)
        ask(a, "Does OpenAI support private endpoints?")
        ask(b, "Who can get access to Azure OpenAI?")
        assert "Who can get access" not in a.locator("#az-chat").inner_text()
        assert "private endpoints" not in b.locator("#az-chat").inner_text()
    finally:
        first.close()
        second.close()


def test_export_conversation_as_markdown_is_made_on_demand_and_inert(page, tmp_path):
    exports_before = _export_folders()
    ask(page, "Does OpenAI support private endpoints? <img src=x onerror=alert(1)> [click](javascript:alert(1))")
    with page.expect_download() as download:
        page.locator("#az-export").click()
    target = tmp_path / "conversation.md"
    download.value.save_as(target)
    text = target.read_text(encoding="utf-8")
    assert "## Q1: Does OpenAI support private endpoints? \\<img src\\=x onerror\\=alert\\(1\\)\\>" in text
    assert "Sources:" in text and "(2024\\-06\\-01)" in text
    # Rendered as a Markdown reader would (raw HTML allowed), nothing in it is live.
    rendered = MarkdownIt("commonmark", {"html": True}).render(text)
    assert "onerror" in rendered and "<img" not in rendered and 'href="javascript' not in rendered
    assert _export_folders() == exports_before  # nothing written on the server


def _export_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("azcompare-export-*")}


def test_what_a_user_types_is_shown_as_typed_and_stays_inert(page):
    with LoopbackServer() as pixel:
        typed = (
            f"![x]({pixel.url}/pixel.png) [x](javascript:alert(1)) <b>bold</b> Does OpenAI support private endpoints?"
        )
        ask(page, typed)
        user = page.locator("#az-chat [data-testid=user]").last
        assert user.inner_text().strip() == typed
        assert user.locator("img, a, b").count() == 0
        page.wait_for_timeout(500)
        assert pixel.requests == []  # the image was never fetched


def test_settings_rebuild_reports_and_providers_explain_themselves(page, ui_server):
    page.get_by_text("Settings").click()
    shown = page.locator("#az-feedback-path").inner_text()
    assert str(ui_server["feedback"]) in shown  # shown, and never taken from the page:
    assert page.locator("#az-feedback-path textarea, #az-feedback-path input").count() == 0
    page.locator("#az-rebuild").click()
    status = page.locator("#az-rebuild-status")
    page.wait_for_function("() => /Rebuilt:/.test(document.querySelector('#az-rebuild-status').innerText)",
                           timeout=120_000)  # fmt: skip
    assert "up to date" in status.inner_text()
    assert page.locator("#az-provider").is_visible()


def _feedback(ui_server) -> list[dict]:
    path = ui_server["feedback"]
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
