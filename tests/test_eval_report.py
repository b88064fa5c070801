"""report.md, report.png and `eval compare` from hand-made runs (no index needed)."""

from __future__ import annotations

import copy

import pytest

from azcompare.evaluation.compare import compare_runs, config_differences
from azcompare.evaluation.metrics import METRICS
from azcompare.evaluation.report import render_report, write_chart
from azcompare.evaluation.runner import score_item, summarize
from azcompare.evaluation.runs import (
    EvaluationError,
    load_run,
    new_run_dir,
    summary_document,
    write_json,
    write_results,
)
from conftest import write
from evalkit import answer, cite, hit, item

CONFIG = {
    "created": "2026-11-26T14:00:00+00:00",
    "seconds": 12.0,
    "provider": "extractive",
    "split": "heldout",
    "question_set": {"path": "evals/questions.yaml", "files": [{"path": "q.yaml", "sha256": "a" * 64}]},
    "settings": {"top_k": 8, "abstain_threshold": 0.4},
    "index": {"manifest": {"chunk_count": 3, "documents": {"doc": {"sha256": "1"}}, "embedding_model": "m"}},
    "git": {"commit": "0123456789abcdef", "dirty": False},
    "packages": {"chromadb": "1.5.9"},
    "baseline": {"splitter": "split", "input": "raw", "retrieval": "dense top 4", "answerer": "extractive"},
}


def make_run(good: bool):
    h = hit("doc", 1, text="Limit value: 30.")
    right = answer("Limit value: 30 [1].", [h], [cite(1, h, "Limit value: 30.")])
    wrong = answer("Something else [1].", [h], [cite(1, h, "Something else.")])
    results = [
        score_item(item(facts=[["Limit value: 30"]], sources=["doc"], item_id="ho-1"), right if good else wrong, 0),
        score_item(item("out_of_scope", item_id="ho-2"), answer("", abstained=True), 0),
    ]
    return summarize(results)


def save(tmp_path, name: str, config: dict, runs: dict):
    folder = tmp_path / name
    folder.mkdir()
    write_json(folder / "config.json", config)
    for pipeline, run in runs.items():
        write_results(folder, pipeline, run)
    write_json(folder / "summary.json", summary_document(folder, config, runs, list(METRICS)))
    return folder


def test_report_puts_ours_beside_the_baseline_and_explains_the_worst(tmp_path):
    runs = {"ours": make_run(good=True), "baseline": make_run(good=False)}
    folder = save(tmp_path, "run", CONFIG, runs)
    summary = load_run(folder).summary
    results = {name: [r.to_dict() for r in run.results] for name, run in runs.items()}
    report = render_report(CONFIG, summary, results)
    assert "| fact_recall | 1.000 | 0.000 | +1.000 ▲ |" in report
    assert "| false_abstention_rate | 0.000 | 0.000 | +0.000 |" in report
    assert "| fact | 1 | 1.000 | 1.000 | 1.000 |" in report  # ours per kind
    assert "## Ours: answer shape per question kind" in report
    assert "| fact | 1 | 1.000 | 0.000 | 1.0 | n/a | n/a | n/a |" in report  # lead, junk, statements p50, ...
    assert "| lead_accuracy | 1.000 | 0.000 | +1.000 ▲ |" in report
    assert "| junk_rate | 0.000 | 1.000 | -1.000 ▲ |" in report
    assert "## Worst questions (ours)\n\nNone" in report
    assert "### ho-1 (fact, dev)" in report and "missing fact 'Limit value: 30': in a retrieved passage" in report
    assert "commit 0123456789ab" in report
    png = write_chart(summary, tmp_path / "report.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_compare_shows_scores_changes_and_how_the_runs_differ(tmp_path):
    a = save(tmp_path, "a", CONFIG, {"ours": make_run(good=False)})
    changed = copy.deepcopy(CONFIG)
    changed["settings"]["top_k"] = 4
    changed["git"]["commit"] = "fedcba9876543210"
    changed["index"]["manifest"]["documents"]["doc"]["sha256"] = "2"
    b = save(tmp_path, "b", changed, {"ours": make_run(good=True)})
    text = compare_runs(load_run(a), load_run(b))
    assert "setting top_k: 8 → 4" in text and "documents changed: doc" in text
    assert "code: 0123456789ab → fedcba987654" in text
    assert any(
        "fact_recall" in line and "0.000" in line and "1.000" in line and "▲" in line for line in text.splitlines()
    )
    assert "questions better in B: 1\n  ho-1: fact_recall 0.000 → 1.000" in text
    assert "questions worse in B: 0" in text


def test_same_config_has_no_differences():
    assert config_differences(CONFIG, copy.deepcopy(CONFIG)) == []


def test_run_folders_are_named_by_time_provider_and_split_and_never_reused(tmp_path):
    first = new_run_dir(tmp_path / "runs", "extractive", "heldout")
    second = new_run_dir(tmp_path / "runs", "extractive", "heldout")
    assert first.name.endswith("-extractive-heldout") and first != second


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({}, "not a run folder (no config.json)"),
        ({"config.json": "{}"}, "not a run folder (no summary.json)"),
        ({"config.json": "{}", "summary.json": "{oops"}, "summary.json: not valid JSON"),
        ({"config.json": "{}", "summary.json": "{}"}, "has no 'pipelines' section"),
    ],
)
def test_not_a_run_folder_is_a_clear_error(tmp_path, files, message):
    folder = tmp_path / "x"
    folder.mkdir()
    for name, text in files.items():
        write(folder / name, text)
    with pytest.raises(EvaluationError) as exc:
        load_run(folder)
    assert message in str(exc.value)
