"""The Gradio chat page. It only calls `answer()`; it never opens the index or reads files itself."""

from __future__ import annotations

import html
import os
from typing import Any

from azcompare.settings import Settings, apply_offline_env

EXAMPLES = [
    "Does OpenAI support private endpoints?",
    "Who can access Azure OpenAI?",
    "Can I use customer-managed keys with Azure OpenAI?",
    "Does Azure OpenAI use my prompts to train models?",
]


def render_answer(result: Any) -> str:
    """Markdown for one answer: the text, then its numbered sources (corpus text escaped)."""
    lines = [html.escape(result.text, quote=False)]
    if result.citations:
        lines.append("\n**Sources**")
        for c in result.citations:
            where = html.escape(" > ".join(p for p in (c.title, c.heading) if p), quote=False)
            link = f" — <{c.url}>" if c.url else ""
            lines.append(f"{c.n}. {where} ({c.date or 'undated'}){link}")
    return "\n".join(lines)


def build_app(settings: Settings) -> Any:
    """A ChatInterface wired to `answer()` with the conversation as history."""
    import gradio as gr

    from azcompare.answering.pipeline import answer

    def respond(message: str, history: list[dict[str, Any]]) -> str:
        turns: list[tuple[str, str]] = []
        pending_user: str | None = None
        for item in history:
            if item.get("role") == "user":
                pending_user = str(item.get("content", ""))
            elif item.get("role") == "assistant" and pending_user is not None:
                turns.append((pending_user, str(item.get("content", ""))))
                pending_user = None
        return render_answer(answer(message, history=turns, settings=settings))

    return gr.ChatInterface(
        respond,
        title="azcompare: OpenAI vs Azure OpenAI",
        description="Answers come only from the indexed article and Microsoft Learn pages, with sources.",
        examples=EXAMPLES,
        analytics_enabled=False,
    )


def launch(settings: Settings | None = None, host: str | None = None, port: int | None = None) -> None:
    """Serve the UI on loopback (host and port from arguments or GRADIO_SERVER_NAME/PORT)."""
    apply_offline_env()
    settings = settings or Settings()
    demo = build_app(settings)
    demo.queue().launch(
        server_name=host or os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        server_port=port or int(os.environ.get("GRADIO_SERVER_PORT", "7860")),
        share=False,
        show_error=False,
    )
