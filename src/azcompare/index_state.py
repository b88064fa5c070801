"""What an index folder holds and what is wrong with it, in words a user can act on.

The active version is the folder CURRENT names, and only when it is complete (its manifest is written
last, so a build that stopped midway is never read). Everything that can go wrong with the folder (a
damaged file, a pointer to nowhere, a full disk, read-only storage, another build holding the lock)
becomes one of the `IndexUnavailable` errors below, whose message says what is wrong and what fixes it.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
MANIFEST = "manifest.json"
CHROMA_DIR = "chroma"
CHROMA_FILE = "chroma.sqlite3"
# What a reader loads besides Chroma, written by the build into the version folder (see index.py).
READER_DIR = "reader"
CHUNKS_FILE = "chunks.json"
SENTENCES_FILE = "sentences.npy"
OFFSETS_FILE = "sentence_offsets.npy"
IDF_FILE = "idf.json"
BM25_DIR = "bm25"
READER_FILES = (CHUNKS_FILE, SENTENCES_FILE, OFFSETS_FILE, IDF_FILE, BM25_DIR)
LOCK_FILE = ".build.lock"
PROGRESS_FILE = ".build-progress.json"
VERSION_PREFIX = "v-"
# A version folder name: no separators or dots, so CURRENT can never point outside the index folder.
_VERSION_NAME = re.compile(r"v-[A-Za-z0-9_-]{1,80}")
REBUILD = "rebuild it with `azcompare index --rebuild`"
# Below this much free space a failed write is put down to a full disk (Chroma does not always say so).
LOW_SPACE_BYTES = 16 * 1024 * 1024


class IndexUnavailable(RuntimeError):
    """The index cannot be built or opened; the message says why and what to do."""


class IndexBusy(IndexUnavailable):
    """Another process is building the index right now."""


class IndexDamaged(IndexUnavailable):
    """The index folder exists but cannot be read."""


class DiskFull(IndexUnavailable):
    """No space is left on the device holding the index."""


class IndexReadOnly(IndexUnavailable):
    """The index folder cannot be written (a build is impossible; reading works from a copy)."""


class ChromaServerError(IndexUnavailable):
    """The Chroma server holding the index is down, slow, of another version, or refused the token."""


SERVER_FIX = "start it with `chroma run --path DIR --port PORT` or check AZCOMPARE_CHROMA_URL"


def server_error(exc: BaseException, url: str, timeout: float, secrets: tuple[str, ...] = ()) -> IndexUnavailable:
    """One line naming the server URL for a failed request to a Chroma server (never its token)."""
    if isinstance(exc, IndexUnavailable):
        return exc
    name = type(exc).__name__
    text = _one_line(exc)
    lowered = text.lower()
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    if "timeout" in name.lower() or "timed out" in lowered:
        return ChromaServerError(f"the Chroma server at {url} did not answer within {timeout:g} s; {SERVER_FIX}")
    if "connect" in name.lower() or isinstance(exc, ConnectionError) or "could not connect" in lowered:
        return ChromaServerError(f"the Chroma server at {url} is not reachable ({_gist(text)}); {SERVER_FIX}")
    if "unauthorized" in lowered or "forbidden" in lowered or "authoriz" in name.lower():
        return ChromaServerError(
            f"the Chroma server at {url} refused the token; check AZCOMPARE_CHROMA_TOKEN (the server's token)"
        )
    if "protocol" in name.lower() or "disconnected" in lowered:
        return ChromaServerError(f"the Chroma server at {url} closed the connection ({_gist(text)}); {SERVER_FIX}")
    if "notfound" in name.lower() or "does not exist" in lowered:
        return ChromaServerError(
            f"the Chroma server at {url} lacks part of the index ({_gist(text)}); build it with `azcompare index`"
        )
    return ChromaServerError(f"the Chroma server at {url} failed ({_gist(text)})")


def _gist(text: str) -> str:
    return text[:160] or "no details"


@dataclass(frozen=True)
class IndexState:
    """The active version folder, or why there is none (`problem` is None when no index was built)."""

    version: Path | None
    problem: str | None = None


def inspect_index(index_dir: Path) -> IndexState:
    """Check the pointer and the version it names without opening Chroma."""
    try:
        raw = (index_dir / CURRENT).read_bytes()
    except FileNotFoundError:
        if complete_versions(index_dir):
            return IndexState(None, "its CURRENT file is missing")
        return IndexState(None)
    except OSError as exc:
        return IndexState(None, f"its CURRENT file cannot be read ({exc.strerror or exc})")
    name = raw.decode("utf-8", errors="replace").strip()
    if not _VERSION_NAME.fullmatch(name):
        shown = name if len(name) <= 60 else name[:57] + "..."
        return IndexState(None, f"its CURRENT file holds {shown!r}, which is not a version of this index")
    folder = index_dir / name
    if not folder.is_dir():
        return IndexState(None, f"its CURRENT file names {name}, which does not exist")
    if not _manifest_readable(folder / MANIFEST):
        return IndexState(None, f"the manifest of {name} is missing or unreadable")
    if not (folder / CHROMA_DIR / CHROMA_FILE).is_file():
        return IndexState(None, f"the Chroma data of {name} is missing")
    missing = missing_reader_files(folder)
    if missing:
        return IndexState(None, f"{READER_DIR}/{missing} of {name} is missing")
    return IndexState(folder)


def missing_reader_files(folder: Path) -> str | None:
    """The first of the reader files (BM25, sentence vectors, chunks) the version folder lacks, or None."""
    for name in READER_FILES:
        if not (folder / READER_DIR / name).exists():
            return name
    return None


def _manifest_readable(path: Path) -> bool:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and isinstance(data.get("documents"), dict)


def complete_versions(index_dir: Path) -> list[Path]:
    """Version folders whose build finished (they hold a manifest), oldest first."""
    try:
        children = sorted(index_dir.iterdir())
    except OSError:
        return []
    return [c for c in children if is_version_name(c.name) and c.is_dir() and (c / MANIFEST).is_file()]


def is_version_name(name: str) -> bool:
    """Whether a folder name is one a build gives its version folders."""
    return _VERSION_NAME.fullmatch(name) is not None


def damaged(index_dir: Path, problem: str) -> IndexDamaged:
    """The error for an index that exists but cannot be used."""
    return IndexDamaged(f"the index in {index_dir} is damaged ({problem}); {REBUILD}")


def storage_error(exc: BaseException, index_dir: Path) -> IndexUnavailable:
    """Name what went wrong when Chroma or the file system failed on an index folder.

    Chroma reports a full disk in several ways ("database or disk is full", "Error in compaction"),
    so a failure while the device is nearly full is reported as a full disk.
    """
    if isinstance(exc, IndexUnavailable):
        return exc
    text = _one_line(exc)
    code = getattr(exc, "errno", None)
    lowered = text.lower()
    if code == errno.ENOSPC or "disk is full" in lowered or "no space left" in lowered or _low_space(index_dir):
        return DiskFull(f"disk full: no space is left on the device holding {index_dir}; free some space and try again")
    if code == errno.EROFS or "readonly database" in lowered or "read-only file system" in lowered:
        return IndexReadOnly(
            f"the index folder {index_dir} is on read-only storage: it can be read but not built or changed; "
            "build the index in a writable folder (AZCOMPARE_INDEX_DIR)"
        )
    if isinstance(exc, PermissionError):
        return IndexReadOnly(f"no permission to write in the index folder {index_dir} ({exc.strerror or text})")
    return damaged(index_dir, failure_reason(exc))


def failure_reason(exc: BaseException) -> str:
    """The gist of a storage error in one short line, without Chroma's prefixes."""
    # "error returned from database: (code: 11) database disk image is malformed" → the last part.
    text = re.sub(r"^.*\(code: \d+\)\s*", "", _one_line(exc))
    return text[:160] or "it could not be read"


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _low_space(path: Path) -> bool:
    for candidate in (path, *path.parents):
        try:
            return shutil.disk_usage(candidate).free < LOW_SPACE_BYTES
        except OSError:
            continue
    return False


