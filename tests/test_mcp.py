"""The MCP server over stdio: the real `mcp` client starts `azcompare mcp` as a desktop host would."""

from __future__ import annotations

import sys

from mcp import Client, StdioServerParameters

from azcompare import answer, search
from azcompare.integrations.mcp import build_server
from conftest import cli_env, run_async

QUESTION = "Does Azure OpenAI support private endpoints?"
OFF_TOPIC = "How do I bake sourdough bread?"


async def _session(env: dict[str, str]) -> dict:
    """One stdio session: list the tools, ask, abstain, search, and send bad arguments."""
    params = StdioServerParameters(command=sys.executable, args=["-m", "azcompare.cli", "mcp"], env=env)
    seen: dict = {}
    async with Client(params) as client:
        seen["tools"] = {t.name: t for t in (await client.list_tools()).tools}
        seen["cited"] = await client.call_tool("ask", {"question": QUESTION})
        seen["abstained"] = await client.call_tool("ask", {"question": OFF_TOPIC})
        seen["search"] = await client.call_tool("search", {"query": QUESTION, "k": 3})
        seen["bad"] = {
            "empty": await client.call_tool("ask", {"question": "   "}),
            "missing": await client.call_tool("ask", {}),
            "type": await client.call_tool("ask", {"question": 42}),
            "long": await client.call_tool("ask", {"question": "x" * 5000}),
            "provider": await client.call_tool("ask", {"question": QUESTION, "provider": "gpt-17"}),
            "history": await client.call_tool("ask", {"question": QUESTION, "history": "earlier"}),
            "k": await client.call_tool("search", {"query": QUESTION, "k": 0}),
        }
    return seen


def test_stdio_lists_the_tools_answers_with_citations_abstains_and_refuses_bad_input(kb_settings):
    seen = run_async(_session, cli_env(kb_settings))

    tools = seen["tools"]
    assert set(tools) == {"ask", "search"}
    ask = tools["ask"]
    assert "cit" in ask.description and "abstain" in ask.description
    assert ask.input_schema["required"] == ["question"]
    assert ask.input_schema["properties"]["question"]["type"] == "string"
    assert set(ask.input_schema["properties"]) == {"question", "history", "provider"}
    assert tools["search"].input_schema["properties"]["k"]["type"] == "integer"

    cited = seen["cited"]
    expected = answer(QUESTION, settings=kb_settings)
    assert not cited.is_error
    data = cited.structured_content
    assert data["status"] == "answered" and data["text"] == expected.text
    assert [c["url"] for c in data["citations"]] == [c.url for c in expected.citations]
    assert all(c["date"] and c["title"] for c in data["citations"])
    text = cited.content[0].text
    assert text.startswith(expected.text) and f"[1] {expected.citations[0].title}" in text

    abstained = seen["abstained"]
    assert not abstained.is_error
    assert abstained.structured_content["abstained"] and abstained.structured_content["citations"] == []
    assert "abstained" in abstained.content[0].text

    passages = seen["search"].structured_content["passages"]
    assert [p["chunk_id"] for p in passages] == [p.chunk_id for p in search(QUESTION, 3, settings=kb_settings).passages]
    assert all(p["title"] and p["date"] and {"url", "heading", "text"} <= set(p) for p in passages)
    # The 2024 article's matrix row is matched: the current page's passage on its point comes after the three
    # best matches, and the text an agent reads says which match it updates.
    rank = {p["chunk_id"]: p["rank"] for p in passages}
    newer = [p for p in passages if p["role"] == "newer"]
    assert newer and all(
        f"[{p['rank']}] " in seen["search"].content[0].text
        and f"newer source on the point of [{rank[p['updates']]}]" in seen["search"].content[0].text
        for p in newer
    )

    bad = seen["bad"]
    messages = {
        "empty": answer("   ", settings=kb_settings).text,
        "missing": answer(None, settings=kb_settings).text,  # type: ignore[arg-type]
        "type": answer(42, settings=kb_settings).text,  # type: ignore[arg-type]
        "long": answer("x" * 5000, settings=kb_settings).text,
        "provider": answer(QUESTION, provider="gpt-17", settings=kb_settings).text,
        "history": answer(QUESTION, "earlier", settings=kb_settings).text,  # type: ignore[arg-type]
        "k": search(QUESTION, 0, settings=kb_settings).error,
    }
    for name, result in bad.items():
        assert result.is_error, name
        assert [c.text for c in result.content] == [messages[name]], name
        assert "Traceback" not in messages[name] and "\n" not in messages[name]


async def _busy(settings) -> tuple:
    async with Client(build_server(settings)) as client:  # the same server, in process
        return await client.call_tool("ask", {"question": QUESTION}), await client.call_tool("search", {"query": "x"})


def test_a_busy_index_is_a_tool_error_with_the_message_of_answer(busy_settings):
    asked, searched = run_async(_busy, busy_settings)
    expected = answer(QUESTION, settings=busy_settings).text
    assert "being built by another process" in expected
    assert asked.is_error and asked.content[0].text == expected
    assert searched.is_error and searched.content[0].text == expected
