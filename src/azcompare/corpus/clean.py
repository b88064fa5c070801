"""Turn Hugo and Microsoft Learn flavoured Markdown into plain, structured Markdown.

What stays: headings, paragraphs, lists, tables and code blocks (the chunker needs them).
What goes: front matter (returned as metadata), shortcodes, include directives, images, zone markers,
HTML tags and comments, lists made only of links (reference lists, navigation: nothing in them can be
quoted as a claim), and inline link/emphasis syntax (the text of a link is kept).
"""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

import frontmatter

_ALERT_LABELS = {
    "NOTE": "Note",
    "TIP": "Tip",
    "IMPORTANT": "Important",
    "CAUTION": "Caution",
    "WARNING": "Warning",
}

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ADMONITION_OPEN = re.compile(r"\{\{[<%]\s*admonition\s+(\S+)(?:\s+(.*?))?\s*[>%]\}\}")
_SHORTCODE = re.compile(r"\{\{[<%]\s*/?\s*[\w-]+[^}]*?[>%]\}\}")
_INCLUDE_LINE = re.compile(r"^\s*>?\s*\[!INCLUDE\s*\[[^\]]*\]\([^)]*\)\]\s*$", re.IGNORECASE)
_ALERT_LINE = re.compile(r"^(\s*)>\s*\[!(\w+)\]\s*$")
_DIV_LINE = re.compile(r"^\s*>?\s*\[!div\b[^\]]*\]\s*$", re.IGNORECASE)
_IMAGE_BLOCK = re.compile(r":::image\b.*?(?::::image-end:::|:::)", re.DOTALL | re.IGNORECASE)
_TRIPLE_COLON_LINE = re.compile(r"^\s*:::\s*[\w-]+.*$")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
# A list item that is nothing but a link ("- [Azure OpenAI models](https://…)").
_LINK_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+\[[^\]]+\]\([^)]*\)[\s.;,]*$")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^()\s]|\([^)]*\))*(?:\s+\"[^\"]*\")?\)")
_REF_LINK = re.compile(r"\[([^\]]+)\]\[[^\]]*\]")
_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)
# In a table cell, a list written with line breaks ("- A <br><br> - B"): one "; " between its items, no
# empty items, no list markers ("A; B", not "- A ; ;  - B").
_CELL_BREAKS = re.compile(r"\s*(?:<br\s*/?>\s*)+(?:[-*+]\s+)?", re.IGNORECASE)
_CELL_ITEM = re.compile(r"(\|\s*)[-*+]\s+(?=[^\s|])")
_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>")
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1|(?<![\w*])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![\w*])")
_INLINE_CODE = re.compile(r"`([^`\n]+)`")
_FENCE = re.compile(r"^\s*(```|~~~)")
# A line that starts with a check or cross mark ("✅ View the resource") is an item of the list its
# lead-in line introduces ("… would be able to:", "… would be unable to:"): it becomes a list item, so
# that it is quoted with that lead-in, never as a bare "Yes: …" that reads as a verdict.
_MARK_LINE = re.compile(r"^(\s*(?:[-*+]\s+)?)(✅|✔️|✔|❌|✖️)\s*")


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """Separate YAML front matter from the body. Malformed front matter is left in the body."""
    try:
        post = frontmatter.loads(raw)
    except Exception:  # a broken YAML header must not stop indexing the page
        return {}, raw
    return dict(post.metadata), post.content


def metadata_date(meta: dict[str, Any]) -> dt.date | None:
    """The document date from front matter: `date`, else `ms.date` (MM/DD/YYYY)."""
    for key in ("date", "ms.date", "updated", "lastmod"):
        value = meta.get(key)
        if value is None:
            continue
        parsed = parse_date(value)
        if parsed:
            return parsed
    return None


