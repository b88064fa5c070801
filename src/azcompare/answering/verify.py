"""Check a generated answer against the passages it was given.

1. Citation markers are normalized ("[1, 2]", "[Passage 3]" → "[1][2]", "[3]"); markers to passages
   that were not given are removed; the rest are renumbered in order of first use.
2. Every answer sentence is checked against the passages it cites: lexical overlap (share of its
   content words found in the passage) blended with embedding similarity (its best match among the
   passage's sentences). A number the passage does not contain, or a negation the passage sentence
   does not share (for a feature-matrix row: the opposite yes/no for the service named), makes a
   sentence unsupported. A sentence that states something without any citation is unsupported too.
3. Each citation quotes the passage sentence that best supports what was said (its snippet).

The answer text is kept as the model wrote it (apart from the markers): unsupported sentences are
listed, not silently deleted, so that the reader sees them flagged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from azcompare.answering.citations import Evidence, cite
from azcompare.answering.prompt import ABSTAIN_PHRASE
from azcompare.retrieval import KnowledgeBase
from azcompare.settings import Settings
from azcompare.text import Sentence, match_key, terms
from azcompare.types import Citation, Hit

# Weight of lexical overlap against embedding similarity in the support score.
LEXICAL_WEIGHT = 0.5
# Support score from which a sentence counts as backed by its passage. Chosen on hand-made pairs
# (tests/test_verify.py, IDF-weighted): paraphrases of a passage score 0.6–0.9, unrelated claims citing it 0.1–0.5.
SUPPORT_THRESHOLD = 0.55
# Fewer content words than this ("Yes [1].") leaves nothing to check.
MIN_CLAIM_TERMS = 2

_GROUP = re.compile(
    r"(?P<space>[ \t]*)[\[【]\s*(?:(?:passages?|sources?|documents?|docs?|refs?)\s*#?\s*)?"
    r"(?P<numbers>\d{1,3}(?:\s*(?:,|;|&|and|-|–)\s*\d{1,3})*)\s*[\]】]",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[(\d+)\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_SENTENCE = re.compile(r".+?(?:[.!?](?:\s*\[\d+\])*(?=\s|$)|$)", re.DOTALL)
_ABSTAIN = re.compile(r"not in the knowledge base", re.IGNORECASE)
_NUMBERED = re.compile(
    r"^(?:(?:facts?|statements?|passages?|sources?)\s*#?\s*(\d{1,3})\s*[:.)-]|<(\d{1,3})>)\s*", re.IGNORECASE
)
# A feature-matrix row as chunking writes it: "Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes".
_ROW_VALUE = re.compile(r"\b(Azure OpenAI|OpenAI):?\s+(yes|no)\b", re.IGNORECASE)
_AZURE = re.compile(r"\bAzure OpenAI\b", re.IGNORECASE)
_OPENAI_ALONE = re.compile(r"(?<!Azure )\bOpenAI\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|without|lacks?|unavailable|unsupported)\b|n't\b", re.IGNORECASE)


class Renumbering:
    """Maps the model's passage numbers to citation numbers in order of first use; drops unknown ones."""

    def __init__(self, given: int) -> None:
        self.given = given
        self.number: dict[int, int] = {}  # passage number → citation number
        self.dropped: list[int] = []

    def _replace(self, match: re.Match[str]) -> str:
        out: list[str] = []
        for token in re.findall(r"\d+", match.group("numbers")):
            n = int(token)
            if not 1 <= n <= self.given:
                self.dropped.append(n)
                continue
            new = self.number.setdefault(n, len(self.number) + 1)
            if f"[{new}]" not in out:
                out.append(f"[{new}]")
        # A dropped marker takes its leading space with it, so no " ." is left behind.
        return match.group("space") + "".join(out) if out else ""

    def apply(self, text: str) -> str:
        """Text with every marker group rewritten."""
        return _GROUP.sub(self._replace, text)

    @property
    def passage_of(self) -> dict[int, int]:
        """Citation number → passage number."""
        return {new: old for old, new in self.number.items()}


