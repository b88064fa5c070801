"""HTML and Markdown for the chat page, from Answers. Pure functions: no Gradio, no I/O.

All corpus and answer text is escaped before it is placed in markup: a document containing
`<script>` or HTML shows it as text.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Sequence

from azcompare.overview import KnowledgeOverview
from azcompare.types import Answer, Citation, Link

_MARKER = re.compile(r"\[(\d+)\]")
# Characters Markdown would interpret; the chat renders Markdown, answers must show literally.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~>-])")
# In what a user typed, also what would make a bare address or e-mail a live link.
_AUTOLINK = re.compile(r"([:.@])")
# In an exported Markdown file nothing is HTML-escaped, so every character Markdown or HTML could act on
# gets a backslash (CommonMark shows any backslash-escaped ASCII punctuation literally).
_EXPORT_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~<>&:@.=\"'-])")


def esc(text: str) -> str:
    """Escape text for HTML (quotes included)."""
    return html.escape(text, quote=True)


def answer_markup(result: Answer, turn: int) -> str:
    """The chat message for an answer: escaped text with clickable [n] markers, flags and notices."""
    body = _cited_text(result.text, turn, result.unsupported)
    parts = [body]
    if result.status == "abstained":
        parts[0] = f'<span class="az-abstained">{body}</span>'
    for notice in result.notices:
        parts.append(f'<br><span class="az-notice">ⓘ {_plain(notice)}</span>')
    return "".join(parts)


def user_markup(text: str) -> str:
    """The user's own message, shown exactly as typed: no markup, image or link in it is live."""
    return _AUTOLINK.sub(r"\\\1", _plain(text))


def streaming_markup(text: str, turn: int) -> str:
    """A partial answer while it streams (markers already clickable)."""
    return _cited_text(text, turn, []) + ' <span class="az-typing">▍</span>'


def status_markup(status: str) -> str:
    return f'<span class="az-status">{_plain(status)}</span>'


def _cited_text(text: str, turn: int, unsupported: Sequence[str]) -> str:
    """The answer with its [n] markers as links; a Markdown table in it (a comparison) as an HTML table."""
    parts: list[str] = []
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        if _TABLE_ROW.match(lines[i]) and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1]):
            j = i + 2
            while j < len(lines) and _TABLE_ROW.match(lines[j]):
                j += 1
            parts.append(_table_html(lines[i], lines[i + 2 : j], turn))
            i = j
            continue
        start = i
        while i < len(lines) and not (
            _TABLE_ROW.match(lines[i]) and i + 1 < len(lines) and _TABLE_RULE.match(lines[i + 1])
        ):
            i += 1
        prose = "\n".join(lines[start:i])
        if prose.strip():
            parts.append(_cited_prose(prose.strip("\n"), turn, unsupported))
    return "\n\n".join(parts)


_TABLE_ROW = re.compile(r"^\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\|(\s*:?-{3,}:?\s*\|)+\s*$")


def _cells(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


def _table_html(header: str, rows: Sequence[str], turn: int) -> str:
    """A table the answer holds (escaped cells, clickable markers), on one line: Markdown leaves it alone."""
    head = "".join(f"<th>{_cited_cell(c, turn)}</th>" for c in _cells(header))
    body = "".join("<tr>" + "".join(f"<td>{_cited_cell(c, turn)}</td>" for c in _cells(row)) + "</tr>" for row in rows)
    return f'<table class="az-compare"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cited_cell(text: str, turn: int) -> str:
    """A table cell: HTML-escaped only (Markdown leaves an HTML block alone), its [n] a link."""
    return re.sub(r"\[(\d+)\]", lambda m: _cite_link(turn, m.group(1)), esc(text))


def _cite_link(turn: int, n: str) -> str:
    return f'<a class="az-cite" href="#az-src-{turn}-{n}">[{n}]</a>'


def _cited_prose(text: str, turn: int, unsupported: Sequence[str]) -> str:
    escaped = _plain(text)
    for sentence in unsupported:
        marked = _plain(sentence)
        if marked and marked in escaped:
            escaped = escaped.replace(
                marked,
                f'<span class="az-unsupported" title="Its citation does not support this sentence">⚠ {marked}</span>',
                1,
            )
    # _plain escaped the brackets; turn "\[n\]" back into a link to the source.
    return re.sub(r"\\\[(\d+)\\\]", lambda m: _cite_link(turn, m.group(1)), escaped)


def _plain(text: str) -> str:
    """Text that renders literally in a Markdown+HTML message."""
    return _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))


