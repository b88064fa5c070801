"""Generative providers: a chat model writes the answer from the numbered passages, then it is verified.

The flow for one question:
1. Weak evidence (below the calibrated abstention threshold) abstains without asking the model,
   exactly as the extractive provider does.
2. The prompt (answering/prompt.py) gives the best passages; the model's tokens stream out as Deltas,
   with citation markers renumbered on the fly. The local model instead reads the best statements the
   extractive answer chose (numbered, with their dates) and writes only the direct answer, which the
   statements then follow word for word (`_lead_then_statements`): a small model phrases facts already
   found rather than searching passages for them.
3. verify.py checks the finished text; an answer with no sentence backed by a passage it cites is
   replaced by the extractive answer, with a notice saying so.
Errors and timeouts raise ProviderError with a scrubbed message; the pipeline then falls back to the
extractive answer and shows the notice.
"""

from __future__ import annotations

import re
import time
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from azcompare.answering.condense import entities_in, is_follow_up
from azcompare.answering.extractive import ExtractiveDraft, evidence_strength, extractive_answer
from azcompare.answering.grammar import answer_grammar
from azcompare.answering.llm import BACKENDS, Backend
from azcompare.answering.prompt import answer_messages, condense_messages, statement_messages
from azcompare.answering.providers import Delta, Draft, ProviderEvent, register
from azcompare.answering.question import read_question
from azcompare.answering.redact import scrub
from azcompare.answering.verify import (
    SUPPORT_THRESHOLD,
    FixedNumbering,
    MarkerStream,
    SentenceCheck,
    attribute,
    verify,
)
from azcompare.retrieval import KnowledgeBase, SearchResult
from azcompare.settings import Settings
from azcompare.text import match_key, terms

