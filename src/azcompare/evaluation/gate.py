"""The quality gate: thresholds per provider in evals/thresholds.toml, derived from the dev split only.

A threshold is the dev score minus a margin (plus, for lower-is-better metrics). The margin is how
far a second sample of questions may fall short of the dev score by chance alone: z standard errors
of the difference between two split means, the standard error being
sqrt(p(1-p)) · sqrt(1/n_dev + 1/n_heldout). p is shrunk towards 1/2 (Agresti–Coull: (x + 2) / (n + 4))
so that a perfect dev score still gets a margin, and the margin is never less than MIN_MARGIN.
z is one-sided (the gate only cares about drops) and Bonferroni-corrected for the number of metrics
checked at once: with k metrics, each is tested at ALPHA / k, so that a run whose true quality equals
the dev score fails the gate by chance in at most ALPHA of cases. Only the dev scores and the split
sizes go in; the held-out scores are what the gate then checks.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist
from typing import Any

from azcompare.evaluation.runs import EvaluationError

MIN_MARGIN = 0.05
ALPHA = 0.05  # the chance of a false alarm over all gated metrics together


def z_for(metrics: int, alpha: float = ALPHA) -> float:
    """One-sided z for `metrics` simultaneous checks at family-wise level alpha (Bonferroni)."""
    return NormalDist().inv_cdf(1 - alpha / max(metrics, 1))


@dataclass(frozen=True)
class Threshold:
    """One metric's bound: `min` for higher-is-better metrics, `max` for lower-is-better ones."""

    metric: str
    bound: float
    direction: str  # "min" or "max"
    dev: float | None = None
    margin: float | None = None

    def passes(self, value: float | None) -> bool:
        """True when the value is on the right side of the bound (a missing value never passes)."""
        if value is None:
            return False
        return value >= self.bound - 1e-9 if self.direction == "min" else value <= self.bound + 1e-9


@dataclass(frozen=True)
class GateSpec:
    """A provider's thresholds and the split the gate runs on."""

    provider: str
    split: str
    thresholds: tuple[Threshold, ...]
    path: Path | None = None


@dataclass(frozen=True)
class GateRow:
    """One metric's check."""

    threshold: Threshold
    value: float | None

    @property
    def ok(self) -> bool:
        """True when the score is on the right side of its threshold."""
        return self.threshold.passes(self.value)


def margin(units: Sequence[float], n_other: int, z: float, floor: float = MIN_MARGIN) -> float:
    """Z standard errors of the difference between a dev mean over `units` and a mean over n_other items."""
    n = len(units)
    if n == 0 or n_other <= 0:
        raise ValueError("a margin needs dev values and a held-out size")
    shrunk = (sum(units) + 2) / (n + 4)
    spread = math.sqrt(shrunk * (1 - shrunk))
    return max(floor, z * spread * math.sqrt(1 / n + 1 / n_other))


def units(metric: str, rows: Sequence[tuple[bool, float | None]]) -> list[float]:
    """The 0/1 (or 0–1) outcomes a metric's aggregate averages, from (answerable, per-question value) rows.

    Most metrics average their per-question values; the abstention aggregates average over a subset:
    precision over the abstentions (1 when out of scope), recall over out-of-scope questions, the
    false-abstention rate over answerable ones.
    """
    if metric == "abstention_precision":
        return [0.0 if answerable else 1.0 for answerable, v in rows if v]
    if metric == "abstention_recall":
        return [v for answerable, v in rows if not answerable and v is not None]
    if metric == "false_abstention_rate":
        return [v for answerable, v in rows if answerable and v is not None]
    return [v for _, v in rows if v is not None]


def derive(
    metric: str, dev: float, units: Sequence[float], n_other: int, higher_is_better: bool, z: float
) -> Threshold:
    """The threshold for one metric from its dev score, rounded to two decimals on the lenient side."""
    m = margin(units, n_other, z)
    if higher_is_better:
        return Threshold(metric, max(0.0, math.floor((dev - m) * 100 + 1e-9) / 100), "min", dev, round(m, 4))
    return Threshold(metric, min(1.0, math.ceil((dev + m) * 100 - 1e-9) / 100), "max", dev, round(m, 4))


