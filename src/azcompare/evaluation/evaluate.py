"""One evaluation run end to end: load the questions, answer them with our pipeline and the baseline,
score them, and write the run folder (config, results, summary, report, chart)."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from azcompare.answering.pipeline import answer, ensure_index
from azcompare.evaluation import baseline as naive
from azcompare.evaluation.dataset import EvalItem, QuestionSet, QuestionSetError, check_sources, load_question_set
from azcompare.evaluation.judge import LLMJudge
from azcompare.evaluation.metrics import METRICS, Metric
from azcompare.evaluation.report import render_report, write_chart
from azcompare.evaluation.runner import Progress, RunResult, run_items
from azcompare.evaluation.runs import (
    git_state,
    machine,
    new_run_dir,
    package_versions,
    summary_document,
    write_json,
    write_results,
)
from azcompare.index import current_version, read_manifest
from azcompare.settings import Settings

ProgressFactory = Callable[[str, str], AbstractContextManager[Progress]]
_SECRET_WORDS = ("key", "secret", "token", "password")


@dataclass
class EvalRequest:
    """What the user asked for: `azcompare eval FILE [--provider P] [--top-k K] [--split S] [--out DIR]`."""

    question_set: Path
    provider: str | None = None
    top_k: int | None = None
    split: str | None = None
    out: Path = Path("evals/runs")
    baseline: bool = True
    judge: LLMJudge | None = None
    command: str = ""


@dataclass
class EvalOutcome:
    """A finished run: its folder and each pipeline's results."""

    folder: Path
    runs: dict[str, RunResult] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


def select_items(questions: QuestionSet, split: str | None) -> list[EvalItem]:
    """The items of the split asked for (all when none); a clear error for an empty or unknown split."""
    if not split:
        return list(questions.items)
    items = questions.split(split)
    if not items:
        have = ", ".join(questions.splits) or "none (the file sets no split)"
        raise QuestionSetError(f"{questions.path}: no items in split {split!r} (splits: {have})")
    return items


def evaluate(request: EvalRequest, settings: Settings, progress: ProgressFactory | None = None) -> EvalOutcome:
    """Run the question set through ours (and the baseline), write the run folder, return what was made."""
    progress = progress or _silent
    started, clock = dt.datetime.now().astimezone(), time.perf_counter()
    questions = load_question_set(request.question_set)
    items = select_items(questions, request.split)
    settings = settings.with_overrides(top_k=request.top_k) if request.top_k else settings
    provider = (request.provider or settings.provider).strip().lower()
    ensure_index(settings)  # built here, not inside the first question's timing
    manifest = read_manifest(settings)
    check_sources(items, manifest.documents if manifest else {})
    metrics: list[Metric] = list(METRICS) + (list(request.judge.metrics()) if request.judge else [])
    folder = new_run_dir(request.out, provider, request.split)
    try:
        runs = _answer_all(request, settings, provider, items, metrics, progress)
        config = {
            "created": started.isoformat(timespec="seconds"),
            "finished": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - clock, 1),
            "command": request.command,
            "provider": provider,
            "split": request.split,
            "question_set": {
                "path": str(request.question_set),
                "items": len(items),
                "files": [{"path": str(p), "sha256": _sha256(p)} for p in questions.files],
            },
            "settings": redact(settings.model_dump(mode="json")),
            "index": {"version": _version_name(settings), "manifest": asdict(manifest) if manifest else None},
            "baseline": naive.describe(settings) if request.baseline else None,
            "judge": request.judge.describe() if request.judge else None,
            "packages": package_versions(),
            "git": git_state(settings.home),
            "machine": machine(),
        }
        summary = _write_folder(folder, config, runs, metrics)
    except BaseException:
        # An interrupted or failed run leaves no half-written folder that `eval compare` would trip on.
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return EvalOutcome(folder, runs, summary)


def _answer_all(
    request: EvalRequest,
    settings: Settings,
    provider: str,
    items: list[EvalItem],
    metrics: list[Metric],
    progress: ProgressFactory,
) -> dict[str, RunResult]:
    """Ours (with the judge's metrics, if any), then the baseline on the same items."""
    runs: dict[str, RunResult] = {}
    with progress("ours", "question") as bar:
        runs["ours"] = run_items(items, settings, provider=provider, progress=bar, answer_fn=answer, metrics=metrics)
    if request.judge:
        for result in runs["ours"].results:
            judgments = request.judge.judgments.get(result.item.id)
            if judgments:
                result.details["judge"] = judgments
    if request.baseline:
        with progress("baseline index", "chunk") as bar:
            pipeline = naive.NaivePipeline(settings, progress=bar)
        try:
            with progress("baseline", "question") as bar:
                runs["baseline"] = run_items(items, settings, progress=bar, answer_fn=pipeline.answer)
        finally:
            pipeline.close()
    return runs


def _write_folder(folder: Path, config: dict[str, Any], runs: dict[str, RunResult], metrics: list[Metric]) -> dict:
    """config.json, the results, summary.json, report.md and report.png; returns the summary."""
    write_json(folder / "config.json", config)
    for name, run in runs.items():
        write_results(folder, name, run)
    summary = summary_document(folder, config, runs, metrics)
    write_json(folder / "summary.json", summary)
    results = {name: [r.to_dict() for r in run.results] for name, run in runs.items()}
    (folder / "report.md").write_text(render_report(config, summary, results), encoding="utf-8")
    write_chart(summary, folder / "report.png")
    return summary


def redact(data: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON with anything that looks like a credential blanked (config.json gets shared)."""
    return {k: ("***" if v and any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in data.items()}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _silent(description: str, unit: str) -> Iterator[Progress]:
    yield lambda done, total: None


def _version_name(settings: Settings) -> str | None:
    assert settings.index_dir is not None
    version = current_version(settings.index_dir)
    return version.name if version else None
