"""Which sentences can be quoted as a claim: never a heading, a link label, a reference list,
navigation, a table header, an include stub or a fragment that lost its subject.

Cleaning and chunking already drop most of these (link-only lists, include directives, a list item
without its lead-in); this is the answerer's last check on each sentence it might quote.
"""

from __future__ import annotations

import re

# Words that only say "follow the link": as a whole value they carry no claim.
_LINK_LABEL = re.compile(
    r"^(available here|learn more|read more|see more|more information|click here|here|details|"
    r"see (the )?(documentation|docs|link|page|article)|this (page|article|link))\.?$",
    re.IGNORECASE,
)
_POINTER = re.compile(r"^(for (more )?(details|information)|to learn more|see )", re.IGNORECASE)
# A short sentence that only sends the reader elsewhere ("To learn more, see …").
_NAVIGATION = re.compile(
    r"^(for (more )?(information|details)|for more (on|about)|for a (comprehensive|complete|full) list"
    r"|to (learn|see|find|read|get started)"
    r"|learn more|see also|refer to|next steps|read more|more information"
    r"|(this|the steps in this|in this|after completing this) (article|quickstart|tutorial|guide))\b",
    re.IGNORECASE,
)
NAVIGATION_WORDS = 30
# After its opening phrase, a navigation sentence only points on ("To get started, see …"); one that goes
# on with a claim ("To get started with Azure OpenAI, you need to create a resource …") states something.
_GOES_ON_TO_CLAIM = re.compile(
    r"^[^,]{0,80},\s*(you|it|they|the|an?|azure|openai)\b(?![^.]{0,40}\b(see|visit|refer to)\b)", re.IGNORECASE
)
# "…, see the support options page": its only claim is where to read on.
_SEE_PAGE = re.compile(
    r"\b(see|can be found (on|in|at)) (the )?[^.;]{0,60}\b(page|article|documentation|docs|guide)\.?$", re.IGNORECASE
)
_URL = re.compile(r"https?://\S+")
_NUMBERED_REF = re.compile(r"\[\d+\]")
_STUB = re.compile(r"\[!INCLUDE|\{\{[<%]|^\s*:::|\[!div|^\s*\|?\s*:?-{3,}", re.IGNORECASE)
_TABLE_MARKUP = re.compile(r"\|.*\|")
_CONJUNCTION_START = re.compile(r"^(and|or|but|nor|so|then|which|that|because|whereas|while|plus)\b", re.IGNORECASE)
_CELL_VERDICT = re.compile(r"^(yes|no)\s*:", re.IGNORECASE)
_LABEL_VALUE = re.compile(r"^[^:]{1,120}:\s*(.+)$")
_END_PUNCTUATION = re.compile(r"[.!?)\]\"”']\s*$")
_WORD = re.compile(r"[\w'’-]+")
MIN_WORDS = 4
# A line without a verb-ish ending and this short reads as a heading or a caption.
HEADING_WORDS = 10


def junk_reason(text: str) -> str | None:
    """Why the sentence is not a readable claim ("heading", "link label", ...), or None when it is one."""
    stripped = text.strip()
    if not stripped:
        return "empty"
    if _STUB.search(stripped) or _TABLE_MARKUP.search(stripped):
        return "markup"
    if len(_URL.findall(stripped)) >= 2 or len(_NUMBERED_REF.findall(stripped)) >= 2:
        return "reference list"
    pieces = [p.strip() for p in re.split(r";\s*", _value(stripped)) if p.strip()]
    if pieces and all(_LINK_LABEL.match(p) or _URL.fullmatch(p.rstrip(".")) or _POINTER.match(p) for p in pieces):
        return "link label"
    words = _WORD.findall(stripped)
    opening = _value(stripped) if ":" in stripped[:40] else stripped
    navigates = (_NAVIGATION.match(opening) and not _GOES_ON_TO_CLAIM.match(opening)) or _SEE_PAGE.search(stripped)
    if navigates and len(words) < NAVIGATION_WORDS:
        return "navigation"
    if len(words) < MIN_WORDS:
        return "fragment"
    first = stripped.lstrip("\"'“(*-• ")
    if first[:1].islower() and not _identifier_start(first) and not _LABEL_VALUE.match(first):
        return "fragment"
    if _CONJUNCTION_START.match(first):
        return "fragment"
    if stripped.endswith(":") or _CELL_VERDICT.match(stripped):
        return "fragment"  # a lead-in without its list, or a table cell's "Yes: …" without its row
    if not _END_PUNCTUATION.search(stripped) and not _LABEL_VALUE.match(stripped) and len(words) < HEADING_WORDS:
        return "heading"
    return None


def is_readable(text: str) -> bool:
    """Whether the sentence reads on its own as a claim worth quoting."""
    return junk_reason(text) is None


def _value(text: str) -> str:
    """The value of a "label: value" line (a table cell with its row), else the text itself."""
    parts = [p.strip() for p in text.split(":") if p.strip()]
    return parts[-1] if len(parts) > 1 else text


def _identifier_start(text: str) -> bool:
    """Lower-case names are still subjects: "gpt-4o supports…", "o3-mini is…", "eastus2 has…"."""
    token = text.split(maxsplit=1)[0] if text.split() else ""
    return any(ch.isdigit() for ch in token) or "-" in token or token.startswith(("gpt", "dall", "o1", "o3", "o4"))
