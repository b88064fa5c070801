"""Links from the statements of older sources to the newer passages that speak to the same point.

Made once per index build, from what the build already computed (the MiniLM vectors of every chunk
and quotable sentence), and stored beside the Chroma data as `links.json`; answering only reads them.
A source is older when its date lies at least `span_days` before the newest document's. Each of its
quotable sentences (table rows included) is scored against every passage of the newer sources:

    score = 0.5 × best sentence cosine + 0.2 × passage cosine + 0.3 × term coverage

where term coverage is the rarity-weighted share of the old sentence's words the newer passage holds
(its title, headings and the former names of renamed things count, so "Azure OpenAI Studio" meets
"Microsoft Foundry"). Passages at or above THRESHOLD (calibrated on scripts/link_labels.yaml with
scripts/link_stats.py --calibrate) become links, the best MAX_PER_SENTENCE per sentence. A link whose
newer passage uses the current name of something the old sentence names by a former one (the
[aliases] of sources.toml) is a "rename".

A link quotes the newer sentence closest to the old one, except that a sentence turning it around on
shared terms ("exclusively … Enterprise customers" against "all Azure customers are eligible", "yes"
against "may not support", "in preview" against "generally available", a fixed rule against a configurable
one, an unconditional statement against an "If …" one, "required" against "eligible", "stateless" against
"creates a data store"; see `_TURN_RULES`) ranks CONTRADICTION_BONUS higher (one of the _TURN_RULES
CHANGE_BONUS more), and may come from the next passage of the same section (the link then points at that
passage, and is `turned`). Its shared terms count the sentence before it in its passage too, which often
names what it speaks of.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from azcompare.index_state import REBUILD
from azcompare.records import chunk_from_record, read_all
from azcompare.text import NEGATION, index_terms, terms
from azcompare.types import Chunk, Link

LINKS_FILE = "links.json"
# Bump when the scoring changes: the recipe is recorded in the manifest; a change relinks the index.
LINKS_VERSION = 9
SENTENCE_WEIGHT, PASSAGE_WEIGHT, TERMS_WEIGHT = 0.5, 0.2, 0.3
# Calibrated on scripts/link_labels.yaml (scripts/link_stats.py --calibrate).
# Today's index: precision 0.88, recall 0.77 (F1 0.82). 0.58 gives F1 0.84 but worse dev answers (fact and lead).
THRESHOLD = 0.66
MAX_PER_SENTENCE = 3
# A second sentence of the newer passage is quoted with the link when it is nearly as close as the best.
SECOND_SENTENCE_MARGIN = 0.05

# Statements that point elsewhere, and sections that only list links: never one end of a link.
_POINTER = re.compile(
    r"^(for more information|to learn more|learn more|for details|read more|explore |references?:)"
    r"|(^|[,:;]\s*)see\s|\bcan be found (on|in|at)\b|\| Microsoft Learn\b|\b(available|click|learn more) here\.?$",
    re.IGNORECASE,
)
_POINTER_HEADING = re.compile(
    r"(^|> )(next steps|see also|related content|references|important links|help and support|resources"
    r"|learn more( about .*)?|change log)$",
    re.IGNORECASE,
)
_LABEL_WORDS = 12
# A newer sentence that turns the old one around (a quantifier or a negation flipped) on the same terms is
# what the reader must see first, even when another sentence of the passage is closer in wording.
CONTRADICTION_BONUS = 0.2
# A turn by one of the _TURNS (a status, rule, condition, permission or storage change) says what changed;
# a bare negation or quantifier flip is far more common ("are NOT …" sentences), so it ranks less.
CHANGE_BONUS = 0.15
# Terms (match keys, former names expanded) an old and a newer sentence share before a flip counts.
SHARED_TERMS = 2
_EXCLUSIVE = re.compile(r"\b(exclusively|only|solely|limited to|restricted to)\b", re.IGNORECASE)
_UNIVERSAL = re.compile(r"\b(all|any|every|everyone|anyone)\b", re.IGNORECASE)
# Other ways a newer sentence turns an old one around, each (the old says, the newer says, the newer must not
# say): a status change (preview -> generally available), a fixed rule -> a configurable one, an unconditional
# statement -> a conditional one, a restriction -> a permission, "stores nothing" -> "stores when a feature is used".
_TURN_RULES = (
    # preview -> generally available
    (
        r"\b(preview|beta)\b",
        r"\bgenerally available\b",
        r"\bnot generally available\b",
    ),
    # a fixed rule ("will be filtered") -> a configurable one
    (
        r"\b(will be|is|are)\b",
        r"\b(configur(e|able)|customi[sz]e|adjust(able)?)\b",
        r"\b(not|isn't|aren't) \w*\s?configur",
    ),
    # an unconditional statement -> a conditional one ("If …, …")
    (
        r"^(?!.*\b(if|when|unless|only)\b)",
        r"(^|[.;:]\s*)(if|when|only if|only when)\b",
        r"^$",
    ),
    # a requirement or restriction -> a permission (still "only" is no permission)
    (
        r"\b(requir\w*|limited|restricted|must)\b",
        r"\b(eligible|permitted|allowed)\b",
        r"\bnot (eligible|permitted|allowed)\b|\bonly\b",
    ),
    # "stores nothing" -> "stores when a feature is used"
    (
        r"\b(stateless|never stor\w*|not stored|doesn't store|no \w+ (is|are) stored)\b",
        r"\b(data store|persist\w*|stores|retain\w*)\b",
        r"\b(not|never|no)\b",
    ),
)
_TURNS = tuple(tuple(re.compile(p, re.IGNORECASE) for p in rule) for rule in _TURN_RULES)


@dataclass(frozen=True)
class LinkRecipe:
    """What decides the links; recorded in the index manifest (a change relinks, embedding nothing again)."""

    version: int = LINKS_VERSION
    threshold: float = THRESHOLD
    span_days: int = 365

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "threshold": self.threshold, "span_days": self.span_days}


@dataclass(frozen=True)
class Statement:
    """One quotable sentence of a chunk with its stored (normalized) vector."""

    chunk: Chunk
    text: str
    vector: np.ndarray


@dataclass
class LinkCorpus:
    """Every chunk and sentence of an index version with their vectors, as a build stored them."""

    chunks: list[Chunk]
    chunk_vectors: np.ndarray  # one row per chunk
    statements: list[Statement]  # in chunk order

    @classmethod
    def from_collections(cls, chunks_collection: Any, sentences_collection: Any) -> LinkCorpus:
        """Read the chunks and sentences (text, metadata, vector) back from the two Chroma collections."""
        data = read_all(chunks_collection, ["documents", "metadatas", "embeddings"])
        rows = sorted(
            zip(data["ids"], data["documents"], data["metadatas"], data["embeddings"], strict=True),
            key=lambda r: (str((r[2] or {}).get("doc_id", "")), int((r[2] or {}).get("position", 0))),
        )
        chunks = [chunk_from_record(i, d, m) for i, d, m, _ in rows]
        vectors = _rows([v for *_, v in rows])
        by_id = {c.id: c for c in chunks}
        data = read_all(sentences_collection, ["documents", "metadatas", "embeddings"])
        found: list[tuple[str, int, str, np.ndarray]] = []
        for text, meta, vector in zip(data["documents"], data["metadatas"], data["embeddings"], strict=True):
            chunk_id = str(meta["chunk_id"])
            if chunk_id in by_id:
                found.append((chunk_id, int(meta["position"]), text or "", np.asarray(vector, np.float32)))
        order = {c.id: i for i, c in enumerate(chunks)}
        found.sort(key=lambda f: (order[f[0]], f[1]))
        statements = [Statement(by_id[c], t, v) for c, _, t, v in found]
        return cls(chunks, vectors, statements)


def older_documents(chunks: Iterable[Chunk], span_days: int) -> set[str]:
    """Documents dated at least `span_days` before the newest document (undated ones are never older)."""
    dates = {c.doc_id: c.date for c in chunks if c.date}
    if not dates:
        return set()
    newest = max(dates.values())
    return {doc for doc, date in dates.items() if (newest - date).days >= span_days}


def parse_aliases(aliases: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """(former, current) name pairs from sources.toml's "current = former, former (expansion)" entries."""
    pairs: list[tuple[str, str]] = []
    for current, formers in aliases:
        for former in formers.split(","):
            # "Azure AD (Azure Active Directory)": both the short and the long form are former names.
            for name in re.split(r"\s*[()]\s*", former):
                if name.strip():
                    pairs.append((name.strip(), current.strip()))
    return pairs


