"""Terminal helpers the commands share: settings with one-line errors, progress bars, and the user's errors.

Kept apart from cli.py so that the `eval` commands (evaluation/cli.py) use them without importing the
command line that mounts them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from pydantic import ValidationError

from azcompare.settings import Settings


class CliError(Exception):
    """A message for the user; exit code 2."""


def load_settings(**overrides: Any) -> Settings:
    """Settings from the environment with overrides; invalid values become one CliError line."""
    try:
        return Settings().with_overrides(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"AZCOMPARE_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in exc.errors()
        )
        raise CliError(f"invalid settings: {problems}") from exc


@contextmanager
def progress_bar(description: str, unit: str = "chunk") -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar on stderr driven by (done, total) callbacks; silent while total is zero."""
    from tqdm import tqdm

    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if total <= 0:
            return
        if bar is None:
            bar = tqdm(total=total, initial=done, desc=description, unit=unit, file=sys.stderr, dynamic_ncols=True)
        bar.total = total
        bar.n = done
        bar.refresh()

    try:
        yield update
    finally:
        if bar is not None:
            bar.close()
