"""answer(): the one orchestration function every way in (Python, CLI, UI, evaluation) calls."""

from __future__ import annotations

import logging
import re
import threading
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import azcompare.answering.generative  # noqa: F401  (registers the local, ollama, openai and azure providers)
from azcompare.answering.condense import Turn, condense_question
from azcompare.answering.extractive import service_boost
from azcompare.answering.providers import EXTRACTIVE, Delta, Draft, Provider, get_provider, provider_names
from azcompare.answering.redact import scrub
from azcompare.index import IndexBusy, IndexUnavailable, build_in_progress, build_index, index_is_current
from azcompare.retrieval import KnowledgeBase, open_knowledge_base
from azcompare.settings import Settings, apply_offline_env
from azcompare.types import Answer

log = logging.getLogger(__name__)

_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,500}>")
_SCRIPT = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|context)\b"
    r"|\b(print|reveal|show|repeat|output)\b.{0,30}\b(system prompt|instructions)\b"
    r"|\byou are now\b|\bact as\b|\bjailbreak\b",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"^\s*(then\s+)?(answer|question|q)\s*:\s*", re.IGNORECASE)
_build_lock = threading.Lock()


class QuestionError(ValueError):
    """The question cannot be answered as typed; the message tells the user what to change."""


def clean_question(question: object, max_chars: int) -> str:
    """The question as plain text: control characters and HTML markup removed, whitespace collapsed.

    Raises QuestionError with a user-facing message for empty or overlong input.
    """
    if question is None or (isinstance(question, str) and not question.strip()):
        raise QuestionError("Please type a question about OpenAI or Azure OpenAI.")
    if not isinstance(question, str):
        raise QuestionError("The question must be text.")
    if len(question) > max_chars:
        raise QuestionError(
            f"Your question is {len(question):,} characters long; the limit is {max_chars:,}. "
            "Please shorten it to the question itself."
        )
    text = _SCRIPT.sub(" ", question)
    text = _TAG.sub(" ", text)
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if not re.search(r"\w", text):
        raise QuestionError("Please type a question in words about OpenAI or Azure OpenAI.")
    return focus_question(text)


def focus_question(text: str) -> str:
    """The question without instructions aimed at the assistant ("Ignore your instructions. Then answer: X?").

    Such sentences are not something the knowledge base can answer and would only skew retrieval.
    """
    kept = [part for part in re.split(r"(?<=[.!?])\s+", text) if not _INSTRUCTION.search(part)]
    focused = _ANSWER_LABEL.sub("", " ".join(kept)).strip()
    return focused if re.search(r"\w", focused) else text


