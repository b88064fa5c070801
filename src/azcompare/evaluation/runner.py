"""Run a question set through an answer function and score every item with every metric."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from azcompare.answering.pipeline import answer
from azcompare.evaluation.dataset import EvalItem
from azcompare.evaluation.diagnosis import badness, failure_reasons
from azcompare.evaluation.metrics import METRICS, Metric, percentile
from azcompare.settings import Settings
from azcompare.types import Answer

AnswerFn = Callable[..., Answer]
Progress = Callable[[int, int], None]


@dataclass
class ItemResult:
    """One item's answer, its metric values and why it fell short."""

    item: EvalItem
    answer: Answer
    metrics: dict[str, float | None]
    seconds: float
    reasons: list[str] = field(default_factory=list)
    badness: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)  # e.g. the judge's individual scores

    def to_dict(self) -> dict[str, Any]:
        """One line of results.jsonl."""
        return {
            **self.item.to_dict(),
            "answer": self.answer.to_dict(),
            "metrics": self.metrics,
            "seconds": round(self.seconds, 4),
            "reasons": self.reasons,
            "badness": self.badness,
            **({"details": self.details} if self.details else {}),
        }


@dataclass
class RunResult:
    """All item results with the aggregates: overall, per question kind, per split, and latency."""

    results: list[ItemResult]
    summary: dict[str, float | None] = field(default_factory=dict)
    by_kind: dict[str, dict[str, float | None]] = field(default_factory=dict)
    by_split: dict[str, dict[str, float | None]] = field(default_factory=dict)
    latency: dict[str, dict[str, float | None]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The aggregates as summary.json stores them for one pipeline."""
        return {
            "overall": self.summary,
            "by_kind": self.by_kind,
            "by_split": self.by_split,
            "latency_ms": self.latency,
            "counts": {
                "items": len(self.results),
                "by_kind": _count(r.item.kind for r in self.results),
                "by_split": _count(r.item.split or "(none)" for r in self.results),
                "failing": sum(1 for r in self.results if r.reasons),
                # A generative provider that is unavailable or fails falls back to extractive: say so.
                "answered_by": _count(r.answer.provider for r in self.results if r.answer.status != "rejected"),
            },
        }


def aggregate(results: Sequence[ItemResult], metrics: Sequence[Metric] = METRICS) -> dict[str, float | None]:
    """Each metric's aggregate over the results."""
    return {m.name: m.aggregate([(r.item, r.metrics.get(m.name)) for r in results]) for m in metrics}


def latency_stats(results: Sequence[ItemResult]) -> dict[str, dict[str, float | None]]:
    """p50 and p95 per pipeline stage, in milliseconds (rejected questions never reach the stages)."""
    stages: dict[str, list[float]] = {}
    for r in results:
        for stage, ms in r.answer.timings.items():
            stages.setdefault(stage, []).append(ms)
    return {s: {"p50": percentile(v, 50), "p95": percentile(v, 95)} for s, v in sorted(stages.items())}


def score_item(item: EvalItem, result: Answer, seconds: float, metrics: Sequence[Metric] = METRICS) -> ItemResult:
    """Every metric for one answered item, plus the reasons it fell short."""
    values = {m.name: m.per_question(item, result) for m in metrics}
    return ItemResult(item, result, values, seconds, failure_reasons(item, result, values), badness(values))


def summarize(results: list[ItemResult], metrics: Sequence[Metric] = METRICS) -> RunResult:
    """Aggregate item results overall, per kind and per split."""
    kinds = sorted({r.item.kind for r in results})
    splits = sorted({r.item.split for r in results if r.item.split})
    return RunResult(
        results=results,
        summary=aggregate(results, metrics),
        by_kind={k: aggregate([r for r in results if r.item.kind == k], metrics) for k in kinds},
        by_split={s: aggregate([r for r in results if r.item.split == s], metrics) for s in splits}
        if len(splits) > 1
        else {},
        latency=latency_stats(results),
    )


def run_items(
    items: Sequence[EvalItem],
    settings: Settings,
    *,
    provider: str | None = None,
    top_k: int | None = None,
    progress: Progress | None = None,
    answer_fn: AnswerFn = answer,
    metrics: Sequence[Metric] = METRICS,
) -> RunResult:
    """Answer every item and score it. `answer_fn` lets the baseline pipeline be scored the same way."""
    results: list[ItemResult] = []
    if progress:
        progress(0, len(items))
    for done, item in enumerate(items, 1):
        started = time.perf_counter()
        result = answer_fn(
            item.question,
            history=list(item.history) or None,
            provider=provider,
            settings=settings,
            top_k=top_k,
        )
        results.append(score_item(item, result, time.perf_counter() - started, metrics))
        if progress:
            progress(done, len(items))
    return summarize(results, metrics)


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts
