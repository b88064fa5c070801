"""scripts/scale_bench.py: its distractor documents, and a --quick run printing every table whole.

The benchmark's figures are not checked here (timings are no test); that it runs end to end, builds,
opens in a fresh process, answers and scores, and reports each of those per size, is.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from azcompare.types import Document
from conftest import load_script

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "scale_bench.py"
TABLES = ("Build", "Open and answer", "Quality with the distractors present", "Targets")


def _tables(text: str) -> dict[str, list[list[str]]]:
    """Each `### Title` of the output with its Markdown table's rows (header first, separator left out)."""
    tables: dict[str, list[list[str]]] = {}
    title = ""
    for line in text.splitlines():
        if line.startswith("### "):
            title = line[4:].strip()
        elif title and line.startswith("|") and not re.fullmatch(r"\|(---\|)+", line):
            tables.setdefault(title, []).append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return tables


ARTICLE = """# Azure OpenAI versus OpenAI

## Networking

Azure OpenAI supports private endpoints in East US and Sweden Central since 2023, for 250 customers.

| Feature | OpenAI | Azure OpenAI |
| --- | --- | --- |
| Private link | ❌ | ✔️ |
"""


def test_distractors_rename_the_real_names_and_figures_but_keep_the_structure():
    bench = load_script("scale_bench")
    doc = Document(id="article", title="Azure OpenAI versus OpenAI", text=ARTICLE, date=dt.date(2024, 6, 1))
    name, content = bench.distractor(doc, bench.make_universe(1), newest=dt.date(2024, 6, 1))
    body = content.split("---\n", 2)[2]

    assert name.endswith("-01-article.md")
    assert not re.search(r"\b(OpenAI|Azure|Microsoft|East US|Sweden Central)\b", body)
    assert "250" not in body  # the odd landscapes rename Microsoft and Azure too; every figure here changes
    assert [line for line in body.splitlines() if line.startswith("#")] != []
    assert body.count("|") == ARTICLE.count("|")
    assert re.search(r'^date: "(\d{4}-\d\d-\d\d)"$', content, re.MULTILINE)

    kept = bench.distractor(doc, bench.make_universe(2), newest=dt.date(2024, 6, 1))[1]
    assert "Azure" in kept and "OpenAI" not in kept.split("---\n", 2)[2]  # even ones keep the cloud's names
    assert kept != content


@pytest.mark.slow
def test_quick_run_prints_every_table_whole():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=600, cwd=ROOT
    )

    assert done.returncode == 0, done.stderr[-3000:]
    tables = _tables(done.stdout)
    assert list(tables) == list(TABLES)
    for title, (header, *rows) in tables.items():
        assert rows, title
        for row in rows:
            assert len(row) == len(header) and all(cell and cell != "n/a" for cell in row), (title, row)
    for title in TABLES[:3]:
        assert [row[0] for row in tables[title][1:]] == ["1×", "2×"]
    build = {row[0]: dict(zip(tables["Build"][0], row, strict=True)) for row in tables["Build"][1:]}
    assert build["1×"]["documents"] == "1" and build["2×"]["documents"] == "2"
    assert int(build["2×"]["passages"]) > int(build["1×"]["passages"]) > 0
    assert all(float(build[s][column]) > 0 for s in build for column in ("build texts/s", "raw encode texts/s"))
    assert [row[2] in ("yes", "**no**") for row in tables["Targets"][1:]] == [True] * 5  # 4 targets, 1 check
