"""An answer read as statements: split into sentences and table rows, its lead found, its junk named.

A *statement* is one sentence of prose (a list item is a sentence too) or one body row of a Markdown
table; a table's header row and its `| --- |` separator are layout, not statements. A statement is
*quoted* when it carries a citation marker such as [2]. The *lead* is the first statement; when the
answer opens with a table, or with a sentence ending in a colon that introduces one, the lead runs to
the end of that table (a side-by-side table is the answer to a comparison question); so does it to the
end of a numbered list that such a sentence introduces (the steps are the answer to a how-to).

The junk rule (`junk_reason`), checked in this order on the statement with its citation markers removed:

1. stub: an unexpanded include or directive: `[!INCLUDE`, `[!NOTE]`-style `[!WORD]`, `:::`, `{{<`.
2. raw table markup: table pipes or a `---|` separator inside a prose statement, or an HTML `<br>`.
3. reference list: two or more URLs, two or more Markdown links, or two or more `[n]`-style
   references that are not the answer's own citation markers.
4. link label: the statement, or its part after the last colon, is a link's label
   ("Available here", "Learn more", "Read more", "Click here", "Apply now", ...).
5. navigation: fewer than 20 words that only send the reader elsewhere: the statement starts with
   "For more information", "For details", "For a comprehensive list", "To learn more", "Learn more",
   "See also", "Refer to", "Next steps", ... (NAVIGATION).
6. fragment: ends with a colon (where the quote ends, see 7); or starts with a lower-case word (an
   identifier with a digit, a hyphen or an underscore, such as gpt-4o, is not one); or starts with a
   conjunction ("and", "or", "but", "which", ...); or has at most 3 words and is not a "label: value"
   pair; or is a table cell without its column: a "label: value" whose label is only Yes, No or a
   check mark.
7. heading: no end punctuation (. ! ? or a closing quote/bracket after one), no "label: value" pair,
   and fewer than 10 words. For a statement that quotes its source verbatim, end punctuation (and the
   colon of rule 6) counts where the quote ends: before its first marker, or else at the end of the
   snippet that marker cites (an answerer that writes "Heading [1]." has added the full stop itself).

Table body rows are judged by rules 1, 3 and 4 only: short cells without end punctuation are what a
table is made of.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_MARKER = re.compile(r"\s*\[(\d+)\]")
_TABLE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
# A sentence ends at . ! or ? (with any closing quote, bracket or citation markers after it) before
# whitespace; "e.g." and "i.e." do not end one, nor does a quoted title (_TITLE_THEN_DATE).
_SENTENCE_END = re.compile(r"(?<!\be\.g\.)(?<!\bi\.e\.)(?<=[.!?])((?:[\"'”’)\]]|\s*\[\d+\])*)\s+")
# A quoted title that ends in "?" or "!" with a parenthesis after it names a source before its statement
# ("“What is Azure OpenAI?” (2025-07-31): …"): the statement goes on.
_TITLE_THEN_DATE = re.compile(r"[?!][\"”]\s+\(")
_LIST_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_NUMBERED = re.compile(r"^\d+[.)]\s+\S")
_URL = re.compile(r"https?://\S+")
_MD_LINK = re.compile(r"\[[^\]]+\]\([^)]+\)")
_STUB = re.compile(r"\[!\w+|:::|\{\{<|\{%")
_LABEL_VALUE = re.compile(r"^[^:]{1,60}:\s+\S")
LINK_LABELS = frozenset(
    {
        "available here",
        "learn more",
        "read more",
        "click here",
        "see more",
        "more information",
        "more info",
        "apply now",
        "apply here",
        "here",
        "link",
        "details",
        "see details",
        "see here",
        "find out more",
    }
)
CONJUNCTIONS = frozenset(
    {"and", "or", "but", "nor", "so", "yet", "because", "which", "that", "while", "whereas", "although", "though"}
)
_END_PUNCT = re.compile(r"[.!?][\"'”’)\]]*$")
NAVIGATION = re.compile(
    r"^(?:note:\s*)?(?:for (?:more|further|additional) (?:information|details|info)|for details|"
    r"for (?:a|the) (?:comprehensive|complete|full) list|for a list|to learn (?:more|about)|learn more|"
    r"see also|see the|refer to|read more|more information|next steps|check out|visit)\b",
    re.IGNORECASE,
)
_BARE_VERDICT = re.compile(r"^(?:yes|no|✔️?|✅|❌|✓|✗)\s*:", re.IGNORECASE)
_NAVIGATION_WORDS = 20
_CLOSED = re.compile(r"[.!?:][\"'”’)\]]*$")


@dataclass(frozen=True)
class Statement:
    """One sentence or table body row of an answer."""

    text: str  # as written, citation markers included
    table_row: bool = False
    table_id: int | None = None  # which table of the answer a row belongs to

    @property
    def markers(self) -> list[int]:
        """The citation numbers the statement carries."""
        return [int(n) for n in _MARKER.findall(self.text)]

    @property
    def quoted(self) -> bool:
        """True when the statement carries a citation marker."""
        return bool(self.markers)

    @property
    def plain(self) -> str:
        """The text without citation markers, Markdown emphasis and surrounding space."""
        return strip_markers(self.text)


def strip_markers(text: str, keep: Iterable[int] = ()) -> str:
    """The text without [n] citation markers (except those in `keep`) and without ** / __ emphasis."""
    kept = set(keep)
    text = _MARKER.sub(lambda m: m.group(0) if int(m.group(1)) in kept else "", text)
    text = re.sub(r"\*\*|__", "", text)
    return re.sub(r"\s+([.,;:!?])", r"\1", text).strip()


def split_statements(text: str) -> list[Statement]:
    """The answer's statements in order: prose sentences and table body rows (headers, separators dropped)."""
    statements: list[Statement] = []
    lines = text.splitlines()
    table = 0
    in_table = False
    for i, line in enumerate(lines):
        if _TABLE_ROW.match(line):
            if _SEPARATOR.match(line):
                continue
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if not in_table:
                table += 1
                in_table = True
            if _SEPARATOR.match(following) and "|" in following:
                continue  # a header row: layout, not a statement
            statements.append(Statement(line.strip(), table_row=True, table_id=table))
            continue
        in_table = False
        body = _LIST_BULLET.sub("", line).strip()
        if not body or _SEPARATOR.match(body):
            continue
        statements.extend(Statement(s) for s in _sentences(body))
    return statements


