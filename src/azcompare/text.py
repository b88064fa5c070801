"""Text analysis shared by keyword retrieval and the extractive answerer: terms and sentences."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import Stemmer

# Function words and question scaffolding: they say nothing about what a passage covers.
STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below
    between both but by can could did do does doing down during each few for from further had has have
    having he her here hers herself him himself his how i if in into is it its itself just me more most
    my myself nor of off on once only or other our ours ourselves out over own same she should so some
    such than that the their theirs them themselves then there these they this those through to too under
    until up very was we were what when where which while who whom why will with would you your yours
    yourself yourselves also may might must shall get got tell explain describe please let us im i'm
    whats what's there's within many much single particular actually anything something someone
    two both either way ways kind kinds sort need needs want wants like lets
    """.split()
)

# A negation in a statement ("is not", "doesn't", "doesn’t", "no longer", "unavailable"): verdicts read it
# (answering/compose.py), and links read one sentence negating another as a turn (links.py).
NEGATION = re.compile(r"\b(not|never|no longer|cannot|\w+n['’]t|unavailable|unsupported)\b", re.IGNORECASE)

# Fewer content words than this ("See below.", "Important:") is not a statement worth quoting.
MIN_SENTENCE_TERMS = 3

_TOKEN = re.compile(r"[a-z0-9]+(?:[-.][a-z0-9]+)*")
_MAX_LIST_ITEMS = 12
_MAX_LIST_CHARS = 400
# Sentences longer than this (characters) are split at clause breaks into parts of at least MIN_CLAUSE.
LONG_SENTENCE = 220
MIN_CLAUSE = 50
_CLAUSE_BREAK = re.compile(r",\s+(?:and|so|but|while|whereas)\s+")
# A clause that shares the subject of the one before it ("Prompts are processed in the geography, but may be
# processed between regions …") cannot stand alone: the sentence is not split there.
_SHARES_SUBJECT = re.compile(
    r"(may|might|can|could|will|would|should|must|cannot|is|are|was|were|has|have|had|does|do|did|also)\b"
)
_FENCE = re.compile(r"^\s*(```|~~~)")
_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_BOUNDARY = re.compile(r"(?<=[.!?])[\"”')\]]*\s+(?=[\"“(\[]?[A-Z0-9])")
_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "approx.", "no.", "fig.", "mr.", "dr.", "inc.", "ltd.")


@lru_cache(maxsize=1)
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    """Lower-case, stemmed content words (stop words removed), in order, with repeats."""
    words = [w.strip(".-") for w in _TOKEN.findall(text.lower())]
    words = [w for w in words if w and w not in STOPWORDS]
    return _stemmer().stemWords(words)


def match_key(term: str) -> str:
    """Terms agree on their first seven letters: "sovereign" matches "sovereignty"."""
    return term[:7]


# The stemmer cuts some forms of one word apart ("complies" -> "compli", "compliance" -> "complianc"); match keys
# this long that begin one another are one word; shorter ones may not be ("use" / "user").
SAME_WORD_PREFIX = 6


def same_word(a: str, b: str) -> bool:
    """Whether two match keys are forms of one word: equal, or SAME_WORD_PREFIX letters or longer and one begins
    the other ("complia" of "compliance" and "compli" of "complies")."""
    short, long = sorted((a, b), key=len)
    return a == b or (len(short) >= SAME_WORD_PREFIX and long.startswith(short))


class WordForms:
    """The forms of one word (same_word) among a vocabulary's match keys; match keys are at most one letter longer
    than SAME_WORD_PREFIX. Built once per vocabulary, so a lookup is a set operation."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = frozenset(keys)
        groups: dict[str, set[str]] = {}
        for key in self._keys:
            if len(key) > SAME_WORD_PREFIX:
                groups.setdefault(key[:SAME_WORD_PREFIX], set()).add(key)
        self._longer = {prefix: frozenset(longer) for prefix, longer in groups.items()}

    def __call__(self, key: str) -> frozenset[str]:
        """`key` and the vocabulary's other forms of its word."""
        if len(key) < SAME_WORD_PREFIX:
            return frozenset({key})
        shorter = {key[:SAME_WORD_PREFIX]} & self._keys
        longer = self._longer.get(key, frozenset()) if len(key) == SAME_WORD_PREFIX else frozenset()
        return frozenset({key} | shorter | longer)


def index_terms(text: str) -> list[str]:
    """Keyword-index tokens: stems cut to their match key."""
    return [match_key(t) for t in tokenize(text)]