class FixedNumbering(Renumbering):
    """Maps passage numbers to citation numbers fixed in advance (passage → number); drops unknown ones."""

    def __init__(self, given: int, numbers: dict[int, int]) -> None:
        super().__init__(given)
        self.number = {n: c for n, c in numbers.items() if c}

    def _replace(self, match: re.Match[str]) -> str:
        known = [n for n in map(int, re.findall(r"\d+", match.group("numbers"))) if n in self.number]
        self.dropped.extend(n for n in map(int, re.findall(r"\d+", match.group("numbers"))) if n not in self.number)
        out = list(dict.fromkeys(f"[{self.number[n]}]" for n in known))
        return match.group("space") + "".join(out) if out else ""


class MarkerStream:
    """Renumbers markers in streamed text, holding back a possibly unfinished "[..." until it closes."""

    HOLD = 24  # longer than any marker group we rewrite

    def __init__(self, given: int, renumbering: Renumbering | None = None) -> None:
        self.renumbering = renumbering or Renumbering(given)
        self._pending = ""

    def feed(self, piece: str) -> str:
        """The text that can be shown now."""
        pending = self._pending + piece
        cut = max(pending.rfind("["), pending.rfind("【"))
        tail = pending[cut:] if cut >= 0 else ""
        keep = cut if tail and "]" not in tail and "】" not in tail and len(tail) <= self.HOLD else len(pending)
        while keep > 0 and pending[keep - 1] in " \t":  # spaces before a marker go if the marker goes
            keep -= 1
        ready, self._pending = pending[:keep], pending[keep:]
        return self.renumbering.apply(ready)

    def close(self) -> str:
        """Whatever was held back."""
        ready, self._pending = self._pending, ""
        return self.renumbering.apply(ready)


@dataclass
class SentenceCheck:
    """One answer sentence and what verification found."""

    text: str
    cited: list[int]
    supported: bool
    score: float
    # Why it is not backed: "uncited", "weak" (below SUPPORT_THRESHOLD), "number" (a figure its passage
    # lacks), "contradiction" (says the opposite of its passage); "short" when backed only because it has
    # too few content words to check ("Yes [1]."); "" when backed.
    problem: str = ""


@dataclass
class Verification:
    """A generated answer after verification."""

    text: str
    citations: list[Citation]
    unsupported: list[str]
    dropped: list[int]
    abstained: bool
    checks: list[SentenceCheck] = field(default_factory=list)
    passage_of: dict[int, int] = field(default_factory=dict)  # citation number → given passage number

    @property
    def supported(self) -> int:
        """Sentences backed by a passage they cite."""
        return sum(c.supported and bool(c.cited) for c in self.checks)


def tidy(text: str) -> str:
    """Spacing repaired after markers were removed or rewritten."""
    text = re.sub(r"[ \t]+([.,;:!?])", r"\1", text)
    text = re.sub(r"(\[\d+\])\1+", r"\1", text)
    text = re.sub(r"[ \t]{2,}", " ", text)
    return text.strip()


def answer_sentences(text: str) -> list[str]:
    """The sentences of an answer, each with the markers that follow it; list bullets removed."""
    found: list[str] = []
    for line in text.splitlines():
        line = _LIST_ITEM.sub("", line).strip()
        if not line:
            continue
        for match in _SENTENCE.finditer(line):
            sentence = match.group(0).strip()
            if sentence:
                found.append(sentence)
    return found