def renamed_terms(old: str, new: str, pairs: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The (former, current) names where the old text uses the former and the new text the current one.

    A new text that still uses the former name too renamed nothing, unless it says so ("formerly ...").
    """
    found: list[tuple[str, str]] = []
    says_renamed = re.search(r"\b(formerly|previously|renamed|now called|now named)\b", new, re.IGNORECASE)
    for former, current in pairs:
        if not (_mentions(old, former) and not _mentions(old, current) and _mentions(new, current)):
            continue
        if (not _mentions(new, former) or says_renamed) and (former, current) not in found:
            found.append((former, current))
    return tuple(found)


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text, re.IGNORECASE) is not None


def flips(old: str, new: str) -> bool:
    """Whether the newer sentence turns the old one around: "exclusively"/"only" against "all"/"any", or
    one of them negated ("may not support") where the other is not."""
    exclusive = bool(_EXCLUSIVE.search(old)) and bool(_UNIVERSAL.search(new)) and not _EXCLUSIVE.search(new)
    negated = bool(NEGATION.search(old)) != bool(NEGATION.search(new))
    return exclusive or negated or changes(old, new)


def changes(old: str, new: str) -> bool:
    """Whether one of the _TURNS holds: the old says the first, the newer says the second (and not the third),
    and the old does not already say the second (then nothing changed)."""
    return any(_turns(turn, old, new) for turn in _TURNS)


def now_generally_available(old: str, new: str) -> bool:
    """Whether `new` says generally available what `old` calls preview or beta (the first of the _TURNS)."""
    return _turns(_TURNS[0], old, new)


def _turns(turn: tuple[re.Pattern[str], ...], old: str, new: str) -> bool:
    said, says, unless = turn
    return bool(said.search(old) and says.search(new) and not unless.search(new) and not says.search(old))


def is_links_section(heading: str) -> bool:
    """A section that only lists links ("Next steps", "Help and support", "References")."""
    return _POINTER_HEADING.search(heading) is not None


def is_pointer(text: str, heading: str = "") -> bool:
    """A statement that points elsewhere or a bare link label, or any text of a links-only section."""
    if is_links_section(heading) or _POINTER.search(text.strip()):
        return True
    stripped = text.strip()
    return not re.search(r"[.!?:;]$", stripped) and ":" not in stripped and len(stripped.split()) <= _LABEL_WORDS


class Scorer:
    """Scores old statements against every passage of the newer documents (see the module docstring)."""

    def __init__(self, corpus: LinkCorpus, older: set[str], aliases: Iterable[tuple[str, str]] = ()) -> None:
        self.corpus = corpus
        self.older = older
        self.pairs = parse_aliases(aliases)
        self.new_index = [i for i, c in enumerate(corpus.chunks) if c.doc_id not in older]
        keys = [set(index_terms(c.embed_text)) for c in corpus.chunks]
        df: dict[str, int] = {}
        for found in keys:
            for key in found:
                df[key] = df.get(key, 0) + 1
        n = max(len(corpus.chunks), 1)
        self.idf = {k: math.log(1 + (n - f + 0.5) / (f + 0.5)) for k, f in df.items()}
        self.vocab = {k: j for j, k in enumerate(sorted(df))}
        self.new_terms = np.zeros((len(self.new_index), len(self.vocab)), np.float32)
        for row, i in enumerate(self.new_index):
            for key in keys[i]:
                self.new_terms[row, self.vocab[key]] = 1.0
        self.new_chunk_vectors = corpus.chunk_vectors[self.new_index]
        # Newer statements that can be quoted against an old one (no pointers or link labels).
        position = {i: row for row, i in enumerate(self.new_index)}
        chunk_row = {c.id: position[i] for i, c in enumerate(corpus.chunks) if i in position}
        self.row_of = position
        self.new_statements = [
            s for s in corpus.statements if s.chunk.id in chunk_row and not is_pointer(s.text, s.chunk.heading)
        ]
        self.statement_owner = np.array([chunk_row[s.chunk.id] for s in self.new_statements], np.int64)
        dim = corpus.chunk_vectors.shape[1] if corpus.chunk_vectors.size else 1
        self.statement_vectors = _rows([s.vector for s in self.new_statements], dim)

    def scores(self, old: Statement) -> tuple[np.ndarray, np.ndarray]:
        """(score per newer passage, cosine of each newer statement) for one old statement."""
        sims = self.statement_vectors @ old.vector
        best = np.full(len(self.new_index), -1.0, np.float32)
        np.maximum.at(best, self.statement_owner, sims)
        passage = self.new_chunk_vectors @ old.vector
        text = self.expanded(old.text)
        weights = np.zeros(len(self.vocab), np.float32)
        for key in set(index_terms(text)):
            if key in self.vocab:
                weights[self.vocab[key]] = self.idf[key]
        total = float(weights.sum()) or 1.0
        coverage = self.new_terms @ weights / total
        score = SENTENCE_WEIGHT * best + PASSAGE_WEIGHT * passage + TERMS_WEIGHT * coverage
        # A passage with no quotable statement has nothing to set against the old one.
        return np.where(best > -1.0, score, -1.0), sims

    def section_rows(self, row: int) -> list[int]:
        """The newer passage of `row` and its neighbours in the same section (same page and heading)."""
        i = self.new_index[row]
        chunk = self.corpus.chunks[i]
        rows = [row]
        for step in (-1, 1):
            j = i + step
            if 0 <= j < len(self.corpus.chunks) and j in self.row_of:
                other = self.corpus.chunks[j]
                if other.doc_id == chunk.doc_id and other.heading == chunk.heading:
                    rows.append(self.row_of[j])
        return rows

    def ranked_sentences(
        self, old: Statement, row: int, sims: np.ndarray
    ) -> tuple[list[int], dict[int, float], set[int]]:
        """The newer statements of a passage's section, best first: cosine to the old statement, plus
        CONTRADICTION_BONUS for one that turns it around on shared terms (see `flips`); their ranks, and
        which of them turn it around."""
        mine = np.flatnonzero(np.isin(self.statement_owner, self.section_rows(row)))
        own = set(index_terms(self.expanded(old.text)))
        rank: dict[int, float] = {}
        flipped: set[int] = set()
        for j in mine:
            text = self.new_statements[j].text
            # Neighbours only count when they turn the old statement around: else the passage speaks for itself.
            turned = len(own & set(index_terms(self.with_lead(int(j))))) >= SHARED_TERMS and flips(old.text, text)
            if self.statement_owner[j] != row and not turned:
                continue
            rank[int(j)] = float(sims[j]) + (CONTRADICTION_BONUS if turned else 0.0)
            if turned and changes(old.text, text):
                rank[int(j)] += CHANGE_BONUS
            if turned:
                flipped.add(int(j))
        return sorted(rank, key=lambda j: -rank[j]), rank, flipped

    def with_lead(self, j: int) -> str:
        """A newer statement with the one before it in its passage, which often names what it speaks of
        ("The image models draw pictures. Model 3 is generally available.")."""
        text = self.new_statements[j].text
        if j and self.new_statements[j - 1].chunk.id == self.new_statements[j].chunk.id:
            return f"{self.new_statements[j - 1].text} {text}"
        return text

    def expanded(self, text: str) -> str:
        """The text with the current name of each former name it uses appended (so terms meet renamed ones)."""
        return text + "".join(f" {current}" for former, current in self.pairs if _mentions(text, former))

    def links_for(self, old: Statement, threshold: float = THRESHOLD) -> list[Link]:
        """The newer passages at or above `threshold` for one old statement, best first (at most MAX_PER_SENTENCE)."""
        score, sims = self.scores(old)
        links: list[Link] = []
        quoted: set[str] = set()
        for row in np.argsort(-score, kind="stable"):
            if score[row] < threshold or len(links) == MAX_PER_SENTENCE:
                break
            chunk = self.corpus.chunks[self.new_index[row]]
            if old.chunk.date and chunk.date and chunk.date <= old.chunk.date:
                continue  # only newer passages: never from a new source back to an old one
            ranked, rank, turned = self.ranked_sentences(old, int(row), sims)
            # The sentence that answers the old one may sit in the next passage of the same section.
            owner = int(self.statement_owner[ranked[0]])
            chunk = self.corpus.chunks[self.new_index[owner]]
            ranked = [j for j in ranked if self.statement_owner[j] == owner]
            top = rank[ranked[0]]
            sentences = tuple(
                self.new_statements[j].text
                for j in ranked[:2]
                if j == ranked[0] or rank[j] >= top - SECOND_SENTENCE_MARGIN
            )
            sentences = tuple(dict.fromkeys(sentences))  # a page may say the same sentence twice
            if sentences[0] in quoted:
                continue  # the same statement in another passage of the page (a table and its row)
            quoted.add(sentences[0])
            renamed = renamed_terms(old.text, " ".join(sentences), self.pairs)
            links.append(
                Link(
                    old_chunk_id=old.chunk.id,
                    old_doc_id=old.chunk.doc_id,
                    old_title=old.chunk.title,
                    old_date=old.chunk.date,
                    old_sentence=old.text,
                    new_chunk_id=chunk.id,
                    new_doc_id=chunk.doc_id,
                    new_title=chunk.title,
                    new_date=chunk.date,
                    new_sentences=sentences,
                    kind="rename" if renamed else "similar",
                    score=float(score[row]),
                    renamed=renamed,
                    same_text=terms(old.text) == terms(sentences[0]),
                    turned=ranked[0] in turned,
                )
            )
        return links


def make_links(corpus: LinkCorpus, aliases: Iterable[tuple[str, str]], recipe: LinkRecipe) -> list[Link]:
    """Every link from a statement of an older source to the newer passages on the same point."""
    older = older_documents(corpus.chunks, recipe.span_days)
    if not older:
        return []
    scorer = Scorer(corpus, older, aliases)
    links: list[Link] = []
    for statement in old_statements(corpus, older):
        links.extend(scorer.links_for(statement, recipe.threshold))
    return links


def old_statements(corpus: LinkCorpus, older: set[str]) -> list[Statement]:
    """The statements of the older sources that can be linked (pointers and link labels cannot)."""
    return [s for s in corpus.statements if s.chunk.doc_id in older and not is_pointer(s.text, s.chunk.heading)]


def write_links(folder: Path, links: list[Link], recipe: LinkRecipe) -> None:
    """Write links.json into an index version folder being built (its manifest is written after it)."""
    payload = {"recipe": recipe.to_dict(), "links": [link.to_dict() for link in links]}
    tmp = folder / f".{LINKS_FILE}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, ensure_ascii=False)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, folder / LINKS_FILE)


def read_links(folder: Path) -> tuple[dict[str, list[Link]], str | None]:
    """The links of an index version by old chunk id (best first), and what is wrong with them (or None).

    A missing or unreadable file gives no links and a one-line problem: answers still work without them.
    """
    path = folder / LINKS_FILE
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
        links = [Link.from_dict(item) for item in payload["links"]]
    except FileNotFoundError:
        return {}, f"{LINKS_FILE} is missing from {folder.name}; rebuild the index to link older passages"
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = type(exc).__name__ if isinstance(exc, KeyError) else str(exc).splitlines()[0][:120]
        return {}, f"{LINKS_FILE} of {folder.name} cannot be read ({reason}); {REBUILD}"
    by_old: dict[str, list[Link]] = {}
    for link in links:
        by_old.setdefault(link.old_chunk_id, []).append(link)
    for found in by_old.values():
        found.sort(key=lambda link: -link.score)
    return by_old, None


def summarize(links: list[Link], corpus: LinkCorpus, span_days: int) -> dict[str, Any]:
    """Link statistics: totals by kind, and per older document how many passages and rows got a counterpart."""
    older = older_documents(corpus.chunks, span_days)
    linked = {link.old_chunk_id for link in links}
    per_doc: dict[str, dict[str, Any]] = {}
    for chunk in corpus.chunks:
        if chunk.doc_id not in older:
            continue
        entry = per_doc.setdefault(
            chunk.doc_id,
            {"date": chunk.date.isoformat() if chunk.date else "", "passages": 0, "linked": 0}
            | {"rows": 0, "rows_linked": 0},
        )
        entry["passages"] += 1
        entry["linked"] += chunk.id in linked
        if chunk.kind == "row":
            entry["rows"] += 1
            entry["rows_linked"] += chunk.id in linked
    by_kind: dict[str, int] = {}
    for link in links:
        by_kind[link.kind] = by_kind.get(link.kind, 0) + 1
    return {"links": len(links), "by_kind": by_kind, "older_documents": per_doc}


def _rows(vectors: list[Any], dim: int | None = None) -> np.ndarray:
    if not len(vectors):
        return np.zeros((0, dim or 1), np.float32)
    return np.vstack([np.asarray(v, np.float32) for v in vectors])
