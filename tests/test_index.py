"""The persistent index: incremental builds, full rebuilds when the recipe changes, safe swaps."""

from __future__ import annotations

import fcntl
import os

import pytest
from filelock import FileLock

from azcompare import answer, build_index
from azcompare.embeddings import model_path
from azcompare.index import build_in_progress, current_version, read_manifest
from azcompare.index_state import LOCK_FILE
from azcompare.retrieval import open_knowledge_base
from conftest import write


def _corpus(settings):
    return settings.corpus_dirs[0]


def test_rebuild_reembeds_only_changed_documents(small_corpus):
    first = build_index(small_corpus)
    assert first.full and sorted(first.added) == ["alpha", "beta", "gamma"]
    assert first.embedded_chunks == first.total_chunks == 3

    beta = "# Beta\n\n## Keys\n\nBeta now also rotates keys.\n\n## More\n\nNew part.\n"
    write(_corpus(small_corpus) / "beta.md", beta)
    write(_corpus(small_corpus) / "delta.md", "# Delta\n\nDelta is new.\n")
    (_corpus(small_corpus) / "gamma.md").unlink()
    second = build_index(small_corpus)
    assert not second.full
    assert second.updated == ["beta"] and second.added == ["delta"] and second.removed == ["gamma"]
    assert second.unchanged == ["alpha"]
    # beta has two sections now, delta one: three chunks embedded, alpha's chunk reused.
    assert second.embedded_chunks == 3
    assert second.total_chunks == 4
    manifest = read_manifest(small_corpus)
    assert set(manifest.documents) == {"alpha", "beta", "delta"}
    kb = open_knowledge_base(small_corpus)
    assert {c.doc_id for c in kb.chunks} == {"alpha", "beta", "delta"}

    third = build_index(small_corpus)
    assert third.reason == "up to date" and third.embedded_chunks == 0
    assert third.version == second.version


def test_metadata_change_reembeds_that_document(small_corpus):
    build_index(small_corpus)
    write(small_corpus.sources_file, '[[document]]\nfile = "alpha.md"\ndate = 2025-05-05\n')
    report = build_index(small_corpus)
    assert report.updated == ["alpha"] and report.embedded_chunks == 1
    kb = open_knowledge_base(small_corpus)
    assert next(c for c in kb.chunks if c.doc_id == "alpha").date.isoformat() == "2025-05-05"


def test_changed_chunker_or_model_rebuilds_everything(small_corpus, tmp_path):
    build_index(small_corpus)
    report = build_index(small_corpus.with_overrides(chunk_size=500, chunk_overlap=50))
    assert report.full and report.embedded_chunks == report.total_chunks
    assert any("chunker settings changed" in n for n in report.notices)

    # The same weights under another name count as another model: the manifest records the name.
    alias = tmp_path / "model-alias"
    os.symlink(model_path(small_corpus), alias)
    settings = small_corpus.with_overrides(chunk_size=500, chunk_overlap=50, embedding_model=str(alias))
    report = build_index(settings)
    assert report.full and any("embedding model changed" in n for n in report.notices)
    assert read_manifest(settings).embedding_model == str(alias)


@pytest.mark.parametrize("failure", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_build_leaves_previous_index_usable(small_corpus, failure):
    build_index(small_corpus)
    before = current_version(small_corpus.index_dir)
    write(_corpus(small_corpus) / "alpha.md", "# Alpha\n\nAlpha changed completely.\n")

    def explode(done, total):
        if done > 0:  # after the first batch went into the new version's Chroma
            raise failure

    with pytest.raises(type(failure)):
        build_index(small_corpus, progress=explode)
    assert current_version(small_corpus.index_dir) == before
    leftovers = [p.name for p in small_corpus.index_dir.iterdir() if p.name.startswith("v-")]
    assert leftovers == [before.name]
    result = answer("Does Alpha support private endpoints?", settings=small_corpus)
    assert result.status == "answered"
    assert "private endpoints in every region" in result.text


def test_answers_during_a_rebuild_say_so_and_use_the_index_in_place(small_corpus):
    from filelock import FileLock

    build_index(small_corpus)
    with FileLock(str(small_corpus.index_dir / ".build.lock")):  # another process is rebuilding
        result = answer("What does Beta encrypt data with?", settings=small_corpus)
    assert result.status == "answered" and "customer-managed keys" in result.text
    assert any("being rebuilt" in n for n in result.notices)
    assert not answer("What does Beta encrypt data with?", settings=small_corpus).notices


def test_answer_builds_the_index_on_first_call(small_corpus):
    assert current_version(small_corpus.index_dir) is None
    result = answer("What does Beta encrypt data with?", settings=small_corpus)
    assert current_version(small_corpus.index_dir) is not None
    assert "customer-managed keys" in result.text
    assert result.citations[0].source == "beta"
    (notice,) = result.notices
    assert notice.startswith("The index was built first (there was none yet; ")


def test_questions_asked_at_once_do_not_see_each_other_as_a_build(small_corpus):
    """The build probe of one question must not look like a build to the question beside it."""
    build_index(small_corpus)
    lock = small_corpus.index_dir / LOCK_FILE
    with open(lock) as other_probe:
        fcntl.flock(other_probe, fcntl.LOCK_SH)  # another question probing at this very moment
        assert not build_in_progress(small_corpus)
    with FileLock(str(lock)):  # what a build holds
        assert build_in_progress(small_corpus)
    assert not build_in_progress(small_corpus)


def test_whole_collections_are_read_in_pages(tmp_path):
    """A 20x corpus once failed in one get() ("too many SQL variables"): every record comes back, in order."""
    import chromadb

    from azcompare.index import CHROMA_SETTINGS
    from azcompare.records import READ_BATCH, read_all

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"), settings=CHROMA_SETTINGS)
    collection = client.create_collection("many", embedding_function=None)
    total = 2 * READ_BATCH + 7
    ids = [f"r{i:05d}" for i in range(total)]
    for start in range(0, total, 1000):
        part = ids[start : start + 1000]
        collection.add(ids=part, documents=part, embeddings=[[1.0, float(i), 0.0] for i in range(len(part))])
    got = read_all(collection, ["documents"])
    assert sorted(got["ids"]) == ids
    assert got["documents"] == got["ids"]
    client.close()
