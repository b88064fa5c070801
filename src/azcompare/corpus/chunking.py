"""Heading-aware, table-aware chunking of cleaned Markdown documents.

Each section (text under one heading) becomes one or more chunks that know their heading path.
Each table row also becomes its own chunk, written as a sentence with the header names, so that a
question about one feature finds exactly the row that answers it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from azcompare.corpus.clean import inline_to_text
from azcompare.types import Chunk, Document

# Bump when the chunks or their sentence splitting change: the manifest then forces a full rebuild.
CHUNKER_VERSION = 16

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
_SEPARATOR_CELL = re.compile(r"^:?-{2,}:?$")

_YES = {"✔️", "✔", "✅", "✓", "☑️", "yes", "y"}
# A dash in a table of check marks means "not available" (the region and model tables).
_NO = {"❌", "✖️", "✖", "✗", "✘", "no", "n", "-", "–", "➖"}
_SYMBOLS = {"✔️", "✔", "✅", "✓", "☑️", "❌", "✖️", "✖", "✗", "✘"}


@dataclass(frozen=True)
class ChunkerParams:
    """Everything that changes the chunks; recorded in the index manifest."""

    chunk_size: int
    chunk_overlap: int
    version: int = CHUNKER_VERSION
    # (current name, former name) pairs from sources.toml: "Azure Direct Models" → "Azure OpenAI".
    aliases: tuple[tuple[str, str], ...] = ()


def alias_note(text: str, aliases: tuple[tuple[str, str], ...]) -> str:
    """ " (also: former names)" for the renamed things a text mentions, so either name finds it."""
    lowered = text.lower()
    former = [old for new, old in aliases if new.lower() in lowered and old.lower() not in lowered]
    return f" (also: {'; '.join(dict.fromkeys(former))})" if former else ""


@dataclass
class _Section:
    heading_path: tuple[str, ...]
    lines: list[str]


def chunk_document(doc: Document, params: ChunkerParams) -> list[Chunk]:
    """Split one document into section chunks and table-row chunks, in document order."""
    # Imported here: only index builds chunk, and LangChain is slow to import for every question.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        chunk_size=params.chunk_size,
        chunk_overlap=params.chunk_overlap,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
    )
    chunks: list[Chunk] = []

    def add(text: str, path: tuple[str, ...], kind: str) -> None:
        text = text.strip()
        if not text:
            return
        chunks.append(
            Chunk(
                id=f"{doc.id}#{len(chunks):04d}",
                doc_id=doc.id,
                title=doc.title,
                text=text,
                heading_path=path,
                kind=kind,  # type: ignore[arg-type]
                url=doc.url,
                date=doc.date,
                position=len(chunks),
                note=alias_note(text, params.aliases),
            )
        )

    for section in _sections(doc.text):
        body_lines: list[str] = []
        row_sentences: list[str] = []
        for block_is_table, block in _blocks(section.lines):
            if block_is_table:
                rows = table_row_sentences(block)
                row_sentences.extend(rows)
                body_lines.extend(rows)
            else:
                body_lines.extend(block)
        body = "\n".join(body_lines).strip()
        if body:
            pieces = [body] if len(body) <= params.chunk_size else splitter.split_text(body)
            for piece in pieces:
                add(piece, section.heading_path, "section")
        for sentence in row_sentences:
            add(sentence, section.heading_path, "row")
    return chunks


def table_row_sentences(table_lines: list[str]) -> list[str]:
    """Write each body row of a Markdown table as one sentence.

    Symbols become words (✔️ → yes, ❌ → no); the leading label columns name the row; an empty first
    cell inherits the category of the row above; a row with only a category starts a new category.
    """
    rows = [_cells(line) for line in table_lines]
    rows = [r for r in rows if r and not all(_SEPARATOR_CELL.match(c.replace(" ", "")) for c in r if c)]
    if len(rows) < 2:
        return []
    header, body = rows[0], rows[1:]
    width = len(header)
    body = [(r + [""] * width)[:width] for r in body]
    label_cols = _label_columns(header, body)
    sentences: list[str] = []
    category = ""
    for row in body:
        if not any(row):
            continue
        first = row[0]
        if first and not any(row[1:]):
            category = first  # a category-only row, e.g. "Infrastructure Security | | |"
            continue
        if first:
            category = first
        elif label_cols > 1 and category:
            row = [category, *row[1:]]
        labels = [c for c in row[:label_cols] if c]
        values = []
        for name, cell in zip(header[label_cols:], row[label_cols:], strict=True):
            if not cell:
                continue
            word = _symbol_word(cell)
            if word:
                values.append(f"{name} {word}".strip())
            else:
                values.append(f"{name}: {cell}" if name else cell)
        if not labels and not values:
            continue
        label = ", ".join(labels)
        if _BARE_CODE.fullmatch(label) and header[0]:
            label = f"{header[0]} {label}"  # "200" says nothing alone: "HTTP response code 200"
        if values:
            sentences.append(f"{label}: {'; '.join(values)}" if label else "; ".join(values))
        else:
            sentences.append(label)
    return sentences


# A row label that is only a number or code ("200", "4xx") needs its column's name to be read.
_BARE_CODE = re.compile(r"[\d.,x%+-]+", re.IGNORECASE)


def _label_columns(header: list[str], body: list[list[str]]) -> int:
    """How many leading columns name the row: those before the first column of ✔️/❌ marks."""
    for index in range(1, len(header)):
        column = [row[index] for row in body if row[index]]
        if column and all(_symbol_word(c) for c in column) and any(c in _SYMBOLS for c in column):
            return index
    return 1


def _symbol_word(cell: str) -> str:
    token = cell.strip().rstrip(".").strip().lower()
    if token in _YES or cell.strip() in _YES:
        return "yes"
    if token in _NO or cell.strip() in _NO:
        return "no"
    return ""


def _cells(line: str) -> list[str]:
    inner = line.strip()
    inner = inner[1:] if inner.startswith("|") else inner
    inner = inner[:-1] if inner.endswith("|") else inner
    # Escaped pipes stay inside their cell.
    parts = re.split(r"(?<!\\)\|", inner)
    # A line break inside a cell became "; ": tidy what it leaves beside commas and at the ends.
    cells = [inline_to_text(p.replace("\\|", "|")) for p in parts]
    return [re.sub(r"\s*,?\s*;\s*(?=\S)", "; ", c).strip().strip(";").strip() for c in cells]


def _sections(text: str) -> Iterator[_Section]:
    """Yield the text under each heading with its heading path (level-1 headings are the title)."""
    stack: list[tuple[int, str]] = []
    lines: list[str] = []
    in_fence = False

    def path() -> tuple[str, ...]:
        return tuple(title for level, title in stack if level > 1)

    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _HEADING.match(line)
        if heading:
            yield _Section(path(), lines)
            lines = []
            level = len(heading.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, heading.group(2).strip()))
            continue
        lines.append(line)
    yield _Section(path(), lines)


def _blocks(lines: list[str]) -> Iterator[tuple[bool, list[str]]]:
    """Group a section's lines into runs of table lines and runs of other lines."""
    current: list[str] = []
    current_is_table = False
    in_fence = False
    for line in lines:
        if _FENCE.match(line):
            in_fence = not in_fence
        is_table = not in_fence and bool(_TABLE_LINE.match(line))
        if current and is_table != current_is_table:
            yield current_is_table, current
            current = []
        current_is_table = is_table
        current.append(line)
    if current:
        yield current_is_table, current