CONDENSE_MAX_TOKENS = 64
# The verdict the extractive answer leads a yes/no answer with (compose.verdict).
_VERDICT = re.compile(r"^(Yes|No|It depends) — ")
_MARKER = re.compile(r"\[(\d+)\]")
_NAME_FIRST = re.compile(r"^(?:Azure|OpenAI|Microsoft|Foundry|[A-Z][A-Z0-9]+)\b")
# A matrix row's raw cell ("Azure OpenAI yes;", "OpenAI: no.") copied as if it were a sentence.
_RAW_ROW = re.compile(r"\b(?:Azure OpenAI|OpenAI):?\s+(?:yes|no)\b(?:\s*[;,.]|\s*$)")
_VERDICT_WORD = re.compile(r"^\W*(yes|no|it depends)\b", re.IGNORECASE)
# The local model's direct answer is one or two sentences; the statements follow it.
LEAD_MAX_TOKENS = 64
LEAD_SENTENCES = 2
# Share of a lead sentence's content words already said by an earlier one from which it is a repetition.
REPEATED_SHARE = 0.8
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
        shape = read_question(question).shape
        if self.name == "local" and settings.local_input == "statements" and extractive.evidence:
            yield from self._lead_then_statements(question, shape, extractive, kb, settings, strength)
            return
        hits = result.hits[: settings.llm_passages]
        messages = answer_messages(question, hits, settings.max_answer_sentences, shape)
        # Off by default for whole answers (AZCOMPARE_LOCAL_GRAMMAR): see answering/grammar.py.
        grammar = answer_grammar(len(hits), settings.max_answer_sentences) if settings.local_grammar else None
        text, usage, timings = yield from self._generate(
            messages, settings, settings.llm_max_tokens, MarkerStream(len(hits)), grammar
        )
        yield self._finish(text, hits, extractive, kb, settings, strength, timings, usage)

    def _lead_then_statements(
        self,
        question: str,
        shape: str,
        extractive: ExtractiveDraft,
        kb: KnowledgeBase,
        settings: Settings,
        strength: float,
    ) -> Iterator[ProviderEvent]:
        """The local model writes the direct answer (one or two sentences) from the extractive answer's
        statements, numbered; the statements follow it as the extractive answer quotes them.

        A small model phrases and leads well but drops or bends facts when it rewrites them all (Qwen
        0.5B on dev questions); here it only leads, and the facts stay word for word. Its sentences are
        attributed and verified against the statements' passages: a sentence they do not back is left
        out, and a lead with no backed sentence gives way to the extractive answer.
        """
        evidence = extractive.evidence[: settings.local_statements]
        # The best statement is listed last, nearest the question: a small model leads from the fact it
        # read last (SmolLM2 on dev: 23 of 39 kept leads came from the second of two statements, 1 of them
        # holding an expected fact; listed last, the best one leads more often; see settings.local_best_last).
        best = len(evidence) if settings.local_best_last else 1
        if settings.local_best_last:
            evidence = evidence[::-1]
        hits = [e.hit for e in evidence]
        # Statement n is cited in the final text by the number the extractive answer gives it.
        number = {(c.chunk_id, tuple(tuple(span) for span in c.spans)): c.n for c in extractive.citations}
        cited_as = {i: number.get(e.key, 0) for i, e in enumerate(evidence, 1)}
        verdict = _VERDICT.match(extractive.text)
        expected = verdict.group(1) if verdict else ""
        messages = statement_messages(question, [(e.sentence.text, e.hit) for e in evidence], shape, expected)
        markers = MarkerStream(len(hits), FixedNumbering(len(hits), cited_as))
        max_tokens = min(settings.llm_max_tokens, LEAD_MAX_TOKENS)
        asked = LeadAsked(expected, question, [e.sentence.text for e in evidence], best)
        # Nudged toward the best statement's words (settings.local_copy_bias): left free, a 135M model mostly
        # restates the question or invents; nudged, it phrases the statement, which then passes its checks.
        bias = self._copy_bias(settings, asked.best_statement)
        started = time.perf_counter()
        text, usage, timings = yield from self._generate(
            messages,
            settings,
            max_tokens,
            markers,
            one_paragraph=True,
            sampling=lead_options(bias),
        )

        def check(raw: str, resampled: bool = False) -> tuple[Any, list[str], list[str]]:
            return self._checked_lead(
                without_verdict(raw, expected),
                hits,
                kb,
                settings,
                asked,
                cited_as,
                resampled,
            )

        t0 = time.perf_counter()
        checked, problems, lead = check(text)
        timings["verify_ms"] = (time.perf_counter() - t0) * 1000
        # Best of n: a lead that fails its check is sampled again (not shown while it is written), while
        # the time allows; the first that passes the same checks leads. See settings.local_lead_retries.
        attempts = 1
        while (
            not lead
            and attempts <= settings.local_lead_retries
            and time.perf_counter() - started < settings.local_lead_budget
        ):
            sampling = {**lead_options(bias), "temperature": settings.local_retry_temperature, "seed": attempts}
            again = self._generate(
                messages, settings, max_tokens, MarkerStream(len(hits)), one_paragraph=True, sampling=sampling
            )
            text, more_usage, more_timings = _drained(again)
            attempts += 1
            usage["completion_tokens"] = usage.get("completion_tokens", 0) + more_usage.get("completion_tokens", 0)
            timings["lead_retry_ms"] = timings.get("lead_retry_ms", 0.0) + more_timings["generate_ms"]
            t0 = time.perf_counter()
            checked, problems, lead = check(text, resampled=True)
            timings["verify_ms"] += (time.perf_counter() - t0) * 1000
        if checked.abstained or not lead:
            what = (
                "said the knowledge base does not cover this"
                if checked.abstained
                else "had no sentence backed by a passage it cited"
            )
            # The first sentence's failed check says why: it is the one meant to answer the question.
            fallback = "abstained" if checked.abstained else (problems[0] if problems else "empty")
            yield Draft(
                extractive.text,
                extractive.citations,
                False,
                strength,
                [f"The {self.name} model's answer {what}; showing the extractive answer instead."],
                provider="extractive",
                timings=timings,
                usage=usage,
                fallback=fallback,
            )
            return
        notices = []
        left_out = sum(bool(problem) for problem in problems)
        if left_out:
            notices.append(
                f"Left out {left_out} sentence(s) of the {self.name} model's answer that the quoted statements "
                "do not back."
            )
        # The statements as the extractive answer quotes them; the verdict leads the model's answer instead.
        body = _VERDICT.sub("", extractive.text, count=1)
        body = body[:1].upper() + body[1:]
        if expected and not _VERDICT_WORD.match(lead[0]):
            first = lead[0] if _NAME_FIRST.match(lead[0]) else lead[0][:1].lower() + lead[0][1:]
            lead[0] = f"{expected} — {first}"
        yield Delta("\n\n" + body)
        yield Draft(
            " ".join(lead) + "\n\n" + body,
            extractive.citations,
            False,
            strength,
            notices,
            timings=timings,
            usage=usage,
        )

    def _copy_bias(self, settings: Settings, statement: str) -> dict[int, float]:
        """The logit bias toward the best statement's tokens (settings.local_copy_bias), {} when off or when
        the backend cannot bias its model."""
        favour = getattr(self.backend, "copy_bias", None)
        if not settings.local_copy_bias or favour is None:
            return {}
        return favour(settings, [statement], settings.local_copy_bias)

    def _checked_lead(
        self,
        text: str,
        hits: list[Any],
        kb: KnowledgeBase,
        settings: Settings,
        asked: LeadAsked,
        cited_as: dict[int, int],
        resampled: bool = False,
    ) -> tuple[Any, list[str], list[str]]:
        """The verification of a lead the model wrote, each sentence's failed check ("" if none) and the
        sentences that may lead, their markers numbered as the extractive answer's citations.

        A `resampled` lead must also cite the best statement and take words of it beyond the
        question's (`adds_to_question`): each further sample is another chance for a wrong sentence to pass
        the support check (SmolLM2 on dev: of 10 resampled leads kept without this, none held an expected fact)."""
        checked = verify(attribute(text, hits, kb), hits, kb, settings)
        problems = [lead_problem(c, asked.verdict) for c in checked.checks]
        if resampled:
            problems = [
                problem
                or (
                    ""
                    if any(checked.passage_of[n] == asked.best for n in c.cited)
                    and adds_to_question(c.text, asked.question, [asked.best_statement])
                    else "restates"
                )
                for c, problem in zip(checked.checks, problems, strict=True)
            ]
        backed = [
            _MARKER.sub(lambda m: f"[{cited_as[checked.passage_of[int(m.group(1))]]}]", c.text)
            for c, problem in zip(checked.checks, problems, strict=True)
            if not problem
        ]
        return checked, problems, distinct(backed)[:LEAD_SENTENCES]

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
                fallback="abstained" if checked.abstained else ("unsupported" if checked.checks else "empty"),
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
        if self.name == "local" and not settings.local_condense:
            return None  # a small local model rewrites worse than the rules (settings.local_condense)
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

    def _generate(
        self,
        messages: list[tuple[str, str]],
        settings: Settings,
        max_tokens: int,
        markers: MarkerStream,
        grammar: str | None = None,
        *,
        one_paragraph: bool = False,
        sampling: dict[str, Any] | None = None,
    ) -> Generator[Delta, None, tuple[str, dict[str, int], dict[str, float]]]:
        """Stream the model's text as Deltas, citation markers renumbered by `markers`; return the text,
        the token usage and the timings. `one_paragraph` stops at the first blank line: what a small model
        writes after it is a list or a repetition of the facts, which follow anyway. `sampling` overrides
        the model's sampling options (temperature, seed) for this call."""
        pieces: list[str] = []
        usage: dict[str, int] = {}
        started = time.perf_counter()
        first_token: float | None = None
        for piece, chunk_usage in self._stream(messages, settings, max_tokens, grammar, sampling):
            usage.update(chunk_usage)
            if piece:
                first_token = first_token or time.perf_counter()
                pieces.append(piece)
                shown = markers.feed(piece)
                if shown:
                    yield Delta(shown)
                if one_paragraph and "\n\n" in "".join(pieces).strip():
                    break  # leaving the stream stops the model
        rest = markers.close()
        if rest:
            yield Delta(rest)
        finished = time.perf_counter()
        usage.setdefault("completion_tokens", len(pieces))  # llama.cpp streams one token per chunk
        timings = {
            "generate_ms": (finished - started) * 1000,
            "model_first_token_ms": ((first_token or finished) - started) * 1000,
        }
        return "".join(pieces), usage, timings

    def _stream(
        self,
        messages: list[tuple[str, str]],
        settings: Settings,
        max_tokens: int,
        grammar: str | None = None,
        sampling: dict[str, Any] | None = None,
    ) -> Iterator[tuple[str, dict[str, int]]]:
        """(text, usage) per streamed chunk, within the overall deadline; failures become ProviderError."""
        deadline = time.perf_counter() + settings.llm_timeout
        try:
            with self.backend.session(settings, max_tokens, grammar) as model:
                for chunk in (model.bind(**sampling) if sampling else model).stream(messages):
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


