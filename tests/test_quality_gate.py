"""The quality gate CI runs: the extractive provider on the held-out split must meet evals/thresholds.toml.

The thresholds come from the dev split (see the file's header); this is the only place the held-out
split is scored in the test run.
"""

from __future__ import annotations

from azcompare.evaluation.dataset import load_question_set
from azcompare.evaluation.gate import check, format_rows, load_gate
from azcompare.evaluation.runner import run_items
from conftest import ROOT

WORST_SHOWN = 8


def test_extractive_heldout_scores_meet_the_thresholds(kb_settings):
    spec = load_gate(ROOT / "evals" / "thresholds.toml", "extractive")
    items = load_question_set(ROOT / "evals" / "questions.yaml").split(spec.split)
    assert len(items) >= 50
    run = run_items(items, kb_settings, provider="extractive")
    rows = check(run.summary, spec)
    worst = [
        f"{r.item.id} ({r.item.kind}): {'; '.join(r.reasons)}"
        for r in sorted(run.results, key=lambda r: (-r.badness, r.item.id))[:WORST_SHOWN]
        if r.reasons
    ]
    assert all(row.ok for row in rows), "\n" + format_rows(rows, spec, worst)
