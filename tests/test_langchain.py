"""The LangChain integration with real langchain-core objects: a retriever, a runnable, LCEL pipelines."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableLambda, RunnablePassthrough

from azcompare import answer, search
from azcompare.integrations import AzcompareError
from azcompare.integrations.langchain import AzcompareRetriever, answer_chain
from conftest import ROOT, cli_env, run_async
from loopback_servers import OpenAIServer, passage_number

QUESTION = "Does Azure OpenAI support private endpoints?"
README = ROOT / "README.md"
METADATA = {
    "rank", "chunk_id", "title", "heading", "url", "date", "source", "score", "dense_score", "keyword_score", "role",
    "updates",
}  # fmt: skip


def test_the_retriever_returns_the_passages_answer_draws_from_in_rank_order(kb_settings):
    retriever = AzcompareRetriever(k=4, settings=kb_settings)
    assert isinstance(retriever, BaseRetriever)
    docs = retriever.invoke(QUESTION)
    assert all(isinstance(d, Document) for d in docs)
    assert [d.metadata["rank"] for d in docs] == list(range(1, len(docs) + 1))
    assert len([d for d in docs if d.metadata["role"] == "match"]) == 4
    assert all(set(d.metadata) == METADATA for d in docs)
    # The same retrieval as answer(): its hits are these passages, in this order (the ranked ones, then the
    # passages it may quote only in support, Hit.support, and the newer ones linked to them, Hit.via_link).
    result = answer(QUESTION, settings=kb_settings, top_k=4)
    assert [d.id for d in docs] == [h.chunk.id for h in result.hits]
    assert [d.page_content for d in docs] == [h.chunk.text for h in result.hits]
    cited = {c.chunk_id for c in result.citations}
    assert cited and cited <= {d.metadata["chunk_id"] for d in docs}
    top = docs[0].metadata
    assert top["url"].startswith("http") or top["source"].startswith("openai-vs-azure")
    assert top["date"] and top["title"] and top["dense_score"] is not None


def test_the_retriever_works_async_and_in_batches_with_its_fields(kb_settings):
    retriever = AzcompareRetriever(k=2, max_per_doc=1, settings=kb_settings)
    sync = retriever.invoke(QUESTION)
    assert len({d.metadata["source"] for d in sync}) == 2  # max_per_doc=1: two documents
    asynchronous = run_async(retriever.ainvoke, QUESTION)
    assert [d.id for d in asynchronous] == [d.id for d in sync]
    batch = retriever.batch([QUESTION, "What content filtering does Azure OpenAI apply?"])
    assert [d.id for d in batch[0]] == [d.id for d in sync]
    assert [d.id for d in batch[1]] != [d.id for d in sync]


def test_a_users_own_lcel_chain_over_the_retriever(kb_settings):
    retriever = AzcompareRetriever(k=3, settings=kb_settings)

    def cite(docs: list[Document]) -> str:
        return "\n".join(f"[{d.metadata['rank']}] {d.metadata['title']} ({d.metadata['date']})" for d in docs)

    chain = {"sources": retriever | cite, "question": RunnablePassthrough()} | RunnableLambda(
        lambda x: f"Q: {x['question']}\n{x['sources']}"
    )
    out = chain.invoke(QUESTION)
    # The three best matches, then the passages they bring (the keyword match, a newer page on an older match).
    assert out.startswith(f"Q: {QUESTION}\n[1] ") and out.count("\n[") == len(retriever.invoke(QUESTION)) > 3


def test_answer_chain_gives_the_answer_of_answer_as_a_dict(kb_settings):
    chain = answer_chain(settings=kb_settings)
    assert isinstance(chain, Runnable)
    expected = answer(QUESTION, settings=kb_settings)
    got = chain.invoke(QUESTION)
    assert got["text"] == expected.text and got["status"] == "answered"
    assert [c["url"] for c in got["citations"]] == [c.url for c in expected.citations]
    assert got["citations"][0]["date"]
    off_topic = chain.invoke({"question": "How do I bake sourdough bread?"})
    assert off_topic["abstained"] and off_topic["citations"] == []


def test_answer_chain_follow_ups_take_history_as_pairs_or_langchain_messages(kb_settings):
    chain = answer_chain(settings=kb_settings)
    first = chain.invoke(QUESTION)
    pairs = chain.invoke({"question": "And OpenAI?", "history": [[QUESTION, first["text"]]]})
    messages = chain.invoke({"question": "And OpenAI?", "history": [HumanMessage(QUESTION), AIMessage(first["text"])]})
    assert "private endpoints" in pairs["standalone_question"].lower()
    assert messages["standalone_question"] == pairs["standalone_question"]
    assert messages["text"] == pairs["text"]


def test_answer_chain_composes_streams_and_batches(kb_settings):
    chain = (
        RunnableLambda(lambda d: d["ask"])
        | answer_chain(settings=kb_settings)
        | RunnableLambda(lambda a: [c["n"] for c in a["citations"]])
    )
    assert chain.invoke({"ask": QUESTION})[0] == 1

    expected = answer(QUESTION, settings=kb_settings).text
    streamed = list(answer_chain(settings=kb_settings).stream(QUESTION))
    assert streamed and "".join(streamed).strip() == expected  # the final text is the stream, trimmed

    async def collect() -> tuple[list[str], dict]:
        pieces = [p async for p in answer_chain(settings=kb_settings).astream(QUESTION)]
        return pieces, await answer_chain(settings=kb_settings).ainvoke(QUESTION)

    pieces, result = run_async(collect)
    assert "".join(pieces).strip() == expected == result["text"]
    both = answer_chain(settings=kb_settings).batch([QUESTION, "How do I bake sourdough bread?"])
    assert [r["status"] for r in both] == ["answered", "abstained"]


def _reply(body: dict) -> str:
    n = passage_number(body, "Private Endpoints: OpenAI no")
    return f"Azure OpenAI supports private endpoints, while OpenAI does not [{n}]."


def test_the_provider_field_picks_the_answerer_and_stream_yields_its_pieces(kb_settings):
    with OpenAIServer(reply=_reply) as server:
        settings = kb_settings.with_overrides(openai_api_key="sk-test-0000", openai_base_url=server.url + "/v1")
        chain = answer_chain(provider="openai", settings=settings)
        pieces = list(chain.stream(QUESTION))
        final = chain.invoke(QUESTION)
    assert len(pieces) > 3, pieces  # token by token, as the model sent them
    assert "".join(pieces).strip() == final["text"]
    assert final["provider"] == "openai" and final["citations"][0]["title"]


@pytest.mark.parametrize(
    ("question", "kwargs"),
    [
        ("", {}),
        (42, {}),
        ("x" * 5000, {}),
        ({"question": QUESTION, "history": "not a list"}, {}),
        (QUESTION, {"provider": "gpt-17"}),
    ],
)
def test_refusals_raise_azcompare_error_with_the_message_of_answer(kb_settings, question, kwargs):
    q, history = (question["question"], question["history"]) if isinstance(question, dict) else (question, None)
    expected = answer(q, history, settings=kb_settings, **kwargs)  # type: ignore[arg-type]
    assert expected.status == "rejected"
    with pytest.raises(AzcompareError) as error:
        answer_chain(settings=kb_settings, **kwargs).invoke(question)
    assert str(error.value) == expected.text and error.value.answer["status"] == "rejected"
    with pytest.raises(AzcompareError) as streamed:
        list(answer_chain(settings=kb_settings, **kwargs).stream(question))
    assert str(streamed.value) == expected.text
    if not kwargs and not isinstance(question, dict):
        with pytest.raises(AzcompareError) as retrieved:
            AzcompareRetriever(settings=kb_settings).invoke(question)
        assert str(retrieved.value) == expected.text == search(q, settings=kb_settings).error


def test_bad_fields_are_refused_when_the_object_is_made(kb_settings):
    expected = answer(QUESTION, settings=kb_settings, top_k=0).text
    for make in (lambda: AzcompareRetriever(k=0), lambda: answer_chain(k=0)):
        with pytest.raises(AzcompareError) as error:
            make()
        assert str(error.value) == expected
    with pytest.raises(AzcompareError, match="must be a name such as 'extractive', not 5"):
        answer_chain(provider=5)  # type: ignore[arg-type]
    with pytest.raises(AzcompareError, match="settings must be an azcompare Settings object"):
        AzcompareRetriever(settings={"top_k": 3})
    with pytest.raises(AzcompareError, match="max_per_doc"):
        AzcompareRetriever(max_per_doc=-1, settings=kb_settings)


def test_a_busy_index_is_the_same_message_everywhere(busy_settings):
    expected = answer(QUESTION, settings=busy_settings).text
    assert expected.startswith("The knowledge base is not available: the index is being built by another process")
    assert search(QUESTION, settings=busy_settings).error == expected
    with pytest.raises(AzcompareError) as retrieved:
        run_async(AzcompareRetriever(settings=busy_settings).ainvoke, QUESTION)
    assert str(retrieved.value) == expected
    with pytest.raises(AzcompareError) as answered:
        answer_chain(settings=busy_settings).invoke(QUESTION)
    assert str(answered.value) == expected


def readme_blocks(language: str, containing: str) -> list[str]:
    """The README's code blocks in `language` that contain `containing`, as written."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    return [b for b in blocks if containing in b]


def test_the_readme_langchain_example_runs_as_written(kb_settings, monkeypatch, capsys):
    (code,) = readme_blocks("python", "AzcompareRetriever(k=4)")
    for name, value in cli_env(kb_settings).items():
        if name.startswith("AZCOMPARE_"):
            monkeypatch.setenv(name, value)
    with OpenAIServer(reply=lambda body: "Azure OpenAI supports private endpoints [1].") as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test-0000")
        monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")  # the chat model's cloud endpoint, on loopback
        exec(compile(code, "README.md", "exec"), {"__name__": "readme_example"})
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "Azure OpenAI supports private endpoints [1]."
    top = AzcompareRetriever(k=4, settings=kb_settings).invoke("Does Azure OpenAI support private endpoints?")[0]
    prompt = server.requests[-1].text()
    assert f"[1] {top.metadata['title']} ({top.metadata['date']}): {top.page_content}" in prompt
    expected = answer("Does OpenAI support private endpoints?", settings=kb_settings)
    first = expected.citations[0]
    assert printed[-1] == f"{first.title} {first.date} {first.url}"