def is_writable(folder: Path) -> bool:
    """Whether files in the folder can be changed (False on read-only mounts, even for root)."""
    return os.access(folder, os.W_OK)


@dataclass(frozen=True)
class BuildProgress:
    """How far a running build has got, as it writes it for other processes to show."""

    pid: int
    started: str
    done: int = 0
    total: int = 0

    def describe(self) -> str:
        """ "process 123, started 10:41:02 UTC, 640 of 2,595 passages embedded"."""
        when = self.started[11:19] + " UTC" if len(self.started) >= 19 else self.started
        share = f", {self.done:,} of {self.total:,} passages embedded" if self.total else ""
        return f"process {self.pid}, started {when}{share}"


def read_progress(index_dir: Path) -> BuildProgress | None:
    """The progress of the build running now, if it has written any."""
    try:
        data = json.loads((index_dir / PROGRESS_FILE).read_text(encoding="utf-8"))
        return BuildProgress(
            pid=int(data["pid"]), started=str(data["started"]), done=int(data["done"]), total=int(data["total"])
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_progress(index_dir: Path, progress: BuildProgress) -> None:
    """Replace the progress file atomically (a reader never sees half of it); best effort."""
    tmp = index_dir / f".build-progress.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(asdict(progress)), encoding="utf-8")
        os.replace(tmp, index_dir / PROGRESS_FILE)
    except OSError:
        tmp.unlink(missing_ok=True)


def clear_progress(index_dir: Path) -> None:
    """Remove the progress file when a build ends."""
    (index_dir / PROGRESS_FILE).unlink(missing_ok=True)


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()


def remove_leftovers(index_dir: Path, keep: set[str]) -> list[str]:
    """Delete version folders and temporary files that no reader uses, except those in `keep`.

    Only call this while holding the build lock: a build in progress writes such a folder.
    """
    removed: list[str] = []
    try:
        children = list(index_dir.iterdir())
    except OSError:
        return removed
    for child in children:
        if child.name in keep:
            continue
        if child.is_dir() and child.name.startswith(VERSION_PREFIX):
            shutil.rmtree(child, ignore_errors=True)
            removed.append(child.name)
        elif child.name.startswith((".CURRENT.", ".build-progress.")) and child.suffix == ".tmp":
            child.unlink(missing_ok=True)
    return removed


def orphans(index_dir: Path) -> set[str]:
    """Version folders an interrupted build left: unfinished (no manifest) or finished after CURRENT.

    The version before CURRENT is not an orphan: a reader that opened it a moment ago may still use it.
    """
    state = inspect_index(index_dir)
    if state.problem:
        return set()  # leave a damaged index as it is, for `azcompare index` to replace
    current = state.version.name if state.version else ""
    found: set[str] = set()
    try:
        children = list(index_dir.iterdir())
    except OSError:
        return found
    for child in children:
        if not (child.is_dir() and is_version_name(child.name)) or child.name == current:
            continue
        if not (child / MANIFEST).is_file() or child.name > current:
            found.add(child.name)
    return found