def parse_date(value: Any) -> dt.date | None:
    """Parse a date given as a date, datetime, ISO string or Microsoft's M/D/YYYY."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    for fmt in ("%Y-%m-%d", "%m/%d/%Y", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%d %B %Y", "%B %d, %Y"):
        try:
            return dt.datetime.strptime(text[: len(text)], fmt).date()
        except ValueError:
            continue
    try:
        return dt.datetime.fromisoformat(text).date()
    except ValueError:
        return None


def clean_markdown(body: str) -> str:
    """Apply every cleaning step to a Markdown body (front matter already removed)."""
    text = body.replace("\r\n", "\n").replace("\r", "\n")
    text = _HTML_COMMENT.sub("", text)
    text = _clean_hugo(text)
    text = _IMAGE_BLOCK.sub("", text)
    lines = _drop_link_lists(_clean_msdocs_lines(text.split("\n")))
    text = "\n".join(_clean_line(line) if not code else line for line, code in _mark_code(lines))
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip() + "\n"


def inline_to_text(text: str) -> str:
    """Plain text for one line of Markdown/HTML: link text kept, markup dropped."""
    return _clean_inline(text)


def _clean_hugo(text: str) -> str:
    def admonition(match: re.Match[str]) -> str:
        kind, title = match.group(1), (match.group(2) or "").strip().strip('"')
        label = title or kind.capitalize()
        return f"\n{label}:\n"

    text = _ADMONITION_OPEN.sub(admonition, text)
    return _SHORTCODE.sub("", text)


def _clean_msdocs_lines(lines: list[str]) -> list[str]:
    out: list[str] = []
    pending_label: str | None = None
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if _INCLUDE_LINE.match(line) or _DIV_LINE.match(line) or _TRIPLE_COLON_LINE.match(line):
            continue
        alert = _ALERT_LINE.match(line)
        if alert:
            pending_label = _ALERT_LABELS.get(alert.group(2).upper(), alert.group(2).capitalize())
            continue
        quoted = re.match(r"^(\s*)>\s?(.*)$", line)
        if quoted:
            content = quoted.group(2)
            # Nested alerts inside a quote ("> > [!NOTE]") keep their label too.
            nested = re.match(r"^>?\s*\[!(\w+)\]\s*$", content)
            if nested:
                pending_label = _ALERT_LABELS.get(nested.group(1).upper(), nested.group(1).capitalize())
                continue
            if pending_label and content.strip():
                content = f"{pending_label}: {content.strip()}"
                pending_label = None
            out.append(quoted.group(1) + content)
            continue
        pending_label = None
        out.append(line)
    return out


def _drop_link_lists(lines: list[str]) -> list[str]:
    """Remove runs of two or more list items that are each only a link (a reference list, a menu)."""
    out: list[str] = []
    run: list[str] = []
    for line in [*lines, ""]:
        if _LINK_ITEM.match(line):
            run.append(line)
            continue
        if len(run) == 1:
            out.extend(run)  # a single linked item can be a real list entry
        run = []
        out.append(line)
    return out[:-1]


def _mark_code(lines: list[str]) -> list[tuple[str, bool]]:
    marked: list[tuple[str, bool]] = []
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
            marked.append((line, True))
        else:
            marked.append((line, in_fence))
    return marked


def _clean_line(line: str) -> str:
    if not line.lstrip().startswith("|"):
        line = _MARK_LINE.sub(lambda m: m.group(1) if m.group(1).strip() else m.group(1) + "- ", line)
    return _clean_inline(line)


def _clean_inline(text: str) -> str:
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _REF_LINK.sub(r"\1", text)
    if text.lstrip().startswith("|"):
        text = _CELL_BREAKS.sub("; ", text)
        if "; " in text:  # the first item of a cell's list loses its marker too
            text = _CELL_ITEM.sub(r"\1", text)
    text = _BR.sub("\n", text)
    text = _TAG.sub("", text)
    text = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3) or "", text)
    text = _INLINE_CODE.sub(r"\1", text)
    text = html.unescape(text)
    return text.rstrip()


def html_to_markdown(html: str, url: str = "") -> tuple[str, dict[str, Any]]:
    """Main text of an HTML page as Markdown (headings and tables kept), plus its title and date."""
    import trafilatura

    markdown = trafilatura.extract(
        html,
        url=url or None,
        output_format="markdown",
        include_tables=True,
        include_links=False,
        include_comments=False,
        favor_precision=True,
    )
    meta: dict[str, Any] = {}
    extracted = trafilatura.extract_metadata(html, default_url=url or None)
    if extracted is not None:
        meta = {
            "title": extracted.title or "",
            "date": extracted.date or "",
            "description": extracted.description,
        }
    ms_date = re.search(r'<meta\s+name="ms\.date"\s+content="([^"]+)"', html, re.IGNORECASE)
    if ms_date:
        meta["date"] = ms_date.group(1)
    return markdown or "", meta
