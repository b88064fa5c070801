"""What a server does as it starts: the index loads in the background, and Gradio skips its stub step."""

from __future__ import annotations

import subprocess
import sys

from conftest import cli_env


def test_prepare_leaves_the_index_open_for_the_first_question(index_copy):
    from azcompare import retrieval
    from azcompare.answering.pipeline import prepare_in_background

    key = index_copy.index_dir.resolve()
    assert key not in retrieval._open  # a fresh copy: nothing opened it yet
    prepare_in_background(index_copy).join(timeout=120)
    assert key in retrieval._open
    assert retrieval.open_knowledge_base(index_copy) is retrieval._open[key]


def test_prepare_never_builds_and_never_raises(small_corpus):
    from azcompare.answering.pipeline import prepare

    prepare(small_corpus)  # no index yet: the build is left to the server's start or the first question
    assert not small_corpus.index_dir.exists()

    small_corpus.index_dir.mkdir()
    (small_corpus.index_dir / "CURRENT").write_text("v-missing\n")
    prepare(small_corpus)  # a damaged index: the first question will say so
    assert sorted(p.name for p in small_corpus.index_dir.iterdir()) == ["CURRENT"]


def test_the_ui_imports_gradio_without_rewriting_its_type_stubs(kb_settings):
    """`import gradio` regenerates its .pyi files each time (seconds here); the app skips that step."""
    script = (
        "import azcompare.ui, gradio, gradio.component_meta as meta, gradio.blocks_events as events\n"
        "print(meta.create_or_modify_pyi.__module__, events.create_or_modify_pyi.__module__)\n"
        "print(callable(gradio.Blocks), meta.ComponentMeta.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=cli_env(kb_settings), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "azcompare.ui.gradio_import",
        "azcompare.ui.gradio_import",
        "True",
        "gradio.component_meta",
    ]
