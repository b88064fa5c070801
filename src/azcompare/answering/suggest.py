"""Questions to offer the user: examples for an empty chat, follow-ups the knowledge base can answer."""

from __future__ import annotations

import re

from azcompare.answering.condense import entities_in
from azcompare.answering.extractive import is_pointer_heading
from azcompare.types import Answer

EXAMPLES = (
    "Does OpenAI support private endpoints?",
    "Who can get access to Azure OpenAI?",
    "Can I use customer-managed keys with Azure OpenAI?",
    "Does Azure OpenAI use my prompts to train models?",
    "How long does Azure OpenAI keep data for abuse monitoring?",
    "Which deployment type keeps data in one Azure region?",
)

_ROW = re.compile(r"^(?:[^,:]+, )?(?P<feature>[^:]+): OpenAI (?:yes|no); Azure OpenAI (?:yes|no)$")


def follow_up_suggestions(result: Answer, limit: int = 3) -> list[str]:
    """Two or three questions that continue the conversation and that retrieved passages answer.

    The same question about the other service; then features from retrieved feature-matrix rows the
    answer did not use; then sections among the retrieved passages the answer did not cite.
    """
    if result.status == "rejected":
        return []
    asked = result.standalone_question or result.question
    suggestions: list[str] = []
    mentioned = entities_in(asked)
    if len(mentioned) == 1 and not result.abstained:
        other = "OpenAI" if mentioned[0] == "Azure OpenAI" else "Azure OpenAI"
        suggestions.append(f"And {other}?")
    cited = {c.chunk_id for c in result.citations}
    for hit in result.hits:
        if hit.chunk.id in cited:
            continue
        row = _ROW.match(hit.chunk.text)
        if row:
            question = f"Does OpenAI support {row.group('feature').rstrip('*').strip()}?"
        elif hit.chunk.heading_path and not is_pointer_heading(hit.chunk.heading):
            topic = hit.chunk.heading_path[-1].rstrip("?")
            question = (
                f"What do the sources say about {topic[:1].lower() + topic[1:] if topic[1:2].islower() else topic}?"
            )
        else:
            continue
        if question not in suggestions and question != asked:
            suggestions.append(question)
        if len(suggestions) >= limit:
            break
    return suggestions[:limit]
