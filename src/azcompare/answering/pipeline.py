"""answer(): the one orchestration function every way in (Python, CLI, UI, evaluation) calls."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

import azcompare.answering.generative  # noqa: F401  (registers the local, ollama, openai and azure providers)
from azcompare.answering.condense import Turn, condense_question
from azcompare.answering.extractive import service_boost
from azcompare.answering.inputs import (
    QuestionError,
    check_provider,
    check_top_k,
    clean_message,
    clean_question,
    parse_history,
    read_message,
)
from azcompare.answering.providers import EXTRACTIVE, Delta, Draft, Provider, get_provider, provider_names
from azcompare.answering.question import language_of, load_language_model, search_query
from azcompare.answering.redact import protect_logs, scrub
from azcompare.answering.spelling import corrected
from azcompare.index import build_in_progress, build_index
from azcompare.index import build_needed as index_build_needed
from azcompare.index_state import IndexUnavailable
from azcompare.retrieval import KnowledgeBase, SearchResult, open_knowledge_base
from azcompare.settings import Settings, apply_offline_env
from azcompare.types import Answer

log = logging.getLogger(__name__)

_build_lock = threading.Lock()

__all__ = [
    "QuestionError",
    "StreamEvent",
    "answer",
    "build_needed",
    "clean_question",
    "ensure_index",
    "prepare",
    "prepare_in_background",
    "retrieve",
    "spelled_right",
    "stream_answer",
    "unavailable_message",
]


def ensure_index(settings: Settings) -> KnowledgeBase:
    """Open the index, building it first when there is none or it was made by another recipe.

    Raises IndexUnavailable (its message says what to do) when the index is damaged, being built by
    another process, or cannot be built.
    """
    if build_needed(settings):
        with _build_lock:
            if build_needed(settings):  # another thread may have built it while this one waited
                build_index(settings, wait=0)
    return open_knowledge_base(settings)


def retrieve(kb: KnowledgeBase, text: str, k: int, settings: Settings, background: str = "") -> SearchResult:
    """The `k` best passages for a (standalone) question: the one retrieval every answer and search uses.
    `background` is what the message told around its question (read_message), searched at a fraction.

    Raises IndexUnavailable when the index fails while it is read.
    """
    query = search_query(text, settings)
    return kb.search(
        query.text,
        top_k=k,
        candidates=max(settings.candidates, k),
        rrf_k=settings.rrf_k,
        max_per_doc=settings.max_per_doc,
        weights=settings.fusion_weights,
        boost=service_boost(text),
        required=query.required,
        subject=query.subject,
        background=background,
    )


def spelled_right(text: str, kb: KnowledgeBase) -> str:
    """An English question with its misspelt words read as the knowledge base's words (answering.spelling);
    another language's words are no slips of English ones."""
    return corrected(text, kb.word_counts, kb.english_words) if language_of(text) == "en" else text


def prepare(settings: Settings) -> None:
    """Open the index and run one search, so that the first question does not wait for the loading.

    The question encoder, the Chroma collections, the reader files, the word lists misspellings are read
    against and the language identifier load on first use. It never builds (a missing or outdated index is
    left to the build or the first question) and never raises: the first question reports any problem.
    """
    try:
        load_language_model()
        if build_needed(settings) is None:
            kb = open_knowledge_base(settings)
            retrieve(kb, spelled_right("azure openai", kb), 1, settings)  # and the word lists spelling reads
    except Exception as exc:  # reported again, properly, by the first question
        log.debug("preparing the index failed: %s", exc)


def prepare_in_background(settings: Settings) -> threading.Thread:
    """Run `prepare()` in a daemon thread (servers call it as they start) and return the thread."""
    thread = threading.Thread(target=prepare, args=(settings,), name="azcompare-prepare", daemon=True)
    thread.start()
    return thread


def unavailable_message(exc: IndexUnavailable) -> str:
    """What a caller is told when the index cannot be used (the same words through every way in)."""
    return f"The knowledge base is not available: {exc}."


def index_notices(settings: Settings) -> list[str]:
    """Notices about the index a result should carry (a rebuild running in another process)."""
    if build_in_progress(settings):
        return ["The index is being rebuilt; this answer comes from the version in place until it is done."]
    return []


