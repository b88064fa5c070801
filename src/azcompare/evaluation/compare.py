"""`azcompare eval compare RUN_A RUN_B`: two runs side by side, what differs in how they were made,
and which questions got better or worse."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azcompare.evaluation.report import delta, fmt
from azcompare.evaluation.runs import RunFolder

# The per-question metrics whose change makes a question "better" or "worse" between runs.
TRACKED = (
    "fact_recall",
    "abstention_accuracy",
    "hit@5",
    "mrr",
    "context_recall",
    "context_precision",
    "citation_validity",
    "citation_support",
    "dated_contrast",
)
MAX_LISTED = 20


def compare_runs(a: RunFolder, b: RunFolder) -> str:
    """The side-by-side diff as plain text."""
    lines = [f"A: {_describe(a)}", f"B: {_describe(b)}", ""]
    differences = config_differences(a.config, b.config)
    if differences:
        lines.append("made differently:")
        lines += [f"  {d}" for d in differences]
        lines.append("")
    glossary = {**a.summary.get("metrics", {}), **b.summary.get("metrics", {})}
    for pipeline in ("ours", "baseline"):
        if pipeline in a.pipelines() and pipeline in b.pipelines():
            lines += _metrics_table(pipeline, a.aggregates(pipeline), b.aggregates(pipeline), glossary)
    lines += _kind_table(a.aggregates("ours"), b.aggregates("ours"))
    lines += _question_changes(a.results("ours"), b.results("ours"))
    return "\n".join(lines).rstrip() + "\n"


def config_differences(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """What changed between two runs' configs: question set, settings, index, code, packages."""
    out: list[str] = []
    for key in ("provider", "split"):
        if a.get(key) != b.get(key):
            out.append(f"{key}: {a.get(key)} → {b.get(key)}")
    qa, qb = a.get("question_set", {}), b.get("question_set", {})
    if _hashes(qa) != _hashes(qb):
        out.append(f"question set files differ ({qa.get('path')} vs {qb.get('path')}): scores may not be comparable")
    sa, sb = a.get("settings", {}), b.get("settings", {})
    for key in sorted(set(sa) | set(sb)):
        if key not in {"home", "index_dir", "cache_dir"} and sa.get(key) != sb.get(key):
            out.append(f"setting {key}: {sa.get(key)} → {sb.get(key)}")
    ma = (a.get("index") or {}).get("manifest") or {}
    mb = (b.get("index") or {}).get("manifest") or {}
    if ma.get("embedding_model") != mb.get("embedding_model"):
        out.append(f"embedding model: {ma.get('embedding_model')} → {mb.get('embedding_model')}")
    if ma.get("chunker") != mb.get("chunker"):
        out.append(f"chunker: {ma.get('chunker')} → {mb.get('chunker')}")
    da, db = ma.get("documents", {}), mb.get("documents", {})
    changed = sorted(d for d in set(da) | set(db) if (da.get(d) or {}).get("sha256") != (db.get(d) or {}).get("sha256"))
    if changed:
        out.append(f"documents changed: {', '.join(changed)}")
    ga, gb = a.get("git", {}), b.get("git", {})
    if (ga.get("commit"), ga.get("dirty")) != (gb.get("commit"), gb.get("dirty")):
        out.append(f"code: {_commit(ga)} → {_commit(gb)}")
    pa, pb = a.get("packages", {}), b.get("packages", {})
    for name in sorted(set(pa) | set(pb)):
        if pa.get(name) != pb.get(name):
            out.append(f"package {name}: {pa.get(name)} → {pb.get(name)}")
    return out


