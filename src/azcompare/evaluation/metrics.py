"""Evaluation metrics. Each is a small unit: a name, a per-question function and an aggregate.

A per-question function returns None when the metric does not apply to the item (for example
retrieval metrics on out-of-scope questions); aggregates ignore those.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from azcompare.corpus.chunking import table_row_sentences
from azcompare.evaluation.dataset import EvalItem
from azcompare.evaluation.statements import junk_reason, lead_text, split_statements, strip_markers
from azcompare.types import Answer

Scored = tuple[EvalItem, float | None]
_MARKER = re.compile(r"\[(\d+)\]")


def normalize(text: str) -> str:
    """Lower-case, straight quotes, single spaces: how facts are matched against answers."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = re.sub(r"\*\*|__|`", "", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def fact_present(group: Sequence[str], text: str) -> bool:
    """True when any accepted phrasing of a fact occurs in the text (its end punctuation aside).

    A table in the answer (a comparison) counts row by row, each row read as the feature-matrix
    sentences of the index are ("Private Endpoints: OpenAI no; Azure OpenAI yes").
    """
    haystack = normalize(" ".join([text, *_table_sentences(text)]))
    return any(normalize(p).rstrip(".,;:!?") in haystack for p in group)


def _table_sentences(text: str) -> list[str]:
    lines = text.splitlines()
    sentences: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i].lstrip().startswith("|"):
            j = i
            while j < len(lines) and lines[j].lstrip().startswith("|"):
                j += 1
            sentences += table_row_sentences(lines[i:j])
            i = j
        else:
            i += 1
    return sentences


def mean(scored: Sequence[Scored]) -> float | None:
    """The mean of the values that apply (None when none does)."""
    values = [v for _, v in scored if v is not None]
    return statistics.fmean(values) if values else None


@dataclass(frozen=True)
class Metric:
    """A named metric with a per-question score and an aggregate over questions."""

    name: str
    description: str
    per_question: Callable[[EvalItem, Answer], float | None]
    aggregate: Callable[[Sequence[Scored]], float | None] = mean
    higher_is_better: bool | None = True  # None: neither direction is better (answer length)
    bounded: bool = True  # a share in [0, 1]; False for counts and lengths (not gated, shown with one decimal)


def hit_at(k: int) -> Callable[[EvalItem, Answer], float | None]:
    """Per question: 1 when a passage from an expected document is among the first k hits."""

    def score(item: EvalItem, answer: Answer) -> float | None:
        if not item.answerable or not item.expected_sources or answer.status == "rejected":
            return None
        return float(any(h.source in item.expected_sources for h in answer.hits[:k]))

    return score


def reciprocal_rank(item: EvalItem, answer: Answer) -> float | None:
    """1 / rank of the first hit from an expected document (0 when none was retrieved)."""
    if not item.answerable or not item.expected_sources or answer.status == "rejected":
        return None
    for rank, hit in enumerate(answer.hits, 1):
        if hit.source in item.expected_sources:
            return 1.0 / rank
    return 0.0


def context_recall(item: EvalItem, answer: Answer) -> float | None:
    """Share of expected documents that appear among the retrieved passages."""
    if not item.answerable or not item.expected_sources or answer.status == "rejected":
        return None
    found = {h.source for h in answer.hits}
    return sum(s in found for s in item.expected_sources) / len(item.expected_sources)


def context_precision(item: EvalItem, answer: Answer) -> float | None:
    """Share of retrieved passages that come from an expected document."""
    if not item.answerable or not item.expected_sources or not answer.hits:
        return None
    return sum(h.source in item.expected_sources for h in answer.hits) / len(answer.hits)


def fact_recall(item: EvalItem, answer: Answer) -> float | None:
    """Share of expected fact groups present in the answer text (0 when it abstained)."""
    if not item.answerable or not item.expected_facts:
        return None
    if answer.abstained or answer.status == "rejected":
        return 0.0
    return sum(fact_present(g, answer.text) for g in item.expected_facts) / len(item.expected_facts)


def citation_validity(item: EvalItem, answer: Answer) -> float | None:
    """1 when every [n] in the text refers to a citation whose passage was retrieved."""
    if answer.abstained or answer.status != "answered":
        return None
    markers = [int(m) for m in _MARKER.findall(answer.text)]
    if not markers:
        return 0.0
    retrieved = {h.chunk.id for h in answer.hits}
    by_n = {c.n: c for c in answer.citations}
    valid = [n in by_n and by_n[n].chunk_id in retrieved for n in markers]
    return float(all(valid))


def citation_support(item: EvalItem, answer: Answer) -> float | None:
    """Share of expected facts that a cited snippet contains (the citation backs the fact)."""
    if not item.answerable or not item.expected_facts or answer.abstained or answer.status != "answered":
        return None
    snippets = " \n ".join(c.snippet for c in answer.citations)
    return sum(fact_present(g, snippets) for g in item.expected_facts) / len(item.expected_facts)


def dated_contrast(item: EvalItem, answer: Answer) -> float | None:
    """On conflict questions: 1 when the answer cites sources of different dates and names each date.

    Where the 2024 article and the current Microsoft pages disagree, a good answer says which source
    says what and when; a date counts as named when its ISO form or its year appears in the text.
    """
    if item.kind != "conflict":
        return None
    if answer.status == "rejected":
        return None
    if answer.abstained:
        return 0.0
    named: set[str] = set()
    for date in {c.date for c in answer.citations if c.date}:
        if date in answer.text:
            named.add(date)
        elif date[:4] in answer.text:
            named.add(date[:4])
    # A bare year shared with a fully named date is not a second date.
    distinct = {d for d in named if len(d) > 4 or not any(o.startswith(d) and len(o) > 4 for o in named)}
    return float(len(distinct) >= 2)


def abstained(item: EvalItem, answer: Answer) -> float | None:
    """1 when the answer abstained (rejected input is neither an answer nor an abstention).

    Near-miss items are left out: for them a whole or a partial abstention is right, which
    partial_abstention_accuracy scores.
    """
    if answer.status == "rejected" or item.near_miss:
        return None
    return float(answer.abstained)


def abstention_correct(item: EvalItem, answer: Answer) -> float | None:
    """1 when the answer abstained exactly if the question is out of scope (near-miss items left out)."""
    if answer.status == "rejected" or item.near_miss:
        return None
    return float(answer.abstained == (not item.answerable))


def partial_abstention(item: EvalItem, answer: Answer) -> float | None:
    """On near-miss items: 1 when the answer says the asked-for fact is not covered.

    That is a whole abstention, or an answer whose `missing` list is non-empty (a partial "not covered").
    """
    if not item.near_miss or answer.status == "rejected":
        return None
    return float(answer.abstained or bool(answer.missing))


def _given(item: EvalItem, answer: Answer) -> bool:
    return answer.status == "answered" and not answer.abstained


def lead_accuracy(item: EvalItem, answer: Answer) -> float | None:
    """On answerable items with expected facts: 1 when an expected fact is in the answer's first statement.

    The first statement is the first sentence, or the table the answer opens with (see statements.py).
    Near-miss items are left out (their lead should say what is not covered); an abstention scores 0.
    """
    if not item.answerable or item.near_miss or not item.expected_facts or answer.status == "rejected":
        return None
    if answer.abstained:
        return 0.0
    lead = strip_markers(lead_text(answer.text))
    return float(any(fact_present(g, lead) for g in item.expected_facts))


def junk_statements(answer: Answer) -> list[tuple[str, str]]:
    """(reason, statement) for each quoted statement of the answer that is junk by the rule in statements.py."""
    snippets = {c.n: c.snippet for c in answer.citations}
    found = []
    for statement in split_statements(answer.text):
        if statement.quoted:
            reason = junk_reason(statement, snippets)
            if reason:
                found.append((reason, statement.plain))
    return found


def junk_rate(item: EvalItem, answer: Answer) -> float | None:
    """Share of the answer's quoted statements that are junk (headings, link labels, reference lists,
    navigation, include stubs, table headers or raw markup, fragments); None without quoted statements."""
    if not _given(item, answer):
        return None
    quoted = [s for s in split_statements(answer.text) if s.quoted]
    if not quoted:
        return None
    return len(junk_statements(answer)) / len(quoted)


def answer_statements(item: EvalItem, answer: Answer) -> float | None:
    """Statements in a given answer: sentences and table body rows (abstentions and rejections do not count)."""
    return float(len(split_statements(answer.text))) if _given(item, answer) else None


def median(scored: Sequence[Scored]) -> float | None:
    """The 50th percentile of the values that apply."""
    return percentile([v for _, v in scored if v is not None], 50)


def _first_position(phrasings: Sequence[str], text: str) -> int | None:
    positions = [text.find(normalize(p).rstrip(".,;:!?")) for p in phrasings]
    found = [p for p in positions if p >= 0]
    return min(found) if found else None


_YEAR = re.compile(r"\b(?:19|20)\d{2}\b")


def current_first(item: EvalItem, answer: Answer) -> float | None:
    """On conflict items: 1 when the current fact comes first and any stale fact is dated.

    The answer must state an expected (current) fact before any of the item's stale_facts, and every
    sentence that states a stale fact must name a year (such as "The 2024 article said ...").
    An abstention, or an answer without a current fact, scores 0.
    """
    if item.kind != "conflict" or not item.stale_facts or answer.status == "rejected":
        return None
    if answer.abstained:
        return 0.0
    text = normalize(strip_markers(answer.text))
    current = [p for p in (_first_position(g, text) for g in item.expected_facts) if p is not None]
    if not current:
        return 0.0
    stale = _first_position(item.stale_facts, text)
    if stale is not None and stale < min(current):
        return 0.0
    for statement in split_statements(answer.text):
        plain = normalize(statement.plain)
        if _first_position(item.stale_facts, plain) is not None and not _YEAR.search(plain):
            return 0.0
    return 1.0


_VERDICT_WORDS = {"yes": ("yes",), "no": ("no",), "depends": ("it depends", "depends")}


def verdict_accuracy(item: EvalItem, answer: Answer) -> float | None:
    """On items with a verdict: 1 when the first sentence starts with it ("Yes", "No", "It depends")."""
    if not item.verdict or answer.status == "rejected":
        return None
    if answer.abstained:
        return 0.0
    statements = split_statements(answer.text)
    lead = normalize(statements[0].plain) if statements else ""
    lead = lead.lstrip("#>*_ \"'“")
    return float(any(re.match(rf"{w}\b", lead) for w in _VERDICT_WORDS[item.verdict]))


def abstention_precision(scored: Sequence[Scored]) -> float | None:
    """Of the abstentions, the share that were on out-of-scope questions."""
    said = [item for item, v in scored if v]
    return sum(not i.answerable for i in said) / len(said) if said else None


def abstention_recall(scored: Sequence[Scored]) -> float | None:
    """Of the out-of-scope questions, the share that got an abstention."""
    oos = [v for item, v in scored if not item.answerable and v is not None]
    return sum(bool(v) for v in oos) / len(oos) if oos else None


def false_abstention_rate(scored: Sequence[Scored]) -> float | None:
    """Of the answerable questions, the share that got an abstention (lower is better)."""
    answerable = [v for item, v in scored if item.answerable and v is not None]
    return sum(bool(v) for v in answerable) / len(answerable) if answerable else None


def answer_chars(item: EvalItem, answer: Answer) -> float | None:
    """Length of a given answer in characters (abstentions and rejections do not count)."""
    return float(len(answer.text)) if answer.status == "answered" and not answer.abstained else None


METRICS: tuple[Metric, ...] = (
    Metric("hit@5", "an expected document is among the top 5 passages", hit_at(5)),
    Metric("mrr", "1 / rank of the first passage from an expected document", reciprocal_rank),
    Metric("context_recall", "share of expected documents retrieved", context_recall),
    Metric("context_precision", "share of retrieved passages from expected documents", context_precision),
    Metric("fact_recall", "share of expected facts in the answer", fact_recall),
    Metric("citation_validity", "every [n] points to a retrieved passage", citation_validity),
    Metric("citation_support", "share of expected facts inside cited snippets", citation_support),
    Metric("dated_contrast", "conflict answers give each dated source with its date", dated_contrast),
    Metric("abstention_accuracy", "abstained exactly on out-of-scope questions", abstention_correct),
    Metric(
        "abstention_precision",
        "abstentions that were on out-of-scope questions",
        abstained,
        abstention_precision,
    ),
    Metric("abstention_recall", "out-of-scope questions that got an abstention", abstained, abstention_recall),
    Metric(
        "false_abstention_rate",
        "answerable questions that got an abstention",
        abstained,
        false_abstention_rate,
        higher_is_better=False,
    ),
    Metric("answer_chars", "answer length in characters", answer_chars, higher_is_better=None, bounded=False),
    Metric("lead_accuracy", "an expected fact is in the answer's first statement", lead_accuracy),
    Metric(
        "junk_rate",
        "quoted statements that are headings, link labels, reference lists, stubs, table markup or fragments",
        junk_rate,
        higher_is_better=False,
    ),
    Metric(
        "answer_statements_p50",
        "statements per answer (sentences and table rows), median",
        answer_statements,
        median,
        higher_is_better=None,
        bounded=False,
    ),
    Metric(
        "partial_abstention_accuracy",
        "near-miss questions answered with a whole or partial 'not covered'",
        partial_abstention,
    ),
    Metric("current_first", "conflict answers state the current fact first and date the stale one", current_first),
    Metric("verdict_accuracy", "yes/no answers start with the expected verdict", verdict_accuracy),
)
METRICS_BY_NAME = {m.name: m for m in METRICS}


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0–100) by linear interpolation."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)