def _sentences(paragraph: str) -> list[str]:
    parts: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        if _TITLE_THEN_DATE.match(paragraph, match.start() - 1):
            continue
        end = match.end(1) if match.group(1) else match.start()
        parts.append(paragraph[start:end].strip())
        start = match.end()
    parts.append(paragraph[start:].strip())
    return [p for p in parts if p]


def lead_text(text: str) -> str:
    """The answer's first statement; a table that opens the answer (or that its first sentence introduces,
    ending with a colon) is part of the lead, and so is a numbered list that sentence introduces."""
    statements = split_statements(text)
    if not statements:
        return ""
    first = statements[0]
    lines = [line.strip() for line in text.strip().splitlines()]
    steps = list(itertools.takewhile(_NUMBERED.match, lines[1:]))
    if not first.table_row and first.plain.endswith(":") and lines[0] == first.text and len(steps) >= 2:
        return "\n".join([first.text, *steps])
    if first.table_row:
        table_id = first.table_id
    elif first.plain.endswith(":") and len(statements) > 1 and statements[1].table_row:
        table_id = statements[1].table_id
    else:
        return first.text
    intro = [] if first.table_row else [first.text]
    rows = [s.text for s in statements if s.table_row and s.table_id == table_id]
    # The header row names the columns ("OpenAI", "Azure OpenAI") that make a row's cells readable.
    header = _table_header(text, table_id)
    return "\n".join(intro + ([header] if header else []) + rows)


def _table_header(text: str, table_id: int | None) -> str:
    lines, table, in_table = text.splitlines(), 0, False
    for i, line in enumerate(lines):
        if _TABLE_ROW.match(line) and not _SEPARATOR.match(line):
            if not in_table:
                table += 1
                in_table = True
            if table == table_id and i + 1 < len(lines) and _SEPARATOR.match(lines[i + 1]):
                return line.strip()
        elif not _SEPARATOR.match(line):
            in_table = False
    return ""


def junk_reason(statement: Statement, snippets: Mapping[int, str] | None = None) -> str | None:
    """Why a statement is not a readable claim (see the module docstring), or None when it is one.

    `snippets` maps the answer's own citation numbers to the source text each quotes; other [n]
    references count toward a reference list.
    """
    snippets = snippets or {}
    own = set(snippets)
    raw = statement.text
    # The answer's own markers go; a source's footnote references stay (they make a reference list).
    text = strip_markers(raw, keep=[n for n in statement.markers if own and n not in own])
    if _STUB.search(text):
        return "stub"
    if not statement.table_row and ("<br" in text.lower() or "|" in text or re.search(r"-{3,}\s*\|", text)):
        return "raw table markup"
    footnotes = re.findall(r"\[\d+\]", text) if own else []
    if len(_URL.findall(text)) >= 2 or len(_MD_LINK.findall(text)) >= 2 or len(footnotes) >= 2:
        return "reference list"
    cells = [c.strip() for c in text.strip("|").split("|")] if statement.table_row else [text]
    for cell in cells:
        tail = cell.rsplit(":", 1)[-1] if not cell.rstrip().endswith(":") else cell
        if " ".join(re.sub(r"[^\w\s]", " ", tail.lower()).split()) in LINK_LABELS:
            return "link label"
    if statement.table_row:
        return None
    words = _words(text)
    if NAVIGATION.match(text) and len(words) < _NAVIGATION_WORDS:
        return "navigation"
    label_value = bool(_LABEL_VALUE.match(text))
    first = text.lstrip("\"'“‘(*_`").split(" ", 1)[0] if text else ""
    ending = _quote_end(statement, snippets)
    if (
        ending.endswith(":")
        or (first[:1].islower() and not re.search(r"[\d\-_]", first))
        or (words and words[0].lower() in CONJUNCTIONS)
        or (len(words) <= 3 and not label_value)
        or _BARE_VERDICT.match(text)
    ):
        return "fragment"
    if not _END_PUNCT.search(ending) and not label_value and len(words) < 10:
        return "heading"
    return None


def _quote_end(statement: Statement, snippets: Mapping[int, str]) -> str:
    """Where the statement's quote ends: its text before the first citation marker when that ends with
    punctuation; else, when that text is quoted from the snippet the marker cites, the snippet's end.

    An answerer that appends "[n]." to every quote gives a heading a full stop it never had, and turns
    a lead-in's colon into one, so a quoted statement's own punctuation is read where the quote ends.
    """
    markers = statement.markers
    if not markers:
        return statement.plain
    before = strip_markers(statement.text[: _MARKER.search(statement.text).start()])  # type: ignore[union-attr]
    if _CLOSED.search(before):
        return before
    snippet = snippets.get(markers[0], "").strip()
    if _squash(before) and _squash(before) in _squash(snippet):
        return snippet  # the statement quotes the snippet: its punctuation is the source's
    return statement.plain


def _squash(text: str) -> str:
    return re.sub(r"[^\w]+", "", text.lower())


def _words(text: str) -> list[str]:
    return re.findall(r"[\w'’.\-/%]+", text)