@dataclass(frozen=True)
class LeadAsked:
    """What a local lead is checked against: the verdict the best statement decides ("" if none), the
    question, the statements the model read, and the number (1-based) of the best one among them."""

    verdict: str
    question: str
    statements: list[str]
    best: int

    @property
    def best_statement(self) -> str:
        """The statement the lead is nudged toward and must cite when resampled."""
        return self.statements[self.best - 1]


# Why a sentence of the local model's lead is left out, in the order the checks run (the first that fails).
LEAD_PROBLEMS = ("uncited", "short", "weak", "number", "contradiction", "verdict", "not_an_answer", "restates")
# Content words a lead sentence must take from its statements beyond those of the question (`adds_to_question`).
ADDED_TERMS = 2


def lead_problem(check: SentenceCheck, verdict: str) -> str:
    """The first check a sentence of the local model's lead fails, "" when it may lead the answer.

    It must cite a statement that backs it ("uncited"; "weak", "number", "contradiction": see
    verify.SentenceCheck), have enough words to be checked at all ("short": a bare "Yes [1]." says
    nothing the statements do not), open with the extractive verdict if it opens with one ("verdict"),
    and read as an answer ("not_an_answer": see `_reads_as_an_answer`).
    """
    if not check.cited:
        return "uncited"
    if not check.supported or check.score < SUPPORT_THRESHOLD:
        return check.problem or "weak"
    if not _agrees(check.text, verdict):
        return "verdict"
    return "" if _reads_as_an_answer(check.text) else "not_an_answer"


