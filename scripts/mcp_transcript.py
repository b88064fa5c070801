"""An MCP client session over stdio, printed: the tools listed, one cited answer, one abstention.

    python scripts/mcp_transcript.py            # the transcript
    python scripts/mcp_transcript.py --timing 5 # and latency: median of 5 calls of each way in, one run

It starts `azcompare mcp` as a desktop host would (same environment: AZCOMPARE_INDEX_DIR and friends),
talks to it with the official `mcp` client, and prints each request and reply. With --timing it also
times, in the same run and on the same warm index, one MCP `ask` and `search` call, one
`AzcompareRetriever.invoke` and one `answer()` call, and prints the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from typing import Any

from mcp import Client, StdioServerParameters

QUESTION = "Does Azure OpenAI support private endpoints?"
OFF_TOPIC = "How do I bake sourdough bread?"


def show(direction: str, payload: Any) -> None:
    print(f"{direction} {json.dumps(payload, indent=2, ensure_ascii=False)}\n", flush=True)


async def call(client: Client, name: str, arguments: dict[str, Any]) -> Any:
    show("→ tools/call", {"name": name, "arguments": arguments})
    result = await client.call_tool(name, arguments)
    show(
        "←",
        {"isError": result.is_error, "text": result.content[0].text, "structuredContent": result.structured_content},
    )
    return result


async def session(timing: int) -> dict[str, list[float]]:
    # The whole environment: the SDK would otherwise pass only a few variables (PATH, HOME, ...) on.
    params = StdioServerParameters(command=sys.executable, args=["-m", "azcompare.cli", "mcp"], env=dict(os.environ))
    times: dict[str, list[float]] = {"mcp ask": [], "mcp search": []}
    started = time.perf_counter()
    async with Client(params) as client:
        print(f"(stdio server started and initialized in {time.perf_counter() - started:.1f} s)\n")
        show("→", {"method": "tools/list"})
        tools = (await client.list_tools()).tools
        show("←", [{"name": t.name, "description": t.description, "inputSchema": t.input_schema} for t in tools])
        await call(client, "ask", {"question": QUESTION})
        await call(client, "ask", {"question": OFF_TOPIC})
        await call(client, "ask", {"question": ""})
        for _ in range(timing):
            for name, arguments in (("mcp ask", {"question": QUESTION}), ("mcp search", {"query": QUESTION, "k": 8})):
                t0 = time.perf_counter()
                await client.call_tool(name.split()[1], arguments)
                times[name].append((time.perf_counter() - t0) * 1000)
    return times


def in_process(timing: int) -> dict[str, list[float]]:
    """The same question through answer() and the LangChain retriever, in this process (index warmed first)."""
    from azcompare import answer
    from azcompare.integrations.langchain import AzcompareRetriever

    retriever = AzcompareRetriever(k=8)
    for _ in range(3):  # warm: model and index loaded and the first embeddings done, as in the MCP server by now
        answer(QUESTION)
    times: dict[str, list[float]] = {"answer()": [], "retriever.invoke": []}
    for _ in range(timing):
        t0 = time.perf_counter()
        answer(QUESTION)
        times["answer()"].append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        retriever.invoke(QUESTION)
        times["retriever.invoke"].append((time.perf_counter() - t0) * 1000)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timing", type=int, default=0, metavar="N", help="also time N calls of each way in")
    args = parser.parse_args()
    times = asyncio.run(session(args.timing))
    if args.timing:
        times.update(in_process(args.timing))
        print(f"latency, median of {args.timing} (ms), question: {QUESTION!r}")
        for name, values in times.items():
            print(f"  {name:<18} {statistics.median(values):8.1f}   (min {min(values):.1f}, max {max(values):.1f})")


if __name__ == "__main__":
    main()