def verify(raw: str, hits: Sequence[Hit], kb: KnowledgeBase, settings: Settings) -> Verification:
    """Renumber, check and cite a generated answer whose [n] refer to `hits` (1-based)."""
    renumbering = Renumbering(len(hits))
    text = tidy(renumbering.apply(raw))
    passage_of = renumbering.passage_of
    sentences = answer_sentences(text)
    bodies = [_MARKER.sub("", s).strip() for s in sentences]
    vectors = kb.embed(bodies)
    checks: list[SentenceCheck] = []
    best: dict[int, tuple[float, Evidence]] = {}  # citation number → best supporting passage sentence
    for sentence, body, vector in zip(sentences, bodies, vectors, strict=True):
        cited = [int(n) for n in _MARKER.findall(sentence)]
        claim_terms = {match_key(t) for t in terms(body)}
        if not cited:
            is_claim = len(claim_terms) >= MIN_CLAIM_TERMS and not _ABSTAIN.search(body) and not body.endswith(":")
            checks.append(SentenceCheck(sentence, [], not is_claim, 0.0, "uncited" if is_claim else ""))
            continue
        sentence_score, problem = 0.0, "weak"
        for n in cited:
            hit = hits[passage_of[n] - 1]
            score, evidence = _support(body, claim_terms, vector, hit, kb)
            if score >= sentence_score:
                sentence_score, problem = score, _capped(body, evidence) or "weak"
            if n not in best or score > best[n][0]:
                best[n] = (score, evidence)
        short = len(claim_terms) < MIN_CLAIM_TERMS
        supported = short or sentence_score >= SUPPORT_THRESHOLD
        problem = "short" if short else "" if supported else problem
        checks.append(SentenceCheck(sentence, cited, supported, sentence_score, problem))
    citations = [cite(best[n][1], n) for n in sorted(best)]
    unsupported = [c.text for c in checks if not c.supported]
    abstained = not any(c.supported and c.cited for c in checks) and bool(_ABSTAIN.search(text))
    return Verification(text, citations, unsupported, renumbering.dropped, abstained, checks, passage_of)


def attribute(raw: str, hits: Sequence[Hit], kb: KnowledgeBase) -> str:
    """The text with each uncited claim sentence given the marker of the passage that backs it best,
    when one backs it well enough (SUPPORT_THRESHOLD); other sentences are left as they are.

    A small model (Qwen 0.5B) often states a fact from the passages without its [n]. Attribution by the
    same support score that verification applies afterwards places the marker for it; a sentence no
    passage backs stays uncited, and verification then flags it as it would have.
    """

    def canonical(match: re.Match[str]) -> str:  # "[1, 2]" → "[1][2]", numbers kept (verify renumbers them)
        numbers = [int(t) for t in re.findall(r"\d+", match.group("numbers"))]
        return match.group("space") + "".join(f"[{n}]" for n in numbers if 1 <= n <= len(hits))

    sentences = [_markers_last(s) for s in answer_sentences(tidy(_GROUP.sub(canonical, raw)))]
    uncited = [s for s in sentences if not _MARKER.search(s)]
    claims = [(s, {match_key(t) for t in terms(s)}) for s in uncited]
    claims = [(s, c) for s, c in claims if len(c) >= MIN_CLAIM_TERMS and not _ABSTAIN.search(s)]
    if not claims:
        return " ".join(sentences)
    vectors = kb.embed([s for s, _ in claims])
    marked: dict[str, str] = {}
    for (sentence, claim_terms), vector in zip(claims, vectors, strict=True):
        scores = [_support(sentence, claim_terms, vector, hit, kb)[0] for hit in hits]
        best = max(range(len(hits)), key=lambda i: scores[i], default=None)
        if best is not None and scores[best] >= SUPPORT_THRESHOLD:
            stem, end = re.match(r"(.*?)([.!?]*)$", sentence, re.DOTALL).groups()  # type: ignore[union-attr]
            marked[sentence] = f"{stem.rstrip()} [{best + 1}]{end or '.'}"
    return " ".join(marked.get(s, s) for s in sentences)


def _markers_last(sentence: str) -> str:
    """ "[1] Text." or "Fact 1: Text." → "Text [1]." (small models number their sentences the way the
    facts were listed)."""
    sentence = _NUMBERED.sub(lambda m: f"[{m.group(1) or m.group(2)}] ", sentence)
    found = re.match(r"^((?:\[\d+\]\s*)+)(.+?)([.!?]*)$", sentence, re.DOTALL)
    if not found:
        return sentence
    markers, text, end = found.groups()
    return f"{text.rstrip()} {''.join(markers.split())}{end or '.'}"


