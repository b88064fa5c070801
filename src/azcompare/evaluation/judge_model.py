"""Which chat model judges a run: `azcompare eval ... --judge NAME`.

NAME is a registered answer provider that offers a LangChain chat model (a `chat_model(settings)`
method, as the generative providers local, ollama, openai and azure do), configured by the same
settings as when it answers: `--judge openai` reads OPENAI_API_KEY and OPENAI_BASE_URL (any
OpenAI-compatible server).
"""

from __future__ import annotations

import os

from langchain_core.language_models import BaseChatModel

from azcompare.answering.providers import get_provider, provider_names
from azcompare.evaluation.errors import EvaluationError
from azcompare.settings import Settings

# Settings naming each provider's model, for --judge-model.
_MODEL_SETTING = {
    "openai": "openai_model",
    "ollama": "ollama_model",
    "local": "local_model",
    "azure": "azure_deployment",
}


def judge_chat_model(name: str, settings: Settings, model: str | None = None) -> tuple[BaseChatModel, str]:
    """The judge's chat model and a label for the report; EvaluationError when it cannot be built."""
    name = name.strip().lower()
    provider = get_provider(name)
    factory = getattr(provider, "chat_model", None)
    if provider is None or not callable(factory):
        judges = [n for n in provider_names() if callable(getattr(get_provider(n), "chat_model", None))]
        raise EvaluationError(f"no judge model named {name!r}: use a provider with a chat model ({', '.join(judges)})")
    model = model or os.environ.get("AZCOMPARE_JUDGE_MODEL")
    if model and name in _MODEL_SETTING:
        settings = settings.with_overrides(**{_MODEL_SETTING[name]: model})
    reason = provider.unavailable_reason(settings)
    if reason:
        raise EvaluationError(f"the judge provider {name!r} is not available: {reason}")
    return factory(settings), f"{name} provider" + (f", model {model}" if model else "")