def sources_html(turns: Sequence[Answer]) -> str:
    """The sources panel: every answer's citations, latest open; each passage with its snippet marked."""
    return sources_panel([source_group(turn, result) for turn, result in enumerate(turns)])


def source_group(turn: int, result: Answer) -> str:
    """One answer's part of the sources panel without its <details> wrapper ("" for a refused question).

    The page renders it once per answer and keeps it: later answers re-assemble the panel, never re-render it.
    """
    if result.status == "rejected":
        return ""
    items = "".join(_source_item(turn, c) for c in result.citations) or (
        '<p class="az-empty">No sources: the knowledge base does not cover this question.</p>'
    )
    return f"<summary>Q{turn + 1}: {esc(_short(result.question or result.standalone_question))}</summary>{items}"


def sources_panel(groups: Sequence[str]) -> str:
    """The sources panel from each turn's source_group(), latest first and open (the others closed)."""
    if not groups:
        return '<div id="az-sources" class="az-empty">Sources of each answer appear here.</div>'
    latest = len(groups) - 1
    parts = [
        f'<details class="az-turn" data-turn="{turn}" id="az-turn-{turn}"{" open" if turn == latest else ""}>'
        f"{groups[turn]}</details>"
        for turn in range(latest, -1, -1)
        if groups[turn]
    ]
    return f'<div id="az-sources">{"".join(parts)}</div>'


def _source_item(turn: int, c: Citation) -> str:
    link = (
        f'<a class="az-link" href="{esc(c.url)}" target="_blank" rel="noopener noreferrer">open original ↗</a>'
        if c.url.startswith(("https://", "http://"))
        else ""
    )
    where = " › ".join(esc(p) for p in (c.heading.split(" > ") if c.heading else []))
    return (
        f'<div class="az-source" id="az-src-{turn}-{c.n}" data-n="{c.n}">'
        f'<div class="az-source-head"><span class="az-n">[{c.n}]</span> <b>{esc(c.title)}</b>'
        f'<span class="az-date">{esc(c.date or "undated")}</span></div>'
        f'<div class="az-where">{where} {link}</div>'
        f'<div class="az-passage">{highlighted_passage(c)}</div></div>'
    )


def highlighted_passage(c: Citation) -> str:
    """The passage, escaped, with the supporting sentence wrapped in <mark>."""
    passage = c.passage or c.snippet
    spans = sorted((a, b) for a, b in c.spans if 0 <= a < b <= len(passage)) if c.passage else []
    if not spans:
        return esc(passage)
    out, cursor = [], 0
    for start, end in spans:
        start = max(start, cursor)
        out.append(esc(passage[cursor:start]))
        out.append(f'<mark class="az-snippet">{esc(passage[start:end])}</mark>')
        cursor = end
    out.append(esc(passage[cursor:]))
    return "".join(out)


def how_markdown(result: Answer | None) -> str:
    """The "How this answer was made" panel: question rewriting, retrieval, provider and timings."""
    if result is None:
        return "Ask a question to see how its answer was made."
    lines = [
        f"**Question as asked:** {_plain(result.question) or '—'}",
        f"**Standalone question:** {_plain(result.standalone_question) or '—'}",
        f"**Provider:** {_plain(result.provider)} · **status:** {result.status}"
        + (f" · **evidence strength:** {result.strength:.2f}" if result.strength is not None else ""),
        "",
        "| # | score | dense | keyword | document | section | kind |",
        "|---|---|---|---|---|---|---|",
    ]
    for h in result.hits:
        dense = f"{h.dense_score:.3f}" if h.dense_score is not None else "–"
        bm25 = f"{h.bm25_score:.2f}" if h.bm25_score is not None else "–"
        lines.append(
            f"| {h.rank} | {h.score:.4f} | {dense} | {bm25} | {_plain(h.chunk.title)} | "
            f"{_plain(h.chunk.heading) or '–'} | {h.chunk.kind} |"
        )
    if result.links:
        lines += ["", "**Newer passages linked to older ones:**", "", links_html(result.links)]
    lines += ["", "| stage | ms |", "|---|---|"]
    lines += [f"| {_plain(stage)} | {ms:.1f} |" for stage, ms in result.timings.items()]
    if result.usage:
        lines += ["", "**Model tokens:** " + ", ".join(f"{_plain(k)} {v}" for k, v in result.usage.items())]
    return "\n".join(lines)