def _metrics_table(pipeline: str, a: Mapping[str, Any], b: Mapping[str, Any], glossary: Mapping[str, Any]) -> list[str]:
    lines = [f"{pipeline}: {'metric':<22} {'A':>9} {'B':>9} {'B − A':>10}"]
    names = list(a.get("overall", {})) + [n for n in b.get("overall", {}) if n not in a.get("overall", {})]
    for name in names:
        info = glossary.get(name, {})
        bounded = info.get("bounded", True)
        va, vb = a["overall"].get(name), b["overall"].get(name)
        change = delta(va, vb, info.get("higher_is_better"), bounded)
        lines.append(f"{'':{len(pipeline) + 2}}{name:<22} {fmt(va, bounded):>9} {fmt(vb, bounded):>9} {change:>10}")
    ta = (a.get("latency_ms") or {}).get("total_ms") or {}
    tb = (b.get("latency_ms") or {}).get("total_ms") or {}
    if ta or tb:
        for q in ("p50", "p95"):
            va, vb = ta.get(q), tb.get(q)
            label = f"latency {q} ms"
            lines.append(f"{'':{len(pipeline) + 2}}{label:<22} {fmt(va, False):>9} {fmt(vb, False):>9} "
                         f"{delta(va, vb, False, False):>10}")  # fmt: skip
    return [*lines, ""]


def _kind_table(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    kinds = list(a.get("by_kind", {})) + [k for k in b.get("by_kind", {}) if k not in a.get("by_kind", {})]
    lines = [f"per kind (ours): {'kind':<14} {'fact_recall A → B':>22} {'abstention A → B':>22}"]
    for kind in kinds:
        ka, kb = a.get("by_kind", {}).get(kind, {}), b.get("by_kind", {}).get(kind, {})
        facts = f"{fmt(ka.get('fact_recall'))} → {fmt(kb.get('fact_recall'))}"
        abst = f"{fmt(ka.get('abstention_accuracy'))} → {fmt(kb.get('abstention_accuracy'))}"
        lines.append(f"{'':17}{kind:<14} {facts:>22} {abst:>22}")
    return [*lines, ""]


def _question_changes(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> list[str]:
    by_a, by_b = {r["id"]: r for r in a}, {r["id"]: r for r in b}
    better: list[str] = []
    worse: list[str] = []
    mixed: list[str] = []
    for item_id in [i for i in by_a if i in by_b]:
        ma, mb = by_a[item_id]["metrics"], by_b[item_id]["metrics"]
        changes = [(m, ma.get(m), mb.get(m)) for m in TRACKED if ma.get(m) != mb.get(m)]
        if not changes:
            continue
        text = f"{item_id}: " + "; ".join(f"{m} {fmt(x)} → {fmt(y)}" for m, x, y in changes)
        gain = sum((y or 0.0) - (x or 0.0) for _, x, y in changes)
        (better if gain > 0 else worse if gain < 0 else mixed).append(text)
    lines = [f"questions better in B: {len(better)}"] + [f"  {t}" for t in better[:MAX_LISTED]]
    lines += [f"questions worse in B: {len(worse)}"] + [f"  {t}" for t in worse[:MAX_LISTED]]
    if mixed:
        lines += [f"questions changed both ways: {len(mixed)}"] + [f"  {t}" for t in mixed[:MAX_LISTED]]
    only_a, only_b = [i for i in by_a if i not in by_b], [i for i in by_b if i not in by_a]
    if only_a:
        lines.append(f"only in A: {', '.join(only_a[:MAX_LISTED])}" + (" …" if len(only_a) > MAX_LISTED else ""))
    if only_b:
        lines.append(f"only in B: {', '.join(only_b[:MAX_LISTED])}" + (" …" if len(only_b) > MAX_LISTED else ""))
    return lines


def _describe(run: RunFolder) -> str:
    ours = run.aggregates("ours")
    split = run.config.get("split") or "all splits"
    return (
        f"{run.path} ({run.config.get('provider')}, {split}, {ours.get('counts', {}).get('items', '?')} questions, "
        f"commit {_commit(run.config.get('git', {}))})"
    )


def _commit(git: Mapping[str, Any]) -> str:
    commit = (git.get("commit") or "unknown")[:12]
    return commit + ("+changes" if git.get("dirty") else "")


def _hashes(question_set: Mapping[str, Any]) -> list[str]:
    return [f.get("sha256", "") for f in question_set.get("files", [])]
