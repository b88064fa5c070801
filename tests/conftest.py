"""Shared fixtures: an offline environment and one real index built from the corpus and the mirror."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from azcompare.settings import OFFLINE_ENV

# A developer's shell settings (and real keys) must not leak into the tests.
_STANDARD = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_VERSION", "OLLAMA_HOST", "AZURE_TOKEN_CREDENTIALS")
for _key in [k for k in os.environ if k.startswith(("AZCOMPARE_", "AZURE_OPENAI_")) or k in _STANDARD]:
    del os.environ[_key]
os.environ.update(OFFLINE_ENV)

ROOT = Path(__file__).resolve().parents[1]
MIRROR = ROOT.parent / "shared" / "corpus-mirror"


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The offline mirror of the Microsoft Learn pages CI provides beside the checkout."""
    if not (MIRROR / "manifest.json").exists():
        pytest.fail(f"the test mirror {MIRROR} is missing; CI provides ../shared/corpus-mirror")
    return MIRROR


@pytest.fixture(scope="session")
def kb_settings(tmp_path_factory: pytest.TempPathFactory, mirror_dir: Path):
    """Settings for a real index of the article plus every mirrored page, built once per session."""
    from azcompare import Settings, build_index

    work = tmp_path_factory.mktemp("kb")
    settings = Settings(home=ROOT, mirror_dir=mirror_dir, cache_dir=work / "cache", index_dir=work / "index")
    build_index(settings)
    return settings


@pytest.fixture
def index_copy(kb_settings, tmp_path):
    """Settings on a private copy of the session index (its active version only)."""
    target = tmp_path / "index"
    target.mkdir()
    from azcompare.index import CURRENT, current_version  # after OFFLINE_ENV is set: it loads the model stack

    version = current_version(kb_settings.index_dir)
    shutil.copytree(version, target / version.name)
    shutil.copy2(kb_settings.index_dir / CURRENT, target / CURRENT)
    return kb_settings.with_overrides(index_dir=target)


def load_script(name: str):
    """scripts/<name>.py imported as a module, so a test can call its functions."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def small_corpus(tmp_path: Path):
    """Settings for a tiny corpus of three local documents and no referenced pages."""
    from azcompare import Settings

    corpus = tmp_path / "corpus"
    write(corpus / "alpha.md", "# Alpha\n\n## Networking\n\nAlpha supports private endpoints in every region.\n")
    write(corpus / "beta.md", "# Beta\n\n## Keys\n\nBeta encrypts data with customer-managed keys.\n")
    write(corpus / "gamma.md", "# Gamma\n\n## Limits\n\nGamma allows 30 resources per region.\n")
    sources = write(tmp_path / "sources.toml", '[[document]]\nfile = "alpha.md"\ndate = 2024-01-02\n')
    return Settings(
        home=tmp_path,
        corpus_dirs=[corpus],
        sources_file=sources,
        cache_dir=tmp_path / "cache",
        index_dir=tmp_path / "index",
    )


def cli_env(settings, **env: str) -> dict[str, str]:
    """The environment of a new process working on the index and cache of `settings`."""
    return {
        **os.environ,
        "AZCOMPARE_HOME": str(ROOT),
        "AZCOMPARE_INDEX_DIR": str(settings.index_dir),
        "AZCOMPARE_CACHE_DIR": str(settings.cache_dir),
        **({"AZCOMPARE_MIRROR_DIR": str(settings.mirror_dir)} if settings.mirror_dir else {}),
        **env,
    }


def run_cli(settings, *args: str, timeout: float = 300, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `azcompare ARGS` in a new process on the index and cache of `settings`."""
    return subprocess.run(
        [sys.executable, "-m", "azcompare.cli", *args],
        env=cli_env(settings, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_async(coroutine_function, *args, timeout: float = 300):
    """Run `await coroutine_function(*args)` on a fresh event loop in its own thread, and return its result.

    Async client code runs beside Playwright's sync API (which owns the main thread's event loop in
    the browser tests), so it gets a loop of its own.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine_function(*args)).result(timeout=timeout)


@pytest.fixture
def busy_settings(tmp_path: Path, mirror_dir: Path):
    """Settings for an index that does not exist yet while another process holds the build lock."""
    from filelock import FileLock

    from azcompare import Settings
    from azcompare.index_state import LOCK_FILE

    index_dir = tmp_path / "index"
    index_dir.mkdir()
    settings = Settings(home=ROOT, mirror_dir=mirror_dir, cache_dir=tmp_path / "cache", index_dir=index_dir)
    with FileLock(str(index_dir / LOCK_FILE)):
        yield settings
