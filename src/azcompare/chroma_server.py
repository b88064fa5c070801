"""Talking to the Chroma server of server mode (settings.chroma_url): connection, pointer, collections.

The index's versions are kept as collection sets on a `chroma run` server (index.py builds them)::

  azc-current                      pointer: its metadata names the serving version and the one before it
  azc-<version>-chunks / -sentences  what retrieval searches, as in a local version's Chroma folder
  azc-<version>-files              the version's manifest.json and links.json, as documents

A build fills a new collection set, then rewrites the pointer's metadata (one request: readers switch
at once, on every machine) and removes the sets older than the previous one. Each process keeps the
reader files of a version (reader/, links.json, manifest.json) in index_dir/server/<host>-<port>/
<version>: the build writes them as it goes; a process that lacks them recreates them once from the
server's collections, so every machine loads the same files as the build made.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import chromadb
import httpx
from chromadb.errors import NotFoundError

from azcompare.index_state import MANIFEST, ChromaServerError, IndexUnavailable, is_version_name, server_error
from azcompare.links import LINKS_FILE
from azcompare.settings import Settings

POINTER = "azc-current"
SERVER_PREFIX = "azc-"
# Readers look at the pointer at most this often (seconds): a new version is served within a second.
POINTER_TTL = 1.0
# Characters per record when a version's files are stored as documents.
FILE_PART = 200_000
SERVER_FILES = (MANIFEST, LINKS_FILE)


def collection_name(version: str, part: str) -> str:
    """The name of one collection of a version on the server ("azc-v-20261202T050320-866c8c-chunks")."""
    return f"{SERVER_PREFIX}{version}-{part}"


@dataclass
class ServerIndex:
    """A connection to the Chroma server holding the index, and the version its pointer names."""

    url: str
    client: Any = field(repr=False)
    timeout: float
    secrets: tuple[str, ...] = field(default=(), repr=False)
    _pointer: tuple[str, str] | None = field(default=None, repr=False)
    _read_at: float = field(default=-1e9, repr=False)

    def fail(self, exc: BaseException) -> IndexUnavailable:
        """The one-line error for a failed request to this server."""
        return server_error(exc, self.url, self.timeout, self.secrets)

    def pointer(self, fresh: bool = False) -> tuple[str, str] | None:
        """(serving version, previous version or "") as the pointer says; None before the first build."""
        now = time.monotonic()
        if not fresh and now - self._read_at < POINTER_TTL:
            return self._pointer
        try:
            meta = self.client.get_collection(POINTER).metadata or {}
        except NotFoundError:
            meta = {}
        except Exception as exc:
            raise self.fail(exc) from exc
        version = str(meta.get("version") or "")
        self._pointer = (version, str(meta.get("previous") or "")) if is_version_name(version) else None
        self._read_at = now
        return self._pointer

    def collection(self, version: str, part: str, ef: Any = None) -> Any:
        """One collection of a version (with the embedding function, for the chunks and sentences)."""
        try:
            return self.client.get_collection(collection_name(version, part), embedding_function=ef)
        except Exception as exc:
            raise self.fail(exc) from exc

    def read_file(self, version: str, name: str) -> str:
        """A file of a version (manifest.json, links.json) as the build stored it."""
        files = self.collection(version, "files")
        try:
            found = files.get(where={"file": name}, include=["documents", "metadatas"])
        except Exception as exc:
            raise self.fail(exc) from exc
        parts = sorted(zip(found["metadatas"], found["documents"], strict=True), key=lambda r: int(r[0]["part"]))
        if not parts:
            raise self.fail(NotFoundError(f"{name} of {version} does not exist"))
        return "".join(text or "" for _, text in parts)


_servers_lock = threading.Lock()
_servers: dict[tuple[str, str], ServerIndex] = {}


def connect_server(settings: Settings) -> ServerIndex:
    """The Chroma server of settings.chroma_url, checked once per process (ChromaServerError when it fails).

    A failed connection is not remembered: the next call tries again, so a server that comes back is used.
    """
    assert settings.chroma_url is not None
    url = settings.chroma_url
    token = settings.chroma_token.get_secret_value() if settings.chroma_token else ""
    with _servers_lock:
        found = _servers.get((url, token))
        if found is not None:
            return found
        _check_server(url, token, settings.chroma_timeout)
        parsed = urlsplit(url)
        options: dict[str, Any] = {"anonymized_telemetry": False}
        if token:
            options |= {
                "chroma_client_auth_provider": "chromadb.auth.token_authn.TokenAuthClientProvider",
                "chroma_client_auth_credentials": token,
            }
        try:
            client = chromadb.HttpClient(
                host=parsed.hostname or "",
                port=parsed.port or 8000,
                ssl=parsed.scheme == "https",
                settings=chromadb.Settings(**options),
            )
        except Exception as exc:
            raise server_error(exc, url, settings.chroma_timeout, (token,)) from exc
        # chromadb's HTTP client waits forever for an answer: a hung server would hang every question.
        session = getattr(getattr(client, "_server", None), "_session", None)
        if isinstance(session, httpx.Client):
            session.timeout = httpx.Timeout(settings.chroma_timeout)
        found = ServerIndex(url=url, client=client, timeout=settings.chroma_timeout, secrets=(token,))
        _servers[(url, token)] = found
        return found


def _check_server(url: str, token: str, timeout: float) -> None:
    """Is a Chroma server of this API version there, answering, and taking the token? One line if not."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    major = chromadb.__version__.split(".")[0]
    try:
        with httpx.Client(timeout=timeout, headers=headers) as http:
            beat = http.get(f"{url}/api/v2/heartbeat")
            if beat.status_code in (401, 403):
                raise ChromaServerError(_refused(url, token))
            if beat.status_code != 200 or "nanosecond heartbeat" not in beat.text:
                raise ChromaServerError(
                    f"the Chroma server at {url} is not a Chroma {major}.x server (GET /api/v2/heartbeat answered "
                    f"{beat.status_code}); run `chroma run` of chromadb {chromadb.__version__} there"
                )
            who = http.get(f"{url}/api/v2/auth/identity")
            if who.status_code in (401, 403):
                raise ChromaServerError(_refused(url, token))
    except httpx.HTTPError as exc:
        raise server_error(exc, url, timeout, (token,)) from exc


def _refused(url: str, token: str) -> str:
    if not token:
        return f"the Chroma server at {url} requires a token; set AZCOMPARE_CHROMA_TOKEN"
    return f"the Chroma server at {url} refused the token; check AZCOMPARE_CHROMA_TOKEN"


def server_cache(settings: Settings) -> Path:
    """Where this machine keeps the reader files of the server's versions."""
    assert settings.index_dir is not None and settings.chroma_url is not None
    parsed = urlsplit(settings.chroma_url)
    return settings.index_dir / "server" / f"{parsed.hostname}-{parsed.port}"
