"""Referenced pages: sync from a mirror, download over real HTTP (loopback), offline notices."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from azcompare import Settings
from azcompare.corpus.loaders import load_documents
from azcompare.corpus.sources import (
    SourcesError,
    load_source_list,
    normalize_url,
    read_state,
    source_status,
    sync_sources,
)
from conftest import ROOT, write

PAGE_HTML = """<!DOCTYPE html><html><head><title>Private networking | Example Docs</title>
<meta name="ms.date" content="03/04/2025"></head><body><nav>Home | Docs</nav><main><article>
<h1>Private networking for Example AI</h1>
<p>Example AI supports private endpoints so that traffic stays on the Microsoft backbone network.
You configure them per resource in the networking blade of the portal.</p>
<h2>Feature table</h2>
<table><tr><th>Feature</th><th>Supported</th></tr><tr><td>Private endpoints</td><td>Yes</td></tr></table>
<p>Requests from public networks are rejected once public access is disabled.</p>
</article></main><footer>© Example</footer></body></html>"""


@pytest.fixture
def web_server():
    """A loopback HTTP server serving one HTML page and one PDF."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/docs/private-networking":
                body, ctype = PAGE_HTML.encode(), "text/html; charset=utf-8"
            elif self.path == "/files/offerings.pdf":
                body, ctype = b"%PDF-1.4 ...", "application/pdf"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_sources_toml_lists_article_and_every_mirrored_url(mirror_dir):
    sources = load_source_list(ROOT / "corpus" / "sources.toml")
    article = sources.local("openai-vs-azure-openai.md")
    assert article is not None and article.date is not None
    listed = {normalize_url(p.url) for p in sources.pages}
    manifest = json.loads((mirror_dir / "manifest.json").read_text())
    assert {normalize_url(e["url"]) for e in manifest} <= listed
    # Every link in the article is listed too.
    text = (ROOT / "corpus" / "openai-vs-azure-openai.md").read_text()
    import re

    for url in re.findall(r"\]\((https?://[^)\s]+)\)", text):
        assert normalize_url(url) in listed, url


def test_sync_from_mirror_copies_pages_into_the_cache(tmp_path, mirror_dir):
    settings = Settings(home=ROOT, mirror_dir=mirror_dir, cache_dir=tmp_path / "cache", index_dir=tmp_path / "i")
    report = sync_sources(settings)
    manifest = json.loads((mirror_dir / "manifest.json").read_text())
    assert len(report.synced) == len(manifest)
    for entry in manifest:
        cached = settings.pages_dir / entry["file"]
        assert cached.read_bytes() == (mirror_dir / entry["file"]).read_bytes()
    # The third-party pages the article cites are not in the mirror: reported, with how to add them.
    assert report.missing and all("learn.microsoft.com" not in p.url for p in report.missing)
    status = source_status(settings)
    assert len(status.synced) == len(manifest)
    assert "AZCOMPARE_MIRROR_DIR" not in status.notice(settings) and "sources sync" in status.notice(settings)
    docs = {d.id: d for d in load_documents(settings)}
    assert docs["azure-openai-limited-access"].url.endswith("/limited-access")
    assert docs["openai-vs-azure-openai"].kind == "article"


def test_the_cache_is_git_ignored():
    for path in (".cache/pages/azure-openai-overview.md", "index/v-1/chroma/data.bin", "index/CURRENT"):
        result = subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT, check=False)
        assert result.returncode == 0, f"{path} is not git-ignored"


def test_broken_mirror_gets_a_clear_error(tmp_path):
    settings = Settings(home=ROOT, mirror_dir=tmp_path / "nowhere", cache_dir=tmp_path / "cache")
    with pytest.raises(SourcesError, match="does not exist"):
        sync_sources(settings)
    (tmp_path / "m").mkdir()
    write(tmp_path / "m" / "manifest.json", "{not json")
    with pytest.raises(SourcesError, match=r"manifest\.json: not valid JSON"):
        sync_sources(settings.with_overrides(mirror_dir=tmp_path / "m"))


def test_download_converts_html_over_real_http(tmp_path, web_server):
    sources = write(
        tmp_path / "sources.toml",
        f'[[page]]\nurl = "{web_server}/docs/private-networking"\ntitle = "Private networking"\n'
        f'[[page]]\nurl = "{web_server}/files/offerings.pdf"\ntitle = "Offerings"\n'
        f'[[page]]\nurl = "{web_server}/gone"\ntitle = "Gone"\n',
    )
    settings = Settings(home=tmp_path, corpus_dirs=[tmp_path / "none"], sources_file=sources, cache_dir=tmp_path / "c")
    report = sync_sources(settings)
    assert [p.title for p in report.synced] == ["Private networking for Example AI"]
    assert "not an HTML page" in report.failed[f"{web_server}/files/offerings.pdf"]
    assert "404" in report.failed[f"{web_server}/gone"]
    (doc,) = load_documents(settings)
    assert "supports private endpoints" in doc.text
    assert "Private endpoints" in doc.text and "Home | Docs" not in doc.text
    assert doc.date is not None and doc.date.isoformat() == "2025-03-04"
    assert read_state(settings.pages_dir)[0].origin == "download"


def test_offline_without_mirror_prints_one_line_notice(tmp_path):
    # Port 9 on loopback: nothing listens, so the download fails at once, as it would offline.
    sources = write(tmp_path / "sources.toml", '[[page]]\nurl = "http://127.0.0.1:9/page"\ntitle = "P"\n')
    env = {
        "PATH": "/usr/bin:/bin",
        "AZCOMPARE_HOME": str(tmp_path),
        "AZCOMPARE_SOURCES_FILE": str(sources),
        "AZCOMPARE_CACHE_DIR": str(tmp_path / "cache"),
        "HF_HUB_OFFLINE": "1",
    }
    result = subprocess.run(
        [sys.executable, "-m", "azcompare.cli", "sources", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "0 page file(s) synced from download" in result.stdout
    assert "offline? Set AZCOMPARE_MIRROR_DIR" in result.stderr
    notice = source_status(Settings(home=tmp_path, sources_file=sources, cache_dir=tmp_path / "cache")).notice(
        Settings(home=tmp_path)
    )
    assert notice is not None and "AZCOMPARE_MIRROR_DIR" in notice


def test_mirror_pages_replaced_when_mirror_changes(tmp_path, mirror_dir):
    mirror = tmp_path / "mirror"
    shutil.copytree(mirror_dir, mirror)
    settings = Settings(home=ROOT, mirror_dir=mirror, cache_dir=tmp_path / "cache")
    sync_sources(settings)
    manifest = json.loads((mirror / "manifest.json").read_text())
    dropped = manifest.pop()
    (mirror / "manifest.json").write_text(json.dumps(manifest))
    sync_sources(settings)
    assert not (settings.pages_dir / dropped["file"]).exists()
    assert dropped["file"] not in {p.file for p in read_state(settings.pages_dir)}
