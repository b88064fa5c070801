"""An MCP server with two tools, `ask` (a cited answer) and `search` (passages), for agent hosts.

Built on the official `mcp` SDK rather than Gradio's built-in MCP server: Gradio's would publish every
API endpoint of the page as a tool (its internal events too) and shape schemas and errors itself; here
the tools, their descriptions and their error results are ours. `azcompare mcp` serves it over stdio;
the chat app mounts its streamable HTTP form at /mcp (see ui/app.py).

Arguments are typed Any for validation, with a JSON schema that says what they should be: a wrong
value then reaches `stream_answer()`/`search()` and comes back as a tool error (isError) carrying their
one-line message, rather than as the SDK's validation text.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.tools import Tool
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import WithJsonSchema
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from azcompare.answering.pipeline import stream_answer
from azcompare.answering.search import search as search_passages
from azcompare.settings import Settings
from azcompare.types import Answer

MCP_PATH = "/mcp"

INSTRUCTIONS = (
    "Answers questions about OpenAI versus Microsoft Azure OpenAI (networking, identity, data privacy, "
    "content filtering, regions, models, quotas, pricing terms) from a small, trusted knowledge base: a "
    "comparison article and the Microsoft Learn pages it references. Every sentence of an answer cites its "
    "source with title, URL and date; when the knowledge base does not cover a question, the answer says so "
    "(abstained) instead of guessing."
)

ASK_DESCRIPTION = (
    "Answer a question about OpenAI vs Azure OpenAI from the knowledge base, with numbered citations. "
    "Use it for facts about how the two services differ or what one of them supports. Every sentence of "
    "the answer ends with [n]; `citations` gives each n's title, URL, section and date (sources of "
    "different dates are quoted each with its date, newest first). The answer may abstain "
    "(abstained: true, status 'abstained') when the knowledge base does not cover the question: then do "
    "not present it as an answer. Pass earlier turns in `history` to ask a follow-up."
)

SEARCH_DESCRIPTION = (
    "Find the knowledge base passages that best match a query, best first, without writing an answer. "
    "Use it to read the sources yourself or to quote them; each passage has its title, URL, section "
    "heading, date and text. Beside the k best matches come passages with role 'keyword' (the best keyword "
    "match) and, after them, 'newer' (a newer source on the same point as the older passage `updates` names: "
    "prefer it, the older one may be out of date). Use `ask` instead for a cited answer."
)

Question = Annotated[
    Any, WithJsonSchema({"type": "string", "description": "The question, in plain words (at most 2,000 characters)."})
]
History = Annotated[
    Any,
    WithJsonSchema(
        {
            "type": "array",
            "description": "Earlier turns, oldest first: [question, answer] pairs or {role, content} messages.",
            "items": {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object"}]},
        }
    ),
]
Provider = Annotated[
    Any,
    WithJsonSchema(
        {"type": "string", "description": "Answerer: extractive (default), local, ollama, openai or azure."}
    ),
]
Query = Annotated[Any, WithJsonSchema({"type": "string", "description": "What to look for, in plain words."})]
K = Annotated[
    Any, WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 50, "description": "Passages (default 8)."})
]


def build_server(settings: Settings | None = None) -> MCPServer:
    """The MCP server answering from the knowledge base `settings` describe (default: the environment)."""

    def ask(question: Question = None, history: History = None, provider: Provider = None) -> CallToolResult:
        result: Answer | None = None
        for event in stream_answer(question, history, provider, settings=settings):
            result = event.answer or result
        assert result is not None
        if result.status == "rejected":
            return _tool_error(result.text)
        data = ask_result(result)
        return CallToolResult(content=[TextContent(type="text", text=_answer_text(data))], structured_content=data)

    def search(query: Query = None, k: K = None) -> CallToolResult:
        found = search_passages(query, k, settings=settings)
        if not found.ok:
            return _tool_error(found.error)
        data = {"query": found.query, "passages": [p.to_dict() for p in found.passages], "notices": found.notices}
        return CallToolResult(content=[TextContent(type="text", text=_passages_text(data))], structured_content=data)

    tools = [
        _tool(ask, "Ask with citations", ASK_DESCRIPTION, required=["question"]),
        _tool(search, "Search the sources", SEARCH_DESCRIPTION, required=["query"]),
    ]
    # WARNING: the SDK would otherwise set the whole process's logging to INFO (the chat app's too).
    title = "azcompare: OpenAI vs Azure OpenAI"
    return MCPServer("azcompare", title=title, instructions=INSTRUCTIONS, tools=tools, log_level="WARNING")


def _tool(fn: Callable[..., CallToolResult], title: str, description: str, required: list[str]) -> Tool:
    """A read-only tool whose schema marks `required` arguments as such.

    They default to None in Python, so that a missing one reaches our checks and gets their message.
    """
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    tool = Tool.from_function(fn, title=title, description=description, annotations=read_only, structured_output=False)
    tool.parameters["required"] = required
    for name in required:
        tool.parameters["properties"][name].pop("default", None)
    return tool


def _tool_error(message: str) -> CallToolResult:
    """A tool error (isError) whose text is exactly the message `answer()` gives, without the SDK's prefix."""
    return CallToolResult(content=[TextContent(type="text", text=message)], is_error=True)


