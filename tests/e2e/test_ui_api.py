"""The running app answers over its API (gradio_client, real HTTP on loopback)."""

from __future__ import annotations

import json

import pytest
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


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("[]", "", "abc"), "top_k must be a whole number from 1 to 50, not 'abc'."),
        (("[]", "", 2.5), "top_k must be a whole number from 1 to 50, not 2.5."),
        (("[]", 5, 0), "The provider must be a name such as 'extractive', not 5."),
        (("[]", ["openai"], 0), "The provider must be a name such as 'extractive', not a list."),
        (("[" * 50_000 + "]" * 50_000, "", 0), "history_json is nested too deeply to be a list of earlier turns."),
        (("{not json", "", 0), "history_json is not valid JSON"),
        (('[{"role": "user", "content": "hi"}, "x"]', "", 0), "History item 2 is 'x'"),
        (('["abc", "de"]', "", 0), "History item 1 is 'abc'"),
    ],
)
def test_api_bad_arguments_get_the_same_clear_messages(ui_server, arguments, message):
    client = Client(ui_server["url"], verbose=False)
    result = client.predict("Does OpenAI support private endpoints?", *arguments, api_name="/ask")
    assert result["status"] == "rejected" and message in result["text"]
    assert "Traceback" not in ui_server["log"].read_text()


def test_api_a_thousand_turn_history_is_answered(ui_server):
    client = Client(ui_server["url"], verbose=False)
    turns = [["Does Azure OpenAI support private endpoints?", "Yes [1]."]] + [["And OpenAI?", "No [1]."]] * 999
    result = client.predict("What about customer-managed keys?", json.dumps(turns), "", 0, api_name="/ask")
    assert result["status"] == "answered" and result["citations"]


def test_the_chat_page_gets_an_extractive_answer_in_one_update_and_a_models_as_a_stream(ui_server):
    """The extractive answer is whole in tens of ms: one update carries it (question, answer, sources),
    while a model's tokens still stream as they come."""
    client = Client(ui_server["url"], verbose=False)
    question = "Does OpenAI support private endpoints?"
    extractive = client.submit(question, "extractive", 8, api_name="/chat")
    chat = extractive.result(timeout=120)[0]
    assert len(extractive.outputs()) == 1
    assert "Private Endpoints: OpenAI no" in str(chat[-1])
    streamed = client.submit(question, "openai", 8, api_name="/chat")
    streamed.result(timeout=120)
    assert len(streamed.outputs()) > 2


@pytest.mark.parametrize(
    ("arguments", "shown"),
    [
        ((42, "extractive", 8), None),  # not a question: nothing is asked
        (("Does OpenAI support private endpoints?", 5, 8), "The provider must be a name such as"),
        (("Does OpenAI support private endpoints?", "extractive", "abc"), "must be a whole number from 1 to 50"),
        (("Does OpenAI support private endpoints?", "extractive", 8), "Private Endpoints: OpenAI no"),
    ],
)
def test_the_chat_event_checks_what_it_is_sent_itself(ui_server, arguments, shown):
    """Gradio's own processing is off for the chat event (it costs thread hand-offs per update), so the
    values a client sends reach the pipeline as sent: each still gets a clear answer, never a traceback."""
    client = Client(ui_server["url"], verbose=False)
    chat = client.predict(*arguments, api_name="/chat")[0]
    if shown is None:
        assert chat == []
    else:
        assert [m["role"] for m in chat] == ["user", "assistant"] and shown in str(chat[-1])
    assert "Traceback" not in ui_server["log"].read_text()
