"""Turn a follow-up question into a standalone one, deterministically.

"And OpenAI?" after "Does Azure OpenAI support private endpoints?" becomes
"Does OpenAI support private endpoints?". The rules cover the follow-ups people type in this domain:
swapping the service being asked about, a pronoun standing for it, or a new topic for the same service.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from azcompare.text import tokenize

# Longest first so that "Azure OpenAI" is not read as "OpenAI".
ENTITIES = ("Microsoft Azure OpenAI", "Azure OpenAI Service", "Azure OpenAI", "OpenAI API", "OpenAI")
# "Cognitive Services OpenAI User" is a role name, not a mention of OpenAI.
_ENTITY = re.compile(r"(?<!Services )\b(" + "|".join(re.escape(e) for e in ENTITIES) + r")\b", re.IGNORECASE)
_LEAD = re.compile(
    r"^\s*(?:and what about|and how about|and for|and in|what about|how about|same question for|same for|"
    r"what of|and|but|or|also|so|ok(?:ay)?|then)\b[\s,]*",
    re.IGNORECASE,
)
_PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|this service|that service|the service)\b", re.IGNORECASE)
_YES_NO = re.compile(
    r"^(?P<aux>does|do|is|are|can|could|will|would|has|have)\s+(?P<entity>(?:the\s+)?"
    + _ENTITY.pattern
    + r")\s+(?P<verb>\w+)\s+(?P<topic>.+?)[?.!]*$",
    re.IGNORECASE,
)
_DEMONSTRATIVE = re.compile(r"\b(that|this|those|these|the same)\b", re.IGNORECASE)
# Words that qualify a service name without changing the question ("the regular OpenAI API").
_FILLER = frozenset(
    tokenize(
        "regular plain normal standard public direct directly api apis service services version "
        "offering platform side one itself consumer"
    )
)
_FOLLOWUP_WORDS = 6
# How far back a follow-up may lean on the conversation; older turns no longer shape it (and cost nothing).
CONTEXT_TURNS = 20

Turn = tuple[str, str]


def canonical_entity(text: str) -> str:
    """Map a mention to the service it names: "Azure OpenAI" or "OpenAI"."""
    return "Azure OpenAI" if "azure" in text.lower() else "OpenAI"


def entities_in(text: str) -> list[str]:
    """The services a text mentions, in order, without repeats."""
    seen: list[str] = []
    for match in _ENTITY.finditer(text):
        name = canonical_entity(match.group(1))
        if name not in seen:
            seen.append(name)
    return seen


def asks_about_openai_only(question: str) -> bool:
    """A question about OpenAI alone: the current (Microsoft) pages speak for Azure OpenAI, so text about
    Azure OpenAI only does not answer it, nor does a newer Microsoft page replace what a source says of OpenAI."""
    return entities_in(question) == ["OpenAI"]


# "Do both platforms …", "… each have": a question about both services without naming them.
_BOTH = re.compile(r"\b(both|each|either)\b", re.IGNORECASE)


def asks_about_openai_too(question: str) -> bool:
    """A question about OpenAI, alone or beside Azure OpenAI ("Do both platforms …?", "… and OpenAI?"): a
    newer Microsoft page speaks for Azure OpenAI only, so it does not replace what a source says of both.

    Read from the last sentence that asks: "The comparison says Azure OpenAI X, unlike OpenAI. Can an Azure
    OpenAI deployment …?" asks about Azure OpenAI, whatever the sentence before it quotes."""
    asking = [s for s in re.split(r"(?<=[.!?])\s+", question.strip()) if s.rstrip().endswith("?")]
    asked = asking[-1] if asking else question
    named = entities_in(asked)
    return "OpenAI" in named or (not named and _BOTH.search(asked) is not None)


def condense_question(question: str, history: Sequence[Turn] | None) -> str:
    """The question rewritten to stand on its own, using the earlier user turns when it is a follow-up.

    Earlier questions are made standalone in one pass, each from the one before it, starting at the
    last question that stood on its own within the last CONTEXT_TURNS turns: a long conversation
    costs no more than those.
    """
    recent = [(user or "").strip() for user, _assistant in (history or [])[-CONTEXT_TURNS:]]
    start = max((i for i, user in enumerate(recent) if not is_follow_up(user)), default=0)
    previous = ""
    for user in recent[start:]:
        previous = _standalone(user, previous)
    return _standalone(question.strip(), previous)


def _standalone(question: str, previous: str) -> str:
    if not previous or not is_follow_up(question):
        return question
    return _rewrite(question, previous)


def is_follow_up(question: str) -> bool:
    """Short, elliptical or pronoun-led questions lean on the conversation."""
    words = re.findall(r"\w+", question)
    if _LEAD.match(question) and len(words) <= _FOLLOWUP_WORDS + 2:
        return True
    if (_PRONOUN.search(question) or _DEMONSTRATIVE.search(question)) and not entities_in(question):
        return True
    return len(words) <= 3


def _rewrite(question: str, previous: str) -> str:
    remainder = _LEAD.sub("", question).strip().rstrip("?.! ")
    new_entities = entities_in(remainder)
    old_entities = entities_in(previous)
    rest = set(tokenize(_ENTITY.sub("", remainder))) - _FILLER
    frame = _YES_NO.match(previous)
    subject = canonical_entity(frame.group("entity")) if frame else None
    if new_entities and not rest:
        # "And the regular OpenAI API?" → ask the previous question about that service.
        if len(old_entities) == 1:
            return _ENTITY.sub(new_entities[0], previous)
        return previous if new_entities[0] in old_entities else f"{previous} ({new_entities[0]})"
    if new_entities:
        return question
    if subject and _LEAD.match(question) and not _PRONOUN.search(remainder) and remainder:
        # "What about customer-managed keys?" → same service, same verb, new topic.
        aux, entity, verb = frame.group("aux", "entity", "verb")
        return f"{aux.capitalize()} {entity} {verb} {remainder}?"
    if subject and _PRONOUN.search(remainder):
        # "Is it available in Europe?" after a question about Azure OpenAI → name the service.
        return _PRONOUN.sub(lambda m: f"{subject}'s" if m.group(1).lower() == "its" else subject, question, count=1)
    # Anything else: keep the earlier question beside it so retrieval sees the topic.
    return f"{question.rstrip()} (following up on: {previous})"
