"""Chroma server mode against a real `chroma run` on a free loopback port: build, answer, switch, faults.

Every test starts its own server (a temporary --path), waits for its heartbeat and kills it at teardown.
"""

from __future__ import annotations

import http.server
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import chromadb
import httpx
import pytest

from azcompare import answer, build_index
from azcompare.chroma_server import POINTER, collection_name
from azcompare.index_state import read_progress
from conftest import cli_env, write

CHROMA = Path(sys.executable).with_name("chroma")
GAMMA = "How many resources does Gamma allow per region?"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class ChromaServer:
    """A `chroma run` process on a loopback port; stop() and start() again keep its data and port."""

    path: Path
    port: int = field(default_factory=_free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [str(CHROMA), "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port)]
        log = open(self.path.parent / f"chroma-{self.port}.log", "ab")  # noqa: SIM115 (the server's lifetime)
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"chroma run exited with {self.process.returncode}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
        pytest.fail("chroma run did not answer its heartbeat within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[ChromaServer]:
    """A real Chroma server (the `chroma run` of the installed chromadb) with an empty temporary store."""
    server = ChromaServer(tmp_path / "chroma-data")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def on_server(small_corpus, chroma_server):
    """The small corpus's settings, with the index on the Chroma server."""
    return small_corpus.with_overrides(chroma_url=chroma_server.url)


def _env(settings, **extra: str) -> dict[str, str]:
    """The environment of another process (another machine: its own index_dir) using the same server and corpus."""
    return cli_env(
        settings,
        AZCOMPARE_HOME=str(settings.home),
        AZCOMPARE_CORPUS_DIRS=":".join(str(d) for d in settings.corpus_dirs),
        AZCOMPARE_SOURCES_FILE=str(settings.sources_file),
        AZCOMPARE_CHROMA_URL=settings.chroma_url or "",
        **extra,
    )


def _cli(settings, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "azcompare.cli", *args],
        env=_env(settings, **extra),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _versions(url: str) -> set[str]:
    port = int(url.rsplit(":", 1)[1])
    names = [c.name for c in chromadb.HttpClient(host="127.0.0.1", port=port).list_collections()]
    return {n[len("azc-") :].rsplit("-", 1)[0] for n in names if n.startswith("azc-v-")}


def test_build_and_answer_through_the_server_and_a_second_machine_gets_the_same_answer(on_server, tmp_path):
    report = build_index(on_server)
    assert report.full and report.version.startswith("v-")
    assert _versions(on_server.chroma_url) == {report.version}
    assert not (on_server.index_dir / "CURRENT").exists(), "server mode keeps no local version"
    here = answer(GAMMA, settings=on_server)
    assert here.status == "answered" and "30 resources per region" in here.text

    # Another machine: its own empty index folder; it fetches the reader files from the server once.
    other = _cli(on_server, "ask", GAMMA, AZCOMPARE_INDEX_DIR=str(tmp_path / "elsewhere"))
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip().startswith(here.text.splitlines()[0])
    cached = tmp_path / "elsewhere" / "server" / f"127.0.0.1-{on_server.chroma_url.rsplit(':', 1)[1]}"
    assert (cached / report.version / "reader" / "sentences.npy").is_file()


_READER = """
import sys
from azcompare import answer
for line in sys.stdin:
    print(answer(line.strip()).text.replace("\\n", " "), flush=True)
"""


def test_a_new_version_reaches_a_running_reader_process_and_old_versions_are_removed(on_server):
    first = build_index(on_server)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER],
        env=_env(on_server),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:

        def ask() -> str:
            assert reader.stdin is not None and reader.stdout is not None
            reader.stdin.write(GAMMA + "\n")
            reader.stdin.flush()
            return reader.stdout.readline()

        assert "30 resources per region" in ask()
        write(on_server.corpus_dirs[0] / "gamma.md", "# Gamma\n\n## Limits\n\nGamma allows 45 resources per region.\n")
        second = build_index(on_server)
        assert not second.full and second.updated == ["gamma"] and second.embedded_chunks == 1
        deadline = time.monotonic() + 30  # the reader looks at the pointer about once a second
        seen = ask()
        while "45 resources" not in seen and time.monotonic() < deadline:
            time.sleep(0.5)
            seen = ask()
        assert "45 resources per region" in seen, seen
        assert _versions(on_server.chroma_url) == {first.version, second.version}  # the previous one is kept

        write(on_server.corpus_dirs[0] / "beta.md", "# Beta\n\n## Keys\n\nBeta encrypts data with Key Vault keys.\n")
        third = build_index(on_server)
        assert _versions(on_server.chroma_url) == {second.version, third.version}
    finally:
        reader.kill()
        reader.wait(timeout=30)


def test_a_server_that_is_down_gives_one_line_naming_it_and_answers_again_once_back(on_server, chroma_server):
    build_index(on_server)
    assert answer(GAMMA, settings=on_server).status == "answered"
    chroma_server.stop()

    down = answer(GAMMA, settings=on_server)
    assert down.status == "rejected"
    assert down.text.startswith(f"The knowledge base is not available: the Chroma server at {chroma_server.url}")
    assert "\n" not in down.text
    cli = _cli(on_server, "ask", GAMMA)
    assert cli.returncode == 2 and chroma_server.url in cli.stdout + cli.stderr
    assert "is not reachable" in cli.stdout + cli.stderr and "Traceback" not in cli.stderr
    built = _cli(on_server, "index")
    assert built.returncode == 2 and built.stderr.startswith(f"error: the Chroma server at {chroma_server.url}")

    chroma_server.start()
    back = answer(GAMMA, settings=on_server)
    assert back.status == "answered" and "30 resources per region" in back.text


def test_a_server_that_does_not_answer_times_out_with_one_line(small_corpus):
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        slow = small_corpus.with_overrides(chroma_url=url, chroma_timeout=1.0)
        result = answer(GAMMA, settings=slow)
    assert result.status == "rejected"
    assert result.text == (
        f"The knowledge base is not available: the Chroma server at {url} did not answer within 1 s; "
        "start it with `chroma run --path DIR --port PORT` or check AZCOMPARE_CHROMA_URL."
    )


class _Plain(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.end_headers()
        self.wfile.write(b"not here")

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_that_is_not_a_chroma_server_of_this_version_says_so(small_corpus):
    plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Plain)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{plain.server_address[1]}"
        result = answer(GAMMA, settings=small_corpus.with_overrides(chroma_url=url))
    finally:
        plain.shutdown()
    assert result.status == "rejected"
    assert f"the Chroma server at {url} is not a Chroma {chromadb.__version__.split('.')[0]}.x server" in result.text
    assert "GET /api/v2/heartbeat answered 404" in result.text


def _token_gate(upstream: str, token: str) -> http.server.ThreadingHTTPServer:
    """A reverse proxy that lets through only requests with the token, as in front of a shared server.

    `chroma run` of chromadb 1.x accepts every request (it does not implement the token providers of the
    Python server), so a team that wants a token puts the server behind such a proxy.
    """

    class Gate(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.headers.get("Authorization") != f"Bearer {token}":
                self.send_response(401)
                self.send_header("Content-Length", "12")
                self.end_headers()
                self.wfile.write(b"Unauthorized")
                return
            sent = httpx.request(
                self.command,
                upstream + self.path,
                content=body,
                headers={"Content-Type": self.headers.get("Content-Type") or "application/json"},
                timeout=60,
            )
            self.send_response(sent.status_code)
            self.send_header("Content-Type", sent.headers.get("Content-Type", "application/json"))
            self.send_header("Content-Length", str(len(sent.content)))
            self.end_headers()
            self.wfile.write(sent.content)

        do_GET = do_POST = do_PUT = do_DELETE = _forward

        def log_message(self, *args: object) -> None:
            pass

    gate = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Gate)
    threading.Thread(target=gate.serve_forever, daemon=True).start()
    return gate


def test_a_refused_token_gives_one_line_without_the_token(on_server, chroma_server):
    gate = _token_gate(chroma_server.url, "the-right-token-42")
    try:
        url = f"http://127.0.0.1:{gate.server_address[1]}"
        right = on_server.with_overrides(chroma_url=url, chroma_token="the-right-token-42")
        build_index(right)
        assert "30 resources per region" in answer(GAMMA, settings=right).text

        wrong = _cli(right, "ask", GAMMA, AZCOMPARE_CHROMA_TOKEN="a-wrong-token-17")
        out = wrong.stdout + wrong.stderr
        assert wrong.returncode == 2 and "Traceback" not in out
        assert f"the Chroma server at {url} refused the token; check AZCOMPARE_CHROMA_TOKEN" in out
        assert "a-wrong-token-17" not in out and "the-right-token-42" not in out
        none = _cli(right, "ask", GAMMA, AZCOMPARE_CHROMA_TOKEN="")
        assert f"the Chroma server at {url} requires a token; set AZCOMPARE_CHROMA_TOKEN" in none.stdout + none.stderr
    finally:
        gate.shutdown()


def test_a_server_killed_during_a_build_leaves_the_previous_version_serving(on_server, chroma_server):
    first = build_index(on_server)
    # Enough sentences for several embedding batches, so that the server dies while the build writes.
    lines = "\n\n".join(f"Delta keeps {n} copies of item {n} in zone {n % 7}." for n in range(400))
    write(on_server.corpus_dirs[0] / "delta.md", f"# Delta\n\n## Copies\n\n{lines}\n")
    build = subprocess.Popen(
        [sys.executable, "-m", "azcompare.cli", "index"],
        env=_env(on_server),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        running = read_progress(on_server.index_dir)
        if running is not None and running.done > 0:
            break
        time.sleep(0.1)
    else:
        build.kill()
        pytest.fail("the build reported no progress")
    chroma_server.stop()
    out, err = build.communicate(timeout=120)
    assert build.returncode == 2, (out, err)
    assert err.strip().splitlines()[-1].startswith(f"error: the Chroma server at {chroma_server.url}")
    assert "Traceback" not in err

    chroma_server.start()
    pointer = chromadb.HttpClient(host="127.0.0.1", port=chroma_server.port).get_collection(POINTER).metadata
    assert pointer["version"] == first.version
    served = answer(GAMMA, settings=on_server)
    assert served.status == "answered" and "30 resources per region" in served.text

    again = build_index(on_server)  # the next build removes what the killed one left
    assert _versions(on_server.chroma_url) == {first.version, again.version}
    assert collection_name(again.version, "chunks").startswith("azc-v-")