def load_gate(path: Path, provider: str) -> GateSpec:
    """Read one provider's thresholds; EvaluationError names the file and the entry at fault."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot read the thresholds file ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise EvaluationError(f"{path}: not valid TOML ({exc})") from exc
    section = data.get(provider)
    if not isinstance(section, dict):
        known = ", ".join(k for k, v in data.items() if isinstance(v, dict)) or "none"
        raise EvaluationError(f"{path}: no thresholds for provider {provider!r} (has: {known})")
    metrics = section.get("metrics")
    if not isinstance(metrics, dict) or not metrics:
        raise EvaluationError(f"{path}: [{provider}.metrics] must list at least one metric")
    thresholds = []
    for name, entry in metrics.items():
        where = f"{path}: [{provider}.metrics.{name!r}]"
        if not isinstance(entry, dict) or ("min" in entry) == ("max" in entry):
            raise EvaluationError(f"{where} needs exactly one of 'min' or 'max'")
        direction = "min" if "min" in entry else "max"
        bound = entry[direction]
        if not isinstance(bound, int | float) or isinstance(bound, bool):
            raise EvaluationError(f"{where}: '{direction}' must be a number")
        thresholds.append(Threshold(name, float(bound), direction, entry.get("dev"), entry.get("margin")))
    return GateSpec(provider, str(section.get("split", "heldout")), tuple(thresholds), path)


def check(overall: Mapping[str, float | None], spec: GateSpec) -> list[GateRow]:
    """Every threshold against the run's overall scores."""
    return [GateRow(t, overall.get(t.metric)) for t in spec.thresholds]


def format_rows(rows: Sequence[GateRow], spec: GateSpec, worst: Sequence[str] = ()) -> str:
    """A readable table: every gated metric, its bound, the score and the difference; failures marked ✗."""
    failed = [r for r in rows if not r.ok]
    where = f"{spec.path or 'thresholds'}, provider {spec.provider}, split {spec.split}"
    head = (
        f"quality gate ({where}): {len(failed)} of {len(rows)} metric(s) on the wrong side of their threshold"
        if failed
        else f"quality gate ({where}): all {len(rows)} metrics pass"
    )
    lines = [head, f"    {'metric':<24} {'threshold':>10} {'score':>8} {'diff':>8}"]
    for row in sorted(rows, key=lambda r: (r.ok, r.threshold.metric)):
        t = row.threshold
        sign = "≥" if t.direction == "min" else "≤"
        if row.value is None:
            score, diff = "n/a", "n/a"
        else:
            score, diff = f"{row.value:.3f}", f"{row.value - t.bound:+.3f}"
        lines.append(f"{'  ' if row.ok else '✗ '}  {t.metric:<24} {sign + f' {t.bound:.2f}':>10} {score:>8} {diff:>8}")
    if failed and worst:
        lines.append("worst questions:")
        lines.extend(f"    {w}" for w in worst)
    return "\n".join(lines)


def to_toml(provider: str, split: str, thresholds: Sequence[Threshold], header: str = "") -> str:
    """The thresholds file text for one provider (what scripts/set_thresholds.py writes)."""
    out = [header.rstrip() + "\n"] if header else []
    out.append(f'[{provider}]\nsplit = "{split}"\n')
    for t in thresholds:
        dev = "nan" if t.dev is None else f"{t.dev:.4f}"
        entry = f"dev = {dev}\nmargin = {t.margin}\n{t.direction} = {t.bound:.2f}\n"
        out.append(f'[{provider}.metrics."{t.metric}"]\n{entry}')
    return "\n".join(out)


def describe(spec: GateSpec) -> dict[str, Any]:
    """The gate's thresholds as JSON (for config.json)."""
    return {
        "path": str(spec.path) if spec.path else None,
        "provider": spec.provider,
        "split": spec.split,
        "thresholds": {t.metric: {t.direction: t.bound} for t in spec.thresholds},
    }
