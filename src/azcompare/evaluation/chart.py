"""report.png: the metrics per question kind, ours and the baseline side by side (matplotlib, Agg).

Top row: retrieval, facts and abstention. Bottom row: the answer's shape (lead, junk, partial
abstention, current-first, verdict), with the median statements per answer in the panel title.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede the pyplot import

import matplotlib.pyplot as plt

CHART_METRICS = ("hit@5", "mrr", "fact_recall", "citation_support", "abstention_accuracy")
SHAPE_METRICS = ("lead_accuracy", "junk_rate", "partial_abstention_accuracy", "current_first", "verdict_accuracy")
ROWS = ((CHART_METRICS, "retrieval, facts, abstention"), (SHAPE_METRICS, "answer shape"))


def write_chart(summary: Mapping[str, Any], path: Path) -> Path:
    """One column per pipeline, one row per metric group: grouped bars for each question kind."""
    pipelines = [(name, block) for name, block in summary["pipelines"].items() if block.get("by_kind")]
    fig, axes = plt.subplots(len(ROWS), len(pipelines), figsize=(8 * len(pipelines), 8.4), squeeze=False, sharey=True)
    try:
        for row, (metrics, label) in enumerate(ROWS):
            for ax, (name, block) in zip(axes[row], pipelines, strict=True):
                _panel(ax, name, block, metrics, label)
            axes[row][0].set_ylabel("score (0–1)")
            handles, labels = axes[row][0].get_legend_handles_labels()
            axes[row][-1].legend(handles, labels, loc="upper right", fontsize=7, frameon=False)
        fig.suptitle(f"{summary.get('run', '')}: metrics per question kind")
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _panel(ax: Any, name: str, block: Mapping[str, Any], metrics: Sequence[str], label: str) -> None:
    kinds = list(block["by_kind"])
    counts = block.get("counts", {}).get("by_kind", {})
    width = 0.8 / len(metrics)
    for i, metric in enumerate(metrics):
        # A metric that does not apply to a kind (no value) is drawn as no bar, not as zero.
        xs = [k + (i - (len(metrics) - 1) / 2) * width for k in range(len(kinds))]
        values = [block["by_kind"][kind].get(metric) for kind in kinds]
        shown = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
        bars = ax.bar([x for x, _ in shown], [v for _, v in shown], width=width, label=metric)
        for (x, v), bar in zip(shown, bars, strict=True):
            if v == 0:  # a zero bar is invisible: mark it, so that it is not read as "does not apply"
                ax.text(x, 0.01, "0", ha="center", va="bottom", fontsize=7, color=bar.get_facecolor())
    ax.set_xticks(range(len(kinds)), [f"{k}\n(n={counts.get(k, 0)})" for k in kinds], fontsize=7, rotation=30)
    ax.set_ylim(0, 1.05)
    statements = block.get("overall", {}).get("answer_statements_p50")
    extra = f"; statements per answer p50 {statements:.1f}" if metrics is SHAPE_METRICS and statements else ""
    ax.set_title(f"{name}: {label}{extra}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