@dataclass(frozen=True)
class StreamEvent:
    """One step of a streamed answer: a status line, a piece of text, or the finished Answer."""

    kind: Literal["status", "delta", "answer"]
    text: str = ""
    answer: Answer | None = None
    stage: Literal["", "search", "build", "write"] = ""  # what a status event announces


def answer(
    question: str,
    history: Sequence[Turn] | None = None,
    provider: str | None = None,
    *,
    settings: Settings | None = None,
    top_k: int | None = None,
) -> Answer:
    """Answer a question from the knowledge base with numbered citations.

    `history` holds earlier turns, as (question, answer) pairs or {"role", "content"} chat messages; a
    follow-up is rewritten into a standalone question first (only the last few turns count).
    `provider` picks the answerer (default from settings: "extractive"); `top_k` how many passages to
    retrieve (1–50). It never raises: bad input of any kind gives an Answer with status "rejected" and
    a message in `text` saying what to change.
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
    raw = question if isinstance(question, str) else ""
    if settings is not None and not isinstance(settings, Settings):
        yield StreamEvent("answer", answer=_rejected(raw, "settings must be an azcompare Settings object.", ""))
        return
    settings = settings or Settings()
    protect_logs(settings.secrets())
    try:
        yield from _stream(question, history, provider, settings, top_k)
    except Exception as exc:  # a bug must still not fail the caller: say so in one line, keep the trace in the log
        why = scrub(_one_line(exc), settings.secrets())
        log.error("answering failed: %s: %s", type(exc).__name__, why)
        log.debug("answering failed", exc_info=True)
        message = f"Something went wrong while answering ({type(exc).__name__}: {why}); please try again."
        yield StreamEvent("answer", answer=_rejected(raw, message, settings.provider))


def _stream(
    question: object, history: object, provider: object, settings: Settings, top_k: object
) -> Iterator[StreamEvent]:
    started = time.perf_counter()
    raw = question if isinstance(question, str) else ""
    try:
        name = check_provider(provider, settings.provider)
        k = check_top_k(top_k) or settings.top_k
        message = clean_message(question, settings.max_question_chars)
        text, background = read_message(message)
        turns = parse_history(history, settings.max_question_chars)
    except QuestionError as exc:
        yield StreamEvent("answer", answer=_rejected(raw, str(exc), provider if isinstance(provider, str) else ""))
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
    timings: dict[str, float] = {}

    t0 = time.perf_counter()
    standalone = _condense(chosen, text, turns, settings, notices)
    timings["condense_ms"] = (time.perf_counter() - t0) * 1000
    yield StreamEvent("status", text="Searching the knowledge base…", stage="search")
    try:
        t0 = time.perf_counter()
        building = build_needed(settings)
        if building:
            yield StreamEvent(
                "status", text=f"Building the knowledge base index first ({building}; about a minute)…", stage="build"
            )
        kb = ensure_index(settings)
        timings["open_index_ms"] = (time.perf_counter() - t0) * 1000
        if building:
            notices.append(f"The index was built first ({building}; {timings['open_index_ms'] / 1000:.0f} s).")
        notices.extend(index_notices(settings))
        standalone = spelled_right(standalone, kb)
        result = retrieve(kb, standalone, k, settings, background)
    except IndexUnavailable as exc:
        yield StreamEvent("answer", answer=_rejected(raw, unavailable_message(exc), chosen.name, standalone))
        return
    timings.update(result.timings)
    yield StreamEvent("status", text="Writing the answer…", stage="write")
    t0 = time.perf_counter()
    draft: Draft | None = None
    fallback = ""
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
        fallback = "timeout" if "TimeoutError" in why else "error"
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
            hits=result.all_hits,
            timings=timings,
            provider=draft.provider or chosen.name,
            notices=notices + draft.notices,
            strength=draft.strength,
            unsupported=draft.unsupported,
            usage=draft.usage,
            missing=draft.missing,
            links=result.links,
            fallback=draft.fallback or fallback,
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


def build_needed(settings: Settings) -> str | None:
    """Why a question must wait for an index build (none yet, or made by another recipe); None if not."""
    return index_build_needed(settings)
