"""Questions are embedded with the ONNX export an index build writes: the vectors torch gives, without torch."""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pytest

from azcompare import answer, build_index
from azcompare.embeddings import (
    MIN_COSINE,
    ONNX_DIR,
    ONNX_MODEL,
    OnnxEmbedder,
    embedding_function,
    export_query_encoder,
    query_embedder,
)
from azcompare.evaluation.dataset import load_question_set
from azcompare.index import current_version, read_manifest
from azcompare.index_state import MANIFEST
from conftest import ROOT, cli_env

QUESTION = "Does OpenAI support private endpoints?"
# What answering must not import: each costs seconds, and only builds, generation or the UI need them.
HEAVY = ("torch", "sentence_transformers", "transformers", "gradio", "langchain_core", "langchain", "llama_cpp")


def dev_questions() -> list[str]:
    return [i.question for i in load_question_set(ROOT / "evals" / "questions.yaml").split("dev")]


def test_onnx_vectors_equal_torch_on_every_dev_question(kb_settings):
    version = current_version(kb_settings.index_dir)
    manifest = read_manifest(kb_settings)
    assert manifest is not None and manifest.query_encoder == ONNX_DIR
    embed = query_embedder(kb_settings, version, manifest.query_encoder)
    assert isinstance(embed, OnnxEmbedder)
    questions = dev_questions()
    assert len(questions) >= 50
    onnx = np.asarray(embed(questions))
    torch = np.asarray(embedding_function(kb_settings)(questions))
    assert onnx.shape == torch.shape == (len(questions), 384)
    cosines = np.sum(onnx * torch, axis=1) / (np.linalg.norm(onnx, axis=1) * np.linalg.norm(torch, axis=1))
    worst = int(np.argmin(cosines))
    assert cosines[worst] >= MIN_COSINE, questions[worst]
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


def _without_export(index_copy, tmp_path):
    """A copy of the index whose version has no ONNX export and whose manifest names none."""
    plain = tmp_path / "plain"
    shutil.copytree(index_copy.index_dir, plain)
    version = current_version(plain)
    shutil.rmtree(version / ONNX_DIR)
    manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    manifest["query_encoder"] = ""
    (version / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    return plain


def test_an_index_without_the_export_answers_the_same(index_copy, tmp_path, caplog):
    """Readers fall back to sentence-transformers (with a log line) and give the same answers."""
    # No export on this machine either (an empty model cache): only torch is left.
    without = index_copy.with_overrides(index_dir=_without_export(index_copy, tmp_path), models_dir=tmp_path / "none")
    questions = dev_questions()[:30]
    with caplog.at_level(logging.WARNING, logger="azcompare.embeddings"):
        fallback = [answer(q, settings=without) for q in questions]
    assert "has no ONNX query encoder" in caplog.text
    for q, slow in zip(questions, fallback, strict=True):
        fast = answer(q, settings=index_copy)
        assert (fast.status, fast.text, fast.citations) == (slow.status, slow.text, slow.citations), q


def test_a_version_without_its_own_export_uses_this_machines(index_copy, tmp_path, caplog):
    """As a version fetched from a Chroma server: the export kept in the model cache embeds its questions."""
    fetched = index_copy.with_overrides(index_dir=_without_export(index_copy, tmp_path))
    question = "Does OpenAI support private endpoints?"
    with caplog.at_level(logging.WARNING, logger="azcompare.embeddings"):
        got = answer(question, settings=fetched)
    assert "ONNX" not in caplog.text
    expected = answer(question, settings=index_copy)
    assert (got.status, got.text, got.citations) == (expected.status, expected.text, expected.citations)


def test_a_build_adds_the_export_to_an_older_index_without_embedding_again(index_copy):
    version = current_version(index_copy.index_dir)
    shutil.rmtree(version / ONNX_DIR)
    manifest = json.loads((version / MANIFEST).read_text(encoding="utf-8"))
    del manifest["query_encoder"]  # as an index built before the export existed
    (version / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    report = build_index(index_copy)
    assert report.reason == "adding the ONNX query encoder"
    assert (report.embedded_chunks, report.embedded_sentences) == (0, 0)
    new = current_version(index_copy.index_dir)
    assert new != version and read_manifest(index_copy).query_encoder == ONNX_DIR
    assert (new / ONNX_DIR / ONNX_MODEL).is_file()
    assert "Private Endpoints: OpenAI no" in answer(QUESTION, settings=index_copy).text


def test_a_new_version_shares_the_previous_export(index_copy, tmp_path):
    previous = current_version(index_copy.index_dir)
    folder, notice = export_query_encoder(index_copy, tmp_path / "v-next", previous)
    assert (folder, notice) == (ONNX_DIR, None)
    shared = (tmp_path / "v-next" / ONNX_DIR / ONNX_MODEL).stat()
    assert shared.st_ino == (previous / ONNX_DIR / ONNX_MODEL).stat().st_ino  # a hard link, not a copy
    assert query_embedder(index_copy, tmp_path / "v-next", folder) is query_embedder(index_copy, previous, ONNX_DIR)
    # A new index on the machine takes the export kept in the user's cache: no torch export again.
    assert export_query_encoder(index_copy, tmp_path / "v-other-index", None) == (ONNX_DIR, None)
    cached = [f / ONNX_MODEL for f in (index_copy.models_dir / "onnx").iterdir() if (f / ONNX_MODEL).is_file()]
    assert (tmp_path / "v-other-index" / ONNX_DIR / ONNX_MODEL).stat().st_ino in {f.stat().st_ino for f in cached}


def test_a_broken_export_falls_back_to_torch(index_copy, caplog):
    version = current_version(index_copy.index_dir)
    (version / ONNX_DIR / ONNX_MODEL).write_bytes(b"not a model")
    with caplog.at_level(logging.WARNING, logger="azcompare.embeddings"):
        result = answer(QUESTION, settings=index_copy)
    assert "cannot use the ONNX query encoder" in caplog.text
    assert "Private Endpoints: OpenAI no" in result.text


@pytest.mark.parametrize(
    "call",
    [
        f"from azcompare import answer; print(answer({QUESTION!r}).text)",
        f"from azcompare.cli import main\ntry:\n    main(['ask', {QUESTION!r}])\nexcept SystemExit:\n    pass",
    ],
    ids=["answer", "cli-ask"],
)
def test_answering_imports_no_model_stack(index_copy, call):
    """A question in a new process loads neither torch nor the UI, generation or LangChain stacks."""
    script = f"import sys\n{call}\nprint('LOADED', sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=cli_env(index_copy),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Private Endpoints: OpenAI no" in done.stdout
    assert "LOADED []" in done.stdout, done.stdout