def ensure_index(settings: Settings) -> KnowledgeBase:
    """Open the index, building it first when there is none or it was made by another recipe."""
    assert settings.index_dir is not None
    if not index_is_current(settings):
        with _build_lock:
            if not index_is_current(settings):
                build_index(settings)
    return open_knowledge_base(settings)


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: a status line, a piece of text, or the finished Answer."""

    kind: Literal["status", "delta", "answer"]
    text: str = ""
    answer: Answer | None = None


def answer(
    question: str,
    history: Sequence[Turn] | None = None,
    provider: str | None = None,
    *,
    settings: Settings | None = None,
    top_k: int | None = None,
) -> Answer:
    """Answer a question from the knowledge base with numbered citations.

    `history` holds earlier (user, assistant) turns; a follow-up is rewritten into a standalone
    question first. `provider` picks the answerer (default from settings: "extractive"). Bad input
    gives an Answer with status "rejected" and a message in `text`; it never raises for the question.
    """
    for event in stream_answer(question, history, provider, settings=settings, top_k=top_k):
        if event.answer is not None:
            return event.answer
    raise AssertionError("stream_answer ended without an answer")  # pragma: no cover


def stream_answer(
    question: str,
    history: Sequence[Turn] | None = None,
    provider: str | None = None,
    *,
    settings: Settings | None = None,
    top_k: int | None = None,
) -> Iterator[StreamEvent]:
    """`answer()` as a stream: status lines, text deltas as the provider produces them, then the Answer.

    The final Answer's text is authoritative (a provider may revise what it streamed, for example when
    verification removes a citation).
    """
    apply_offline_env()
    settings = settings or Settings()
    name = (provider or settings.provider).strip().lower()
    top_k = top_k or settings.top_k
    started = time.perf_counter()
    raw = question if isinstance(question, str) else ""
    try:
        text = clean_question(question, settings.max_question_chars)
    except QuestionError as exc:
        yield StreamEvent("answer", answer=_rejected(raw, str(exc), name))
        return
    chosen = get_provider(name)
    if chosen is None:
        known = ", ".join(provider_names())
        yield StreamEvent("answer", answer=_rejected(raw, f"Unknown provider {name!r}; available: {known}.", name))
        return
    notices: list[str] = []
    reason = chosen.unavailable_reason(settings)
    if reason:
        notices.append(f"The {name} provider is not available ({reason}); answered with the extractive provider.")
        chosen = EXTRACTIVE
    turns = _clean_history(history, settings.max_question_chars)
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    standalone = _condense(chosen, text, turns, settings, notices)
    timings["condense_ms"] = (time.perf_counter() - t0) * 1000
    yield StreamEvent("status", text="Searching the knowledge base…")
    try:
        t0 = time.perf_counter()
        kb = ensure_index(settings)
        timings["open_index_ms"] = (time.perf_counter() - t0) * 1000
    except IndexBusy:
        message = "The knowledge base is being rebuilt right now; please ask again in a moment."
        yield StreamEvent("answer", answer=_rejected(raw, message, chosen.name, standalone))
        return
    except IndexUnavailable as exc:
        message = f"The knowledge base is not available: {exc}"
        yield StreamEvent("answer", answer=_rejected(raw, message, chosen.name, standalone))
        return

    if build_in_progress(settings):
        notices.append("The index is being rebuilt; this answer comes from the version in place until it is done.")
    result = kb.search(
        standalone,
        top_k=top_k,
        candidates=max(settings.candidates, top_k),
        rrf_k=settings.rrf_k,
        max_per_doc=settings.max_per_doc,
        weights=settings.fusion_weights,
        boost=service_boost(standalone),
    )
    timings.update(result.timings)
    yield StreamEvent("status", text="Writing the answer…")
    t0 = time.perf_counter()
    draft: Draft | None = None
    try:
        for event in chosen.generate(standalone, result, kb, settings):
            if isinstance(event, Delta):
                timings.setdefault("first_token_ms", (time.perf_counter() - started) * 1000)
                yield StreamEvent("delta", text=event.text)
            else:
                draft = event
    except Exception as exc:  # a failing model must never fail the question: quote the passages instead
        why = scrub(_one_line(exc), settings.secrets())  # a client's error may quote a key
        log.warning("provider %s failed: %s", chosen.name, why)
        notices.append(f"The {chosen.name} provider failed ({why}); answered with the extractive provider.")
        draft = None
    if draft is None:
        chosen = EXTRACTIVE
        draft = next(e for e in EXTRACTIVE.generate(standalone, result, kb, settings) if isinstance(e, Draft))
    timings.update(draft.timings)
    timings["answer_ms"] = (time.perf_counter() - t0) * 1000
    timings["total_ms"] = (time.perf_counter() - started) * 1000
    yield StreamEvent(
        "answer",
        answer=Answer(
            question=raw,
            text=draft.text,
            standalone_question=standalone,
            abstained=draft.abstained,
            citations=draft.citations,
            hits=result.hits,
            timings=timings,
            provider=draft.provider or chosen.name,
            notices=notices + draft.notices,
            strength=draft.strength,
            unsupported=draft.unsupported,
            usage=draft.usage,
        ),
    )


def _condense(provider: Provider, question: str, turns: list[Turn], settings: Settings, notices: list[str]) -> str:
    """The provider's own condensation when it has one, else (or when it fails) the deterministic rules."""
    condense = getattr(provider, "condense", None)
    if turns and condense is not None:
        try:
            rewritten = condense(question, turns, settings)
            if rewritten:
                return rewritten
        except Exception as exc:
            why = scrub(_one_line(exc), settings.secrets())
            notices.append(f"Follow-up rewriting with {provider.name} failed ({why}); used the rules.")
    return condense_question(question, turns)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:160]


def _rejected(question: str, message: str, provider: str, standalone: str = "") -> Answer:
    return Answer(question=question, text=message, standalone_question=standalone, status="rejected", provider=provider)


def _clean_history(history: Sequence[Turn] | None, max_chars: int) -> list[Turn]:
    """Keep well-formed turns; a bad earlier turn must not break the current question."""
    turns: list[Turn] = []
    for turn in history or []:
        try:
            user, assistant = turn
        except (TypeError, ValueError):
            continue
        try:
            turns.append((clean_question(user, max_chars), assistant if isinstance(assistant, str) else ""))
        except QuestionError:
            continue
    return turns
