"""The openai, azure and ollama providers over real HTTP, against loopback servers speaking each API.

The LangChain clients are the real ones; only the far side of the connection is ours. Every test
checks what the client sent as well as what the user gets back.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from pathlib import Path

import pytest

from azcompare import answer, stream_answer
from azcompare.answering.providers import provider_status
from loopback_servers import Behaviour, OllamaServer, OpenAIServer, ServerError, passage_number, recorded

QUESTION = "Does Azure OpenAI support private endpoints?"
KEY = "sk-loopback-0123456789abcdef"
AZURE_KEY = "azkey-0123456789abcdef0123"


def grounded_reply(body: dict) -> str:
    """What a well-behaved model answers: one claim, cited to the passage that states it."""
    n = passage_number(body, "Private Endpoints: OpenAI no")
    return f"Azure OpenAI supports private endpoints, while OpenAI does not [{n}]."


def collect(question: str, provider: str, settings, history=None):
    deltas, final = [], None
    for event in stream_answer(question, history, provider, settings=settings):
        if event.kind == "delta":
            deltas.append(event.text)
        elif event.kind == "answer":
            final = event.answer
    assert final is not None
    return deltas, final


def assert_valid_citations(a) -> None:
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", a.text)}
    assert markers and markers == {c.n for c in a.citations}
    retrieved = {h.chunk.id for h in a.hits}
    assert all(c.chunk_id in retrieved and c.snippet for c in a.citations)


def test_openai_streams_a_verified_answer_and_sends_a_chat_completions_request(kb_settings):
    with OpenAIServer(reply=grounded_reply) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        deltas, a = collect(QUESTION, "openai", settings)
    assert len(deltas) > 3  # token by token, not one block
    assert a.provider == "openai" and a.status == "answered" and a.unsupported == []
    assert a.text == "Azure OpenAI supports private endpoints, while OpenAI does not [1]."
    assert "".join(deltas).strip() == a.text
    assert_valid_citations(a)
    assert a.citations[0].source == "openai-vs-azure-openai"
    assert "Private Endpoints: OpenAI no; Azure OpenAI yes" in a.citations[0].snippet
    assert a.usage["completion_tokens"] == len(deltas) and a.usage["prompt_tokens"] > 100
    (sent,) = server.requests
    assert sent.method == "POST" and sent.path == "/v1/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    body = sent.body
    assert body["model"] == settings.openai_model and body["stream"] is True
    assert body["stream_options"] == {"include_usage": True}
    assert body["temperature"] == 0.0 and body["max_completion_tokens"] == settings.llm_max_tokens
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"].count("<passage id=") == settings.llm_passages
    assert f"</passages>\n\nQuestion: {QUESTION}\n\nAnswer from the passages only," in body["messages"][1]["content"]


def test_azure_uses_the_deployment_route_api_version_and_api_key_header(kb_settings):
    with OpenAIServer(reply=grounded_reply) as server:
        settings = kb_settings.with_overrides(
            azure_endpoint=server.url, azure_deployment="gpt4o-eu", azure_api_key=AZURE_KEY
        )
        deltas, a = collect(QUESTION, "azure", settings)
    assert len(deltas) > 3 and a.provider == "azure" and a.unsupported == []
    assert_valid_citations(a)
    (sent,) = server.requests
    assert sent.path == "/openai/deployments/gpt4o-eu/chat/completions"
    assert sent.query == {"api-version": settings.azure_api_version}
    assert sent.headers["api-key"] == AZURE_KEY and "authorization" not in sent.headers
    assert sent.body["stream"] is True and sent.body["messages"][0]["role"] == "system"


def test_azure_signs_in_with_entra_id_through_default_azure_credential(kb_settings, tmp_path, monkeypatch):
    # The Azure CLI is the credential DefaultAzureCredential asks here: a stand-in `az` prints a token.
    az = tmp_path / "bin" / "az"
    az.parent.mkdir()
    token = {"accessToken": "entra-token-for-loopback", "expires_on": int(time.time()) + 3600, "tokenType": "Bearer"}
    az.write_text(f"#!/bin/sh\necho '{json.dumps(token)}'\n")
    az.chmod(0o755)
    monkeypatch.setenv("PATH", f"{az.parent}:{__import__('os').environ['PATH']}")
    monkeypatch.setenv("AZURE_TOKEN_CREDENTIALS", "AzureCliCredential")
    with OpenAIServer(reply=grounded_reply) as server:
        settings = kb_settings.with_overrides(azure_endpoint=server.url, azure_deployment="d1", azure_entra_id=True)
        assert provider_status(settings)["azure"] is None
        _, a = collect(QUESTION, "azure", settings)
    assert a.provider == "azure", a.notices
    (sent,) = server.requests
    assert sent.headers["authorization"] == "Bearer entra-token-for-loopback" and "api-key" not in sent.headers


def test_ollama_streams_ndjson_from_api_chat(kb_settings):
    with OllamaServer(reply=grounded_reply) as server:
        settings = kb_settings.with_overrides(ollama_base_url=server.url, ollama_model="qwen2.5:1.5b")
        assert provider_status(settings)["ollama"] is None
        deltas, a = collect(QUESTION, "ollama", settings)
    assert len(deltas) > 3 and a.provider == "ollama" and a.unsupported == []
    assert a.text == "Azure OpenAI supports private endpoints, while OpenAI does not [1]."
    assert_valid_citations(a)
    assert a.usage["completion_tokens"] == len(deltas)
    chat = [r for r in server.requests if r.path == "/api/chat"]
    assert len(chat) == 1
    body = chat[0].body
    assert body["model"] == "qwen2.5:1.5b" and body.get("stream", True) is True
    assert body["options"]["num_predict"] == settings.llm_max_tokens and body["options"]["temperature"] == 0.0
    assert [m["role"] for m in body["messages"]] == ["system", "user"]


def test_ollama_is_unavailable_without_a_server_or_without_the_model(kb_settings):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = kb_settings.with_overrides(ollama_base_url=f"http://127.0.0.1:{port}")
    assert provider_status(settings)["ollama"].startswith(f"no Ollama server answers at http://127.0.0.1:{port}")
    with OllamaServer() as server:
        settings = kb_settings.with_overrides(ollama_base_url=server.url, ollama_model="llama9:70b")
        assert (
            provider_status(settings)["ollama"]
            == "the Ollama server has no model llama9:70b; run `ollama pull llama9:70b`"
        )


def test_unconfigured_providers_say_in_one_line_what_is_missing(kb_settings):
    status = provider_status(kb_settings)
    assert status["extractive"] is None
    assert status["openai"] == "set OPENAI_API_KEY"
    assert status["azure"] == (
        "set AZURE_OPENAI_ENDPOINT and AZCOMPARE_AZURE_DEPLOYMENT and "
        "AZURE_OPENAI_API_KEY (or AZCOMPARE_AZURE_ENTRA_ID=true for Microsoft Entra ID)"
    )
    partly = kb_settings.with_overrides(azure_endpoint="https://x.openai.azure.com", azure_api_key=AZURE_KEY)
    assert provider_status(partly)["azure"] == "set AZCOMPARE_AZURE_DEPLOYMENT"
    a = answer(QUESTION, provider="openai", settings=kb_settings)
    assert a.provider == "extractive" and a.citations
    assert a.notices == [
        "The openai provider is not available (set OPENAI_API_KEY); answered with the extractive provider."
    ]


@pytest.mark.parametrize("provider", ["openai", "azure"])
def test_a_rejected_key_falls_back_and_the_key_appears_nowhere(kb_settings, caplog, provider):
    secret = KEY if provider == "openai" else AZURE_KEY
    # Servers echo the key they refused; the message must reach the user without it.
    behaviour = Behaviour(status=401, error_message=f"Incorrect API key provided: {secret}. Check your key.")
    caplog.set_level(logging.DEBUG)
    with OpenAIServer(behaviour=behaviour) as server:
        settings = kb_settings.with_overrides(
            openai_api_key=KEY,
            openai_base_url=server.url + "/v1",
            azure_endpoint=server.url,
            azure_deployment="d1",
            azure_api_key=AZURE_KEY,
            llm_max_retries=0,
        )
        a = answer(QUESTION, provider=provider, settings=settings)
    assert a.provider == "extractive" and a.citations
    (notice,) = a.notices
    assert notice.startswith(f"The {provider} provider failed (") and "AuthenticationError" in notice
    assert "401" in notice and "Incorrect API key provided: ***" in notice
    everything = json.dumps(a.to_dict()) + caplog.text + repr(settings) + str(settings.model_dump())
    assert KEY not in everything and AZURE_KEY not in everything


def test_a_server_echoing_part_of_the_key_or_the_key_in_a_header_leaks_nothing(kb_settings, caplog):
    # The last characters of the key in the error message, the whole key in a response header that the
    # HTTP client logs verbatim at DEBUG level.
    behaviour = Behaviour(
        status=401, error_message=f"Key ending in {KEY[-8:]} was refused", error_headers={"X-Echo-Key": KEY}
    )
    caplog.set_level(logging.DEBUG)
    with OpenAIServer(behaviour=behaviour) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1", llm_max_retries=0)
        a = answer(QUESTION, provider="openai", settings=settings)
    assert "Key ending in *** was refused" in a.notices[0]
    assert any("X-Echo-Key" in r.getMessage() or "x-echo-key" in r.getMessage() for r in caplog.records)
    everything = json.dumps(a.to_dict()) + caplog.text + "".join(r.getMessage() for r in caplog.records)
    for start in range(len(KEY) - 5):
        assert KEY[start : start + 6] not in everything, f"a run of the key leaked: {KEY[start : start + 6]!r}"


def test_a_server_that_does_not_answer_in_time_falls_back_with_a_notice(kb_settings):
    # The server would answer after 10 s; the client gives up after 1 s and the pipeline falls back.
    with OpenAIServer(reply=grounded_reply, behaviour=Behaviour(delay_first=10)) as server:
        settings = kb_settings.with_overrides(
            openai_api_key=KEY, openai_base_url=server.url + "/v1", llm_timeout=1, llm_max_retries=0
        )
        a = answer(QUESTION, provider="openai", settings=settings)
    assert a.provider == "extractive" and a.citations
    assert a.notices[0].startswith("The openai provider failed (") and "TimeoutError" in a.notices[0]


def test_a_stream_slower_than_the_deadline_is_cut_off(kb_settings):
    slow = Behaviour(delay_each=0.4)
    with OpenAIServer(reply=recorded("word " * 40 + "[1]."), behaviour=slow) as server:
        settings = kb_settings.with_overrides(
            openai_api_key=KEY, openai_base_url=server.url + "/v1", llm_timeout=1.5, llm_max_retries=0
        )
        deltas, a = collect(QUESTION, "openai", settings)
    assert deltas  # the user saw the start of the answer before the deadline
    assert a.provider == "extractive"
    assert a.notices == [
        "The openai provider failed (TimeoutError: no complete answer within 1.5 s); "
        "answered with the extractive provider."
    ]


def test_a_stream_that_breaks_off_falls_back(kb_settings):
    with OpenAIServer(reply=grounded_reply, behaviour=Behaviour(stop_after=3)) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer(QUESTION, provider="openai", settings=settings)
    # A cut connection either raises in the client or ends an answer too short to cite anything.
    assert a.provider == "extractive" and a.citations and a.notices


def test_an_unsupported_sentence_is_flagged_in_the_answer(kb_settings):
    def reply(body: dict) -> str:
        n = passage_number(body, "Private Endpoints: OpenAI no")
        return (
            f"Azure OpenAI supports private endpoints, while OpenAI does not [{n}]. "
            f"Azure OpenAI also gives every student unlimited free GPUs [{n}]."
        )

    with OpenAIServer(reply=reply) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer(QUESTION, provider="openai", settings=settings)
    assert a.provider == "openai"
    assert a.unsupported == ["Azure OpenAI also gives every student unlimited free GPUs [1]."]
    assert any("not backed by the passages" in n for n in a.notices)
    assert a.to_dict()["unsupported"] == a.unsupported


def test_an_answer_without_a_valid_citation_is_replaced_by_the_extractive_answer(kb_settings):
    with OpenAIServer(reply=recorded("Azure OpenAI is the best choice for everyone [42].")) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer(QUESTION, provider="openai", settings=settings)
    extractive = answer(QUESTION, provider="extractive", settings=kb_settings)
    assert a.provider == "extractive" and a.text == extractive.text
    assert a.notices == [
        "Removed citation(s) [42]: the model was not given such passages.",
        "The openai model's answer had no sentence backed by a passage it cited; "
        "showing the extractive answer instead.",
    ]


def test_a_model_saying_not_covered_while_the_passages_answer_is_replaced_by_the_extractive_answer(kb_settings):
    with OpenAIServer(reply=recorded("This is not in the knowledge base.")) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer(QUESTION, provider="openai", settings=settings)
    assert not a.abstained and a.provider == "extractive" and a.citations, a.text
    assert a.text == answer(QUESTION, settings=kb_settings).text
    assert "said the knowledge base does not cover this; showing the extractive answer instead." in a.notices[-1]


def test_what_the_passages_lack_is_said_without_asking_the_model(kb_settings):
    with OpenAIServer(reply=grounded_reply) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        unknown = answer("Is the abuse monitoring team based in Redmond?", provider="openai", settings=settings)
        price = answer("What is the monthly price of provisioned throughput?", provider="openai", settings=settings)
    assert unknown.abstained and unknown.text.startswith("This is not in the knowledge base"), unknown.text
    assert not price.abstained and "a price" in price.missing and price.provider == "extractive", price.text
    assert server.requests == []


def test_weak_evidence_abstains_without_asking_the_model(kb_settings):
    with OpenAIServer(reply=grounded_reply) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer("What is the boiling point of water at sea level?", provider="openai", settings=settings)
    assert a.abstained and server.requests == []


def _condensing(rewrite: str | None):
    def reply(body: dict) -> str:
        if "standalone question" in body["messages"][0]["content"]:
            if rewrite is None:
                raise ServerError(500, "the model crashed")
            return rewrite
        return grounded_reply(body)

    return reply


def test_follow_ups_are_rewritten_by_the_model(kb_settings):
    history = [(QUESTION, "Yes: Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes [1].")]
    rewrite = "Can the OpenAI API be reached through a private endpoint?"
    with OpenAIServer(reply=_condensing(rewrite)) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer("And OpenAI?", history=history, provider="openai", settings=settings)
    assert a.standalone_question == rewrite
    condense, answering = server.requests
    assert "Last message: And OpenAI?" in condense.text() and f"User: {QUESTION}" in condense.text()
    assert condense.body["max_completion_tokens"] == 64
    assert f"Question: {rewrite}\n\n" in answering.body["messages"][1]["content"]


def test_follow_up_rewriting_falls_back_to_the_rules_when_the_model_fails(kb_settings):
    history = [(QUESTION, "Yes [1].")]
    with OpenAIServer(reply=_condensing(None)) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1", llm_max_retries=0)
        a = answer("And OpenAI?", history=history, provider="openai", settings=settings)
    assert a.standalone_question == "Does OpenAI support private endpoints?"  # the deterministic rule
    assert a.notices[0].startswith("Follow-up rewriting with openai failed (") and "500" in a.notices[0]
    assert len(server.requests) == 2  # the rewrite that failed, then the answer


@pytest.mark.parametrize("rewrite", ["What is the weather in Paris today?", "Does Azure support private endpoints?"])
def test_a_rewrite_that_drifts_off_topic_or_drops_the_service_is_not_used(kb_settings, rewrite):
    history = [(QUESTION, "Yes [1].")]
    with OpenAIServer(reply=_condensing(rewrite)) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer("And OpenAI?", history=history, provider="openai", settings=settings)
    assert a.standalone_question == "Does OpenAI support private endpoints?"  # the deterministic rule
    assert len(server.requests) == 2


def test_a_standalone_question_is_not_sent_for_rewriting(kb_settings):
    with OpenAIServer(reply=_condensing("unused?")) as server:
        settings = kb_settings.with_overrides(openai_api_key=KEY, openai_base_url=server.url + "/v1")
        a = answer(
            QUESTION, history=[("What is Azure OpenAI?", "A service [1].")], provider="openai", settings=settings
        )
    assert a.standalone_question == QUESTION and len(server.requests) == 1


def test_settings_read_the_standard_environment_variables(monkeypatch, tmp_path: Path):
    from azcompare.settings import Settings

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", AZURE_KEY)
    monkeypatch.setenv("OPENAI_API_VERSION", "2025-01-01-preview")
    monkeypatch.setenv("AZCOMPARE_AZURE_DEPLOYMENT", "gpt-4o")
    monkeypatch.setenv("AZCOMPARE_OPENAI_MODEL", "gpt-4.1-mini")
    s = Settings(home=tmp_path)
    assert s.openai_api_key.get_secret_value() == KEY and s.azure_api_key.get_secret_value() == AZURE_KEY
    assert (s.azure_endpoint, s.azure_api_version, s.azure_deployment, s.openai_model) == (
        "https://example.openai.azure.com",
        "2025-01-01-preview",
        "gpt-4o",
        "gpt-4.1-mini",
    )
    assert KEY not in repr(s) and AZURE_KEY not in str(s.model_dump())
