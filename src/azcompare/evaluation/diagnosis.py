"""Why a question scored badly, in words, and how bad it was: what the report's worst-questions list shows."""

from __future__ import annotations

from collections.abc import Mapping

from azcompare.evaluation.dataset import EvalItem
from azcompare.evaluation.metrics import fact_present, junk_statements
from azcompare.evaluation.statements import lead_text, strip_markers
from azcompare.types import Answer

# How much each kind of failure weighs when ranking the worst questions: a wrong abstention or a
# missing fact is what a user notices first; a lower rank of the right passage matters less.
_WEIGHTS = {
    "fact_recall": 2.0,
    "abstention_accuracy": 2.0,
    "hit@5": 1.0,
    "citation_validity": 1.0,
    "dated_contrast": 0.5,
    "citation_support": 0.5,
    "mrr": 0.5,
    "partial_abstention_accuracy": 2.0,
    "lead_accuracy": 1.0,
    "current_first": 1.0,
    "verdict_accuracy": 1.0,
}
_JUNK_WEIGHT = 1.0  # junk_rate is lower-is-better: it weighs as itself
_QUOTE = 90
JUDGE_LOW = 3.0  # judge scores (1–5) below this are reported as a reason


def badness(metrics: Mapping[str, float | None]) -> float:
    """A weighted sum of what the answer missed (0 for a perfect answer)."""
    total = 0.0
    for name, weight in _WEIGHTS.items():
        value = metrics.get(name)
        if value is not None:
            total += weight * (1.0 - value)
    junk = metrics.get("junk_rate")
    if junk is not None:
        total += _JUNK_WEIGHT * junk
    return round(total, 4)


def failure_reasons(item: EvalItem, answer: Answer, metrics: Mapping[str, float | None]) -> list[str]:
    """Plain-language reasons an answer fell short, most important first (empty when it did not)."""
    if answer.status == "rejected":
        return [f"the question was rejected: {answer.text[:160]}"]
    strength = "n/a" if answer.strength is None else f"{answer.strength:.3f}"
    reasons: list[str] = []
    if not item.answerable and not answer.abstained:
        reasons.append(f"answered an out-of-scope question (evidence strength {strength})")
    if item.answerable and answer.abstained and not item.near_miss:
        reasons.append(f"abstained on an answerable question (evidence strength {strength})")
    if metrics.get("partial_abstention_accuracy") == 0.0:
        reasons.append(f"near miss: does not say that the knowledge base lacks {item.absent}")
    reasons += _retrieval_reasons(item, answer, metrics)
    if item.answerable and not answer.abstained:
        reasons += _fact_reasons(item, answer)
    reasons += _shape_reasons(item, answer, metrics)
    if metrics.get("citation_validity") == 0.0:
        reasons.append("a [n] marker is missing or points to a passage that was not retrieved")
    if metrics.get("dated_contrast") == 0.0 and not answer.abstained:
        dates = sorted({c.date for c in answer.citations if c.date})
        reasons.append(f"does not name two dated sources side by side (cited dates: {', '.join(dates) or 'none'})")
    for name, value in metrics.items():
        if name.startswith("judge_") and value is not None and value < JUDGE_LOW:
            reasons.append(f"the judge rated {name.removeprefix('judge_')} {value:.1f}/5")
    return reasons


def _retrieval_reasons(item: EvalItem, answer: Answer, metrics: Mapping[str, float | None]) -> list[str]:
    if not item.answerable or not item.expected_sources:
        return []
    retrieved = list(dict.fromkeys(h.source for h in answer.hits))
    if metrics.get("hit@5") == 0.0:
        top = list(dict.fromkeys(h.source for h in answer.hits[:5]))
        return [f"no passage from {', '.join(item.expected_sources)} in the top 5 (got: {', '.join(top) or 'none'})"]
    missing = [s for s in item.expected_sources if s not in retrieved]
    if missing and len(missing) < len(item.expected_sources):
        return [f"expected document(s) not retrieved: {', '.join(missing)}"]
    return []


def _fact_reasons(item: EvalItem, answer: Answer) -> list[str]:
    """Each missing fact, and whether a retrieved passage held it (then the answerer did not pick it)."""
    passages = "\n".join(h.chunk.text for h in answer.hits)
    snippets = "\n".join(c.snippet for c in answer.citations)
    reasons = []
    for group in item.expected_facts:
        label = repr(group[0]) + (f" (or {len(group) - 1} other phrasing(s))" if len(group) > 1 else "")
        if not fact_present(group, answer.text):
            where = "in a retrieved passage but not quoted" if fact_present(group, passages) else "not retrieved"
            reasons.append(f"missing fact {label}: {where}")
        elif not fact_present(group, snippets):
            reasons.append(f"fact {label} is in the text but in no cited snippet")
    return reasons


def _shape_reasons(item: EvalItem, answer: Answer, metrics: Mapping[str, float | None]) -> list[str]:
    """How the answer is shaped: its lead, its verdict, the order of current and stale facts, its junk."""
    reasons = []
    lead = " ".join(strip_markers(lead_text(answer.text)).split())
    if metrics.get("lead_accuracy") == 0.0 and any(fact_present(g, answer.text) for g in item.expected_facts):
        reasons.append(f"an expected fact is in the answer but not in its first statement ({_short(lead)!r})")
    if metrics.get("verdict_accuracy") == 0.0 and not answer.abstained:
        reasons.append(f"does not lead with the verdict {item.verdict!r} ({_short(lead)!r})")
    if metrics.get("current_first") == 0.0 and not answer.abstained:
        reasons.append("conflict: the current fact does not come first, or a stale fact is stated without its year")
    for reason, statement in junk_statements(answer):
        reasons.append(f"quotes a {reason}: {_short(statement)!r}")
    return reasons


def _short(text: str) -> str:
    return text if len(text) <= _QUOTE else text[: _QUOTE - 1] + "…"
