"""A real app server on a free loopback port, over a copy of the session index plus a test document."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import ROOT, write
from loopback_servers import Behaviour, OpenAIServer, passage_number

# Escaped markup in a Markdown document: cleaning unescapes it, so the passage holds real tags.
XSS_DOCUMENT = """# Sanitizer test page

## Script handling

The sanitizer test page says &lt;script&gt;window.__xss = 1&lt;/script&gt; must show as plain text.
The sanitizer test page also says &lt;img src=x onerror="window.__xss = 2"&gt; must never load.
"""


# The OpenAI provider's key in the app under test: it must never reach the page.
OPENAI_KEY = "sk-e2e-0123456789abcdef"


def _model_reply(body: dict) -> str:
    """A model that cites the matrix row, then adds a claim no passage backs (the UI must flag it)."""
    n = passage_number(body, "Private Endpoints: OpenAI no")
    return (
        f"Azure OpenAI supports private endpoints, while OpenAI does not [{n}]. "
        f"Azure OpenAI also gives every student unlimited free GPUs [{n}]."
    )


@pytest.fixture(scope="session")
def model_server():
    """An OpenAI chat-completions server on loopback, streaming a token every 50 ms."""
    with OpenAIServer(reply=_model_reply, behaviour=Behaviour(delay_each=0.05)) as server:
        yield server


def free_port() -> int:
    """A port nothing listens on now, on loopback."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def ui_server(kb_settings, model_server, tmp_path_factory):
    """Start `python app.py` for real and yield its URL and the paths it writes to."""
    work = tmp_path_factory.mktemp("ui")
    shutil.copytree(kb_settings.index_dir, work / "index")
    extra = work / "extra-corpus"
    write(extra / "sanitizer-test.md", XSS_DOCUMENT)
    port = free_port()
    feedback = work / "feedback" / "feedback.jsonl"
    env = {
        **os.environ,
        "AZCOMPARE_HOME": str(ROOT),
        "AZCOMPARE_CORPUS_DIRS": f"{ROOT / 'corpus'}:{extra}",
        "AZCOMPARE_INDEX_DIR": str(work / "index"),
        "AZCOMPARE_CACHE_DIR": str(kb_settings.cache_dir),
        "AZCOMPARE_FEEDBACK_PATH": str(feedback),
        "AZCOMPARE_PORT": str(port),
        "OPENAI_API_KEY": OPENAI_KEY,
        "AZCOMPARE_OPENAI_BASE_URL": model_server.url + "/v1",
    }
    log = (work / "server.log").open("w")
    process = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"app exited with {process.returncode}: {(work / 'server.log').read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.5)
    else:
        process.terminate()
        pytest.fail(f"app did not start: {(work / 'server.log').read_text()[-2000:]}")
    yield {
        "url": url,
        "feedback": feedback,
        "log": work / "server.log",
        "openai_key": OPENAI_KEY,
        "index_dir": work / "index",
        "cache_dir": kb_settings.cache_dir,
        "env": env,
    }
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    executable = Path("/usr/bin/chromium")
    if not executable.exists():
        pytest.fail("Debian chromium is missing: `make test` installs it (apt package chromium)")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(executable),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield instance
        instance.close()
