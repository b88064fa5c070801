"""A deployment beyond localhost: sign-in required (AZCOMPARE_AUTH), read-only (no rebuild, no endpoint for it)."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
import time

import httpx
import pytest
from gradio_client import Client

from conftest import ROOT, run_async
from e2e.conftest import free_port

USER, PASSWORD = "reviewer", "correct-horse-battery"


@pytest.fixture(scope="module")
def locked_server(kb_settings, tmp_path_factory):
    """`python app.py` with sign-in and read-only mode, on the session index (never changed here)."""
    port = free_port()
    env = {
        **os.environ,
        "AZCOMPARE_HOME": str(ROOT),
        "AZCOMPARE_INDEX_DIR": str(kb_settings.index_dir),
        "AZCOMPARE_CACHE_DIR": str(kb_settings.cache_dir),
        "AZCOMPARE_PORT": str(port),
        "AZCOMPARE_AUTH": f"{USER}:{PASSWORD}",
        "AZCOMPARE_READ_ONLY": "true",
    }
    log_path = tmp_path_factory.mktemp("locked") / "server.log"
    with log_path.open("w") as log:
        command = [sys.executable, str(ROOT / "app.py")]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and process.poll() is None:
            try:
                httpx.get(url, timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        if process.poll() is not None:
            pytest.fail(f"app exited: {log_path.read_text()[-2000:]}")
        yield url, log_path
        process.terminate()
        process.wait(timeout=20)


def test_the_page_and_its_api_need_the_sign_in(locked_server):
    url, _ = locked_server
    assert httpx.get(url + "config", timeout=10).status_code == 401
    with pytest.raises(Exception, match=r"(?i)login|auth|401"):
        Client(url, verbose=False)
    client = Client(url, auth=(USER, PASSWORD), verbose=False)
    result = client.predict("Does OpenAI support private endpoints?", "[]", "", 0, api_name="/ask")
    assert result["status"] == "answered" and result["citations"]


def test_read_only_has_no_rebuild_and_never_touched_the_index(locked_server, kb_settings):
    url, log_path = locked_server
    client = Client(url, auth=(USER, PASSWORD), verbose=False)
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert "/ask" in endpoints and not [name for name in endpoints if "rebuild" in name]
    session = httpx.Client(timeout=10)
    assert session.post(url + "login", data={"username": USER, "password": PASSWORD}).status_code in (200, 302, 303)
    config = session.get(url + "config").json()
    ids = {c.get("props", {}).get("elem_id") for c in config["components"]}
    assert "az-rebuild" not in ids and "az-question" in ids
    assert "Read-only mode: the index is not built or changed here." in log_path.read_text()
    assert PASSWORD not in log_path.read_text()


async def _mcp_tools(url: str, headers: dict[str, str]) -> list[str]:
    """The tools the real MCP client lists over streamable HTTP, sending `headers` with every request."""
    import httpx2  # the HTTP client the mcp SDK is built on
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers=headers) as http, Client(streamable_http_client(url, http_client=http)) as c:
        return [t.name for t in (await c.list_tools()).tools]


def test_mcp_over_http_needs_the_same_sign_in(locked_server):
    url, _ = locked_server
    probe = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    assert httpx.post(url + "mcp", json=probe, timeout=10).status_code == 401
    wrong = httpx.post(url + "mcp", json=probe, auth=(USER, "wrong"), timeout=10)
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Basic")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    assert run_async(_mcp_tools, url + "mcp", {"Authorization": f"Basic {token}"}) == ["ask", "search"]
