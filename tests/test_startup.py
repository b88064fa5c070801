"""What a server does as it starts: the index loads in the background, and Gradio skips work it does not need."""

from __future__ import annotations

import subprocess
import sys


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


def test_the_ui_sets_aside_gradios_stub_rewrite_monitoring_summary_and_millisecond_polling():
    """`import gradio` regenerates its .pyi files each time (seconds here), its queue rebuilds a
    monitoring table after every event and looks for work every millisecond: the app skips the first two
    and polls every 5 ms (ui/gradio_tuning.py). A Gradio that renamed these attributes fails here."""
    script = (
        "import azcompare.ui, gradio, gradio.component_meta as meta, gradio.blocks_events as events\n"
        "print(meta.create_or_modify_pyi.__module__, events.create_or_modify_pyi.__module__)\n"
        "print(callable(gradio.Blocks), meta.ComponentMeta.__module__)\n"
        "import os; print(os.environ['GRADIO_ANALYTICS_CACHE_FREQUENCY'])\n"
        "print(gradio.Blocks()._queue.ANAYLTICS_CACHE_FREQUENCY)\n"
        "from azcompare.ui.gradio_tuning import tune_queue\n"
        "demo = gradio.Blocks().queue(); tune_queue(demo)\n"
        "print(demo._queue.sleep_when_free, demo._queue.progress_update_sleep_when_free)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "azcompare.ui.gradio_tuning",
        "azcompare.ui.gradio_tuning",
        "True",
        "gradio.component_meta",
        "2147483647",
        "2147483647",
        "0.005",
        "0.1",
    ]
