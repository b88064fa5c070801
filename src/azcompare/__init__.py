"""azcompare: cited answers about OpenAI versus Azure OpenAI from a small, trusted knowledge base.

from azcompare import answer
a = answer("Does OpenAI support private endpoints?")
print(a.text, a.citations)
"""

from azcompare.answering.pipeline import StreamEvent, answer, stream_answer
from azcompare.answering.search import Passage, SearchResults, search
from azcompare.index import BuildReport, build_index
from azcompare.settings import Settings
from azcompare.types import Answer, Chunk, Citation, Document, Hit

__all__ = [
    "Answer",
    "BuildReport",
    "Chunk",
    "Citation",
    "Document",
    "Hit",
    "Passage",
    "SearchResults",
    "Settings",
    "StreamEvent",
    "answer",
    "build_index",
    "search",
    "stream_answer",
]
