"""The LLM judge over real HTTP: ChatOpenAI against a loopback server speaking chat completions."""

from __future__ import annotations

import pytest
from langchain_openai import ChatOpenAI

from azcompare.answering import providers
from azcompare.evaluation.judge import LLMJudge, judge_chat_model, parse_score
from azcompare.evaluation.runs import EvaluationError
from azcompare.settings import Settings
from evalkit import answer, cite, hit, item
from loopback_servers import OpenAIServer, scripted

PASSAGE = "Azure OpenAI encrypts data at rest with FIPS 140-2 compliant 256-bit AES encryption."


def chat(stub: OpenAIServer) -> ChatOpenAI:
    return ChatOpenAI(model="judge-test", base_url=stub.url + "/v1", api_key="test-key", max_retries=0, timeout=10)


def answered():
    h = hit("azure-openai-encrypt-data-at-rest", 1, text=PASSAGE)
    return answer("Data at rest uses 256-bit AES [1].", [h], [cite(1, h, PASSAGE)])


def test_groundedness_averages_repeated_judgments_and_sends_the_passages():
    with OpenAIServer(scripted(['{"score": 5, "reason": "ok"}', '{"score": 3}', "Score: 4"])) as stub:
        judge = LLMJudge(chat(stub), repeats=3)
        score = judge.groundedness(item(item_id="q9"), answered())
    assert score == 4.0
    assert len(stub.requests) == 3 and judge.calls == 3 and judge.failures == 0
    sent = stub.requests[0].body
    assert sent["model"] == "judge-test"
    assert sent["messages"][0]["role"] == "system" and "never instructions" in sent["messages"][0]["content"]
    assert (
        PASSAGE in sent["messages"][1]["content"]
        and "Data at rest uses 256-bit AES [1]." in sent["messages"][1]["content"]
    )
    assert stub.requests[0].headers["authorization"] == "Bearer test-key"
    assert judge.judgments == {"q9": {"groundedness": [5, 3, 4]}}


def test_relevance_sends_the_question_and_the_answer():
    with OpenAIServer(scripted(['{"score": 2}'])) as stub:
        judge = LLMJudge(chat(stub), repeats=1)
        result = answered()
        result.standalone_question = "How is Azure OpenAI data encrypted at rest?"
        assert judge.relevance(item(), result) == 2.0
    prompt = stub.requests[0].body["messages"][1]["content"]
    assert "How is Azure OpenAI data encrypted at rest?" in prompt and "RELEVANCE" in prompt


def test_failed_and_unparseable_judgments_are_counted_and_left_out():
    with OpenAIServer(scripted([500, "I cannot rate this.", '{"score": 2}'])) as stub:
        judge = LLMJudge(chat(stub), repeats=3)
        assert judge.groundedness(item(), answered()) == 2.0
    assert judge.calls == 3 and judge.failures == 2
    assert any("500" in e for e in judge.errors)
    assert any("unparseable" in e for e in judge.errors)
    with OpenAIServer(scripted([503, 503])) as stub:
        judge = LLMJudge(chat(stub), repeats=2)
        assert judge.relevance(item(), answered()) is None  # no judgment: no score, not a zero
    assert judge.describe()["failed_calls"] == 2


def test_abstentions_are_not_judged():
    with OpenAIServer(scripted()) as stub:
        judge = LLMJudge(chat(stub), repeats=2)
        abstained = answer("This is not in the knowledge base.", abstained=True)
        assert judge.groundedness(item(), abstained) is None and judge.relevance(item(), abstained) is None
    assert stub.requests == []


@pytest.mark.parametrize(
    ("reply", "score"),
    [
        ('{"score": 4, "reason": "fine"}', 4),
        ('```json\n{"score": 1, "reason": "bad"}\n```', 1),
        ("Score: 5/5", 5),
        ("I would give it a 3.", 3),
        ('{"score": 7}', None),
        ("no idea", None),
        ("3.5", None),
    ],
)
def test_parse_score(reply, score):
    assert parse_score(reply) == score


def test_the_openai_provider_judges_with_the_openai_environment(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(EvaluationError, match="not available: set OPENAI_API_KEY"):
        judge_chat_model("openai", Settings())
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with OpenAIServer(scripted(['{"score": 5}'])) as stub:
        monkeypatch.setenv("OPENAI_BASE_URL", stub.url + "/v1")
        model, label = judge_chat_model("openai", Settings(), model="judge-mini")
        assert LLMJudge(model, repeats=1).relevance(item(), answered()) == 5.0
    assert stub.requests[0].body["model"] == "judge-mini"
    assert label == "openai provider, model judge-mini" and "sk-test" not in label


def test_a_generative_provider_with_a_chat_model_can_judge():
    class StubProvider:
        name = "judge-stub"
        description = "test provider offering a chat model"

        def __init__(self, url: str) -> None:
            self.url = url

        def unavailable_reason(self, settings):
            return None

        def chat_model(self, settings):
            return ChatOpenAI(model="provider-model", base_url=self.url, api_key="k", max_retries=0)

        def generate(self, *args):  # pragma: no cover - not used by the judge
            raise NotImplementedError

    with OpenAIServer(scripted(['{"score": 4}'])) as stub:
        providers.register(StubProvider(stub.url + "/v1"))
        try:
            model, label = judge_chat_model("judge-stub", Settings())
            assert LLMJudge(model, repeats=1).relevance(item(), answered()) == 4.0
        finally:
            providers._PROVIDERS.pop("judge-stub")  # the registry is process-wide: leave it as found
    assert label == "judge-stub provider" and stub.requests[0].body["model"] == "provider-model"


def test_unknown_judge_is_a_clear_error():
    with pytest.raises(EvaluationError, match="no judge model named 'gpt-17'"):
        judge_chat_model("gpt-17", Settings())
    with pytest.raises(EvaluationError, match="no judge model named 'extractive'"):
        judge_chat_model("extractive", Settings())  # a provider without a chat model cannot judge
