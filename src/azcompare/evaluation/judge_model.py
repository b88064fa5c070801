"""Which chat model judges a run: `azcompare eval ... --judge NAME`.

NAME is a registered answer provider that offers a LangChain chat model (a `chat_model(settings)`
method, as generative providers do), or "openai": ChatOpenAI configured the way the OpenAI client
reads its environment (OPENAI_API_KEY, optional OPENAI_BASE_URL for any OpenAI-compatible server).
"""

from __future__ import annotations

import os

from langchain_core.language_models import BaseChatModel

from azcompare.answering.providers import get_provider
from azcompare.evaluation.errors import EvaluationError
from azcompare.settings import Settings

DEFAULT_OPENAI_JUDGE = "gpt-4o-mini"


def judge_chat_model(name: str, settings: Settings, model: str | None = None) -> tuple[BaseChatModel, str]:
    """The judge's chat model and a label for the report; EvaluationError when it cannot be built."""
    name = name.strip().lower()
    provider = get_provider(name)
    factory = getattr(provider, "chat_model", None)
    if provider is not None and callable(factory):
        reason = provider.unavailable_reason(settings)
        if reason:
            raise EvaluationError(f"the judge provider {name!r} is not available: {reason}")
        return factory(settings), f"{name} provider"
    if name == "openai":
        return _openai(model)
    raise EvaluationError(
        f"no judge model named {name!r}: use --judge openai (OPENAI_API_KEY, optional OPENAI_BASE_URL) "
        "or a generative provider that offers a chat model"
    )


def _openai(model: str | None) -> tuple[BaseChatModel, str]:
    if not os.environ.get("OPENAI_API_KEY"):
        raise EvaluationError("the openai judge needs OPENAI_API_KEY (and OPENAI_BASE_URL for another server)")
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EvaluationError("the openai judge needs the langchain-openai package; run `make setup`") from exc
    name = model or os.environ.get("AZCOMPARE_JUDGE_MODEL") or DEFAULT_OPENAI_JUDGE
    # Retries would multiply the cost of an outage; a failed judgment is counted and the run goes on.
    chat = ChatOpenAI(model=name, max_retries=1, timeout=60)
    base = os.environ.get("OPENAI_BASE_URL")
    return chat, f"openai {name}" + (f" at {base}" if base else "")
