"""The offline extractive answerer: no model server, deterministic.

It scores every sentence (and table row) of the retrieved passages by its embedding similarity to the
question and how much of the question it covers (rare words weigh more), picks the best few that add
something new (maximal marginal relevance), and quotes them, each followed by its [n]. When sources
dated far apart speak to the same point it gives each source's statement with its date, newest
first, so a reader sees what changed. When the evidence is weak it abstains instead of quoting
something loosely related.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from azcompare.answering.citations import Evidence, render
from azcompare.answering.condense import entities_in
from azcompare.retrieval import KnowledgeBase, SearchResult
from azcompare.settings import Settings
from azcompare.text import match_key, terms
from azcompare.types import Chunk, Citation

# Sentences much weaker than the best one add noise rather than support.
RELATIVE_CUTOFF = 0.6
# Sentences sharing this share of their terms say the same thing (a shorter variant is not dropped).
DUPLICATE_OVERLAP = 0.9
SIMILARITY_WEIGHT = 0.35
# Relevance against novelty when picking each next sentence (1.0: relevance only).
MMR_LAMBDA = 0.85
# Weight of a sentence that never names OpenAI itself, for a question about OpenAI alone.
OTHER_SERVICE_FACTOR = 0.6
_OPENAI_ITSELF = re.compile(r"(?<!Azure )(?<!Services )\bOpenAI\b(?! Service)")
# Two sentences this similar (cosine) speak about the same thing.
SAME_TOPIC = 0.5
# Sentences and sections that point elsewhere instead of saying something.
_POINTER = re.compile(
    r"^(for more information|to learn more|learn more|for details|see |the following|this article"
    r"|in this article)|\bsee\b[^.]*\bfor (more )?(details|information)|\(if needed\)$|\bcan be found (on|in|at)\b",
    re.IGNORECASE,
)
_POINTER_HEADING = re.compile(
    r"(^|> )(next steps|see also|related content|important links|help and support|resources)$", re.IGNORECASE
)


@dataclass
class ExtractiveDraft:
    """The extractive answer before the pipeline wraps it."""

    text: str
    citations: list[Citation]
    abstained: bool
    strength: float
    evidence: list[Evidence]


def is_pointer_heading(heading: str) -> bool:
    """Sections like "Next steps" or "See also" list links rather than say something."""
    return _POINTER_HEADING.search(heading) is not None


def asks_about_openai_only(question: str) -> bool:
    """A question about OpenAI itself is not answered by text about Azure OpenAI only."""
    return entities_in(question) == ["OpenAI"]


def service_boost(question: str) -> Callable[[Chunk], float] | None:
    """For a question about OpenAI alone, passages that never name OpenAI itself rank lower."""
    if not asks_about_openai_only(question):
        return None
    return lambda chunk: 1.0 if _OPENAI_ITSELF.search(chunk.text) else OTHER_SERVICE_FACTOR


def evidence_strength(result: SearchResult) -> float:
    """How well the knowledge base covers the question: the best passage's cosine similarity.

    Keyword coverage was tried as a second signal and made abstention worse on the dev split:
    long or misspelt questions cover few terms yet are answerable (see scripts/calibrate_abstention.py).
    """
    return max(result.best_dense, 0.0)


def score_sentences(question: str, result: SearchResult, kb: KnowledgeBase) -> list[Evidence]:
    """Every quotable sentence of the retrieved passages scored for the question, best first.

    The score blends the sentence's cosine similarity to the question with keyword coverage: the
    share of the question's terms (weighted by rarity) the sentence holds, its heading counting half.
    Sentences that only point elsewhere ("For more information, see ...") count half.
    """
    weights: dict[str, float] = {}
    for term in terms(question):
        key = match_key(term)
        weights[key] = max(weights.get(key, 0.0), kb.idf(term))
    total = sum(weights.values()) or 1.0
    about_openai_only = asks_about_openai_only(question)
    scored: list[Evidence] = []
    for hit in result.hits:
        heading_keys = {match_key(t) for t in terms(hit.chunk.heading)}
        pointer_section = is_pointer_heading(hit.chunk.heading)
        for unit in kb.sentences(hit.chunk):
            keys = {match_key(t) for t in unit.terms}
            in_sentence = sum(w for k, w in weights.items() if k in keys)
            in_heading = sum(w for k, w in weights.items() if k in heading_keys and k not in keys)
            coverage = (in_sentence + 0.5 * in_heading) / total
            similarity = float(unit.vector @ result.query_vector)
            score = SIMILARITY_WEIGHT * similarity + (1 - SIMILARITY_WEIGHT) * coverage
            if pointer_section or _POINTER.search(unit.sentence.text):
                score *= 0.5
            if about_openai_only and not _OPENAI_ITSELF.search(unit.sentence.text):
                score *= OTHER_SERVICE_FACTOR
            scored.append(Evidence(hit, unit.sentence, score, coverage, unit.vector))
    scored.sort(key=lambda e: (-e.score, e.hit.rank, e.sentence.spans))
    return scored


def select_evidence(scored: list[Evidence], limit: int) -> list[Evidence]:
    """The best sentences down to a share of the best score, each new one also unlike those already
    chosen (maximal marginal relevance on the sentence embeddings), near-duplicates skipped."""
    if not scored:
        return []
    floor = RELATIVE_CUTOFF * scored[0].score
    pool = [e for e in scored if e.score >= floor]
    chosen: list[Evidence] = []
    chosen_terms: list[frozenset[str]] = []
    while pool and len(chosen) < limit:

        def marginal(e: Evidence) -> float:
            if not chosen or e.vector is None:
                return e.score
            redundancy = max(float(e.vector @ c.vector) for c in chosen if c.vector is not None)
            return MMR_LAMBDA * e.score - (1 - MMR_LAMBDA) * redundancy

        candidate = max(pool, key=marginal)
        pool.remove(candidate)
        c_terms = terms(candidate.sentence.text)
        if any(_overlap(c_terms, t) >= DUPLICATE_OVERLAP for t in chosen_terms):
            continue
        chosen.append(candidate)
        chosen_terms.append(c_terms)
    return chosen


def arrange(evidence: list[Evidence], dated_span_days: int) -> list[tuple[str, Evidence]]:
    """Order the statements and add lead-ins.

    By relevance, unless sources dated at least `dated_span_days` apart make statements on the same
    topic: then each source's statements come under its title and date, newest source first, so the
    reader sees what an older source said and what a newer one says now.
    """
    if not _dated_disagreement(evidence, dated_span_days):
        return [("", e) for e in evidence]
    first_seen: dict[str, int] = {}
    for i, e in enumerate(evidence):
        first_seen.setdefault(e.hit.chunk.doc_id, i)
    ordered = sorted(evidence, key=lambda e: (-_ordinal(e), first_seen[e.hit.chunk.doc_id]))
    statements: list[tuple[str, Evidence]] = []
    previous_doc = None
    for e in ordered:
        chunk = e.hit.chunk
        lead = ""
        if chunk.doc_id != previous_doc:
            lead = f"{chunk.title} ({chunk.date.isoformat() if chunk.date else 'undated'}): "
        statements.append((lead, e))
        previous_doc = chunk.doc_id
    return statements


def _dated_disagreement(evidence: list[Evidence], span_days: int) -> bool:
    """Two statements on one topic (similar embeddings) from sources far apart in time."""
    for i, a in enumerate(evidence):
        for b in evidence[i + 1 :]:
            if a.hit.chunk.doc_id == b.hit.chunk.doc_id or not (a.hit.chunk.date and b.hit.chunk.date):
                continue
            if abs((a.hit.chunk.date - b.hit.chunk.date).days) < span_days:
                continue
            if a.vector is not None and b.vector is not None and float(a.vector @ b.vector) >= SAME_TOPIC:
                return True
    return False


def _ordinal(e: Evidence) -> int:
    return e.hit.chunk.date.toordinal() if e.hit.chunk.date else 0


def extractive_answer(question: str, result: SearchResult, kb: KnowledgeBase, settings: Settings) -> ExtractiveDraft:
    """Compose a cited answer from the retrieved passages, or abstain when they do not cover it."""
    scored = score_sentences(question, result, kb)
    strength = evidence_strength(result)
    if strength < settings.abstain_threshold or not scored:
        return ExtractiveDraft(abstention_text(result), [], True, strength, [])
    chosen = select_evidence(scored, settings.max_answer_sentences)
    text, citations = render(arrange(chosen, settings.dated_span_days))
    return ExtractiveDraft(text, citations, False, strength, chosen)


def abstention_text(result: SearchResult) -> str:
    """A plain statement that the knowledge base does not cover the question, with nearby topics."""
    topics: list[str] = []
    for hit in result.hits:
        label = f"{hit.chunk.title}: {hit.chunk.heading}" if hit.chunk.heading else hit.chunk.title
        if label not in topics:
            topics.append(label)
        if len(topics) == 3:
            break
    text = "This is not in the knowledge base: none of its documents answers the question."
    if topics:
        text += " Nearby topics it does cover: " + "; ".join(topics) + "."
    return text


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(len(a | b), 1)