def _support(
    body: str, claim_terms: set[str], vector: np.ndarray, hit: Hit, kb: KnowledgeBase
) -> tuple[float, Evidence]:
    """How well one passage backs a sentence (0–1), and the passage sentence that backs it best."""
    chunk = hit.chunk
    passage_terms = {match_key(t) for t in terms(chunk.embed_text)}
    lexical = _weighted_share(claim_terms, passage_terms, kb)
    units = kb.sentences(chunk)
    best_unit_score, best_sentence, best_vector, best_similarity = -1.0, None, None, 0.0
    for unit in units:
        similarity = float(unit.vector @ vector)
        unit_terms = {match_key(t) for t in unit.terms}
        unit_lexical = _weighted_share(claim_terms, unit_terms, kb)
        unit_score = LEXICAL_WEIGHT * unit_lexical + (1 - LEXICAL_WEIGHT) * similarity
        if unit_score > best_unit_score:
            best_unit_score, best_sentence, best_vector = unit_score, unit.sentence, unit.vector
        best_similarity = max(best_similarity, similarity)
    if best_sentence is None:  # a passage too short to hold a quotable sentence is quoted whole
        text = chunk.text.strip()
        start = chunk.text.find(text)
        best_sentence = Sentence(text, ((start, start + len(text)),))
        best_vector = kb.embed_query(text)
        best_similarity = float(best_vector @ vector)
    score = LEXICAL_WEIGHT * lexical + (1 - LEXICAL_WEIGHT) * max(best_similarity, 0.0)
    evidence = Evidence(hit, best_sentence, score, lexical, best_vector)
    # A figure the passage never states, or a claim that says the opposite of it, is not supported by it.
    if _capped(body, evidence):
        score = min(score, SUPPORT_THRESHOLD / 2)
        evidence = replace(evidence, score=score)
    return score, evidence


def _capped(body: str, evidence: Evidence) -> str:
    """ "number" when the sentence states a figure the passage lacks, "contradiction" when it says the
    opposite of the passage sentence that backs it best, else ""."""
    if _unbacked_numbers(body, evidence.hit.chunk.embed_text):
        return "number"
    return "contradiction" if _contradicts(body, evidence.sentence.text) else ""


def _weighted_share(claim: set[str], found: set[str], kb: KnowledgeBase) -> float:
    """Share of the claim's words present, each weighted by rarity: "Azure" and "OpenAI" prove little."""
    if not claim:
        return 0.0
    weights = {t: kb.idf(t) for t in claim}
    return sum(w for t, w in weights.items() if t in found) / (sum(weights.values()) or 1.0)


def _unbacked_numbers(body: str, passage: str) -> bool:
    numbers = {n.rstrip(".,") for n in _NUMBER.findall(body)}
    return any(n not in passage for n in numbers)


def _contradicts(body: str, evidence: str) -> bool:
    """True when a sentence says the opposite of the passage sentence that backs it best.

    Word overlap alone passes "OpenAI supports private endpoints" against "Private Endpoints: OpenAI no;
    Azure OpenAI yes", and "Azure OpenAI does not encrypt data at rest" against "Azure OpenAI encrypts
    your data"; small models write such sentences. A feature-matrix row is read for the service the
    sentence names (a sentence naming both, or neither, is left to the overlap check); any other
    passage sentence must agree with the claim on negation.
    """
    values = {service.lower(): value.lower() == "yes" for service, value in _ROW_VALUE.findall(evidence)}
    if values:
        # Clause by clause: "Yes, OpenAI offers virtual networking; Azure OpenAI yes" names both services in
        # the sentence, but its first clause says the opposite of "OpenAI no".
        return any(_reverses_row(clause, values) for clause in body.split(";"))
    return bool(_NEGATION.search(body)) != bool(_NEGATION.search(evidence))


def _reverses_row(clause: str, values: dict[str, bool]) -> bool:
    """True when a clause naming one service says the opposite of the row's yes/no for it."""
    azure, openai = bool(_AZURE.search(clause)), bool(_OPENAI_ALONE.search(clause))
    if azure == openai:
        return False
    service = "azure openai" if azure else "openai"
    return service in values and values[service] == bool(_NEGATION.search(clause))


def abstention_requested(text: str) -> bool:
    """True when the model said the passages do not cover the question."""
    return bool(_ABSTAIN.search(text)) or text.strip() == ABSTAIN_PHRASE
