"""`azcompare eval` end to end in a subprocess: run folders, the baseline, the judge, the gate, compare."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from azcompare import build_index
from conftest import write
from loopback_servers import OpenAIServer, scripted

QUESTIONS = """
version: 1
items:
  - id: t-1
    kind: fact
    split: dev
    question: "Does Alpha support private endpoints?"
    expected_facts: [["private endpoints in every region"]]
    expected_sources: [alpha]
  - id: t-2
    kind: fact
    split: heldout
    question: "How many resources does Gamma allow per region?"
    expected_facts: [["30 resources per region"]]
    expected_sources: [gamma]
  - id: t-3
    kind: followup
    split: heldout
    history: [["Does Alpha support private endpoints?", "Alpha supports private endpoints in every region [1]."]]
    question: "And which keys does Beta encrypt data with?"
    expected_facts: [["customer-managed keys"]]
    expected_sources: [beta]
"""


@pytest.fixture(scope="module")
def small_kb(tmp_path_factory):
    """A built index of three tiny documents, and the environment that points the CLI at it."""
    root = tmp_path_factory.mktemp("evalcli")
    corpus = root / "corpus"
    write(corpus / "alpha.md", "# Alpha\n\n## Networking\n\nAlpha supports private endpoints in every region.\n")
    write(corpus / "beta.md", "# Beta\n\n## Keys\n\nBeta encrypts data with customer-managed keys.\n")
    write(corpus / "gamma.md", "# Gamma\n\n## Limits\n\nGamma allows 30 resources per region.\n")
    sources = write(root / "sources.toml", '[[document]]\nfile = "alpha.md"\ndate = 2024-01-02\n')
    env = {
        "AZCOMPARE_HOME": str(root),
        "AZCOMPARE_CORPUS_DIRS": str(corpus),
        "AZCOMPARE_SOURCES_FILE": str(sources),
        "AZCOMPARE_CACHE_DIR": str(root / "cache"),
        "AZCOMPARE_INDEX_DIR": str(root / "index"),
    }
    from azcompare import Settings

    build_index(Settings(**{k.removeprefix("AZCOMPARE_").lower(): v for k, v in env.items()}))
    write(root / "q.yaml", QUESTIONS)
    return root, env


def cli(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AZCOMPARE_", "OPENAI_"))}
    return subprocess.run(
        [sys.executable, "-m", "azcompare.cli", *args],
        env={**clean, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def only_run(folder: Path) -> Path:
    (run,) = [p for p in folder.iterdir() if p.is_dir()]
    return run


def test_eval_writes_a_reproducible_run_folder_with_the_baseline_beside_ours(small_kb):
    root, env = small_kb
    done = cli(env, "eval", "q.yaml", "--out", "runs-a", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "ours: 100%" in done.stderr and "baseline: 100%" in done.stderr
    run = only_run(root / "runs-a")
    assert run.name.endswith("-extractive")
    assert {p.name for p in run.iterdir()} == {
        "config.json", "results.jsonl", "baseline-results.jsonl", "summary.json", "report.md", "report.png",
    }  # fmt: skip
    config = json.loads((run / "config.json").read_text())
    assert config["command"] == "azcompare eval q.yaml --out runs-a"
    assert config["settings"]["top_k"] == 8 and config["settings"]["abstain_threshold"] == 0.4
    assert set(config["index"]["manifest"]["documents"]) == {"alpha", "beta", "gamma"}
    assert config["packages"]["chromadb"] and config["packages"]["torch"].startswith("2.13.0")
    assert set(config["git"]) == {"commit", "branch", "dirty"} and config["machine"]["python"]
    assert [f["path"] for f in config["question_set"]["files"]] == ["q.yaml"]
    assert len(config["question_set"]["files"][0]["sha256"]) == 64
    assert config["baseline"]["retrieval"] == "dense only, top 4"

    lines = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in lines] == ["t-1", "t-2", "t-3"]
    first = lines[0]
    assert first["answer"]["citations"] and first["answer"]["hits"] and first["answer"]["timings"]["total_ms"] > 0
    assert first["metrics"]["fact_recall"] == 1.0 and first["metrics"]["hit@5"] == 1.0
    assert lines[2]["answer"]["standalone_question"] != lines[2]["question"]  # the history was used
    baseline = [json.loads(line) for line in (run / "baseline-results.jsonl").read_text().splitlines()]
    assert {r["answer"]["provider"] for r in baseline} == {"baseline"}

    summary = json.loads((run / "summary.json").read_text())
    assert set(summary["pipelines"]) == {"ours", "baseline"}
    ours = summary["pipelines"]["ours"]
    assert ours["counts"]["by_split"] == {"dev": 1, "heldout": 2} and set(ours["by_split"]) == {"dev", "heldout"}
    assert ours["latency_ms"]["total_ms"]["p95"] >= ours["latency_ms"]["total_ms"]["p50"] > 0
    assert ours["overall"]["fact_recall"] == pytest.approx(sum(r["metrics"]["fact_recall"] for r in lines) / 3)

    report = (run / "report.md").read_text()
    assert "| metric | ours | baseline | ours − baseline |" in report
    assert "## Ours: per question kind" in report and "## Baseline: per question kind" in report
    assert "## Worst questions" in report and "![Metrics per question kind](report.png)" in report
    assert (run / "report.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "baseline" in done.stdout.splitlines()[1] and f"run folder: runs-a/{run.name}" in done.stdout


def test_judge_gate_and_compare(small_kb):
    root, env = small_kb
    gate = write(root / "strict.toml", '[extractive]\n[extractive.metrics."fact_recall"]\nmin = 1.01\n')
    with OpenAIServer(scripted(default='{"score": 4, "reason": "fine"}')) as stub:
        judge_env = {**env, "OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": stub.url + "/v1"}
        args = ["eval", "q.yaml", "--split", "heldout", "--top-k", "2", "--no-baseline", "--out", "runs-b"]
        done = cli(judge_env, *args, "--judge", "openai", "--judge-repeats", "2", "--thresholds", str(gate), cwd=root)
    assert done.returncode == 1, done.stderr  # the run is written, then the gate fails it
    assert "✗" in done.stdout and "fact_recall" in done.stdout and "≥ 1.01" in done.stdout
    assert len(stub.requests) == 2 * 2 * 2  # two answered questions × two aspects × two repeats
    run_b = only_run(root / "runs-b")
    summary = json.loads((run_b / "summary.json").read_text())
    assert summary["pipelines"]["ours"]["overall"]["judge_groundedness"] == 4.0
    assert json.loads((run_b / "config.json").read_text())["judge"]["calls"] == 8
    assert "## LLM judge" in (run_b / "report.md").read_text()
    assert "sk-test" not in (run_b / "config.json").read_text()

    if not (root / "runs-a").exists():  # the first test makes runs-a; run alone, make one here
        assert cli(env, "eval", "q.yaml", "--no-baseline", "--out", "runs-a", cwd=root).returncode == 0
    compared = cli(env, "eval", "compare", str(only_run(root / "runs-a")), str(run_b), cwd=root)
    assert compared.returncode == 0, compared.stderr
    out = compared.stdout
    assert "setting top_k: 8 → 2" in out and "split: None → heldout" in out
    assert "ours: metric" in out and "fact_recall" in out and "only in A: t-1" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["eval", "compare", "runs-none", "runs-none2"], "error: runs-none: no such run folder"),
        (["eval", "q.yaml", "--split", "test"], "no items in split 'test' (splits: dev, heldout)"),
        (["eval", "missing.yaml"], "error: missing.yaml: no such question set file"),
        (["eval", "bad-source.yaml", "--no-baseline"], "item 't-9': field 'expected_sources' names 'delta'"),
        (
            ["eval", "q.yaml", "--judge", "openai"],
            "error: the judge provider 'openai' is not available: set OPENAI_API_KEY",
        ),
    ],
)
def test_bad_input_is_one_line_not_a_traceback(small_kb, args, message):
    root, env = small_kb
    write(root / "bad-source.yaml", "items:\n  - {id: t-9, kind: fact, question: 'x?', expected_sources: [delta]}\n")
    done = cli(env, *args, cwd=root)
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_the_evaluation_package_does_not_import_the_command_line_that_mounts_it():
    # cli.py mounts evaluation/cli.py; the reverse import would make a circle (evaluation sits below cli).
    folder = Path(__file__).parents[1] / "src/azcompare/evaluation"
    modules = sorted(p.stem for p in folder.glob("*.py") if p.stem != "__init__")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module('azcompare.evaluation.' + m)\n"
        "print('azcompare.cli' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
