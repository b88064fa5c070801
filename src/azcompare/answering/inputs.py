"""What callers hand to `answer()`, checked: each bad argument becomes one clear message, never an exception.

The question is reduced to plain text (markup, control characters and instructions to the assistant
removed); earlier turns are (question, answer) pairs or chat messages; `top_k` and `provider` are
checked for type and range. Every check raises QuestionError, which the pipeline turns into a
rejected Answer.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping, Sequence

from azcompare.answering.condense import CONTEXT_TURNS, Turn, entities_in

# A closed tag, and the start of a tag cut off before its ">" (`<img src=x onerror=alert(1)//`) with its
# attributes; plain words after it are kept.
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,500}>")
_OPEN_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][\w:-]*(?:\s*[\w:-]+\s*=\s*(?:\"[^\"]*\"?|'[^']*'?|[^\s>]*))*\s*/?")
_SCRIPT = re.compile(r"<\s*(script|style)\b.*?<\s*/\s*\1\s*>", re.IGNORECASE | re.DOTALL)
_INSTRUCTION = re.compile(
    r"\b(ignore|disregard|forget|override)\b.{0,40}\b(instructions?|prompts?|rules|context)\b"
    r"|\b(print|reveal|show|repeat|output)\b.{0,30}\b(system prompt|instructions)\b"
    r"|\byou are now\b|\bact as\b|\bjailbreak\b",
    re.IGNORECASE,
)
_ANSWER_LABEL = re.compile(r"^\s*(then\s+)?(answer|question|q)\s*:\s*", re.IGNORECASE)
MAX_TOP_K = 50
# A message longer than this (characters) is read for the question it holds.
LONG_MESSAGE = 200
_ASKING = re.compile(
    r"^(what|which|how|why|when|where|who|is|are|does|do|can|could|should|will|would|i need to know|tell me)\b",
    re.IGNORECASE,
)
_HISTORY_HELP = 'a list of [question, answer] pairs or {"role": ..., "content": ...} chat messages'


class QuestionError(ValueError):
    """The question cannot be answered as asked; the message tells the user what to change."""


def clean_question(question: object, max_chars: int) -> str:
    """The question as plain text (see clean_message), read for the question it holds (focus_question).

    Raises QuestionError with a user-facing message for empty, overlong or non-text input.
    """
    return focus_question(clean_message(question, max_chars))


def clean_message(question: object, max_chars: int) -> str:
    """The whole message as plain text: control characters and HTML markup removed, whitespace collapsed.

    Raises QuestionError with a user-facing message for empty, overlong or non-text input.
    """
    if question is None or (isinstance(question, str) and not question.strip()):
        raise QuestionError("Please type a question about OpenAI or Azure OpenAI.")
    if not isinstance(question, str):
        raise QuestionError(f"The question must be text, not {_kind(question)}.")
    if len(question) > max_chars:
        raise QuestionError(
            f"Your question is {len(question):,} characters long; the limit is {max_chars:,}. "
            "Please shorten it to the question itself."
        )
    text = _SCRIPT.sub(" ", question)
    text = _OPEN_TAG.sub(" ", _TAG.sub(" ", text))
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in text)
    text = re.sub(r"\s+", " ", text).strip()
    if not re.search(r"\w", text):
        raise QuestionError("Please type a question in words about OpenAI or Azure OpenAI.")
    return text


def focus_question(text: str) -> str:
    """The question itself: without instructions aimed at the assistant ("Ignore your instructions.
    Then answer: X?"), and, in a long message, the question it holds rather than its story.

    Instructions are not something the knowledge base can answer, and a paragraph of context around
    a question only skews retrieval. A long message keeps its question sentences (the last two); a
    service the message names but its question does not is added in brackets, so "We are on Azure
    OpenAI. […] Can we keep data in the EU?" asks about Azure OpenAI.
    """
    return read_message(text)[0]


def read_message(text: str) -> tuple[str, str]:
    """(the question a message asks, as focus_question reads it; what it tells around it). The second is a long
    message's other sentences ("We run 60 subscriptions. Legal is nervous about 'global'."), without
    instructions to the assistant; "" for a message that is all question. Retrieval weighs it at a fraction:
    it may name what the question only points back to ("those jobs", "that part about layering mitigations")."""
    kept = [part for part in re.split(r"(?<=[.!?])\s+", text) if not _INSTRUCTION.search(part)]
    focused = _ANSWER_LABEL.sub("", " ".join(kept)).strip()
    if not re.search(r"\w", focused):
        return text, ""
    if len(focused) <= LONG_MESSAGE:
        return focused, ""
    sentences = _sentences(focused)
    questions = [p for p in sentences if p.endswith("?")] or [p for p in sentences if _ASKING.match(p)]
    if not questions:
        return focused, ""
    asked = questions[-2:]
    question = " ".join(_after_preamble(q) for q in asked)
    named = [e for e in entities_in(focused) if e not in entities_in(question)]
    told = " ".join(p for p in sentences if p not in asked)
    return (f"{question} ({named[0]})" if named and not entities_in(question) else question), told


def _sentences(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"(?<=[.!?])\s+|\n+", text) if p.strip()]


def _after_preamble(sentence: str) -> str:
    """ "Anyway, the main thing: can we …?" → "Can we …?" """
    head, sep, rest = sentence.partition(": ")
    if sep and len(head) <= 60 and _ASKING.match(rest):
        return rest[:1].upper() + rest[1:]
    return sentence


def parse_history(history: object, max_chars: int) -> list[Turn]:
    """The recent earlier turns as (question, answer) pairs, from pairs or from role/content chat messages.

    Every turn's shape is checked (a wrong one raises QuestionError); of the last CONTEXT_TURNS, an
    earlier question that is empty or too long is left out, so that it cannot break the current one.
    """
    if history is None:
        return []
    if isinstance(history, str | bytes | bytearray | Mapping) or not isinstance(history, Sequence):
        raise QuestionError(f"The history must be {_HISTORY_HELP}, not {_kind(history)}.")
    pairs: list[tuple[str, str]] = []
    for i, item in enumerate(history, 1):
        if isinstance(item, Mapping):
            role, content = _message(item, i)
            if role == "user":
                pairs.append((content, ""))
            elif role == "assistant" and pairs and not pairs[-1][1]:
                pairs[-1] = (pairs[-1][0], content)
            continue
        if isinstance(item, str | bytes | bytearray) or not isinstance(item, Sequence) or len(item) != 2:
            raise QuestionError(f"History item {i} is {_kind(item)}; expected {_HISTORY_HELP}.")
        user, assistant = item
        if not isinstance(user, str) or not isinstance(assistant, str | None):
            raise QuestionError(f"History item {i} must hold two texts, a question and its answer.")
        pairs.append((user, assistant or ""))
    turns: list[Turn] = []
    for user, assistant in pairs[-CONTEXT_TURNS:]:  # older turns no longer shape a follow-up
        try:
            turns.append((clean_question(user, max_chars), assistant))
        except QuestionError:
            continue
    return turns


def _message(item: Mapping[object, object], i: int) -> tuple[str, str]:
    role, content = item.get("role"), item.get("content")
    if role not in ("user", "assistant", "system") or not isinstance(content, str):
        raise QuestionError(
            f"History item {i} is not a chat message: it needs a role (user or assistant) and a text content."
        )
    return str(role), content


def check_top_k(top_k: object) -> int | None:
    """`top_k` as a whole number from 1 to MAX_TOP_K (None: the settings' value)."""
    if top_k is None:
        return None
    whole = isinstance(top_k, int) or (isinstance(top_k, float) and math.isfinite(top_k) and top_k.is_integer())
    if isinstance(top_k, bool) or not whole or not 1 <= top_k <= MAX_TOP_K:  # type: ignore[operator]
        raise QuestionError(f"top_k must be a whole number from 1 to {MAX_TOP_K}, not {_kind(top_k)}.")
    return int(top_k)  # type: ignore[arg-type]


def check_provider(provider: object, default: str) -> str:
    """The provider's name, lower-cased (the settings' provider when None)."""
    if provider is None:
        return default.strip().lower()
    if not isinstance(provider, str) or not provider.strip():
        raise QuestionError(f"The provider must be a name such as 'extractive', not {_kind(provider)}.")
    return provider.strip().lower()


def _kind(value: object) -> str:
    """A short description of a value for a message (never its whole content)."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, bool | int | float) or value is None:
        return repr(value)
    return f"a {type(value).__name__}"
