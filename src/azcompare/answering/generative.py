"""Generative providers: a chat model writes the answer from the numbered passages, then it is verified.

The flow for one question:
1. Weak evidence (below the calibrated abstention threshold) abstains without asking the model,
   exactly as the extractive provider does.
2. The prompt (answering/prompt.py) gives the best passages; the model's tokens stream out as Deltas,
   with citation markers renumbered on the fly.
3. verify.py checks the finished text; an answer with no sentence backed by a passage it cites is
   replaced by the extractive answer, with a notice saying so.
Errors and timeouts raise ProviderError with a scrubbed message; the pipeline then falls back to the
extractive answer and shows the notice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from typing import Any

from azcompare.answering.condense import entities_in, is_follow_up
from azcompare.answering.extractive import ExtractiveDraft, evidence_strength, extractive_answer
from azcompare.answering.grammar import answer_grammar
from azcompare.answering.llm import BACKENDS, Backend
from azcompare.answering.prompt import answer_messages, condense_messages
from azcompare.answering.providers import Delta, Draft, ProviderEvent, register
from azcompare.answering.question import read_question
from azcompare.answering.redact import scrub
from azcompare.answering.verify import MarkerStream, verify
from azcompare.retrieval import KnowledgeBase, SearchResult
from azcompare.settings import Settings
from azcompare.text import terms

CONDENSE_MAX_TOKENS = 64
_CONDENSE_LABEL = re.compile(r"^\s*(standalone question|question|rewritten question)\s*:\s*", re.IGNORECASE)


class ProviderError(RuntimeError):
    """A model call failed or timed out; the message is one line and holds no secret."""


class GenerativeProvider:
    """An answer provider backed by a chat model, with grounding checks on what it writes."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = backend.name
        self.description = backend.description

    def unavailable_reason(self, settings: Settings) -> str | None:
        """One line saying what is missing, or None when the model can be used."""
        return self.backend.unavailable_reason(settings)

    def chat_model(self, settings: Settings) -> Any:
        """The provider's chat model (a LangChain Runnable), for other uses of it such as the LLM judge.

        Used from one thread at a time (an evaluation run); answers hold the backend's session instead.
        """
        with self.backend.session(settings, settings.llm_max_tokens) as model:
            return model

    def generate(
        self, question: str, result: SearchResult, kb: KnowledgeBase, settings: Settings
    ) -> Iterator[ProviderEvent]:
        """Stream the model's answer, then yield the verified Draft."""
        strength = evidence_strength(result)
        # Weak evidence abstains without asking the model; what the passages lack of what was asked (a
        # price, a region) is said plainly, not left to a model that would fill the gap: the extractive
        # answer states it and shows what the sources do say.
        extractive = extractive_answer(question, result, kb, settings)
        if extractive.missing or extractive.abstained:
            yield Delta(extractive.text)
            yield Draft(
                extractive.text,
                extractive.citations,
                extractive.abstained,
                strength,
                provider=None if extractive.abstained else "extractive",
                missing=extractive.missing,
            )
            return
        hits = result.hits[: settings.llm_passages]
        messages = answer_messages(question, hits, settings.max_answer_sentences, read_question(question).shape)
        markers = MarkerStream(len(hits))
        pieces: list[str] = []
        usage: dict[str, int] = {}
        started = time.perf_counter()
        first_token: float | None = None
        grammar = answer_grammar(len(hits), settings.max_answer_sentences)
        for piece, chunk_usage in self._stream(messages, settings, settings.llm_max_tokens, grammar):
            usage.update(chunk_usage)
            if piece:
                first_token = first_token or time.perf_counter()
                pieces.append(piece)
                shown = markers.feed(piece)
                if shown:
                    yield Delta(shown)
        rest = markers.close()
        if rest:
            yield Delta(rest)
        finished = time.perf_counter()
        usage.setdefault("completion_tokens", len(pieces))  # llama.cpp streams one token per chunk
        timings = {
            "generate_ms": (finished - started) * 1000,
            "model_first_token_ms": ((first_token or finished) - started) * 1000,
        }
        yield self._finish("".join(pieces), hits, extractive, kb, settings, strength, timings, usage)

    def _finish(
        self,
        raw: str,
        hits: Sequence,
        extractive: ExtractiveDraft,
        kb: KnowledgeBase,
        settings: Settings,
        strength: float,
        timings: dict[str, float],
        usage: dict[str, int],
    ) -> Draft:
        t0 = time.perf_counter()
        checked = verify(raw, hits, kb, settings)
        timings["verify_ms"] = (time.perf_counter() - t0) * 1000
        notices: list[str] = []
        if checked.dropped:
            shown = ", ".join(f"[{n}]" for n in sorted(set(checked.dropped)))
            notices.append(f"Removed citation(s) {shown}: the model was not given such passages.")
        # A model that says "not covered" (or cites nothing it was given) while the passages answer the
        # question is not believed: the extractive answer, which quotes them, is shown instead.
        if checked.abstained or checked.supported == 0:
            what = (
                "said the knowledge base does not cover this"
                if checked.abstained
                else ("had no sentence backed by a passage it cited")
            )
            notices.append(f"The {self.name} model's answer {what}; showing the extractive answer instead.")
            return Draft(
                extractive.text,
                extractive.citations,
                extractive.abstained,
                extractive.strength,
                notices,
                provider="extractive",
                timings=timings,
                usage=usage,
                missing=extractive.missing,
            )
        if checked.unsupported:
            notices.append(
                f"{len(checked.unsupported)} sentence(s) of this answer are not backed by the passages they cite "
                "(or cite none); they are marked as unsupported."
            )
        return Draft(
            checked.text,
            checked.citations,
            False,
            strength,
            notices,
            unsupported=checked.unsupported,
            timings=timings,
            usage=usage,
        )

    def condense(self, question: str, turns: Sequence[tuple[str, str]], settings: Settings) -> str | None:
        """The follow-up rewritten by the model; None (use the rules) when it is not a follow-up or the
        model's reply is not a usable question."""
        if not turns or not is_follow_up(question):
            return None
        text = "".join(p for p, _ in self._stream(condense_messages(question, turns), settings, CONDENSE_MAX_TOKENS))
        lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
        if not lines:
            return None
        rewritten = _CONDENSE_LABEL.sub("", lines[0]).strip().strip("\"'“”").strip()
        words = re.findall(r"\w+", rewritten)
        if not 2 <= len(words) <= 60 or "knowledge base" in rewritten.lower():
            return None
        # A rewrite must stay on the conversation's topic and keep any service the user named; small
        # models sometimes answer, or drift, instead of rewriting.
        context = terms(question) | terms(turns[-1][0])
        if not terms(rewritten) & context or not set(entities_in(question)) <= set(entities_in(rewritten)):
            return None
        return rewritten

    def _stream(
        self, messages: list[tuple[str, str]], settings: Settings, max_tokens: int, grammar: str | None = None
    ) -> Iterator[tuple[str, dict[str, int]]]:
        """(text, usage) per streamed chunk, within the overall deadline; failures become ProviderError."""
        deadline = time.perf_counter() + settings.llm_timeout
        try:
            with self.backend.session(settings, max_tokens, grammar) as model:
                for chunk in model.stream(messages):
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"no complete answer within {settings.llm_timeout:g} s")
                    yield chunk.text, _usage(chunk)
        except ProviderError:
            raise
        except Exception as exc:
            message = " ".join(str(exc).split()) or type(exc).__name__
            if not message.startswith(type(exc).__name__):
                message = f"{type(exc).__name__}: {message}"
            # `from None`: the original exception (and any key in its repr) stays out of tracebacks and logs.
            raise ProviderError(scrub(message, settings.secrets())[:300]) from None


def _usage(chunk: object) -> dict[str, int]:
    meta = getattr(chunk, "usage_metadata", None) or {}
    found: dict[str, int] = {}
    if meta.get("input_tokens"):
        found["prompt_tokens"] = int(meta["input_tokens"])
    if meta.get("output_tokens"):
        found["completion_tokens"] = int(meta["output_tokens"])
    return found


for _backend in BACKENDS:
    register(GenerativeProvider(_backend))
