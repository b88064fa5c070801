"""The running app answers over its API (gradio_client, real HTTP on loopback)."""

from __future__ import annotations

import json

from gradio_client import Client


def test_api_answer_with_citations(ui_server):
    client = Client(ui_server["url"], verbose=False)
    result = client.predict("Does OpenAI support private endpoints?", "[]", "", 0, api_name="/ask")
    assert result["status"] == "answered"
    assert "Private Endpoints: OpenAI no" in result["text"]
    assert result["citations"][0]["n"] == 1 and result["citations"][0]["date"]


def test_api_follow_up_and_bad_input(ui_server):
    client = Client(ui_server["url"], verbose=False)
    history = json.dumps([["Does Azure OpenAI support private endpoints?", "Yes [1]."]])
    follow = client.predict("And OpenAI?", history, "", 0, api_name="/ask")
    assert follow["standalone_question"] == "Does OpenAI support private endpoints?"
    empty = client.predict("   ", "[]", "", 0, api_name="/ask")
    assert empty["status"] == "rejected" and "Please type a question" in empty["text"]
