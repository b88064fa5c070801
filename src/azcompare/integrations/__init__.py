"""Ways in from other tools: a LangChain retriever and chain, an MCP server. Each calls `stream_answer()`
or `search()` and nothing lower, so citations, abstention, dates and messages are the same everywhere.
"""

from azcompare.integrations.errors import AzcompareError

__all__ = ["AzcompareError"]
