"""LangChain: a retriever over the knowledge base and a runnable that answers with citations.

    from azcompare.integrations.langchain import AzcompareRetriever, answer_chain

`AzcompareRetriever` returns the passages `azcompare.search()` finds, as LangChain Documents, for a
chain that writes its own answer. `answer_chain()` is the whole answerer as a Runnable: it calls
`stream_answer()`, so its citations, abstention and dates are those of `answer()`. Every refusal
(a bad argument, an unknown provider, an unusable index) raises AzcompareError with `answer()`'s message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig, RunnableSerializable
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, ValidationError, model_validator

from azcompare.answering.inputs import QuestionError, check_provider, check_top_k
from azcompare.answering.pipeline import stream_answer
from azcompare.answering.search import Passage, search
from azcompare.integrations.errors import AzcompareError
from azcompare.settings import Settings

__all__ = ["AnswerChain", "AzcompareError", "AzcompareRetriever", "answer_chain"]

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


class AzcompareRetriever(BaseRetriever):
    """The knowledge base's passages for a query, best first, as LangChain Documents.

    Each Document's `page_content` is the passage; its metadata holds title, url, heading, date,
    source, chunk_id, rank, score, dense_score, keyword_score, role and updates. Beside the `k` best
    matches come the passages `search()` brings with them, in its order (role "keyword", or "newer": a newer
    source on the point of the older match `updates` names). Fields: `k` passages (1–50; default the settings'
    top_k), `candidates` per retriever before fusion and `max_per_doc` (0: no cap), both defaulting to
    the settings; `settings` (default: from the environment). Raises AzcompareError.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    # Typed Any and checked below, so that a wrong value gets answer()'s message, not pydantic's.
    k: Any = None
    candidates: Any = None
    max_per_doc: Any = None
    settings: Any = None

    @model_validator(mode="after")
    def _check(self) -> AzcompareRetriever:
        _check_fields(self.k, self.settings)
        self._resolved()
        return self

    def _resolved(self) -> Settings:
        try:
            base = self.settings or Settings()
            return base.with_overrides(candidates=self.candidates, max_per_doc=self.max_per_doc)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise AzcompareError(f"Invalid retrieval setting ({problems}).") from None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = search(query, self.k, settings=self._resolved())
        if not result.ok:
            raise AzcompareError(result.error)
        return [_document(p) for p in result.passages]


def _document(passage: Passage) -> Document:
    metadata = passage.to_dict()
    del metadata["text"]
    return Document(page_content=passage.text, metadata=metadata, id=passage.chunk_id)


class AnswerChain(RunnableSerializable[Any, dict[str, Any]]):
    """Answers a question (a string, or {"question": ..., "history": [...]}) with numbered citations.

    `invoke` returns `Answer.to_dict()` (text, citations with title, url, heading and date, abstained,
    status, notices, …); `stream` yields the answer's text as it is written (so in a streamed pipeline
    the next step receives text; `invoke` it for the citations). History items may be
    [question, answer] pairs, {"role", "content"} messages or LangChain messages. Fields: `provider`
    (default: the settings'), `k` passages, `settings`. A refused question raises AzcompareError.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    provider: Any = None
    k: Any = None
    settings: Any = None

    @model_validator(mode="after")
    def _check(self) -> AnswerChain:
        _check_fields(self.k, self.settings)
        try:
            if self.provider is not None:
                check_provider(self.provider, "")
        except QuestionError as exc:
            raise AzcompareError(str(exc)) from None
        return self

    def invoke(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> dict[str, Any]:
        return self._call_with_config(self._answer, input, config, run_type="chain")

    def stream(self, input: Any, config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[str]:  # type: ignore[override]
        yield from self.transform(iter([input]), config, **kwargs)

    def transform(self, input: Iterator[Any], config: RunnableConfig | None = None, **kwargs: Any) -> Iterator[str]:  # type: ignore[override]
        yield from self._transform_stream_with_config(input, self._pieces, config, run_type="chain")

    async def astream(  # type: ignore[override]
        self, input: Any, config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        async def one() -> AsyncIterator[Any]:
            yield input

        async for piece in self.atransform(one(), config, **kwargs):
            yield piece

    async def atransform(  # type: ignore[override]
        self, input: AsyncIterator[Any], config: RunnableConfig | None = None, **kwargs: Any
    ) -> AsyncIterator[str]:
        async for piece in self._atransform_stream_with_config(input, self._apieces, config, run_type="chain"):
            yield piece

    def _events(self, value: Any) -> Iterator[Any]:
        question, history = _question_and_history(value)
        return stream_answer(question, history, self.provider, settings=self.settings, top_k=self.k)

    def _answer(self, value: Any) -> dict[str, Any]:
        for event in self._events(value):
            if event.answer is not None:
                return _accepted(event.answer)
        raise AssertionError("stream_answer ended without an answer")  # pragma: no cover

    def _pieces(self, inputs: Iterator[Any]) -> Iterator[str]:
        """The text pieces as the provider writes them; what the final text adds to them comes last."""
        streamed = ""
        for event in self._events(_combined(inputs)):
            if event.kind == "delta" and event.text:
                streamed += event.text
                yield event.text
            elif event.answer is not None:
                final = _accepted(event.answer)["text"]
                # The final text is authoritative; a provider that revised what it streamed cannot take it back.
                if final.startswith(streamed) and len(final) > len(streamed):
                    yield final[len(streamed) :]

    async def _apieces(self, inputs: AsyncIterator[Any]) -> AsyncIterator[str]:
        """`_pieces` off the event loop: each step of the answer runs in a worker thread."""
        values = [value async for value in inputs]
        pieces = self._pieces(iter(values))
        done = object()
        while (piece := await run_in_executor(None, next, pieces, done)) is not done:
            yield piece  # type: ignore[misc]


def answer_chain(provider: str | None = None, *, k: int | None = None, settings: Settings | None = None) -> AnswerChain:
    """The azcompare answerer as a LangChain Runnable (see AnswerChain); raises AzcompareError for bad arguments."""
    return AnswerChain(provider=provider, k=k, settings=settings)


def _check_fields(k: object, settings: object) -> None:
    if settings is not None and not isinstance(settings, Settings):
        raise AzcompareError("settings must be an azcompare Settings object.")
    try:
        check_top_k(k)
    except QuestionError as exc:
        raise AzcompareError(str(exc)) from None


def _accepted(answer: Any) -> dict[str, Any]:
    """The Answer as a dict, or AzcompareError with its message when the question was refused."""
    data = answer.to_dict()
    if answer.status == "rejected":
        raise AzcompareError(answer.text, data)
    return data


def _combined(inputs: Iterator[Any]) -> Any:
    """One input from a stream of input chunks (strings are joined; otherwise the last chunk counts)."""
    value: Any = None
    for chunk in inputs:
        value = value + chunk if isinstance(value, str) and isinstance(chunk, str) else chunk
    return value


def _question_and_history(value: Any) -> tuple[Any, Any]:
    """The question and history of a chain input; answer() judges both, so a bad one gets its message."""
    if isinstance(value, Mapping):
        history = value.get("history")
        if isinstance(history, list | tuple):
            history = [_message(m) for m in history]
        return value.get("question"), history
    return value, None


def _message(item: Any) -> Any:
    if isinstance(item, BaseMessage):
        return {"role": _ROLES.get(item.type, item.type), "content": item.text}
    return item
