"""Chat-model factory: one backend per generative provider, each a LangChain chat-model integration.

- local:  llama.cpp through ChatLlamaCpp (langchain-community), a GGUF file from azcompare.models
- ollama: ChatOllama against an Ollama server
- openai: ChatOpenAI (OPENAI_API_KEY; any OpenAI-compatible base URL)
- azure:  AzureChatOpenAI (AZURE_OPENAI_ENDPOINT, a deployment, an API key or Microsoft Entra ID)

A backend says in one line what is missing (`unavailable_reason`, quick and never a secret) and builds
the chat model with the answer's token limit. Clients are imported only when a backend is used, so
that importing azcompare stays fast and a missing optional client only disables its provider.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol

import httpx

from azcompare import models
from azcompare.settings import Settings

# Microsoft Entra ID scope of Azure OpenAI (Cognitive Services).
AZURE_SCOPE = "https://cognitiveservices.azure.com/.default"
# How long the Ollama reachability check may take: it runs whenever the provider list is shown.
OLLAMA_PROBE_SECONDS = 1.5

# For type checking only: importing LangChain takes a third of a second that extractive answers do not need.
if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel
    from langchain_core.runnables import Runnable

    ChatRunnable = BaseChatModel | Runnable[Any, Any]


class Backend(Protocol):
    """What a generative provider needs from its model integration."""

    name: str
    description: str

    def unavailable_reason(self, settings: Settings) -> str | None:
        """None when usable, else one line saying what is missing."""
        ...

    def session(self, settings: Settings, max_tokens: int, grammar: str | None = None) -> Any:
        """A context manager yielding a chat model (a LangChain Runnable) ready to stream.

        `grammar` (GBNF) constrains the output where the backend supports it (llama.cpp); others ignore it.
        """
        ...


def _missing_module(*names: str) -> str | None:
    for name in names:
        if importlib.util.find_spec(name) is None:
            return name
    return None


class LocalBackend:
    """A GGUF model run in-process by llama.cpp."""

    name = "local"
    description = "llama.cpp in this process (GGUF model, default SmolLM2-135M)"

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one llama.cpp context: generations take turns
        self._loaded: tuple[tuple[str, int, int], Any] | None = None

    def unavailable_reason(self, settings: Settings) -> str | None:
        missing = _missing_module("llama_cpp", "langchain_community")
        if missing:
            return f"the Python package {missing.replace('_', '-')} is not installed; run `make setup`"
        return models.unavailable_reason(settings)

    def _model(self, settings: Settings) -> Any:
        # langchain-community announces its sunset (a DeprecationWarning on import), but ChatLlamaCpp has
        # no standalone successor for running llama.cpp in-process (langchain-llama-cpp talks to a server).
        from langchain_community.chat_models import ChatLlamaCpp

        path = models.resolve_model_path(settings)
        # One core is left to the rest of the machine (measured on 2 shared cores: 2 threads, 3.5 s per
        # token; 1 thread, 0.02 s): see models.default_threads.
        threads = settings.local_threads or models.default_threads()
        key = (str(path), settings.local_context, threads)
        if self._loaded is None or self._loaded[0] != key:
            self._loaded = None  # only one model in memory: drop the old one before loading the next
            model = ChatLlamaCpp(
                model_path=str(path),
                n_ctx=settings.local_context,
                n_threads=threads,
                n_batch=512,  # prompt tokens per step; the default of 8 makes reading the passages slow
                # Reading the prompt uses as many threads as generating: llama-cpp-python's default is every
                # core, and on 2 shared cores 2 threads read the prompt at 40-79 tokens/s, 1 thread at 95.
                model_kwargs={"n_threads_batch": threads},
                max_tokens=settings.llm_max_tokens,
                temperature=settings.llm_temperature,
                seed=0,
                streaming=True,
                verbose=False,
            )
            self._loaded = (key, model)
        return self._loaded[1]

    def copy_bias(self, settings: Settings, texts: Sequence[str], strength: float) -> dict[int, float]:
        """A llama.cpp logit bias adding `strength` to every token of `texts` (as written and after a space,
        since a word's token differs by the space before it); the model's special tokens are left alone."""
        with self._lock:
            client = self._model(settings).client
            ids: set[int] = set()
            for text in texts:
                for variant in (text, " " + text):
                    ids.update(client.tokenize(variant.encode("utf-8"), add_bos=False, special=False))
            special = {client.token_eos(), client.token_bos()}
            return {i: strength for i in sorted(ids - special)}

    @contextmanager
    def session(self, settings: Settings, max_tokens: int, grammar: str | None = None) -> Iterator[ChatRunnable]:
        with self._lock:
            model = self._model(settings)
            options: dict[str, Any] = {"max_tokens": max_tokens, "temperature": settings.llm_temperature}
            if grammar:
                from llama_cpp import LlamaGrammar

                options["grammar"] = LlamaGrammar.from_string(grammar, verbose=False)
            yield model.bind(**options)


class OllamaBackend:
    """A model served by Ollama (`ollama serve`)."""

    name = "ollama"
    description = "an Ollama server (AZCOMPARE_OLLAMA_BASE_URL, AZCOMPARE_OLLAMA_MODEL)"

    def unavailable_reason(self, settings: Settings) -> str | None:
        if _missing_module("langchain_ollama"):
            return "the Python package langchain-ollama is not installed; run `make setup`"
        base = settings.ollama_base_url.rstrip("/")
        try:
            response = httpx.get(f"{base}/api/tags", timeout=OLLAMA_PROBE_SECONDS)
            response.raise_for_status()
            names = {m.get("name", "") for m in response.json().get("models", [])}
        except (httpx.HTTPError, ValueError, AttributeError):
            return f"no Ollama server answers at {base} (start it with `ollama serve` or set AZCOMPARE_OLLAMA_BASE_URL)"
        wanted = settings.ollama_model
        if wanted not in names and f"{wanted}:latest" not in names:
            return f"the Ollama server has no model {wanted}; run `ollama pull {wanted}`"
        return None

    @contextmanager
    def session(self, settings: Settings, max_tokens: int, grammar: str | None = None) -> Iterator[ChatRunnable]:
        from langchain_ollama import ChatOllama

        yield ChatOllama(
            model=settings.ollama_model,
            base_url=settings.ollama_base_url,
            temperature=settings.llm_temperature,
            num_predict=max_tokens,
            client_kwargs={"timeout": settings.llm_timeout},
        )


def _openai_options(settings: Settings, max_tokens: int) -> dict[str, Any]:
    """What ChatOpenAI and AzureChatOpenAI share: limits, sampling, and streaming with token counts."""
    return {
        "timeout": settings.llm_timeout,
        "max_retries": settings.llm_max_retries,
        "temperature": settings.llm_temperature,
        "max_tokens": max_tokens,
        "streaming": True,
        "stream_usage": True,
    }


class OpenAIBackend:
    """OpenAI's API (or any server speaking it, through AZCOMPARE_OPENAI_BASE_URL)."""

    name = "openai"
    description = "OpenAI API (OPENAI_API_KEY, AZCOMPARE_OPENAI_MODEL)"

    def unavailable_reason(self, settings: Settings) -> str | None:
        if _missing_module("langchain_openai"):
            return "the Python package langchain-openai is not installed; run `make setup`"
        return None if settings.openai_api_key else "set OPENAI_API_KEY"

    @contextmanager
    def session(self, settings: Settings, max_tokens: int, grammar: str | None = None) -> Iterator[ChatRunnable]:
        from langchain_openai import ChatOpenAI

        yield ChatOpenAI(
            model=settings.openai_model,
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            **_openai_options(settings, max_tokens),
        )


class AzureBackend:
    """Azure OpenAI: a deployment on an Azure OpenAI resource, with an API key or Entra ID."""

    name = "azure"
    description = "Azure OpenAI (AZURE_OPENAI_ENDPOINT, AZCOMPARE_AZURE_DEPLOYMENT, key or Entra ID)"

    def __init__(self) -> None:
        self._token_provider: Any = None
        self._token_lock = threading.Lock()

    def unavailable_reason(self, settings: Settings) -> str | None:
        if _missing_module("langchain_openai"):
            return "the Python package langchain-openai is not installed; run `make setup`"
        missing = []
        if not settings.azure_endpoint:
            missing.append("AZURE_OPENAI_ENDPOINT")
        if not settings.azure_deployment:
            missing.append("AZCOMPARE_AZURE_DEPLOYMENT")
        if not settings.azure_api_key and not settings.azure_entra_id:
            missing.append("AZURE_OPENAI_API_KEY (or AZCOMPARE_AZURE_ENTRA_ID=true for Microsoft Entra ID)")
        if settings.azure_entra_id and not settings.azure_api_key and _missing_module("azure.identity"):
            return "the Python package azure-identity is not installed; run `make setup`"
        return "set " + " and ".join(missing) if missing else None

    def _entra_token_provider(self) -> Any:
        """A bearer-token provider over DefaultAzureCredential, made once so its token cache is reused."""
        with self._token_lock:
            if self._token_provider is None:
                from azure.identity import DefaultAzureCredential, get_bearer_token_provider

                self._token_provider = get_bearer_token_provider(DefaultAzureCredential(), AZURE_SCOPE)
            return self._token_provider

    @contextmanager
    def session(self, settings: Settings, max_tokens: int, grammar: str | None = None) -> Iterator[ChatRunnable]:
        from langchain_openai import AzureChatOpenAI

        auth: dict[str, Any] = (
            {"api_key": settings.azure_api_key}
            if settings.azure_api_key
            else {"azure_ad_token_provider": self._entra_token_provider()}
        )
        yield AzureChatOpenAI(
            azure_endpoint=settings.azure_endpoint,
            azure_deployment=settings.azure_deployment,
            api_version=settings.azure_api_version,
            **_openai_options(settings, max_tokens),
            **auth,
        )


BACKENDS: tuple[Backend, ...] = (LocalBackend(), OllamaBackend(), OpenAIBackend(), AzureBackend())
