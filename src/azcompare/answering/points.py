"""What a prose statement in a comparison table is about: its Point, in a few words.

Rule-based and cheap: the statement's own label ("Fine-tuning: Azure OpenAI: …"), else its section
heading when the heading is specific to it (shares a content word, service names aside), else a short
topic phrase from the statement itself (what the service does or has). Never a generic section name
such as "Summary" or "Key Differences and Feature Matrix": those share no content word with the statement.
"""

from __future__ import annotations

import re

from azcompare.text import STOPWORDS

# Longest first, so "Azure OpenAI in Microsoft Foundry Models" goes whole, not as "Azure OpenAI" + rest.
_SERVICE = re.compile(
    r"\b(Azure OpenAI in (Microsoft |Azure AI )?Foundry Models|Azure OpenAI Service|Azure OpenAI|"
    r"(Microsoft |Azure AI )?Foundry Models|Microsoft Foundry|Azure AI Foundry|OpenAI(?:['’]s)?|Azure)\b"
)
_WORD = re.compile(r"[A-Za-z][\w/-]*(?:['’]\w+)?")
# Words and the punctuation that ends a phrase ("private networking, regional availability" → "private networking").
_TOKEN = re.compile(r"[A-Za-z][\w/-]*(?:['’]\w+)?|[,;:()]")
# Function words, and words that only qualify or join ("available", "various", "per"): they say nothing of the point.
_STOP = STOPWORDS | frozenset(
    """across addition among applicable available certain contrast different following however including inside
    it's never no not onto outside per several upon using various via without""".split()
)
# Generic section words: a heading made of them ("Key Differences and Feature Matrix", "Summary") is never
# specific to a statement; as a word of the statement itself ("a key vault") they still count.
_GENERIC = frozenset(
    """new key differences difference feature features matrix overview summary conclusion introduction
    comparing comparison understanding next steps include""".split()
)
_LEAD_WORDS = re.compile(r"^(about|understanding|overview of|introduction to|what is|how to \w+)\s+", re.I)
_AUX = frozenset("is are was were be been does do did can could will would may might must not no never".split())
_COPULA = frozenset("is are was were be been".split())
_MAX_WORDS = 6


def point_of(statement: str, heading: str) -> str:
    """A few words saying what `statement` (a prose statement naming one service) is about, given the
    heading it stands under (its last heading, else its page title); "" when nothing fits."""
    return _label(statement) or _specific_heading(heading, statement) or _topic(statement)


def _label(statement: str) -> str:
    """The label a statement gives itself ("Content filtering: Azure OpenAI: …"), if short and not a name."""
    head, sep, _ = statement.partition(":")
    words = _WORD.findall(head)
    if not sep or "," in head or not words or len(words) > _MAX_WORDS:
        return ""
    if _SERVICE.fullmatch(head.strip()) or {w.lower() for w in words} & {"you", "your", "we", "our"}:
        return ""
    return _capital(head.strip())


def _specific_heading(heading: str, statement: str) -> str:
    """The heading without service names, when it shares a content word with the statement."""
    cleaned = _without_service(heading)
    if not cleaned or not _stems(cleaned) & _stems(statement):
        return ""
    if len(_WORD.findall(cleaned)) > _MAX_WORDS:  # its head, if that is specific: "Location of processing for …"
        cleaned = re.split(r"\s+(?:for|with|in|using|by|when)\s+", cleaned, maxsplit=1)[0]
        if len(_WORD.findall(cleaned)) > _MAX_WORDS or not _stems(cleaned) & _stems(statement):
            return ""
    return _capital(cleaned)


