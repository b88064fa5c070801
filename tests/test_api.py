"""The public Python API and the CLI: stable shapes, clear messages for bad input."""

from __future__ import annotations

import json
import subprocess

import pytest

import azcompare
from azcompare import Answer, Citation, Hit, answer
from conftest import run_cli

ANSWER_KEYS = {
    "question",
    "standalone_question",
    "text",
    "abstained",
    "status",
    "provider",
    "citations",
    "hits",
    "timings",
    "notices",
    "strength",
    "unsupported",
    "usage",
    "missing",
    "links",
    "fallback",
}
CITATION_KEYS = {"n", "title", "url", "source", "heading", "snippet", "date", "passage", "chunk_id", "spans"}
HIT_KEYS = set(
    "rank chunk_id source title heading kind score dense_score bm25_score date url text via_link support".split()
)


def test_public_names():
    assert {"answer", "Answer", "Citation", "Hit", "build_index", "Settings"} <= set(azcompare.__all__)


def test_answer_fields_and_json_shape(kb_settings):
    result = answer("Does OpenAI support private endpoints?", settings=kb_settings)
    assert isinstance(result, Answer)
    assert result.standalone_question == "Does OpenAI support private endpoints?"
    assert all(isinstance(c, Citation) for c in result.citations)
    assert all(isinstance(h, Hit) for h in result.hits)
    assert [h.rank for h in result.hits] == list(range(1, len(result.hits) + 1))
    assert result.timings["total_ms"] >= result.timings["embed_ms"] > 0
    data = json.loads(json.dumps(result.to_dict()))
    assert set(data) == ANSWER_KEYS
    assert set(data["citations"][0]) == CITATION_KEYS
    assert set(data["hits"][0]) == HIT_KEYS
    assert data["citations"][0]["n"] == 1 and data["citations"][0]["date"]


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "Please type a question"),
        ("   \n\t ", "Please type a question"),
        (None, "Please type a question"),
        (42, "must be text"),
        ("x" * 100_000, "100,000 characters"),
        ("\x00\x01\x02", "Please type a question in words"),
        ("<script></script>", "Please type a question in words"),
    ],
)
def test_bad_input_gets_a_message_not_a_traceback(kb_settings, question, message):
    result = answer(question, settings=kb_settings)  # type: ignore[arg-type]
    assert result.status == "rejected" and not result.abstained
    assert message in result.text
    assert result.citations == [] and result.hits == []


def test_control_characters_and_html_are_stripped_and_answered(kb_settings):
    result = answer(
        "Does <b>OpenAI</b>\x00 support\u200b private endpoints?<script>alert(1)</script>", settings=kb_settings
    )
    assert result.status == "answered"
    assert result.standalone_question == "Does OpenAI support private endpoints?"


def test_unknown_provider_is_a_clear_message(kb_settings):
    result = answer("Does OpenAI support private endpoints?", provider="gpt-17", settings=kb_settings)
    assert result.status == "rejected" and "Unknown provider 'gpt-17'" in result.text


def test_a_bad_earlier_question_is_left_out_but_a_bad_shape_is_reported(kb_settings):
    history = [("", ""), ("x" * 5000, ""), ("Does Azure OpenAI support private endpoints?", None)]
    result = answer("And OpenAI?", history=history, settings=kb_settings)
    assert result.standalone_question == "Does OpenAI support private endpoints?"
    shapeless = answer("And OpenAI?", history=[("",), None], settings=kb_settings)  # type: ignore[list-item]
    assert shapeless.status == "rejected" and shapeless.text.startswith("History item 1 is a tuple")


def _cli(kb_settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_cli(kb_settings, *args, **env)


def test_cli_ask_json_matches_the_api(kb_settings):
    cli = _cli(kb_settings, "ask", "Does OpenAI support private endpoints?", "--json")
    assert cli.returncode == 0, cli.stderr
    data = json.loads(cli.stdout)
    assert set(data) == ANSWER_KEYS
    api = answer("Does OpenAI support private endpoints?", settings=kb_settings).to_dict()
    assert data["text"] == api["text"]
    assert [c["chunk_id"] for c in data["citations"]] == [c["chunk_id"] for c in api["citations"]]


def test_cli_ask_prints_text_and_sources(kb_settings):
    cli = _cli(kb_settings, "ask", "Does OpenAI support private endpoints?")
    assert cli.returncode == 0, cli.stderr
    assert "Private Endpoints: OpenAI no" in cli.stdout
    assert "\n[1] " in cli.stdout


def test_cli_bad_input_and_bad_settings_are_one_line_errors(kb_settings):
    empty = _cli(kb_settings, "ask", "   ")
    assert empty.returncode == 2 and "Please type a question" in empty.stdout
    assert "Traceback" not in empty.stderr
    bad = _cli(kb_settings, "ask", "hi", AZCOMPARE_TOP_K="many")
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: invalid settings: AZCOMPARE_TOP_K")
    assert "Traceback" not in bad.stderr


def test_cli_index_is_incremental_and_reports(kb_settings):
    cli = _cli(kb_settings, "index", AZCOMPARE_MIRROR_DIR=str(kb_settings.mirror_dir))
    assert cli.returncode == 0, cli.stderr
    assert "up to date" in cli.stdout and "embedded 0 of" in cli.stdout


def test_cli_sources_lists_pages(kb_settings):
    cli = _cli(kb_settings, "sources")
    assert cli.returncode == 0, cli.stderr
    assert "synced   What is Azure OpenAI?" in cli.stdout
    assert "missing  OpenAI vs Azure OpenAI" in cli.stdout
