"""report.png: the main metrics per question kind, ours and the baseline side by side (matplotlib, Agg)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI; must precede the pyplot import

import matplotlib.pyplot as plt

CHART_METRICS = ("hit@5", "mrr", "fact_recall", "citation_support", "abstention_accuracy")


def write_chart(summary: Mapping[str, Any], path: Path) -> Path:
    """One panel per pipeline: grouped bars of CHART_METRICS for each question kind."""
    pipelines = [(name, block) for name, block in summary["pipelines"].items() if block.get("by_kind")]
    fig, axes = plt.subplots(1, len(pipelines), figsize=(7 * len(pipelines), 4.2), squeeze=False, sharey=True)
    try:
        for ax, (name, block) in zip(axes[0], pipelines, strict=True):
            _panel(ax, name, block)
        axes[0][0].set_ylabel("score (0–1)")
        handles, labels = axes[0][0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=len(CHART_METRICS), frameon=False)
        fig.suptitle(f"{summary.get('run', '')}: metrics per question kind")
        fig.tight_layout(rect=(0, 0.08, 1, 0.95))
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return path


def _panel(ax: Any, name: str, block: Mapping[str, Any]) -> None:
    kinds = list(block["by_kind"])
    counts = block.get("counts", {}).get("by_kind", {})
    width = 0.8 / len(CHART_METRICS)
    for i, metric in enumerate(CHART_METRICS):
        # A metric that does not apply to a kind (no value) is drawn as no bar, not as zero.
        xs = [k + (i - (len(CHART_METRICS) - 1) / 2) * width for k in range(len(kinds))]
        values = [block["by_kind"][kind].get(metric) for kind in kinds]
        shown = [(x, v) for x, v in zip(xs, values, strict=True) if v is not None]
        bars = ax.bar([x for x, _ in shown], [v for _, v in shown], width=width, label=metric)
        for (x, v), bar in zip(shown, bars, strict=True):
            if v == 0:  # a zero bar is invisible: mark it, so that it is not read as "does not apply"
                ax.text(x, 0.01, "0", ha="center", va="bottom", fontsize=7, color=bar.get_facecolor())
    ax.set_xticks(range(len(kinds)), [f"{k}\n(n={counts.get(k, 0)})" for k in kinds], fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(name)
    ax.grid(axis="y", alpha=0.3)