def adds_to_question(sentence: str, question: str, statements: Sequence[str]) -> bool:
    """True when a lead sentence says something of its statements that the question did not.

    A small model often answers by restating the question after the verdict ("Yes, both vendors follow
    responsible AI principles", "OpenAI's own API can be reached over Private Link"): it shares enough
    words with the statement to pass the support check, but its words come from the question, and what it
    adds, if anything, is its own. Such a sentence must carry at least ADDED_TERMS content words that are
    in a statement it cites and not in the question.
    """
    said = {match_key(t) for t in terms(_MARKER.sub("", sentence))}
    asked = {match_key(t) for t in terms(question)}
    given = {match_key(t) for statement in statements for t in terms(statement)}
    return len((said - asked) & given) >= ADDED_TERMS


def lead_options(bias: dict[int, float]) -> dict[str, Any]:
    """Sampling options of a local lead: stop where a small model closes the facts it read ("</facts>",
    copied from the prompt), and the copy bias toward the best statement's tokens when there is one."""
    return {"stop": ["</facts>"], **({"logit_bias": bias} if bias else {})}


def distinct(sentences: Sequence[str]) -> list[str]:
    """The sentences without those that repeat earlier ones: a small model, above all one nudged toward its
    statement's words (settings.local_copy_bias), often writes the same sentence again until its tokens run
    out. A sentence most of whose content words (REPEATED_SHARE) were already said is a repetition."""
    kept: list[str] = []
    said: set[str] = set()
    for sentence in sentences:
        words = {match_key(t) for t in terms(_MARKER.sub("", sentence))}
        if words and len(words & said) >= REPEATED_SHARE * len(words):
            continue
        kept.append(sentence)
        said |= words
    return kept


def without_verdict(text: str, verdict: str) -> str:
    """The model's lead without an opening verdict word that is the expected one ("No, quotas aren't
    enforced..." → "Quotas aren't enforced..."); the answer puts the verdict back in front.

    Verification reads a "No" as a negation: left in, it made a sentence that agrees with its statement
    count as contradicting it. A verdict other than the expected one stays, for `_agrees` to reject.
    """
    said = _VERDICT_WORD.match(text)
    if not verdict or not said or " ".join(said.group(1).lower().split()) != verdict.lower():
        return text
    rest = text[said.end() :].lstrip(" ,.!:;—–-")
    return rest[:1].upper() + rest[1:] if rest.strip() else text


def _agrees(sentence: str, verdict: str) -> bool:
    """False when a sentence opens with a verdict other than the one the best statement decides (a small
    model answering "Yes" where the statement says no: the two cannot both stand, and the quote is kept)."""
    said = _VERDICT_WORD.match(sentence)
    if not verdict or not said:
        return True
    # The whole verdict: "It depends" is two words (comparing first words only rejected every "It depends").
    return " ".join(said.group(1).lower().split()) == verdict.lower()


def _reads_as_an_answer(sentence: str) -> bool:
    """False for what a small model writes that is backed but says nothing: an introduction with nothing
    after its colon, the question asked back, a statement copied up to where the prompt clipped it (…),
    or a feature-matrix row copied in its raw form ("Azure OpenAI yes; Azure OpenAI yes")."""
    body = _MARKER.sub("", sentence).strip()
    return not (body.rstrip(" .").endswith((":", "?")) or "…" in body or "..." in body or _RAW_ROW.search(body))


def _drained(events: Generator[Delta, None, Any]) -> Any:
    """What a generator returns, its yielded events dropped (a resampled lead is not streamed)."""
    while True:
        try:
            next(events)
        except StopIteration as stop:
            return stop.value


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