def terms(text: str) -> frozenset[str]:
    """The set of content terms of a text."""
    return frozenset(tokenize(text))


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage: its text and where it sits in the passage.

    `spans` usually holds one (start, end) pair; a lead-in line with the list items that continue
    it holds one per piece, and its text joins them so it reads on its own.
    """

    text: str
    spans: tuple[tuple[int, int], ...]


def passage_lines(passage: str) -> Iterator[tuple[int, str, bool]]:
    """Each line of a passage with its offset, and whether it is code (a fence or inside a fenced block)."""
    offset = 0
    in_code = False
    for line in passage.split("\n"):
        fence = bool(_FENCE.match(line))
        yield offset, line, fence or in_code
        in_code = in_code != fence
        offset += len(line) + 1


def split_sentences(passage: str) -> list[Sentence]:
    """Split a passage into sentences whose spans are exact slices of the passage.

    A line ending in ":" followed by list items ("Your data is:" / "- not shared" / "- not used for
    training") is one sentence: the lead-in and the first sentence of each item. A list too long for
    one sentence goes on in further sentences, each starting with the lead-in again.
    """
    sentences: list[Sentence] = []
    pending: list[tuple[int, int]] = []  # a lead-in line and the items continuing it
    deferred: list[tuple[int, int]] = []  # later sentences of those items, quoted after the list

    def flush() -> None:
        if not pending:
            return
        if len(pending) > 2 and passage[slice(*pending[-1])].rstrip().endswith(":"):
            pending.pop()  # a nested list's lead-in whose items did not fit: they go on in the next sentence
        lead, *items = pending
        parts = [passage[lead[0] : lead[1]]]
        if items:
            parts.append("; ".join(passage[i:j].rstrip(".;") for i, j in items))
        sentences.append(Sentence(" ".join(parts), tuple(pending)))
        sentences.extend(Sentence(passage[i:j], ((i, j),)) for i, j in deferred)
        pending.clear()
        deferred.clear()

    for line_start, line, code in passage_lines(passage):
        if code:  # code is shown with its passage but never quoted as a statement
            flush()
            continue
        marker = _LIST_MARKER.match(line)
        body_start = line_start + (marker.end() if marker else 0)
        body = passage[body_start : line_start + len(line)].rstrip()
        if not body.strip():
            continue
        spans = [(body_start + i, body_start + j) for i, j in _sentence_spans(body)]
        if pending and marker and spans:
            # The item's first sentence completes the lead-in; further sentences stand alone. A long
            # list goes on in a new sentence that repeats the lead-in: an item never loses its subject.
            if not _room(pending, spans[0]):
                lead = pending[0]
                flush()
                pending.append(lead)
            pending.append(spans[0])
            deferred.extend(spans[1:])
            continue
        flush()
        if not marker and body.endswith(":") and spans:
            sentences.extend(Sentence(passage[i:j], ((i, j),)) for i, j in spans[:-1])
            pending.append(spans[-1])
            continue
        sentences.extend(Sentence(passage[i:j], ((i, j),)) for i, j in spans)
    flush()
    return sentences


def _room(pending: list[tuple[int, int]], item: tuple[int, int]) -> bool:
    """Whether one more list item fits the lead-in sentence (long lists stay separate items)."""
    used = sum(end - start for start, end in pending)
    return len(pending) <= _MAX_LIST_ITEMS and used + item[1] - item[0] <= _MAX_LIST_CHARS


def quotable_sentences(passage: str) -> list[Sentence]:
    """The sentences of a passage long enough to quote in an answer, in order."""
    return [
        s
        for s in split_sentences(passage)
        if len(terms(s.text)) >= MIN_SENTENCE_TERMS and not s.text.rstrip().endswith("?")  # a question states nothing
    ]


def _sentence_spans(line: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = len(line) - len(line.lstrip())
    for match in _BOUNDARY.finditer(line):
        before = line[start : match.start()].lower()
        if before.endswith(_ABBREVIATIONS):
            continue
        spans.append((start, match.start()))
        start = match.end()
    if start < len(line):
        spans.append((start, len(line.rstrip())))
    return [clause for s, e in spans if line[s:e].strip() for clause in _clauses(line, s, e)]


def _clauses(line: str, start: int, end: int) -> list[tuple[int, int]]:
    """A very long sentence split into its coordinated clauses ("A, and B, so C"), each quotable alone.

    One embedding of a sixty-word sentence matches no question well; its clauses do.
    """
    if end - start <= LONG_SENTENCE:
        return [(start, end)]
    pieces: list[tuple[int, int]] = []
    cursor = start
    for match in _CLAUSE_BREAK.finditer(line, start, end):
        if _SHARES_SUBJECT.match(line, match.end()):
            continue
        if match.start() - cursor >= MIN_CLAUSE and end - match.end() >= MIN_CLAUSE:
            pieces.append((cursor, match.start()))
            cursor = match.end()
    pieces.append((cursor, end))
    return pieces
