"""The Gradio Blocks chat app. It calls `stream_answer()` like any other client; it never opens the
index or reads corpus files itself. All per-user state lives in `gr.State`, so concurrent users do
not see each other's conversations.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import gradio as gr

from azcompare.answering.condense import CONTEXT_TURNS
from azcompare.answering.pipeline import prepare_in_background, stream_answer
from azcompare.answering.providers import EXTRACTIVE, provider_status
from azcompare.answering.redact import protect_logs
from azcompare.answering.search import search
from azcompare.answering.suggest import EXAMPLES, follow_up_suggestions
from azcompare.index import build_index
from azcompare.index_state import IndexBusy, IndexUnavailable
from azcompare.integrations.mcp import http_lifespan
from azcompare.models import local_model_label
from azcompare.overview import knowledge_overview
from azcompare.settings import Settings, apply_offline_env
from azcompare.types import Answer, encodable
from azcompare.ui import feedback, render
from azcompare.ui.gradio_tuning import tune_queue

log = logging.getLogger(__name__)
SUGGESTIONS = 3


def _asset(name: str) -> str:
    return resources.files("azcompare.ui").joinpath("assets", name).read_text(encoding="utf-8")


# Measured with scripts/loadtest.py on 2 shared cores (README, "Many users at once"): answering is
# CPU-bound, so beyond a few answers at once more only share the same cores (1 left a core idle at 4
# users; 8 gave less at 16 users than 2 or 4, which measured alike). The rest wait in the queue.
ANSWERS_AT_ONCE = 4
# Questions waiting beyond those being answered; a fuller queue tells the user to retry, instead of
# letting waits grow without bound (at ~10 answers/s on 2 cores, 64 waiting is about 6 seconds).
QUEUE_SIZE = 64
# Queue positions are sent to waiting users once a second, not to every waiting user on every finished
# answer (16 users: ~12 messages per answer otherwise).
QUEUE_STATUS_EVERY_S = 1.0
# While an answer streams, the chat is sent at most this often: the extractive answer arrives whole, so
# its sentences go out in one update, while a model's tokens (tens of ms apart) still stream one by one.
STREAM_INTERVAL_S = 0.04


@dataclass
class Conversation:
    """One browser session's conversation, kept on the server (the browser never sends it back).

    What the page shows is kept as rendered, so that an answer renders only itself: the chat messages,
    each answer's part of the sources panel, the panels and the suggestions currently shown.
    """

    turns: list[Answer] = field(default_factory=list)
    chat: list[dict[str, str]] = field(default_factory=list)
    source_groups: list[str] = field(default_factory=list)
    sources: str = field(default_factory=lambda: render.sources_panel([]))
    how: str = field(default_factory=lambda: render.how_markdown(None))
    suggestions: list[str] = field(default_factory=lambda: [""] * SUGGESTIONS)
    suggestions_visible: tuple[bool, ...] = (False,) * SUGGESTIONS


def _buttons(labels: list[str], before: tuple[bool, ...], after: tuple[bool, ...]) -> list[Any]:
    """The suggestion buttons' outputs: their labels, with a gr.update only where visibility changes.

    For Gradio a plain value is cheaper than an update, from which it builds a new component.
    """
    changes = zip(labels, before, after, strict=True)
    return [label if was == now else gr.update(value=label, visible=now) for label, was, now in changes]


Updates = Iterator[tuple[Any, ...]]


def _postprocessed_here(fn: Callable[..., Updates], outputs: list[Any]) -> Callable[..., Updates]:
    """`fn` with each update's values postprocessed by their components in the thread that made them.

    For every event Gradio preprocesses each input and postprocesses each output in a worker thread of
    its own: thirteen thread hand-offs per chat update, ~1 ms of server CPU (scripts/gradio_floor.py),
    for values that need none (the chat event's inputs are a string, a number, a provider name and the
    session's state, which the pipeline checks itself). The chat event runs with Gradio's processing off
    and gets the components' own postprocessing here instead, so the browser receives the same values.
    """

    def ready(value: Any, component: Any) -> Any:
        if component.stateful or isinstance(value, dict):  # the session's state and gr.update(): Gradio's
            return value
        shown = component.postprocess(value)
        return shown.model_dump() if hasattr(shown, "model_dump") else shown

    def run(*args: Any) -> Updates:
        for values in fn(*args):
            yield tuple(ready(v, c) for v, c in zip(values, outputs, strict=True))

    return run


def _history(turns: list[Answer]) -> list[tuple[str, str]]:
    """Earlier turns for follow-up condensation (refused questions carry no context).

    Only the last CONTEXT_TURNS count for a follow-up, so only those are passed: a long conversation costs
    no more per question than a short one.
    """
    recent: list[tuple[str, str]] = []
    for t in reversed(turns):
        if len(recent) == CONTEXT_TURNS:
            break
        if t.status != "rejected":
            recent.append((t.question, t.text))
    return recent[::-1]


# The export is made when asked for and handed to the browser as text, which saves it as a file: the
# server writes no file per answer or per conversation, so nothing accumulates in its temporary folder.
_DOWNLOAD_JS = """(text) => {
  if (!text) return;
  const url = URL.createObjectURL(new Blob([text], { type: "text/markdown;charset=utf-8" }));
  const link = Object.assign(document.createElement("a"), { href: url, download: "azcompare-conversation.md" });
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}"""


def _provider_choices(settings: Settings) -> tuple[list[str], str]:
    status = provider_status(settings)
    usable = [name for name, reason in status.items() if reason is None]
    others = [f"- **{name}**: {reason}" for name, reason in status.items() if reason is not None]
    note = ("Not available here:\n" + "\n".join(others)) if others else "Every provider is available."
    if "local" in usable:
        note += f"\n\nThe **local** provider runs {local_model_label(settings)} (`AZCOMPARE_LOCAL_MODEL`)."
    return usable, note


def build_app(settings: Settings) -> gr.Blocks:
    """The chat page wired to the answering pipeline."""
    usable, provider_note = _provider_choices(settings)

    with gr.Blocks(title="azcompare: OpenAI vs Azure OpenAI", analytics_enabled=False) as demo:
        conversation_state = gr.State(Conversation())  # deep-copied per browser session
        gr.Markdown("# azcompare — OpenAI vs Azure OpenAI, with sources you can check")
        knowledge = gr.Markdown(render.knowledge_markdown(knowledge_overview(settings)), elem_id="az-knowledge")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    elem_id="az-chat",
                    height=560,
                    label="Conversation",
                    examples=[{"text": q} for q in EXAMPLES],
                    placeholder="Ask about networking, identity, data privacy, content filtering, regions…",
                    feedback_options=("Like", "Dislike"),
                    buttons=["copy"],
                )
                with gr.Row():
                    question = gr.Textbox(
                        elem_id="az-question",
                        placeholder="Ask a question and press Enter",
                        show_label=False,
                        scale=5,
                        max_lines=6,
                        autofocus=True,
                    )
                    send = gr.Button("Ask", variant="primary", scale=1, elem_id="az-send")
                with gr.Row(elem_id="az-suggestions"):
                    suggestion_buttons = [
                        gr.Button("", visible=False, size="sm", elem_classes=["az-suggestion"])
                        for _ in range(SUGGESTIONS)
                    ]
                with gr.Row():
                    export = gr.Button("Export conversation (Markdown)", size="sm", elem_id="az-export")
                    export_text = gr.Textbox(visible=False, elem_id="az-export-text")
                    clear = gr.Button("New conversation", size="sm")
                with gr.Accordion("How this answer was made", open=False, elem_id="az-how"):
                    how = gr.Markdown(render.how_markdown(None), elem_id="az-how-body")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(render.sources_html([]), elem_id="az-sources-panel")
                with gr.Accordion("Settings", open=False, elem_id="az-settings"):
                    provider = gr.Dropdown(
                        choices=usable, value=settings.provider if settings.provider in usable else "extractive",
                        label="Provider", elem_id="az-provider",
                    )  # fmt: skip
                    gr.Markdown(provider_note, elem_id="az-provider-note")
                    top_k = gr.Slider(1, 20, value=settings.top_k, step=1, label="Passages retrieved per question")
                    # Server configuration, shown and never taken from the page (AZCOMPARE_FEEDBACK_PATH).
                    gr.Markdown(
                        f"Ratings (👍/👎) are saved on the server in `{render.esc(str(settings.feedback_path))}`.",
                        elem_id="az-feedback-path",
                    )
                    if not settings.read_only:
                        with gr.Row():
                            from_scratch = gr.Checkbox(False, label="From scratch (re-embed everything)")
                            rebuild = gr.Button("Rebuild index", size="sm", elem_id="az-rebuild")
                        rebuild_status = gr.Markdown("", elem_id="az-rebuild-status")

        def respond(
            message: object, conversation: Conversation, provider_name: object, k: object
        ) -> Iterator[tuple[Any, ...]]:
            """Stream one answer into the chat, then fill the sources, the how panel and suggestions.

            Every update carries all outputs; those that do not change get the value they already show
            (cheaper for Gradio than an empty gr.update(), which builds a new component, and sent as an
            empty diff). Only the final update renders this answer's sources and panels.
            """
            c = conversation
            labels = list(c.suggestions)
            if not isinstance(message, str) or not message.strip():  # unprocessed: whatever was sent
                gr.Warning("Please type a question about OpenAI or Azure OpenAI.")
                yield (c.chat, c, c.sources, c.how, message if isinstance(message, str) else "", *labels)
                return
            hidden = (False,) * SUGGESTIONS
            hide, visible = _buttons(labels, c.suggestions_visible, hidden), c.suggestions_visible
            turn = len(c.turns)
            user_message = {"role": "user", "content": render.user_markup(encodable(message))}
            chat = [*c.chat, user_message, {"role": "assistant", "content": ""}]
            text, shown, sent = "", "", 0.0
            final: Answer | None = None
            # The extractive answer is whole in tens of ms: its question, status lines and sentences go out
            # with the final update, one update instead of three. A build still shows its status.
            quiet = (provider_name or settings.provider) == EXTRACTIVE.name
            for event in stream_answer(message, _history(c.turns), provider_name or None, settings=settings, top_k=k):
                if event.kind == "status":
                    if quiet and event.stage != "build":
                        continue
                    shown = render.status_markup(event.text)
                elif event.kind == "delta":
                    text += event.text
                    shown = ""  # rendered only when sent
                    if quiet:
                        continue
                else:
                    final = event.answer
                    break
                if sent and time.monotonic() - sent < STREAM_INTERVAL_S:
                    continue  # a later update (or the final answer) carries this one too
                sent = time.monotonic()
                chat[-1] = {"role": "assistant", "content": shown or render.streaming_markup(text, turn)}
                yield (chat, c, c.sources, c.how, "", *hide)
                hide, visible = labels, hidden
            assert final is not None
            chat[-1] = {"role": "assistant", "content": render.answer_markup(final, turn)}
            groups = [*c.source_groups, render.source_group(turn, final)]
            ideas = follow_up_suggestions(final, SUGGESTIONS)
            done = Conversation(
                turns=[*c.turns, final],
                chat=chat,
                source_groups=groups,
                sources=render.sources_panel(groups),
                how=render.how_markdown(final),
                suggestions=ideas + labels[len(ideas) :],
                suggestions_visible=tuple(i < len(ideas) for i in range(SUGGESTIONS)),
            )
            buttons = _buttons(done.suggestions, visible, done.suggestions_visible)
            yield (done.chat, done, done.sources, done.how, "", *buttons)

        outputs = [chatbot, conversation_state, sources, how, question, *suggestion_buttons]
        inputs = [question, conversation_state, provider, top_k]
        # The page's own events are private: the documented API is /ask, /ask_stream and /search below.
        page = {"api_visibility": "private"}
        # Every way of asking shares one limit with /ask and /ask_stream ("answer"): see ANSWERS_AT_ONCE.
        answering = {"concurrency_limit": ANSWERS_AT_ONCE, "concurrency_id": "answer"}
        chatting = {**answering, "preprocess": False, "postprocess": False}
        respond = _postprocessed_here(respond, outputs)
        # Enter and Ask are one event, callable (undocumented) as /chat: a load test takes the browser's path.
        gr.on([question.submit, send.click], respond, inputs, outputs, api_name="chat",
              api_visibility="undocumented", **chatting)  # fmt: skip
        for button in suggestion_buttons:
            button.click(lambda q: q, button, question, queue=False, **page).then(
                respond, inputs, outputs, **chatting, **page
            )

        def pick_example(event: gr.SelectData) -> str:
            return event.value["text"]

        chatbot.example_select(pick_example, None, question, queue=False, **page).then(
            respond, inputs, outputs, **chatting, **page
        )

        def on_like(event: gr.LikeData, conversation: Conversation) -> None:
            """Append the rating of one of this session's answers to the configured feedback file."""
            turns = conversation.turns
            turn = event.index[0] if isinstance(event.index, list | tuple) else event.index
            answer_index = turn // 2 if isinstance(turn, int) and not isinstance(turn, bool) else -1
            if not 0 <= answer_index < len(turns):
                return
            assert settings.feedback_path is not None
            try:
                feedback.record(settings.feedback_path, turns[answer_index], liked=bool(event.liked))
                gr.Info("Thanks, your feedback was saved.")
            except feedback.FeedbackError as exc:
                gr.Warning(str(exc))

        chatbot.like(on_like, conversation_state, None, **page)

        def on_export(conversation: Conversation) -> str:
            return render.conversation_markdown(conversation.turns) if conversation.turns else ""

        export.click(on_export, conversation_state, export_text, **page).then(None, export_text, None, js=_DOWNLOAD_JS)

        def on_clear(conversation: Conversation) -> tuple[Any, ...]:
            # Hidden suggestion buttons keep their last labels, so the new conversation starts from those.
            fresh = Conversation(suggestions=list(conversation.suggestions))
            hidden = _buttons(fresh.suggestions, conversation.suggestions_visible, fresh.suggestions_visible)
            return ([], fresh, fresh.sources, fresh.how, *hidden)

        clear.click(
            on_clear, conversation_state, [chatbot, conversation_state, sources, how, *suggestion_buttons],
            queue=False, **page,
        )  # fmt: skip

        def on_rebuild(scratch: bool, progress: gr.Progress = gr.Progress()) -> tuple[str, str]:  # noqa: B008
            def report(done: int, total: int) -> None:
                if total:
                    progress(done / total, desc=f"Embedding {done}/{total}")

            try:
                result = build_index(settings, rebuild=bool(scratch), progress=report, wait=0)
            except IndexBusy as exc:
                return f"Not rebuilt: {exc}.", gr.update()
            except IndexUnavailable as exc:
                return f"Rebuild failed: {exc}.", gr.update()
            message = f"Rebuilt: {result.summary()}"
            return message, render.knowledge_markdown(knowledge_overview(settings))

        if not settings.read_only:  # a read-only page has neither the button nor its endpoint
            rebuild.click(on_rebuild, from_scratch, [rebuild_status, knowledge], concurrency_limit=1, **page)

        def api_ask(question: str, history_json: str = "[]", provider: str = "", top_k: int = 0) -> dict[str, Any]:
            """Answer one question (history: JSON list of [question, answer] pairs); returns the Answer as JSON."""
            result: dict[str, Any] = {}
            for result in api_ask_stream(question, history_json, provider, top_k):  # noqa: B007
                pass
            return result

        def api_ask_stream(
            question: str, history_json: str = "[]", provider: str = "", top_k: int = 0
        ) -> Iterator[dict[str, Any]]:
            """/ask as a stream: {"status": "streaming", "stage", "note", "text" so far} updates, then the Answer."""
            history, problem = _parse_history_json(history_json)
            if problem:
                yield _refused(question, problem)
                return
            text, stage, note = "", "", ""
            for event in stream_answer(question, history, provider or None, settings=settings, top_k=top_k or None):
                if event.answer is not None:
                    yield event.answer.to_dict()
                    return
                if event.kind == "delta":
                    text += event.text
                else:
                    stage, note = event.stage, event.text
                yield {"status": "streaming", "stage": stage, "note": note, "text": text}

        def api_search(query: str, k: int = 0) -> dict[str, Any]:
            """The k (1-50; 0: the default) passages best matching the query: title, url, heading, date, text."""
            return search(query, k or None, settings=settings).to_dict()

        gr.api(api_ask, api_name="ask", **answering)
        gr.api(api_ask_stream, api_name="ask_stream", **answering)
        gr.api(api_search, api_name="search")
    return demo


def _parse_history_json(history_json: object) -> tuple[Any, str]:
    """The earlier turns from the API's JSON text, or a message saying why they cannot be read."""
    if not isinstance(history_json, str):
        return history_json, ""  # stream_answer() judges what it is
    try:
        return json.loads(history_json or "[]"), ""
    except RecursionError:
        return None, "history_json is nested too deeply to be a list of earlier turns."
    except ValueError as exc:
        return None, f"history_json is not valid JSON ({exc})."


def _refused(question: object, message: str) -> dict[str, Any]:
    text = question if isinstance(question, str) else ""
    return Answer(question=text, text=message, status="rejected").to_dict()


def launch(settings: Settings | None = None, host: str | None = None, port: int | None = None) -> None:
    """Build the index if needed, then serve the UI (never shared publicly)."""
    apply_offline_env()
    settings = settings or Settings()
    protect_logs(settings.secrets())
    host = host or settings.host
    users = settings.auth_pairs()
    if not users and not _is_loopback(host):
        print(f"warning: serving on {host} without authentication: anyone who can reach it can use it; "
              "set AZCOMPARE_AUTH (and AZCOMPARE_READ_ONLY=true), see the README", flush=True)  # fmt: skip
    if settings.read_only:
        print("Read-only mode: the index is not built or changed here.", flush=True)
    else:
        print("Preparing the knowledge base (the first start builds the index)…", flush=True)
        # Incremental: only documents added or changed since the last start are embedded.
        report = build_index(settings)
        for notice in report.notices:
            print(f"note: {notice}", flush=True)
        print(report.summary(), flush=True)
    # The index and the question encoder load while the page is built and the server starts.
    prepare_in_background(settings)
    missing = knowledge_overview(settings).missing_notice
    if missing:
        print(f"note: {missing}", flush=True)
    demo = build_app(settings)
    queue = {"max_size": QUEUE_SIZE, "status_update_rate": QUEUE_STATUS_EVERY_S}
    demo.queue(default_concurrency_limit=ANSWERS_AT_ONCE, **queue)
    tune_queue(demo)
    demo.launch(
        server_name=host,
        server_port=port or settings.port,
        share=False,
        show_error=False,
        auth=users or None,
        css=_asset("azcompare.css"),
        js=_asset("azcompare.js"),
        footer_links=["api"],
        # The MCP tools over streamable HTTP at /mcp, beside the page (integrations/mcp.py).
        app_kwargs={"lifespan": http_lifespan(settings, users, host)},
    )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
