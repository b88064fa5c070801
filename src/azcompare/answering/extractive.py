"""The offline extractive answerer: no model server, deterministic.

It scores every sentence (and table row) of the retrieved passages by its embedding similarity to the
question and how much of the question it covers (rare words weigh more), picks the best few that add
something new (maximal marginal relevance), and quotes them, each followed by its [n]. When sources
dated far apart speak to the same point it gives each source's statement with its date, newest
first, so a reader sees what changed. When the evidence is weak it abstains instead of quoting
something loosely related.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from azcompare.answering.citations import Evidence, shown_sentence
from azcompare.answering.compose import (
    AS_RELEVANT,
    TABLE_ROWS,
    comparison,
    compose,
    partial,
    speaks_for_both,
    verdict,
)
from azcompare.answering.condense import asks_about_openai_only, asks_about_openai_too
from azcompare.answering.decides import asked_head, decides, light_verb
from azcompare.answering.question import (
    Ask,
    compared_things,
    compares_other_things,
    language_name,
    read_question,
    region_words,
    renamed_in,
    topic_of,
    who_asks,
)
from azcompare.answering.readable import is_readable
from azcompare.answering.steps import find_procedure, steps_answer
from azcompare.links import changes
from azcompare.retrieval import KnowledgeBase, SearchResult
from azcompare.settings import Settings
from azcompare.text import Sentence, match_key, terms
from azcompare.types import Chunk, Citation, Hit

# The share of its rarity a yes/no question's light verb ("does it support …", "can we use …") counts for.
LIGHT_VERB_WEIGHT = 0.3
# Sentences much weaker than the best one add noise rather than support.
RELATIVE_CUTOFF = 0.6
# Sentences sharing this share of their terms say the same thing (a shorter variant is not dropped).
DUPLICATE_OVERLAP = 0.9
SIMILARITY_WEIGHT = 0.35
# A sentence naming specifics (figures, standards, identifiers: "FIPS 140-2", "gpt-4o") answers a
# question better than one that talks about the topic; this much is added for three or more.
SPECIFIC_WEIGHT = 0.05  # calibrated on dev: lead accuracy 0.475 → 0.525 (0.0, 0.05 and 0.1 tried)
_SPECIFIC = re.compile(r"\b(?:\d[\d.,:%-]*\w*|[A-Z]{2,}[\w-]*|[a-z]+-\d[\w.-]*)\b")
# Relevance against novelty when picking each next sentence (1.0: relevance only).
MMR_LAMBDA = 0.85
# Weight of a sentence that never names OpenAI itself, for a question about OpenAI alone.
OTHER_SERVICE_FACTOR = 0.6
_OPENAI_ITSELF = re.compile(r"(?<!Azure )(?<!Services )\bOpenAI\b(?! Service)")
# A note or tip is an aside to the text around it ("Note: A Limited Access registration form is required to
# access some …"): the text itself states the point first.
ASIDE_FACTOR = 0.9  # dev lead accuracy 0.719 -> 0.734 (0.95: no change; 0.85 and 0.8: as 0.9)
_ASIDE = re.compile(r"^(note|tip):\s", re.IGNORECASE)
# The embedding model is English: a question in another language is less similar to the passage that answers
# it than the same question in English, so its evidence threshold is this share of the usual one. On dev,
# questions in other languages on the topic scored 0.36-0.65 and off-topic ones written to check it under 0.11.
OTHER_LANGUAGE_FACTOR = 0.75
# A term the message's background names (not its question) counts this share of a question term in coverage:
# it may say what the question points back to, but a sentence that covers the question itself comes first.
BACKGROUND_TERM_WEIGHT = 0.3
# Sentences and sections that point elsewhere instead of saying something.
_POINTER = re.compile(
    r"^(for more information|to learn more|learn more|for details|see |the following|this article"
    r"|in this article)|\bsee\b[^.]*\bfor (more )?(details|information)|\(if needed\)$|\bcan be found (on|in|at)\b",
    re.IGNORECASE,
)
# Two names with only this between them are one group ("use Global Batch or Data Zone Batch"), not set apart.
_GROUPED = re.compile(r"\s*(?:,|/|&|\band\b|\bor\b)\s*(?:the\s+)?", re.IGNORECASE)
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
    missing: list[str] = field(default_factory=list)  # what was asked for that the sources do not give


def is_pointer_heading(heading: str) -> bool:
    """Sections like "Next steps" or "See also" list links rather than say something."""
    return _POINTER_HEADING.search(heading) is not None


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


def score_sentences(question: str, result: SearchResult, kb: KnowledgeBase, background: str = "") -> list[Evidence]:
    """Every quotable sentence of the retrieved passages scored for the question (hand_score), best first.

    The terms only the message's `background` holds count at a fraction (term_weights).
    """
    scored = [
        Evidence(c.hit, c.sentence, hand_score(c.features), c.coverage, c.vector)
        for c in sentence_features(question, result, kb, background)
    ]
    scored = _lists_score_as_one(scored)
    # Copies of one statement score alike: the newest source's copy comes first, so that it is the one quoted.
    scored.sort(key=lambda e: (-e.score, -_ordinal(e.hit.chunk.date), e.hit.rank, e.sentence.spans))
    return scored


def hand_score(f: Mapping[str, float]) -> float:
    """A sentence's score from its features (sentence_features): its cosine similarity to the question blended with
    keyword coverage (its heading's counting half), a bonus for specifics, halved for a pointer, times ASIDE_FACTOR
    for an aside and OTHER_SERVICE_FACTOR for a sentence about another service.

    The weights were set by hand on the dev split. scripts/fit_sentence_scorer.py fits logistic regressions
    (pointwise, and pairwise as a ranking model) on these features and on general ones this score ignores (the
    passage's retrieval rank and similarity, the sentence's length, position, list or table form, its source's
    age). Out of fold on dev (5 folds by question) none led with a fact sentence more often than this score
    (precision@1 0.44-0.56 against 0.57; the best, pairwise on these features, -0.009 ± 0.028); with all features
    they held slightly more facts in the best three (recall@3 +0.03 ± 0.03) but led worse (-0.05 to -0.09 ± 0.04).
    So the score keeps its hand weights.
    """
    coverage = f["coverage"] + 0.5 * f["heading_coverage"]
    score = SIMILARITY_WEIGHT * f["similarity"] + (1 - SIMILARITY_WEIGHT) * coverage
    score += SPECIFIC_WEIGHT * f["specifics"]
    score *= 0.5 if f["pointer"] else 1.0
    score *= ASIDE_FACTOR if f["aside"] else 1.0
    score *= OTHER_SERVICE_FACTOR if f["other_service"] else 1.0
    return score


@dataclass(frozen=True)
class Candidate:
    """A quotable sentence of a retrieved passage with the features hand_score reads."""

    hit: Hit
    sentence: Sentence
    coverage: float  # Evidence.coverage: the question's (weighted) terms the sentence holds, its heading's at half
    vector: np.ndarray
    features: dict[str, float]


def sentence_features(question: str, result: SearchResult, kb: KnowledgeBase, background: str = "") -> list[Candidate]:
    """Every quotable sentence of the retrieved passages with the features of its score (hand_score), each 0..1
    (the cosine -1..1):

    similarity (cosine of the sentence's and the question's embeddings), coverage (the share of the question's
    terms, weighted by rarity, the sentence holds: term_weights), heading_coverage (the share only its heading
    holds), specifics (figures, standards, identifiers named: three or more count 1), and the flags pointer (it or
    its section points elsewhere instead of saying something), aside (a note or tip) and other_service (the
    question is about OpenAI alone and the sentence never names OpenAI).
    """
    weights = term_weights(question, background, kb)
    total = sum(weights.values()) or 1.0
    # Each question term matches every form of its word the passages hold ("compliance" matches "complies").
    forms = {k: kb.forms(k) for k in weights}
    about_openai_only = asks_about_openai_only(question)
    out: list[Candidate] = []
    for hit in result.all_hits:
        heading_keys = {match_key(t) for t in terms(hit.chunk.heading)}
        pointer_section = is_pointer_heading(hit.chunk.heading)
        for unit in kb.sentences(hit.chunk):
            text = unit.sentence.text
            keys = {match_key(t) for t in unit.terms}
            # A sentence whose subject is a pronoun ("It's the total number of tokens …") is about what the one
            # before names, and is quoted with it (with_context): it covers what both say.
            if _PRONOUN_SUBJECT.match(text) and (before := _neighbour_of(hit.chunk, unit.sentence, kb, -1)):
                keys |= {match_key(t) for t in terms(before.text)}
            in_sentence = sum(w for k, w in weights.items() if not keys.isdisjoint(forms[k]))
            in_heading = sum(
                w for k, w in weights.items() if not heading_keys.isdisjoint(forms[k]) and keys.isdisjoint(forms[k])
            )
            features = {
                "similarity": float(unit.vector @ result.query_vector),
                "coverage": in_sentence / total,
                "heading_coverage": in_heading / total,
                "specifics": min(len(_SPECIFIC.findall(text)) / 3, 1.0),
                "pointer": float(pointer_section or _POINTER.search(text) is not None),
                "aside": float(_ASIDE.match(text) is not None),
                "other_service": float(about_openai_only and not _OPENAI_ITSELF.search(text)),
            }
            coverage = (in_sentence + 0.5 * in_heading) / total
            out.append(Candidate(hit, unit.sentence, coverage, unit.vector, features))
    return out


def term_weights(question: str, background: str, kb: KnowledgeBase) -> dict[str, float]:
    """Each match key of the question's terms weighted by its rarity (idf); the terms only the message's
    background holds (what it told around its question) at BACKGROUND_TERM_WEIGHT of theirs."""
    weights: dict[str, float] = {}
    for text, share in ((question, 1.0), (background, BACKGROUND_TERM_WEIGHT)):
        for term in terms(text):
            key = match_key(term)
            weights[key] = max(weights.get(key, 0.0), share * kb.idf(term))
    # "Does OpenAI support X?" asks about X: a sentence about customer *support* does not cover it.
    if (verb := light_verb(question)) and (key := match_key(verb)) in weights:
        weights[key] *= LIGHT_VERB_WEIGHT
    return weights


def _question_terms_in(text: str, question: str, kb: KnowledgeBase) -> set[str]:
    """The question's terms (match keys) that `text` holds in some form of the word."""
    keys = {match_key(t) for t in terms(text)}
    return {k for k in term_weights(question, "", kb) if not keys.isdisjoint(kb.forms(k))}


def backing(
    chosen: list[Evidence], support: list[Evidence], question: str, kb: KnowledgeBase, floor: float
) -> list[Evidence]:
    """The best support statement (see Evidence.support) to quote after the chosen lead, if one is relevant
    enough to be quoted (`floor`) and holds a term of the question the lead does not; else none.

    A passage found by its keywords alone often states the one detail the question asks for among other
    topics; quoted after the lead it completes the answer, where leading with it would answer off the point.
    """
    if not chosen:
        return []
    lead = _question_terms_in(chosen[0].sentence.text, question, kb)
    quoted = [terms(e.sentence.text) for e in chosen]
    for e in support:
        if e.score < floor:
            break
        if e.coverage < chosen[0].coverage:  # found by its keywords: it must hold at least as much of the question
            continue
        if is_revision_note(e.sentence.text) or not _question_terms_in(e.sentence.text, question, kb) - lead:
            continue
        if any(_overlap(terms(e.sentence.text), t) >= DUPLICATE_OVERLAP for t in quoted):
            continue
        return [e]
    return []


def _lists_score_as_one(scored: list[Evidence]) -> list[Evidence]:
    """A long list quoted in several statements, each with the lead-in again ("here's what you should do:
    Request a quota increase …" / "here's what you should do: Monitor your usage …"), is read from its
    start: its first statement scores (just above) the best of them, not only the part that happens to
    repeat a word of the question, when that start is relevant on its own (within RELATIVE_CUTOFF of the
    best part): a start about something else ("the key vault must meet these requirements: enable soft
    delete …") must not lead the part that answers. The other parts keep their own scores."""
    groups: dict[tuple[str, tuple[int, int]], list[Evidence]] = {}
    for e in scored:
        if len(e.sentence.spans) > 1:  # a lead-in with its items
            groups.setdefault((e.hit.chunk.id, e.sentence.spans[0]), []).append(e)
    raised: dict[int, float] = {}
    for parts in groups.values():
        first = min(parts, key=lambda e: e.sentence.spans)
        best = max(e.score for e in parts)
        # Only a start that is about the question on its own: else the part that answers leads.
        if best > first.score >= RELATIVE_CUTOFF * best:
            raised[id(first)] = best + 1e-6
    return [replace(e, score=raised[id(e)]) if id(e) in raised else e for e in scored]


def _ordinal(date: dt.date | None) -> int:
    return date.toordinal() if date else 0


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


def extractive_answer(question: str, result: SearchResult, kb: KnowledgeBase, settings: Settings) -> ExtractiveDraft:
    """Compose a cited answer from the retrieved passages, or abstain when they do not cover it.

    Abstains when the passages are far from the question (evidence strength) or when the question
    names something no document mentions (another vendor's product, a machine type, a person's title):
    nothing the knowledge base says can be about it. Answers in part when the topic is covered but a
    specific thing asked for is not (a price, an SLA figure, a region): `missing` says what.
    """
    ask = read_question(question)
    strength = evidence_strength(result)
    every = _quotable(question, result, kb)
    # Support statements show that the sources hold what was asked for, but never lead (Evidence.support).
    scored = [e for e in every if not e.support]
    if ask.shape == "yes_no" and not _NAMES_A_TIME.search(question):
        # A revision note ("Added … Batch (preview)") tells when a page changed, not whether something holds now.
        scored = [e for e in scored if not is_revision_note(e.sentence.text)]
    unknown = unknown_names(question, kb) if ask.english else []  # foreign words are not names
    threshold = settings.abstain_threshold * (1.0 if ask.english else OTHER_LANGUAGE_FACTOR)
    weak = strength < threshold and not _names_documented(ask, result)
    if weak or not scored or unknown:
        return ExtractiveDraft(abstention_text(result, ask, unknown), [], True, strength, [])
    # A page's revision history dates the page's changes: it gives no date (nor figure) that was asked for.
    best = [e.sentence.text for e in every[:FIGURE_SENTENCES]] + _in_best_passage(ask, scored)
    best = [text for text in best if not is_revision_note(text)]
    missing = ask.missing_from([h.chunk.text for h in result.all_hits], best) or _missing_figure(ask, every)
    if missing and ask.shape == "yes_no" and (row := _row_of_other_regions(ask, missing, scored)):
        missing, scored = [], _promote(scored, [row])  # the row decides: not offered in the region asked for
    newest = kb.newest_date
    renames = renamed_in(question, settings)
    support = [e for e in every if e.support]
    floor = RELATIVE_CUTOFF * scored[0].score
    if missing:
        # What it says on the topic: scored for the question without the words asking for the missing value.
        on_topic = [e for e in _quotable(topic_of(question), result, kb) if not e.support]
        chosen = select_evidence([e for e in on_topic or scored if not is_revision_note(e.sentence.text)], 2)
        chosen = with_context(chosen + backing(chosen, support, question, kb, floor), kb)
        urls = [h.chunk.url for h in result.all_hits if h.chunk.url]
        composed = partial(ask, missing, chosen, newest, settings.dated_span_days, urls)
    elif ask.shape == "howto" and (
        procedure := find_procedure(
            question, scored, kb, {h.chunk.id: h for h in result.all_hits}, RELATIVE_CUTOFF * scored[0].score
        )
    ):
        composed = steps_answer(procedure)
    else:
        limit = (
            max(settings.max_answer_sentences, TABLE_ROWS) if ask.shape == "compare" else settings.max_answer_sentences
        )
        chosen = select_evidence(
            _renamed_first(_both_named_first(question, _deciding_first(ask, _wanted_first(ask, scored))), renames),
            limit,
        )
        if not asks_about_openai_only(question):  # the current pages speak for Azure OpenAI, not for OpenAI
            chosen = with_counterparts(chosen, scored, kb, newest, settings, asks_about_openai_too(question))
        side_by_side = ask.shape == "compare" and not compares_other_things(question)
        extra = with_context(backing(chosen, support, question, kb, floor), kb)
        chosen = with_context(chosen, kb)
        table = comparison(chosen, settings.dated_span_days) if side_by_side else None
        composed = table or compose(
            ask, chosen[: settings.max_answer_sentences] + extra, newest, settings.dated_span_days, renames
        )
    text = composed.text + _language_note(ask)
    return ExtractiveDraft(text, composed.citations, False, strength, composed.evidence, missing)


def _quotable(question: str, result: SearchResult, kb: KnowledgeBase) -> list[Evidence]:
    """The retrieved passages' sentences scored for the question, best first, that read well as shown: a clause
    split from a long sentence is quoted with a capital (citations.body)."""
    return [e for e in score_sentences(question, result, kb, result.background) if is_readable(shown_sentence(e))]


def _names_documented(ask: Ask, result: SearchResult) -> bool:
    """Whether the question names models (see question._MODEL) and the top passages hold every one: a question
    about a documented model is on the topic though its wording is far from the passages' ("offered in West
    Europe?" beside a table row of regions), so a low similarity alone does not make it off-topic."""
    names = [w for w in ask.wants if w.kind == "name"]
    return bool(names) and all(any(w.found_in(h.chunk.text) for h in result.hits) for w in names)


def _row_of_other_regions(ask: Ask, missing: list[str], scored: list[Evidence]) -> Evidence | None:
    """When only regions are missing, one of the best sentences that is the asked-for model's row of the regions
    it is offered in (see Ask.lists_other_regions): it answers a yes/no question with No."""
    regions = {w.label for w in ask.wants if w.kind == "region"}
    if not set(missing) <= regions:
        return None
    return next((e for e in scored[:FIGURE_SENTENCES] if ask.lists_other_regions(e.sentence.text)), None)


def _in_best_passage(ask: Ask, scored: list[Evidence]) -> list[str]:
    """The sentences of the passage retrieval ranks first: one of them may state the value asked for while
    repeating few words of the question ("it can take up to 5 minutes before the change takes effect"). Not
    for a price or an SLA figure: a passage on the topic often gives one for something else (a discount)."""
    if any(w.kind in ("price", "sla") for w in ask.wants):
        return []
    return [e.sentence.text for e in scored if e.hit.rank == 1]


# A page's revision history ("23 June 2023: Changes: Added information about …") says when the page changed,
# not what it says on the topic.
_REVISION_NOTE = re.compile(r"^(\d{1,2} \w+ 20\d\d|\w+ \d{1,2}, 20\d\d|20\d\d-\d\d-\d\d): (changes|updates?)\b", re.I)


# A year or a month in a question: it may ask about a page's history ("was it in preview in 2024?"); "may" is
# left out, as "May we …" asks no date.
_NAMES_A_TIME = re.compile(
    r"\b(19|20)\d\d\b|\b(january|february|march|april|june|july|august|september|october|november|december)\b",
    re.IGNORECASE,
)


def is_revision_note(sentence: str) -> bool:
    """Whether a sentence is an entry of a page's revision history ("3 October 2025: Changes: …")."""
    return _REVISION_NOTE.match(sentence) is not None


def _missing_figure(ask: Ask, scored: list[Evidence]) -> list[str]:
    """For a "how many / how much / what is the limit" question: one of the best sentences (by the same
    score that picks the quotes) must state a figure, else the figure asked for is missing."""
    if ask.shape != "number" or ask.wants:
        return []
    if any(_FIGURE.search(e.sentence.text) for e in scored[:FIGURE_SENTENCES]):
        return []
    return ["the figure asked for"]


# How many of the best sentences may hold the value (a figure, a price, a date…) a question asks for.
FIGURE_SENTENCES = 8
_FIGURE = re.compile(r"\d")


def with_counterparts(
    chosen: list[Evidence],
    scored: list[Evidence],
    kb: KnowledgeBase,
    newest: dt.date | None,
    settings: Settings,
    keep_rows: bool = False,
) -> list[Evidence]:
    """The chosen statements, each statement of an old source preceded by the newer statement its link
    points to (made at index time), when that one was not chosen already: the current fact comes first.

    Only the first old statement gets one, so that the answer stays short. With `keep_rows` (a question
    about OpenAI too) a feature-matrix row giving both services' values gets none: a newer Microsoft page
    speaks for Azure OpenAI only.
    """
    by_sentence = {(e.hit.chunk.id, e.sentence.text): e for e in scored}
    floor = RELATIVE_CUTOFF * scored[0].score if scored else 0.0
    out = list(chosen)
    for e in chosen:
        chunk = e.hit.chunk
        if not (chunk.date and newest and (newest - chunk.date).days >= settings.dated_span_days):
            continue
        if keep_rows and speaks_for_both(e.sentence.text):
            continue
        links = [k for k in kb.newer(chunk.id) if not k.same_text and _same_sentence(k.old_sentence, e.sentence.text)]
        counterparts = [
            (by_sentence[(link.new_chunk_id, s)], link.turned, changes(link.old_sentence, s))
            for link in links
            for s in link.new_sentences
            if (link.new_chunk_id, s) in by_sentence
        ]
        # A stale claim that would lead the answer gets the newer sentence that turns it around whatever
        # that one's own score (it must not lead alone), unless a current statement about as relevant leads
        # instead (see compose.current_first); else the most relevant counterpart, if it is relevant enough
        # to have been chosen on its own merit.
        leads = e is chosen[0] and not any(
            o.hit.chunk.date and o.hit.chunk.date > chunk.date and o.score >= AS_RELEVANT * e.score for o in chosen
        )
        # A stale claim about as relevant as the best statement is what the question asks about: a newer sentence
        # saying what changed (a status, a rule, a condition; see links.changes) answers it, so it leads, when it
        # is relevant enough to be quoted on its own merit (else it speaks to another part of the claim).
        changed = [n for n, _, change in counterparts if change and n.score >= floor]
        if changed and e.score >= AS_RELEVANT * chosen[0].score:
            change = max(changed, key=lambda n: n.score)
            # The stale claim follows, dated (compose.label_stale), so the change reads as one.
            return [change, e] + [o for o in out if o is not e and o.sentence.text != change.sentence.text]
        best, turned, _ = max(counterparts, key=lambda n: (leads and n[1], n[0].score), default=(None, False, False))
        quoted = {o.sentence.text for o in out}  # a copy of a chosen statement (another passage of its page)
        if best is not None and (best.score >= floor or (leads and turned)) and best.sentence.text not in quoted:
            out.insert(out.index(e), best)
            return out
    return out


# A sentence that qualifies or resolves the one before it ("However, …", "Instead, …", "To address these
# concerns, …"; not "Instead of …"): the one before it, quoted alone, would tell half of what the source says.
_CONTINUES = re.compile(
    r"^((however|instead|nevertheless|nonetheless|otherwise),|to address (this|these|that|those|such)\b)", re.IGNORECASE
)
# A pronoun and its verb: "It is", "They can", "It's".
_PRONOUN_VERB = r"(\s+(is|are|was|were|will|can|may|does|do|has|have)|['’](s|re))\b"
# A sentence whose subject is a bare pronoun ("It's …", "This is …"): what it speaks of is named before it.
_PRONOUN_SUBJECT = re.compile(rf"^(it|they|this|these|that){_PRONOUN_VERB}", re.IGNORECASE)
# A sentence that leans on the one before it: a connective, or a subject that points back ("This data is
# stored …", "This will return …", "They are …"); quoted alone it has lost what it speaks of. "This
# article …" names its page and stands alone.
_LEANS_BACK = re.compile(
    r"^((however|instead|nevertheless|nonetheless|otherwise|therefore|thus|consequently),"
    r"|(this|these|that|those|such)\b(?!\s+(article|page|section|document|guide|tutorial|topic|quickstart)\b)"
    rf"|(it|they){_PRONOUN_VERB})",
    re.IGNORECASE,
)


def with_context(chosen: list[Evidence], kb: KnowledgeBase) -> list[Evidence]:
    """Each chosen statement joined with the sentences of its passage it cannot do without, when they
    stand right beside it: the one before, when the statement leans on it (_LEANS_BACK: "Training data
    is uploaded with the Files API; this data is stored in Azure Storage …"), and the one after, when
    that one qualifies or resolves it (_CONTINUES: "Data at rest stays in the geography; however,
    inferencing data is processed as follows: …"). A sentence chosen on its own is left where it is.
    """
    quoted = {e.sentence.text for e in chosen}
    out: list[Evidence] = []
    for e in chosen:
        before = _neighbour(e, kb, -1) if _LEANS_BACK.match(e.sentence.text) else None
        # The sentence before must read on its own: a list item's tail ("either confirm or …") would only
        # move the fragment to the front.
        if before is not None and before.text not in quoted and is_readable(before.text):
            e = replace(e, sentence=_joined(before, e.sentence))
        after = _neighbour(e, kb, +1)
        if after is not None and _CONTINUES.match(after.text) and after.text not in quoted:
            e = replace(e, sentence=_joined(e.sentence, after))
        out.append(e)
    return out


def _joined(first: Sentence, then: Sentence) -> Sentence:
    """Two sentences as one statement, joined with "; " like a list's lead-in and its items."""
    text = f"{first.text.rstrip(' .')}; {then.text[:1].lower()}{then.text[1:]}"
    return Sentence(text, first.spans + then.spans)


def _neighbour(e: Evidence, kb: KnowledgeBase, step: int) -> Sentence | None:
    """The quotable sentence right before (-1) or after (+1) `e`'s in its passage, with nothing but
    white space between them; `e` may already span several sentences."""
    return _neighbour_of(e.hit.chunk, e.sentence, kb, step)


def _neighbour_of(chunk: Chunk, sentence: Sentence, kb: KnowledgeBase, step: int) -> Sentence | None:
    units = kb.sentences(chunk)
    starts = {u.sentence.spans[0]: i for i, u in enumerate(units)}
    ends = {u.sentence.spans[-1]: i for i, u in enumerate(units)}
    at = starts.get(sentence.spans[0]) if step < 0 else ends.get(sentence.spans[-1])
    if at is None or not 0 <= at + step < len(units):
        return None
    other = units[at + step].sentence
    left, right = (other, sentence) if step < 0 else (sentence, other)
    between = chunk.text[left.spans[-1][1] : right.spans[0][0]]
    return other if not between.strip() else None


def _same_sentence(a: str, b: str) -> bool:
    return a == b or a in b or b in a


def _renamed_first(scored: list[Evidence], renames: list[tuple[str, str]]) -> list[Evidence]:
    """When the question used a former name, the best sentence using the current name leads, if it is
    relevant enough to be quoted at all (a role named after the former name must not bring in any
    sentence that happens to hold the new one)."""
    floor = RELATIVE_CUTOFF * scored[0].score if scored else 0.0
    for _, current in renames:
        using = [e for e in scored[:20] if current.lower() in e.sentence.text.lower() and e.score >= floor]
        if using:
            return _promote(scored, using[:1])
    return scored


def _wanted_first(ask: Ask, scored: list[Evidence]) -> list[Evidence]:
    """The best sentence holding every specific thing asked for (a region, a model) leads."""
    if not ask.wants:
        return scored
    return _promote(scored, [e for e in scored if all(w.found_in(e.sentence.text) for w in ask.wants)][:1])


def _both_named_first(question: str, scored: list[Evidence]) -> list[Evidence]:
    """For a question comparing two things ("Global Batch or Data Zone Batch?"), the best relevant sentence that
    names both leads: it states how they differ, where a sentence about one of them states only its side."""
    things = compared_things(question)
    if not things or not scored:
        return scored
    floor = RELATIVE_CUTOFF * scored[0].score
    both = [e for e in scored if e.score >= floor and _relates(e.sentence.text, *things)]
    return _promote(scored, both[:1])


def _relates(text: str, a: re.Pattern[str], b: re.Pattern[str]) -> bool:
    """Whether the text names both things apart, relating one to the other ("B provides the same functionality as
    A"): named together as one group ("use A or B", "with A and B, …") it says the same of both."""
    first, second = a.search(text), b.search(text)
    if not first or not second:
        return False
    left, right = sorted((first, second), key=lambda m: m.start())
    return _GROUPED.fullmatch(text[left.end() : right.start()]) is None


def _deciding_first(ask: Ask, scored: list[Evidence]) -> list[Evidence]:
    """For a yes/no question whose best statement gives no verdict (it does not speak to what is asked:
    compose.verdict, decides.py), the best one that does, when it is relevant enough to be quoted
    (RELATIVE_CUTOFF of the best): the answer leads with the verdict the sources decide rather than with a
    statement on the topic. For a question about OpenAI alone, only a statement that names OpenAI itself. Only
    when the question's verb names what it asks about (decides.asked_head): a statement holding a word of a
    looser question ("Is X part of Y?") may give a verdict on something else."""
    if ask.shape != "yes_no" or not scored or not asked_head(ask.question) or _gives_verdict(ask, scored[0]):
        return scored
    floor = RELATIVE_CUTOFF * scored[0].score
    openai_only = asks_about_openai_only(ask.question)
    deciding = next(
        (
            e
            for e in scored
            if e.score >= floor
            and (not openai_only or _OPENAI_ITSELF.search(e.sentence.text))
            and _gives_verdict(ask, e)
        ),
        None,
    )
    return _promote(scored, [deciding] if deciding else [])


def _gives_verdict(ask: Ask, e: Evidence) -> bool:
    """Whether the statement gives the question a verdict: a feature-matrix row only when its point is what
    is asked ("Encryption at Rest: OpenAI yes" does not answer "can we bring our own keys?")."""
    text = e.sentence.text
    return verdict(ask, e) is not None and (not speaks_for_both(text) or decides(ask.question, text))


def _promote(scored: list[Evidence], first: list[Evidence]) -> list[Evidence]:
    """The evidence with `first` scored just above the best, so selection takes it first."""
    if not first or not scored:
        return scored
    top = replace(first[0], score=scored[0].score + 1e-6)
    return [top, *(e for e in scored if e is not first[0])]


def unknown_names(question: str, kb: KnowledgeBase) -> list[str]:
    """Names in the question (capitalized words, identifiers) that no document of the knowledge base holds;
    not in the words that say who asks ("Our CISO wants to know: …"): the question is not about them."""
    names: list[str] = []
    if asker := who_asks(question):
        question = question.replace(asker, " ", 1)
    regions = region_words(question)  # a region the sources lack is reported as that region
    for match in _NAME.finditer(question):
        word = match.group(0)
        if word.lower() in _NOT_NAMES or word in regions:
            continue
        keys = [match_key(t) for t in terms(word)]
        # A standard is named by its number ("ISO 27001"): that is the part the documents must hold.
        numbered = [k for k in keys if k[:1].isdigit()] if " " in word or "-" in word else []
        unknown = not any(kb.knows(k) for k in keys) or any(not kb.knows(k) for k in numbered)
        if keys and unknown and not _known_variant(word, kb):
            names.append(word)
    return names


def _known_variant(name: str, kb: KnowledgeBase) -> bool:
    """Whether the documents hold the name as it is usually written: with a hyphen where letters meet digits
    ("gpt4o" is "gpt-4o"), or an acronym in the singular ("PTUs" is "PTU")."""
    hyphenated = re.sub(r"(?<=[A-Za-z])(?=\d)", "-", name)
    singular = name[:-1] if re.fullmatch(r"[A-Z]{2,}s", name) else name
    variants = {hyphenated, singular} - {name}
    return any(terms(v) and all(kb.knows(t) for t in terms(v)) for v in variants) or _spelled_out(singular, kb)


def _spelled_out(acronym: str, kb: KnowledgeBase) -> bool:
    """Whether the documents write an acronym out: its letters are, in order, the capitals of adjacent words
    ("EEA": "European Economic Area"; "AOAI": "Azure OpenAI"). Capitals only: lower-case words that happen
    to start with those letters ("each endpoint and") spell nothing."""
    if not re.fullmatch(r"[A-Z]{2,6}", acronym):
        return False
    written = re.compile(r"\b" + r"[\s-]*".join(f"{letter}[a-z]*" for letter in acronym) + r"\b")
    return any(written.search(chunk.text) for chunk in kb.chunks)


# Capitalized words, standards with their number and identifiers with digits ("Bedrock", "ISO 27001", "H100").
# A figure after a name ("SLA 99.9%", "GPT 4.5") is a value or a version, not a standard's number.
_NAME = re.compile(r"\b(?:[A-Z]{2,}[ -]\d[\d-]*(?![.,%\d])|[A-Z][\w-]*[A-Za-z0-9]|[a-z]+\d[\w-]*)\b")
_NOT_NAMES = frozenset({"i", "i'm", "my", "our", "we", "hi", "hello", "thanks", "please", "ok", "okay"})


def _language_note(ask: Ask) -> str:
    if ask.english:
        return ""
    language = language_name(ask.language)
    return (
        f" (Your question seems to be in {language}; the knowledge base is in English, so this answers in English"
        " what could be understood of it.)"
    )


def abstention_text(result: SearchResult, ask: Ask | None = None, unknown: Sequence[str] = ()) -> str:
    """A plain statement that the knowledge base does not cover the question, with nearby topics.

    A question not in English is told that the knowledge base is English, and asked to ask in English.
    """
    topics: list[str] = []
    for hit in result.hits:
        label = f"{hit.chunk.title}: {hit.chunk.heading}" if hit.chunk.heading else hit.chunk.title
        if label not in topics:
            topics.append(label)
        if len(topics) == 3:
            break
    text = "This is not in the knowledge base: none of its documents answers the question."
    if unknown:
        text = f"This is not in the knowledge base: none of its documents mentions {' or '.join(unknown)}."
    if ask is not None and not ask.english:
        text = (
            f"Your question seems to be in {language_name(ask.language)}; the knowledge base is in English, and "
            "nothing in it matched what could be understood. Please ask again in English."
        )
    if topics:
        text += " Nearby topics it does cover: " + "; ".join(topics) + "."
    return text


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / max(len(a | b), 1)
