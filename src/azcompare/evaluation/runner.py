"""Run a question set through `answer()` and score every item with every metric."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from azcompare.answering.pipeline import answer
from azcompare.evaluation.dataset import EvalItem
from azcompare.evaluation.metrics import METRICS, Metric, percentile
from azcompare.settings import Settings
from azcompare.types import Answer


@dataclass
class ItemResult:
    """One item's answer and its metric values."""

    item: EvalItem
    answer: Answer
    metrics: dict[str, float | None]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.item.to_dict(),
            "answer": self.answer.to_dict(),
            "metrics": self.metrics,
            "seconds": round(self.seconds, 4),
        }


@dataclass
class RunResult:
    """All item results with the aggregates."""

    results: list[ItemResult]
    summary: dict[str, float | None] = field(default_factory=dict)
    by_kind: dict[str, dict[str, float | None]] = field(default_factory=dict)
    latency: dict[str, dict[str, float | None]] = field(default_factory=dict)


def aggregate(results: Sequence[ItemResult], metrics: Sequence[Metric] = METRICS) -> dict[str, float | None]:
    """Each metric's aggregate over the results."""
    return {m.name: m.aggregate([(r.item, r.metrics.get(m.name)) for r in results]) for m in metrics}


def latency_stats(results: Sequence[ItemResult]) -> dict[str, dict[str, float | None]]:
    """p50 and p95 per pipeline stage, in milliseconds."""
    stages: dict[str, list[float]] = {}
    for r in results:
        for stage, ms in r.answer.timings.items():
            stages.setdefault(stage, []).append(ms)
    return {s: {"p50": percentile(v, 50), "p95": percentile(v, 95)} for s, v in sorted(stages.items())}


def run_items(
    items: Sequence[EvalItem],
    settings: Settings,
    *,
    provider: str | None = None,
    top_k: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    answer_fn: Callable[..., Answer] = answer,
) -> RunResult:
    """Answer every item and score it. `answer_fn` lets the baseline pipeline be scored the same way."""
    results: list[ItemResult] = []
    for done, item in enumerate(items, 1):
        started = time.perf_counter()
        result = answer_fn(
            item.question,
            history=list(item.history) or None,
            provider=provider,
            settings=settings,
            top_k=top_k,
        )
        elapsed = time.perf_counter() - started
        values = {m.name: m.per_question(item, result) for m in METRICS}
        results.append(ItemResult(item, result, values, elapsed))
        if progress:
            progress(done, len(items))
    kinds = sorted({r.item.kind for r in results})
    return RunResult(
        results=results,
        summary=aggregate(results),
        by_kind={k: aggregate([r for r in results if r.item.kind == k]) for k in kinds},
        latency=latency_stats(results),
    )
