"""A run's report: report.md (scores as tables, ours beside the baseline, the worst questions with why)
and report.png (the metrics per question kind, drawn with matplotlib's Agg backend)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from azcompare.evaluation.metrics import METRICS_BY_NAME

# The columns of the per-kind tables: the metrics a reader checks first for each kind of question.
KIND_COLUMNS = (
    "hit@5",
    "mrr",
    "fact_recall",
    "citation_validity",
    "citation_support",
    "dated_contrast",
    "abstention_accuracy",
)
# The answer-shape metrics of issue 10, per kind: each applies to some kinds only (n/a elsewhere).
SHAPE_COLUMNS = (
    "lead_accuracy",
    "junk_rate",
    "answer_statements_p50",
    "partial_abstention_accuracy",
    "current_first",
    "verdict_accuracy",
)
# report.png: one row of bars per group of metrics.
CHART_METRICS = ("hit@5", "mrr", "fact_recall", "citation_support", "abstention_accuracy")
SHAPE_METRICS = ("lead_accuracy", "junk_rate", "partial_abstention_accuracy", "current_first", "verdict_accuracy")
ROWS = ((CHART_METRICS, "retrieval, facts, abstention"), (SHAPE_METRICS, "answer shape"))
WORST = 10
_ANSWER_PREVIEW = 280


def fmt(value: Any, bounded: bool = True) -> str:
    """A score with three decimals, a count or length with one, and n/a for a metric that did not apply."""
    if value is None:
        return "n/a"
    return f"{value:.3f}" if bounded else f"{value:.1f}"


def delta(a: float | None, b: float | None, higher_is_better: bool | None, bounded: bool = True) -> str:
    """b − a with an arrow when one direction is better (▲ better, ▼ worse)."""
    if a is None or b is None:
        return ""
    diff = b - a
    text = f"{diff:+.3f}" if bounded else f"{diff:+.1f}"
    if abs(diff) < 1e-9 or higher_is_better is None:
        return text
    return text + (" ▲" if (diff > 0) == higher_is_better else " ▼")


def render_report(
    config: Mapping[str, Any], summary: Mapping[str, Any], results: Mapping[str, Sequence[Mapping[str, Any]]]
) -> str:
    """The whole report; `results` maps a pipeline name to its results.jsonl lines."""
    pipelines = summary["pipelines"]
    ours = pipelines["ours"]
    base = pipelines.get("baseline")
    glossary = summary.get("metrics", {})
    lines = [f"# Evaluation run {summary['run']}", ""]
    lines += _header(config, ours)
    lines += ["", "![Metrics per question kind](report.png)", ""]
    lines += _overall(ours, base, glossary)
    if ours.get("by_split"):
        lines += _by_split(ours, base)
    lines += _by_kind("Ours", ours)
    lines += _by_kind("Ours", ours, SHAPE_COLUMNS, "answer shape per question kind", glossary)
    if base:
        lines += _by_kind("Baseline", base)
        lines += _by_kind("Baseline", base, SHAPE_COLUMNS, "answer shape per question kind", glossary)
    lines += _latency(ours, base)
    if config.get("judge"):
        lines += _judge(config["judge"])
    lines += _worst(results.get("ours", []), "ours")
    if base:
        lines += _worst(results.get("baseline", []), "the baseline", limit=5)
    lines += _glossary(glossary)
    return "\n".join(lines).rstrip() + "\n"


def _header(config: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    qs = config.get("question_set", {})
    git = config.get("git", {})
    index = config.get("index", {})
    manifest = index.get("manifest") or {}
    counts = ours.get("counts", {})
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(counts.get("by_kind", {}).items()))
    answered_by = ", ".join(f"{k} {n}" for k, n in counts.get("answered_by", {}).items())
    commit = (git.get("commit") or "unknown")[:12] + (" (uncommitted changes)" if git.get("dirty") else "")
    lines = [
        f"- **Question set:** `{qs.get('path')}`" + (f", split **{config['split']}**" if config.get("split") else ""),
        f"- **Questions:** {counts.get('items', 0)} ({kinds})",
        f"- **Provider:** {config.get('provider')} (answers by: {answered_by or 'none'}); "
        f"top_k {config.get('settings', {}).get('top_k')}",
        f"- **Index:** {manifest.get('chunk_count', '?')} chunks from {len(manifest.get('documents', {}))} documents, "
        f"built {manifest.get('built_at', '?')}; embedding model {manifest.get('embedding_model', '?')}",
        f"- **Code:** commit {commit}; created {config.get('created')}, took {config.get('seconds', 0):.0f} s",
    ]
    if config.get("baseline"):
        b = config["baseline"]
        recipe = f"{b.get('splitter')} over {b.get('input')}; {b.get('retrieval')}; {b.get('answerer')}"
        lines.append(f"- **Baseline:** {recipe}")
    return lines


def _overall(ours: Mapping[str, Any], base: Mapping[str, Any] | None, glossary: Mapping[str, Any]) -> list[str]:
    lines = ["## Summary", ""]
    if base:
        lines += ["| metric | ours | baseline | ours − baseline |", "| --- | ---: | ---: | ---: |"]
    else:
        lines += ["| metric | ours |", "| --- | ---: |"]
    for name, value in ours["overall"].items():
        info = glossary.get(name, {})
        bounded = info.get("bounded", True)
        row = f"| {name} | {fmt(value, bounded)} |"
        if base:
            other = base["overall"].get(name)
            row += f" {fmt(other, bounded)} | {delta(other, value, info.get('higher_is_better'), bounded)} |"
        lines.append(row)
    total = ours.get("latency_ms", {}).get("total_ms")
    if total:
        row = f"| latency p50 / p95 (ms) | {fmt(total['p50'], False)} / {fmt(total['p95'], False)} |"
        if base:
            b = base.get("latency_ms", {}).get("total_ms") or {}
            row += f" {fmt(b.get('p50'), False)} / {fmt(b.get('p95'), False)} | |"
        lines.append(row)
    counts = ours.get("counts", {})
    lines += ["", f"{counts.get('failing', 0)} of {counts.get('items', 0)} questions fell short somewhere (ours).", ""]
    return lines


def _by_split(ours: Mapping[str, Any], base: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Per split", "", "Dev is the tuning split; held-out is the one to report.", ""]
    cols = ("hit@5", "mrr", "fact_recall", "citation_support", "abstention_accuracy", "lead_accuracy", "junk_rate")
    lines += ["| split | pipeline | " + " | ".join(cols) + " |", "| --- | --- |" + " ---: |" * len(cols)]
    for split, values in ours["by_split"].items():
        lines.append(f"| {split} | ours | " + " | ".join(fmt(values.get(c)) for c in cols) + " |")
        if base and split in base.get("by_split", {}):
            b = base["by_split"][split]
            lines.append(f"| {split} | baseline | " + " | ".join(fmt(b.get(c)) for c in cols) + " |")
    return [*lines, ""]


def _by_kind(
    title: str,
    block: Mapping[str, Any],
    columns: tuple[str, ...] = KIND_COLUMNS,
    heading: str = "per question kind",
    glossary: Mapping[str, Any] | None = None,
) -> list[str]:
    counts = block.get("counts", {}).get("by_kind", {})
    bounded = {c: (glossary or {}).get(c, {}).get("bounded", True) for c in columns}
    lines = [f"## {title}: {heading}", ""]
    lines += ["| kind | n | " + " | ".join(columns) + " |", "| --- | ---: |" + " ---: |" * len(columns)]
    for kind, values in block.get("by_kind", {}).items():
        cells = " | ".join(fmt(values.get(c), bounded[c]) for c in columns)
        lines.append(f"| {kind} | {counts.get(kind, 0)} | {cells} |")
    return [*lines, ""]


def _latency(ours: Mapping[str, Any], base: Mapping[str, Any] | None) -> list[str]:
    lines = ["## Latency per stage (ms)", ""]
    stages = list(ours.get("latency_ms", {}))
    if base:
        stages += [s for s in base.get("latency_ms", {}) if s not in stages]
        lines += ["| stage | ours p50 | ours p95 | baseline p50 | baseline p95 |", "| --- |" + " ---: |" * 4]
    else:
        lines += ["| stage | p50 | p95 |", "| --- | ---: | ---: |"]
    for stage in stages:
        o = ours.get("latency_ms", {}).get(stage, {})
        row = f"| {stage} | {fmt(o.get('p50'), False)} | {fmt(o.get('p95'), False)} |"
        if base:
            b = base.get("latency_ms", {}).get(stage, {})
            row += f" {fmt(b.get('p50'), False)} | {fmt(b.get('p95'), False)} |"
        lines.append(row)
    return [*lines, ""]


def _judge(judge: Mapping[str, Any]) -> list[str]:
    lines = [
        "## LLM judge",
        "",
        f"Judge: {judge.get('model')}, {judge.get('repeats')} judgments per question and aspect, averaged "
        f"(scores 1–5; the rows `judge_*` above). Calls: {judge.get('calls')}, failed or unparseable: "
        f"{judge.get('failed_calls')}.",
    ]
    for error in judge.get("errors", []):
        lines.append(f"- {error}")
    return [*lines, ""]


def _worst(results: Sequence[Mapping[str, Any]], whose: str, limit: int = WORST) -> list[str]:
    failing = sorted((r for r in results if r.get("reasons")), key=lambda r: (-r.get("badness", 0), r["id"]))
    lines = [f"## Worst questions ({whose})", ""]
    if not failing:
        return [*lines, "None: every question got everything it expected.", ""]
    for r in failing[:limit]:
        answer = r.get("answer", {})
        text = " ".join(str(answer.get("text", "")).split())
        preview = text[:_ANSWER_PREVIEW] + ("…" if len(text) > _ANSWER_PREVIEW else "")
        lines.append(f"### {r['id']} ({r['kind']}{', ' + r['split'] if r.get('split') else ''})")
        lines.append("")
        lines.append(f"**Q:** {r['question']}")
        if answer.get("standalone_question") and answer["standalone_question"] != r["question"].strip():
            lines.append(f"(understood as: {answer['standalone_question']})")
        lines.append("")
        lines += [f"- why: {reason}" for reason in r["reasons"]]
        lines.append(f"- answer: {preview or '(empty)'}")
        if r.get("expected_sources"):
            retrieved = list(dict.fromkeys(h.get("source") for h in answer.get("hits", [])))
            lines.append(f"- expected sources: {', '.join(r['expected_sources'])}; retrieved: {', '.join(retrieved)}")
        lines.append("")
    if len(failing) > limit:
        rest = ", ".join(r["id"] for r in failing[limit:])
        lines += [f"Also fell short: {rest}.", ""]
    return lines


def _glossary(glossary: Mapping[str, Any]) -> list[str]:
    lines = ["## Metrics", ""]
    for name, info in glossary.items():
        direction = {True: "higher is better", False: "lower is better"}.get(info.get("higher_is_better"), "")
        description = info.get("description") or getattr(METRICS_BY_NAME.get(name), "description", "")
        lines.append(f"- **{name}**: {description}" + (f" ({direction})" if direction else ""))
    return [*lines, ""]


def write_chart(summary: Mapping[str, Any], path: Path) -> Path:
    """report.png: one column per pipeline, one row per metric group, grouped bars for each question kind.

    Top row: retrieval, facts and abstention. Bottom row: the answer's shape (lead, junk, partial
    abstention, current-first, verdict), with the median statements per answer in the panel title.
    """
    import matplotlib

    matplotlib.use("Agg")  # no display on servers and in CI; must precede the pyplot import
    import matplotlib.pyplot as plt

    pipelines = [(name, block) for name, block in summary["pipelines"].items() if block.get("by_kind")]
    fig, axes = plt.subplots(
        len(ROWS), len(pipelines), figsize=(8 * len(pipelines) + 2.5, 8.4), squeeze=False, sharey=True
    )
    try:
        for row, (metrics, label) in enumerate(ROWS):
            for ax, (name, block) in zip(axes[row], pipelines, strict=True):
                _panel(ax, name, block, metrics, label)
            axes[row][0].set_ylabel("score (0–1)")
            handles, labels = axes[row][0].get_legend_handles_labels()
            # Beside the last panel, where it hides no bar.
            axes[row][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
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
