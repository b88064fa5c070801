"""One typed settings object, read from `AZCOMPARE_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Where the project lives when running from a checkout (src/azcompare/settings.py → repo root).
_CHECKOUT_ROOT = Path(__file__).resolve().parents[2]

# The offline-only environment the app and tests run in: no hub downloads, no telemetry.
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ORT_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def apply_offline_env() -> None:
    """Set the no-network, no-telemetry variables unless the user set them already."""
    for key, value in OFFLINE_ENV.items():
        os.environ.setdefault(key, value)


def _default_home() -> Path:
    if (_CHECKOUT_ROOT / "corpus" / "sources.toml").exists():
        return _CHECKOUT_ROOT
    return Path.cwd()


class Settings(BaseSettings):
    """Every knob of the pipeline. Paths left unset are derived from `home`."""

    model_config = SettingsConfigDict(
        env_prefix="AZCOMPARE_", extra="ignore", validate_default=True, populate_by_name=True
    )

    home: Path = Field(default_factory=_default_home, description="Project folder holding corpus/ and index/.")
    corpus_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Folders of local documents (the article). Separated by ':' or ','."
    )
    sources_file: Path | None = Field(None, description="TOML list of referenced pages (url, title, date).")
    mirror_dir: Path | None = Field(None, description="Offline mirror folder with manifest.json (url → file).")
    cache_dir: Path | None = Field(None, description="Git-ignored folder for synced pages.")
    index_dir: Path | None = Field(None, description="Folder of the persistent Chroma index.")
    embedding_model: str = Field("", description="Sentence-transformers model path; default: packaged MiniLM.")
    chroma_url: str | None = Field(
        None, description="A Chroma server (`chroma run`) holding the index, http://host:port; unset: index_dir only."
    )
    chroma_token: SecretStr | None = Field(
        None, description="Token the Chroma server requires (sent as Authorization: Bearer); never logged."
    )
    chroma_timeout: float = Field(10.0, gt=0, le=600, description="Seconds one request to the Chroma server may take.")
    provider: str = Field("extractive", description="Answer provider.")
    top_k: int = Field(8, ge=1, le=50, description="Passages retrieved per question.")
    candidates: int = Field(30, ge=5, le=500, description="Candidates each retriever returns before fusion.")
    max_per_doc: int = Field(0, ge=0, le=50, description="Most passages one document may fill (0: no cap).")
    fusion_weights: tuple[float, float, float] = Field(
        (1.0, 1.0, 2.0), description="Weights of the dense, keyword and sentence rankings in the fusion."
    )
    rrf_k: int = Field(60, ge=1, description="Reciprocal rank fusion constant.")
    chunk_size: int = Field(900, ge=200, le=8000, description="Maximum characters per section chunk.")
    chunk_overlap: int = Field(120, ge=0, le=2000, description="Characters shared by consecutive chunks.")
    # Calibrated on evals/dev.yaml by scripts/calibrate_abstention.py: best dev accuracy for [0.393, 0.410).
    abstain_threshold: float = Field(0.40, ge=0.0, le=1.0, description="Evidence strength below which we abstain.")
    max_answer_sentences: int = Field(3, ge=1, le=12, description="Statements an answer may use.")
    dated_span_days: int = Field(
        365, ge=0, description="Evidence from sources this many days apart is given per source, newest first."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are refused with a message.")
    download_timeout: float = Field(20.0, gt=0, description="Seconds per page when `sources sync` downloads.")
    host: str = Field("127.0.0.1", description="Interface the chat UI listens on.")
    port: int = Field(7860, ge=1, le=65535, description="Port of the chat UI.")
    feedback_path: Path | None = Field(
        None, description="JSONL file that thumbs up/down are appended to (server configuration, never the page's)."
    )
    read_only: bool = Field(
        False,
        description="Serve the chat page without building or rebuilding the index (no Rebuild button or endpoint).",
    )
    auth: SecretStr | None = Field(
        None, description="Sign-in the chat page requires: user:password pairs separated by commas (Gradio auth)."
    )

    # Generative providers (answering/llm.py). Keys are SecretStr: they never print, log or serialize.
    llm_timeout: float = Field(
        120.0, gt=0, le=3600, description="Seconds a generative answer may take in all before falling back."
    )
    llm_passages: int = Field(5, ge=1, le=50, description="Best passages given to a generative model.")
    llm_max_tokens: int = Field(400, ge=16, le=8192, description="Most tokens a generative answer may have.")
    llm_temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature (0: deterministic).")
    llm_max_retries: int = Field(1, ge=0, le=10, description="Retries of a failed request to a model server.")
    local_model: str = Field(
        "smollm2", description="Local GGUF model: a known name (smollm2, qwen0.5b, qwen) or a file path."
    )
    local_context: int = Field(4096, ge=512, le=131072, description="Context window of the local model, tokens.")
    # Off by default: llama-cpp-python samples very slowly (seconds per token) whenever the model prefers a
    # token the grammar forbids, which a small model does constantly; see answering/grammar.py.
    local_grammar: bool = Field(
        False, description="Hold the local model to cited sentences (llama.cpp grammar); content is still verified."
    )
    # What the local model reads: the extractive answer's chosen statements (it phrases facts already
    # found, from a tenth of the tokens) or the best passages whole, as the remote providers do.
    local_input: Literal["statements", "passages"] = Field(
        "statements", description="What the local model reads: the chosen statements, or whole passages."
    )
    local_statements: int = Field(
        2, ge=1, le=12, description="Statements the local model reads (the best ones the extractive answer chose)."
    )
    local_best_last: bool = Field(
        True, description="List the best statement last, nearest the question, in the local model's prompt."
    )
    # Best of n for the local model's lead: measured on dev (SmolLM2), see README.
    local_lead_retries: int = Field(
        2, ge=0, le=8, description="Leads the local model samples again when its first fails verification."
    )
    local_retry_temperature: float = Field(
        0.7, ge=0.0, le=2.0, description="Sampling temperature of the local model's resampled leads."
    )
    local_lead_budget: float = Field(
        2.5, ge=0.0, le=60.0, description="Seconds after the lead began past which no lead is sampled again."
    )
    # Measured on dev (SmolLM2): 0 kept 64 % of leads, 3: 78 %, 5: 76-81 % with kept-lead accuracy 0.20 -> 0.29,
    # 8: 70 % (more leads loop on a copied row). See README, "Getting a lead that passes".
    local_copy_bias: float = Field(
        5.0, ge=0.0, le=20.0, description="Logit bias toward the best statement's tokens in the local lead (0: off)."
    )
    # Measured on the 6 dev follow-ups: Qwen 0.5B's rewrites lose the topic (fact recall 0.33, abstention
    # 0.67) where the rules keep it (0.83, 1.0).
    local_condense: bool = Field(
        False, description="Rewrite follow-up questions with the local model instead of the rules."
    )
    local_threads: int = Field(0, ge=0, le=256, description="CPU threads for the local model (0: all cores but one).")
    models_dir: Path | None = Field(None, description="Where assembled model files are kept (default: user cache).")
    ollama_base_url: str = Field("http://127.0.0.1:11434", description="Ollama server URL.")
    ollama_model: str = Field("qwen2.5:1.5b", description="Ollama model name.")
    openai_model: str = Field("gpt-4o-mini", description="OpenAI model name.")
    openai_base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("AZCOMPARE_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="OpenAI-compatible base URL (default: api.openai.com).",
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "AZCOMPARE_OPENAI_API_KEY"), description="OpenAI key."
    )
    azure_endpoint: str | None = Field(
        None,
        validation_alias=AliasChoices("AZURE_OPENAI_ENDPOINT", "AZCOMPARE_AZURE_ENDPOINT"),
        description="Azure OpenAI resource endpoint, https://NAME.openai.azure.com.",
    )
    azure_deployment: str | None = Field(
        None,
        validation_alias=AliasChoices("AZCOMPARE_AZURE_DEPLOYMENT", "AZURE_OPENAI_DEPLOYMENT"),
        description="Azure OpenAI deployment name.",
    )
    azure_api_version: str = Field(
        "2024-10-21",
        validation_alias=AliasChoices("OPENAI_API_VERSION", "AZCOMPARE_AZURE_API_VERSION"),
        description="Azure OpenAI API version.",
    )
    azure_api_key: SecretStr | None = Field(
        None,
        validation_alias=AliasChoices("AZURE_OPENAI_API_KEY", "AZCOMPARE_AZURE_API_KEY"),
        description="Azure OpenAI key; leave unset and enable azure_entra_id to sign in with Microsoft Entra ID.",
    )
    azure_entra_id: bool = Field(
        False, description="Authenticate to Azure OpenAI with Microsoft Entra ID (DefaultAzureCredential)."
    )

    @field_validator("corpus_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p for p in value.replace(",", os.pathsep).split(os.pathsep) if p.strip()]
        return value

    @field_validator(
        "mirror_dir",
        "sources_file",
        "cache_dir",
        "index_dir",
        "chroma_url",
        "chroma_token",
        "models_dir",
        "feedback_path",
        "openai_base_url",
        "azure_endpoint",
        "azure_deployment",
        "openai_api_key",
        "azure_api_key",
        "auth",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        home = self.home.expanduser().resolve()
        self.home = home
        if not self.corpus_dirs:
            self.corpus_dirs = [home / "corpus"]
        self.corpus_dirs = [_under(home, p) for p in self.corpus_dirs]
        self.sources_file = _under(home, self.sources_file or Path("corpus/sources.toml"))
        self.cache_dir = _under(home, self.cache_dir or Path(".cache"))
        self.index_dir = _under(home, self.index_dir or Path("index"))
        self.feedback_path = _under(home, self.feedback_path or Path("feedback/feedback.jsonl"))
        if self.mirror_dir is not None:
            self.mirror_dir = _under(home, self.mirror_dir)
        self.models_dir = _under(home, self.models_dir) if self.models_dir else _user_cache() / "models"
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self

    @property
    def pages_dir(self) -> Path:
        """Where `sources sync` puts the pages it brings in."""
        assert self.cache_dir is not None
        return self.cache_dir / "pages"

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated again)."""
        data = self.model_dump()
        # model_dump keeps SecretStr objects; unwrap them
        for name in ("openai_api_key", "azure_api_key", "auth", "chroma_token"):
            if isinstance(data.get(name), SecretStr):
                data[name] = data[name].get_secret_value()
        data.update({k: v for k, v in changes.items() if v is not None})
        return Settings(**data)

    def secrets(self) -> list[str]:
        """The secret values set here, for scrubbing them from messages."""
        keys = (self.openai_api_key, self.azure_api_key, self.chroma_token)
        values = [k.get_secret_value() for k in keys if k is not None and k.get_secret_value()]
        return values + [password for _user, password in self.auth_pairs()]

    def auth_pairs(self) -> list[tuple[str, str]]:
        """The (user, password) pairs of `auth`, for Gradio's sign-in."""
        if self.auth is None:
            return []
        pairs = [entry.strip().partition(":") for entry in self.auth.get_secret_value().split(",") if entry.strip()]
        return [(user, password) for user, _sep, password in pairs]

    @field_validator("chroma_url", mode="after")
    @classmethod
    def _check_chroma_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parsed = urlsplit(value.strip())
        try:
            port = parsed.port
        except ValueError:
            port = None
        if parsed.scheme not in ("http", "https") or not parsed.hostname or port is None or parsed.path.strip("/"):
            raise ValueError("expected http://host:port (or https://host:port) of a Chroma server")
        if parsed.username or parsed.password or parsed.query:
            raise ValueError("expected http://host:port without user, password or query (the token: chroma_token)")
        return f"{parsed.scheme}://{parsed.netloc}"

    @field_validator("auth", mode="after")
    @classmethod
    def _check_auth(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            for entry in filter(str.strip, value.get_secret_value().split(",")):
                user, sep, password = entry.strip().partition(":")
                if not (user and sep and password):
                    raise ValueError("expected user:password pairs separated by commas")  # never echo the value
        return value


def _user_cache() -> Path:
    """The user's cache folder: model files are large and shared by every checkout."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "azcompare"


def _under(home: Path, path: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (home / path).resolve()
