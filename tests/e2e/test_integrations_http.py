"""The running app's other ways in: MCP over streamable HTTP at /mcp, and the README's HTTP examples as written."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import re
import subprocess

from mcp import Client

from conftest import ROOT, run_async

README = (ROOT / "README.md").read_text(encoding="utf-8")
QUESTION = "Does Azure OpenAI support private endpoints?"


def readme_block(language: str, containing: str, url: str) -> str:
    """The one README code block in `language` containing `containing`, pointed at the test server."""
    blocks = [b for b in re.findall(rf"```{language}\n(.*?)```", README, re.DOTALL) if containing in b]
    assert len(blocks) == 1, f"expected one {language} block with {containing!r}"
    return blocks[0].replace("http://127.0.0.1:7860", url.rstrip("/"))


async def _mcp_session(url: str) -> dict:
    async with Client(url) as client:
        return {
            "tools": [t.name for t in (await client.list_tools()).tools],
            "cited": await client.call_tool("ask", {"question": QUESTION}),
            "abstained": await client.call_tool("ask", {"question": "Who won the 2018 football World Cup?"}),
            "search": await client.call_tool("search", {"query": "content filtering categories", "k": 2}),
            "bad": await client.call_tool("ask", {"question": "x" * 5000}),
        }


def test_mcp_over_streamable_http_at_mcp(ui_server):
    config = readme_block("json", '"type": "http"', ui_server["url"])
    mcp_url = json.loads(config)["mcpServers"]["azcompare"]["url"]  # the README's host configuration
    seen = run_async(_mcp_session, mcp_url)
    assert sorted(seen["tools"]) == ["ask", "search"]
    cited = seen["cited"].structured_content
    assert not seen["cited"].is_error and cited["status"] == "answered"
    assert re.search(r"\[1\]", cited["text"]) and cited["citations"][0]["date"]
    assert seen["abstained"].structured_content["abstained"] is True
    passages = seen["search"].structured_content["passages"]
    matches = [p for p in passages if p["role"] == "match"]
    assert len(matches) == 2 and all(p["title"] and p["date"] for p in passages)
    assert seen["bad"].is_error
    assert seen["bad"].content[0].text == (
        "Your question is 5,000 characters long; the limit is 2,000. Please shorten it to the question itself."
    )


def test_the_readme_gradio_client_example_runs_as_written(ui_server):
    code = readme_block("python", "from gradio_client import Client", ui_server["url"])
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    lines = [line for line in out.getvalue().splitlines() if not line.startswith("Loaded as API")]
    assert "Private Endpoints: OpenAI no; Azure OpenAI yes [1]" in lines[0] and "2024-06-01" in lines[0]
    streamed = [line.strip() for line in lines[1:-1] if line.strip()]
    assert len(streamed) >= 2, lines  # the text so far, then the Answer's
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(streamed))
    assert "Private Endpoints" in streamed[-1] and "[1]" in streamed[-1]
    assert lines[-1] and lines[-1] != lines[0]  # the title of the best passage


def _events(stream: str) -> list[tuple[str, object]]:
    return [(e, json.loads(d)) for e, d in re.findall(r"event: (\w+)\ndata: (.*)", stream)]


def test_the_readme_curl_examples_run_as_written(ui_server):
    script = readme_block("bash", "gradio_api/call/ask_stream", ui_server["url"])
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, check=True)
    events = _events(done.stdout)
    completes = [data[0] for event, data in events if event == "complete"]
    assert len(completes) == 2, done.stdout[-2000:]
    first, streamed = completes
    assert first["status"] == "answered" and "Private Endpoints: OpenAI no" in first["text"]
    assert streamed["status"] == "answered" and streamed["citations"]
    updates = [data[0] for event, data in events if event == "generating"]
    assert any(u.get("status") == "streaming" and u["text"] for u in updates)  # the text as it was written
    assert streamed["text"].startswith([u for u in updates if u.get("status") == "streaming"][-1]["text"].strip())


def test_http_search_and_stream_refuse_bad_input_with_the_message_of_answer(ui_server, kb_settings):
    from gradio_client import Client

    from azcompare import answer

    client = Client(ui_server["url"], verbose=False)
    assert client.predict("   ", 3, api_name="/search")["error"] == answer("   ", settings=kb_settings).text
    too_many = answer(QUESTION, top_k=99, settings=kb_settings).text
    assert client.predict(QUESTION, 99, api_name="/search")["error"] == too_many
    updates = list(client.submit(QUESTION, "[]", "gpt-17", 0, api_name="/ask_stream"))
    assert updates[-1]["status"] == "rejected"
    assert updates[-1]["text"] == answer(QUESTION, provider="gpt-17", settings=kb_settings).text
