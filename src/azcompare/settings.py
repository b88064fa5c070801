"""One typed settings object, read from `AZCOMPARE_*` environment variables."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
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

    model_config = SettingsConfigDict(env_prefix="AZCOMPARE_", extra="ignore", validate_default=True)

    home: Path = Field(default_factory=_default_home, description="Project folder holding corpus/ and index/.")
    corpus_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Folders of local documents (the article). Separated by ':' or ','."
    )
    sources_file: Path | None = Field(None, description="TOML list of referenced pages (url, title, date).")
    mirror_dir: Path | None = Field(None, description="Offline mirror folder with manifest.json (url → file).")
    cache_dir: Path | None = Field(None, description="Git-ignored folder for synced pages.")
    index_dir: Path | None = Field(None, description="Folder of the persistent Chroma index.")
    embedding_model: str = Field("", description="Sentence-transformers model path; default: packaged MiniLM.")
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
    max_answer_sentences: int = Field(5, ge=1, le=12, description="Sentences the extractive answer may use.")
    dated_span_days: int = Field(
        365, ge=0, description="Evidence from sources this many days apart is given per source, newest first."
    )
    max_question_chars: int = Field(2000, ge=10, description="Longer questions are refused with a message.")
    download_timeout: float = Field(20.0, gt=0, description="Seconds per page when `sources sync` downloads.")
    host: str = Field("127.0.0.1", description="Interface the chat UI listens on.")
    port: int = Field(7860, ge=1, le=65535, description="Port of the chat UI.")
    feedback_path: Path | None = Field(None, description="JSONL file that thumbs up/down are appended to.")

    @field_validator("corpus_dirs", mode="before")
    @classmethod
    def _split_dirs(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [p for p in value.replace(",", os.pathsep).split(os.pathsep) if p.strip()]
        return value

    @field_validator("mirror_dir", "sources_file", "cache_dir", "index_dir", "feedback_path", mode="before")
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
        data.update({k: v for k, v in changes.items() if v is not None})
        return Settings(**data)


def _under(home: Path, path: Path) -> Path:
    path = Path(path).expanduser()
    return path if path.is_absolute() else (home / path).resolve()