def ask_result(answer: Answer) -> dict[str, Any]:
    """What the ask tool returns as structured content: the Answer without its retrieval internals."""
    data = answer.to_dict()
    for key in ("hits", "timings", "usage", "unsupported"):
        data.pop(key)
    data["citations"] = [{k: v for k, v in c.items() if k not in ("passage", "spans")} for c in data["citations"]]
    return data


def _answer_text(data: dict[str, Any]) -> str:
    lines = [data["text"]]
    if data["abstained"]:
        lines.append("\n(abstained: the knowledge base does not cover this question)")
    if data["citations"]:
        lines.append("\nSources:")
        for c in data["citations"]:
            where = " > ".join(p for p in (c["title"], c["heading"]) if p)
            lines.append(f"[{c['n']}] {where} ({c['date'] or 'undated'}) {c['url']}".rstrip())
    lines += [f"note: {n}" for n in data["notices"]]
    return "\n".join(lines)


def _passages_text(data: dict[str, Any]) -> str:
    blocks = []
    rank_of = {p["chunk_id"]: p["rank"] for p in data["passages"]}
    for p in data["passages"]:
        where = " > ".join(x for x in (p["title"], p["heading"]) if x)
        # A newer passage says so, so that an agent quotes it before the older one it updates.
        newer = f" newer source on the point of [{rank_of[p['updates']]}]" if p["updates"] in rank_of else ""
        head = f"[{p['rank']}] {where} ({p['date'] or 'undated'}){newer} {p['url']}".rstrip()
        blocks.append(f"{head}\n{p['text']}")
    return "\n\n".join(blocks) or "No passages found."


class _BasicAuth:
    """An ASGI guard: requests without one of the configured HTTP Basic sign-ins get 401."""

    def __init__(self, app: ASGIApp, users: list[tuple[str, str]]) -> None:
        self.app = app
        self.accepted = ["Basic " + base64.b64encode(f"{u}:{p}".encode()).decode() for u, p in users]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope.get("headers", [])).get(b"authorization", b"").decode("latin-1").strip()
        # Compared with every entry, so that the time taken does not say which users exist.
        if not any([hmac.compare_digest(given.encode(), a.encode()) for a in self.accepted]):
            headers = {"WWW-Authenticate": 'Basic realm="azcompare"'}
            await PlainTextResponse("Sign-in required: HTTP Basic, a user of AZCOMPARE_AUTH.", 401, headers)(
                scope, receive, send
            )
            return
        await self.app(scope, receive, send)


def http_lifespan(
    settings: Settings, users: list[tuple[str, str]], host: str
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """A lifespan for the chat app's FastAPI app that serves the tools over streamable HTTP at MCP_PATH.

    Stateless: each request stands alone, so a restarted server or several workers need no sessions.
    With `users` (AZCOMPARE_AUTH), the endpoint requires HTTP Basic sign-in with one of them.
    """
    server = build_server(settings)
    # `host` keeps the SDK's DNS-rebinding protection on for a loopback server (and off beyond it).
    http_app: ASGIApp = server.streamable_http_app(streamable_http_path=MCP_PATH, stateless_http=True, host=host)
    endpoint = _BasicAuth(http_app, users) if users else http_app

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        # Added first: it answers /mcp itself, before any of the page's routes.
        app.router.routes.insert(0, Route(MCP_PATH, endpoint=endpoint))
        async with server.session_manager.run():
            yield

    return lifespan


def run_stdio(settings: Settings | None = None) -> None:
    """Serve the tools over stdin/stdout until the host closes them (what desktop MCP hosts start)."""
    build_server(settings).run("stdio")