def _without_service(heading: str) -> str:
    """ "Encryption of data at rest" of "Azure OpenAI in Microsoft Foundry Models encryption of data at rest":
    a service name splits the heading; the side with more content words is kept, stripped of the words
    that joined it to the name ("Securing Azure OpenAI inside a virtual network" → "virtual network")."""
    heading = re.sub(r"\s*\((include|preview|classic)\)", "", heading, flags=re.I)
    parts = [p.strip(" ,:-–") for p in _SERVICE.split(heading) if p and not _SERVICE.fullmatch(p)]
    parts = [p for p in parts if p and not re.fullmatch(r"(Microsoft |Azure AI )?", p)]
    best = max(parts, key=lambda p: len(_content(p)), default="")
    if not _content(best):
        return ""
    words = best.split()
    while words and words[0].lower() in _STOP and not _LEAD_WORDS.match(" ".join(words)):
        words.pop(0)  # "inside a virtual network" → "virtual network"
    while words and words[-1].lower() in _STOP:
        words.pop()
    return _LEAD_WORDS.sub("", " ".join(words))


def _topic(statement: str) -> str:
    """What the service does or has, from the statement: the noun phrase after its verb ("customer data"
    of "Azure OpenAI does not utilize customer data for …"), the verb kept when the phrase is one word
    ("Encrypts data"); else the first run of content words ("Compliance standards/certifications")."""
    text = re.sub(r"^[^A-Za-z]+", "", statement)
    match = _SERVICE.search(text)
    if match and match.start() < 40:  # the service is the subject: read past it, its auxiliaries and adverbs
        words = _TOKEN.findall(text[match.end() :])
        copula = False
        while words and (words[0].lower() in _AUX or words[0].lower().endswith("ly")):
            copula = copula or words.pop(0).lower() in _COPULA
        verb, rest = (words[0], words[1:]) if words else ("", [])
        phrase = _first_run(rest)
        if verb[:1].isalpha() and (len(phrase) == 1 or (copula and not verb.endswith("ed"))):
            # "Encrypts data"; after "is", the adjective is the point: "Available to Microsoft Enterprise customers"
            phrase = [verb.lower(), *_joining_preposition(rest, phrase), *phrase]
        if phrase:
            return _capital(" ".join(phrase) + _more(rest, phrase))
    run = _first_run(_TOKEN.findall(_SERVICE.sub(" , ", text)))
    if len(run) == 1 and run[0].endswith(("ing", "ed")):
        return ""  # a lone verb ("After completing this article, …") says nothing of the point
    return _capital(" ".join(run))


def _more(words: list[str], phrase: list[str]) -> str:
    """ ", …" when the phrase is the first item of a list ("private networking, regional availability, and …"):
    the point is not that item alone."""
    end = words.index(phrase[-1]) + 1 if phrase[-1] in words else len(words)
    return ", …" if words[end : end + 1] == [","] else ""


def _joining_preposition(words: list[str], phrase: list[str]) -> list[str]:
    """The preposition just before the phrase ("to" of "available exclusively to Microsoft …"), if any."""
    if not phrase or phrase[0] not in words:
        return []
    before = words[words.index(phrase[0]) - 1] if words.index(phrase[0]) else ""
    return [before] if before.lower() in {"to", "for", "in", "on", "with", "by"} else []


def _first_run(words: list[str]) -> list[str]:
    """The first run of content words (at most four), skipping leading function words and punctuation."""
    run: list[str] = []
    for word in words:
        skip = word.lower() in _STOP or _SERVICE.fullmatch(word) or not word[0].isalpha()
        if skip or (not run and word.lower().endswith("ly")):  # nor a leading adverb ("exclusively")
            if run:
                break
            continue
        run.append(word)
        if len(run) == 4:
            break
    return run


def _content(text: str) -> list[str]:
    return [w for w in _WORD.findall(_SERVICE.sub(" ", text)) if w.lower() not in _STOP | _GENERIC]


def _stems(text: str) -> set[str]:
    """Crude stems of the content words: "encryption" and "encrypts" meet at "encry"."""
    return {w.lower()[:5] if len(w) >= 5 else w.lower().rstrip("s") for w in _content(text)}


def _capital(text: str) -> str:
    """A capital first letter, except on a name written lower-case ("gpt-oss-120b")."""
    first = text.split(" ", 1)[0]
    return text if any(c.isdigit() for c in first) else text[:1].upper() + text[1:]