def links_html(links: Sequence[Link]) -> str:
    """The links an answer used, as an HTML table: older statement and date → newer statement and date."""
    rows = []
    for link in links:
        renamed = ", ".join(f"{esc(old)} → {esc(new)}" for old, new in link.renamed) or "–"
        rows.append(
            "<tr>"
            f"<td>{esc(link.old_title)} ({esc(_day(link.old_date))}): {esc(link.old_sentence)}</td>"
            f"<td>{esc(link.new_title)} ({esc(_day(link.new_date))}): {esc(' '.join(link.new_sentences))}</td>"
            f"<td>{esc(link.kind)}</td><td>{renamed}</td><td>{link.score:.2f}</td>"
            "</tr>"
        )
    return (
        '<table class="az-links"><thead><tr><th>older passage</th><th>newer passage</th><th>kind</th>'
        f"<th>renamed</th><th>score</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _day(date: dt.date | None) -> str:
    return date.isoformat() if date else "undated"


def knowledge_markdown(overview: KnowledgeOverview) -> str:
    """The header: what the assistant knows, with dates, and how to add what is missing."""
    if not overview.documents:
        return "**No index yet.** It is built on the first question (or press *Rebuild index*)."
    pages = [d for d in overview.documents if d.kind != "article"]
    articles = [d for d in overview.documents if d.kind == "article"]
    dated = sorted(d.date for d in pages if d.date)
    span = f", dated {dated[0]} to {dated[-1]}" if dated else ""
    summary = (
        f"Answers only from **{len(overview.documents)} documents**: "
        + ", ".join(f"*{_plain(a.title)}* ({a.date or 'undated'})" for a in articles)
        + (f" and **{len(pages)} Microsoft Learn pages**{span}." if pages else ".")
    )
    listing = "\n".join(
        f"- {_plain(d.title)} — {d.date or 'undated'}" + (f" — <{d.url}>" if d.url.startswith("http") else "")
        for d in overview.documents
    )
    text = f"{summary}\n\n<details><summary>Documents in the knowledge base</summary>\n\n{listing}\n\n</details>"
    if overview.missing_notice:
        text += f'\n\n<span class="az-notice">⚠ {_plain(overview.missing_notice)}</span>'
    return text


def conversation_markdown(turns: Sequence[Answer]) -> str:
    """The conversation as a Markdown document, each answer followed by its numbered sources.

    Every text in it (questions, answers, notices, passages, titles) is escaped: a reader that renders
    the file shows `<script>`, images and links that anyone typed or a document held as plain text.
    """
    out = ["# azcompare conversation", ""]
    for i, result in enumerate(turns, 1):
        out += [f"## Q{i}: {md_text(result.question)}", ""]
        if result.standalone_question and result.standalone_question != result.question:
            out += [f"*Understood as:* {md_text(result.standalone_question)}", ""]
        out += [md_text(line) for line in result.text.splitlines()] + [""]
        out += [f"> {md_text(notice)}" for notice in result.notices]
        if result.citations:
            out += ["Sources:", ""]
            for c in result.citations:
                where = " › ".join(md_text(p) for p in (c.title, c.heading.replace(" > ", " › ")) if p)
                url = f" <{c.url}>" if _SAFE_URL.fullmatch(c.url) else (f" {md_text(c.url)}" if c.url else "")
                out.append(f"{c.n}. {where} ({md_text(c.date or 'undated')}){url}  \n   “{md_text(c.snippet)}”")
            out.append("")
    return "\n".join(out)


_SAFE_URL = re.compile(r"https?://[^\s<>\"'`\\]+")


def md_text(text: str) -> str:
    """One line of literal text for a Markdown file: markup characters escaped, line breaks removed."""
    return _EXPORT_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
