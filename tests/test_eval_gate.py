"""The quality gate's parts: the margin rule, the thresholds file, the check and its readable diff."""

from __future__ import annotations

import math
import tomllib

import pytest

from azcompare.evaluation.gate import (
    MIN_MARGIN,
    check,
    derive,
    format_rows,
    load_gate,
    margin,
    to_toml,
    units,
    z_for,
)
from azcompare.evaluation.metrics import METRICS_BY_NAME
from azcompare.evaluation.runs import EvaluationError
from conftest import ROOT, write

THRESHOLDS = ROOT / "evals" / "thresholds.toml"


Z = 2.0


def test_margin_shrinks_with_more_questions_and_never_vanishes():
    assert margin([1.0] * 40, 50, Z) > MIN_MARGIN  # a perfect dev score is still an estimate
    assert margin([1.0, 0.0] * 10, 20, Z) > margin([1.0, 0.0] * 100, 200, Z)
    assert margin([1.0] * 10_000, 10_000, Z) == MIN_MARGIN


def test_more_metrics_checked_together_need_a_wider_margin():
    assert z_for(1) == pytest.approx(1.645, abs=1e-3)  # one-sided 95%
    assert z_for(12) == pytest.approx(2.638, abs=1e-3)  # Bonferroni over 12 metrics
    assert margin([1.0, 0.0] * 20, 50, z_for(12)) > margin([1.0, 0.0] * 20, 50, z_for(1))


def test_derive_rounds_on_the_lenient_side_in_each_direction():
    higher = derive("fact_recall", 0.816, [1.0] * 31 + [0.0] * 7, 51, higher_is_better=True, z=Z)
    assert higher.direction == "min" and higher.bound == math.floor((0.816 - higher.margin) * 100) / 100
    lower = derive("false_abstention_rate", 0.0, [0.0] * 38, 51, higher_is_better=False, z=Z)
    assert lower.direction == "max" and lower.bound == math.ceil(lower.margin * 100) / 100


def test_units_follow_each_aggregate():
    rows = [(True, 1.0), (True, 0.0), (False, 1.0), (False, 0.0)]  # (answerable, abstained)
    assert units("abstention_precision", rows) == [0.0, 1.0]  # over the two abstentions
    assert units("abstention_recall", rows) == [1.0, 0.0]  # over out-of-scope questions
    assert units("false_abstention_rate", rows) == [1.0, 0.0]  # over answerable questions
    assert units("fact_recall", [(True, 0.5), (False, None)]) == [0.5]


def test_the_shipped_thresholds_were_derived_from_dev_scores():
    spec = load_gate(THRESHOLDS, "extractive")
    assert spec.split == "heldout"
    data = tomllib.loads(THRESHOLDS.read_text(encoding="utf-8"))["extractive"]["metrics"]
    for t in spec.thresholds:
        entry = data[t.metric]
        metric = METRICS_BY_NAME[t.metric]
        assert t.direction == ("min" if metric.higher_is_better else "max"), t.metric
        assert entry["margin"] >= MIN_MARGIN, t.metric
        expected = (
            math.floor((entry["dev"] - entry["margin"]) * 100 + 1e-9) / 100
            if t.direction == "min"
            else math.ceil((entry["dev"] + entry["margin"]) * 100 - 1e-9) / 100
        )
        assert t.bound == pytest.approx(max(0.0, min(1.0, expected))), t.metric
    assert {"hit@5", "fact_recall", "citation_validity", "abstention_accuracy"} <= {t.metric for t in spec.thresholds}


def test_a_drop_fails_with_a_readable_diff(tmp_path):
    path = write(tmp_path / "t.toml", to_toml("extractive", "heldout", [
        derive("fact_recall", 0.8, [1.0] * 40 + [0.0] * 10, 60, True, Z),
        derive("false_abstention_rate", 0.0, [0.0] * 50, 60, False, Z),
        derive("hit@5", 1.0, [1.0] * 50, 60, True, Z),
    ]))  # fmt: skip
    spec = load_gate(path, "extractive")
    bounds = {t.metric: t.bound for t in spec.thresholds}
    rows = check({"fact_recall": 0.41, "false_abstention_rate": 0.5, "hit@5": 1.0}, spec)
    assert [r.ok for r in rows] == [False, False, True]
    text = format_rows(rows, spec, worst=["ho-001: missing fact 'x'"])
    lines = text.splitlines()
    assert "2 of 3 metric(s) on the wrong side" in lines[0]
    assert any(line.startswith("✗") and "fact_recall" in line and f"≥ {bounds['fact_recall']:.2f}" in line
               and "0.410" in line and f"{0.41 - bounds['fact_recall']:+.3f}" in line for line in lines)  # fmt: skip
    assert any(line.startswith("✗") and "false_abstention_rate" in line and "≤" in line for line in lines)
    assert "ho-001: missing fact 'x'" in text
    passing = check({"fact_recall": 0.9, "false_abstention_rate": 0.0, "hit@5": 1.0}, spec)
    assert "all 3 metrics pass" in format_rows(passing, spec)


def test_a_metric_with_no_value_fails_the_gate(tmp_path):
    path = write(tmp_path / "t.toml", '[extractive]\n[extractive.metrics."hit@5"]\nmin = 0.9\n')
    (row,) = check({}, load_gate(path, "extractive"))
    assert not row.ok and "n/a" in format_rows([row], load_gate(path, "extractive"))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[extractive\n", "not valid TOML"),
        ('[ollama.metrics."hit@5"]\nmin = 0.9\n', "no thresholds for provider 'extractive' (has: ollama)"),
        ('[extractive.metrics."hit@5"]\nmin = 0.9\nmax = 1.0\n', "'hit@5'] needs exactly one of 'min' or 'max'"),
        ('[extractive.metrics."hit@5"]\nmin = "high"\n', "'min' must be a number"),
        ("[extractive]\nsplit = 'heldout'\n", "must list at least one metric"),
    ],
)
def test_bad_thresholds_files_are_clear_errors(tmp_path, text, message):
    with pytest.raises(EvaluationError) as exc:
        load_gate(write(tmp_path / "t.toml", text), "extractive")
    assert message in str(exc.value) and "t.toml" in str(exc.value)
