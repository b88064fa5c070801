"""A damaged, unfinished, busy, read-only or full index: one clear line with the fix, never Chroma's internals.

Each fault is made on a copy of the real session index (the article and every mirrored page).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from filelock import FileLock

from azcompare import answer, build_index
from azcompare.index import CURRENT, current_version
from azcompare.index_state import BuildProgress, IndexBusy, read_progress, write_progress
from conftest import cli_env, run_cli

QUESTION = "Does OpenAI support private endpoints?"
FIX = "rebuild it with `azcompare index --rebuild`"


def _version(settings) -> Path:
    return settings.index_dir / (settings.index_dir / CURRENT).read_text().strip()


def _database(settings) -> Path:
    return _version(settings) / "chroma" / "chroma.sqlite3"


def _segment(settings, collection: str) -> Path:
    with sqlite3.connect(_database(settings)) as db:
        (segment,) = db.execute(
            "select s.id from segments s join collections c on s.collection = c.id where c.name = ? and s.scope = ?",
            (collection, "VECTOR"),
        ).fetchone()
    return _version(settings) / "chroma" / segment


def _truncate(settings) -> None:
    path = _database(settings)
    os.truncate(path, path.stat().st_size // 2)


def _overwrite(settings) -> None:
    path = _database(settings)
    path.write_bytes(os.urandom(path.stat().st_size))


def _point_nowhere(settings) -> None:
    (settings.index_dir / CURRENT).write_text("v-does-not-exist\n")


def _garble_manifest(settings) -> None:
    (_version(settings) / "manifest.json").write_text("{not json", encoding="utf-8")


def _point_outside(settings) -> None:
    elsewhere = settings.index_dir.parent / "elsewhere"
    shutil.copytree(_version(settings), elsewhere / _version(settings).name)
    (settings.index_dir / CURRENT).write_text(f"../elsewhere/{_version(settings).name}\n")


def _point_at_unfinished(settings) -> None:
    unfinished = settings.index_dir / "v-20990101T000000-abcdef"
    shutil.copytree(_version(settings) / "chroma", unfinished / "chroma")  # no manifest: the build never ended
    (settings.index_dir / CURRENT).write_text(unfinished.name + "\n")


def _reader(settings, name: str) -> Path:
    return _version(settings) / "reader" / name


def _truncate_file(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


def _too_few_vectors(settings) -> None:
    np.save(_reader(settings, "sentences.npy"), np.zeros((3, 384), np.float32))


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (_truncate, "database disk image is malformed"),
        (_overwrite, "file is not a database"),
        (lambda s: shutil.rmtree(_segment(s, "chunks")), "Error finding id"),
        (_point_nowhere, "its CURRENT file names v-does-not-exist, which does not exist"),
        (_garble_manifest, "is missing or unreadable"),
        (_point_outside, "which is not a version of this index"),
        (_point_at_unfinished, "the manifest of v-20990101T000000-abcdef is missing or unreadable"),
        (lambda s: _reader(s, "sentences.npy").unlink(), "reader/sentences.npy of v-"),
        (lambda s: _truncate_file(_reader(s, "sentences.npy")), "reader/sentences.npy of v-"),
        (_too_few_vectors, "reader/sentences.npy of v-"),
        (lambda s: _reader(s, "chunks.json").write_text("{not json"), "reader/chunks.json of v-"),
        (lambda s: shutil.rmtree(_reader(s, "bm25")), "reader/bm25 of v-"),
        (lambda s: _reader(s, "bm25/params.index.json").unlink(), "reader/bm25/params.index.json of v-"),
        (lambda s: _truncate_file(_reader(s, "sentence_offsets.npy")), "reader/sentence_offsets.npy of v-"),
        (lambda s: _reader(s, "idf.json").write_text("[]"), "reader/idf.json of v-"),
    ],
    ids=[
        "truncated",
        "overwritten",
        "segment-deleted",
        "points-nowhere",
        "bad-manifest",
        "outside",
        "unfinished",
        "vectors-missing",
        "vectors-truncated",
        "vectors-too-few",
        "chunks-garbled",
        "bm25-missing",
        "bm25-file-missing",
        "offsets-truncated",
        "idf-wrong",
    ],
)
def test_a_damaged_index_gives_one_line_with_the_fix(index_copy, damage, problem):
    damage(index_copy)
    started = time.perf_counter()
    result = answer(QUESTION, settings=index_copy)
    assert result.status == "rejected", result.text
    assert result.text.startswith(f"The knowledge base is not available: the index in {index_copy.index_dir}")
    assert problem in result.text and FIX in result.text
    assert "\n" not in result.text and "InternalError" not in result.text
    assert time.perf_counter() - started < 30, "a damaged index must be reported, not silently rebuilt"


def test_the_cli_says_the_same_in_one_line(index_copy):
    _truncate(index_copy)
    cli = run_cli(index_copy, "ask", QUESTION)
    assert cli.returncode == 2
    assert cli.stdout.strip().startswith("The knowledge base is not available: the index in")
    assert "database disk image is malformed" in cli.stdout and FIX in cli.stdout
    assert "Traceback" not in cli.stderr and "InternalError" not in cli.stdout + cli.stderr


def test_azcompare_index_repairs_a_damaged_index_and_says_so(small_corpus):
    build_index(small_corpus)
    (small_corpus.index_dir / CURRENT).write_text("v-does-not-exist\n")
    report = build_index(small_corpus)
    assert report.full and report.reason == "the index was damaged"
    assert report.notices == [
        "the index was damaged (its CURRENT file names v-does-not-exist, which does not exist): "
        "building it again from scratch"
    ]
    gamma = answer("How many resources does Gamma allow per region?", settings=small_corpus)
    assert "30 resources per region" in gamma.text

    _truncate(small_corpus)  # damage inside Chroma: the build must not copy it into the new version
    report = build_index(small_corpus)
    assert report.full and "database disk image is malformed" in report.notices[0]
    assert answer("What does Beta encrypt data with?", settings=small_corpus).status == "answered"


def test_a_second_build_waits_saying_so_and_showing_the_others_progress(index_copy):
    progress = BuildProgress(pid=4242, started="2026-12-01T10:41:02+00:00", done=640, total=2595)
    seen: list[BuildProgress | None] = []
    with FileLock(str(index_copy.index_dir / ".build.lock")):  # another process is building
        write_progress(index_copy.index_dir, progress)
        with pytest.raises(IndexBusy) as busy:
            build_index(index_copy, wait=1.2, on_wait=seen.append)
        assert str(busy.value) == (
            "the index is being built by another process (process 4242, started 10:41:02 UTC, "
            "640 of 2,595 passages embedded); try again when it is done"
        )
        assert seen and seen[-1] == progress

        waiting = _start_cli(index_copy, "index")
        line = waiting.stderr.readline()
        assert line.startswith("Waiting for another build of the index to finish (process 4242, started 10:41:02 UTC")
    out, err = waiting.communicate(timeout=300)  # the lock is free: the waiting build goes on
    assert waiting.returncode == 0, err
    assert "up to date" in out and "Traceback" not in err


def test_a_killed_build_leaves_the_old_version_serving_and_its_folder_is_removed_on_the_next_start(index_copy):
    before = current_version(index_copy.index_dir)
    build = _start_cli(index_copy, "index", "--rebuild")
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        running = read_progress(index_copy.index_dir)
        if running is not None and running.done > 0:
            break
        time.sleep(0.2)
    else:
        build.kill()
        pytest.fail("the build reported no progress")
    os.kill(build.pid, signal.SIGKILL)
    build.wait(timeout=30)
    left = {p.name for p in index_copy.index_dir.iterdir() if p.name.startswith("v-")} - {before.name}
    assert len(left) == 1, "the killed build left its unfinished folder"
    assert current_version(index_copy.index_dir) == before

    cli = run_cli(index_copy, "ask", QUESTION)  # a new process: the next start
    assert cli.returncode == 0 and "Private Endpoints: OpenAI no" in cli.stdout
    assert f"removed 1 unfinished index version(s) left by an interrupted build: ['{left.pop()}']" in cli.stderr
    assert {p.name for p in index_copy.index_dir.iterdir() if p.name.startswith("v-")} == {before.name}
    assert not (index_copy.index_dir / ".build-progress.json").exists()


def _own_mount(index_copy, script: str) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a private mount namespace (its mounts vanish with it), with the CLI's environment."""
    env = cli_env(index_copy, SRC=str(index_copy.index_dir), AZ=f"{sys.executable} -m azcompare.cli")
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", "-ec", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_an_index_on_read_only_storage_answers_and_says_why_it_cannot_be_built(index_copy, tmp_path):
    mount = tmp_path / "ro"
    result = _own_mount(
        index_copy,
        f"""
        mkdir -p {mount}; mount -t tmpfs -o size=64M tmpfs {mount}; cp -a "$SRC" {mount}/index
        mount -o remount,ro {mount}
        export AZCOMPARE_INDEX_DIR={mount}/index
        echo "== ask"; $AZ ask "{QUESTION}" || echo "exit $?"
        echo "== index"; $AZ index 2>&1 || echo "exit $?"
        """,
    )
    row = "Network Security, Private Endpoints: OpenAI no; Azure OpenAI yes [1]"
    assert re.search(rf"== ask\nNo — .*{re.escape(row)}", result.stdout), result
    index_part = result.stdout.split("== index\n", 1)[1]
    assert index_part.startswith(
        f"error: the index folder {mount}/index is on read-only storage: it can be read but not built or changed"
    )
    assert "exit 2" in index_part and "Traceback" not in result.stdout + result.stderr


def test_a_full_disk_says_disk_full_and_keeps_the_index_serving(index_copy, tmp_path):
    mount = tmp_path / "full"
    result = _own_mount(
        index_copy,
        f"""
        mkdir -p {mount}; mount -t tmpfs -o size=40M tmpfs {mount}; cp -a "$SRC" {mount}/index
        dd if=/dev/zero of={mount}/filler bs=1M count=100 2>/dev/null || true
        export AZCOMPARE_INDEX_DIR={mount}/index
        echo "== index"; $AZ index --rebuild 2>&1 | tail -1
        echo "== versions"; ls {mount}/index | grep '^v-' | wc -l
        echo "== ask"; $AZ ask "{QUESTION}"
        """,
    )
    out = result.stdout
    assert f"== index\nerror: disk full: no space is left on the device holding {mount}/index" in out, result
    assert "== versions\n1\n" in out  # the unfinished version was removed, the old one kept
    assert re.search(r"== ask\nNo — .*Network Security, Private Endpoints: OpenAI no", out), out


def _start_cli(settings, *args: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "azcompare.cli", *args]
    return subprocess.Popen(command, env=cli_env(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
