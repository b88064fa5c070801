"""Costs Gradio pays for features this app does not use, set aside.

- Its type stubs: every `import gradio` regenerates the `.pyi` stub of each component class in its own
  site-packages folder (`gradio.component_meta.create_or_modify_pyi` parses the class's source, renders a
  template and compares it with the file). The stubs only serve editors, the wheel ships them, and on
  two shared cores the step costs 1.5–2.5 s of a ~4 s import.
- Its monitoring summary: after every event the queue rebuilds a pandas table of the last 10,000
  events for the monitoring dashboard (`GRADIO_ANALYTICS_CACHE_FREQUENCY`, default every event), a cost
  that grows as the server runs. The dashboard is off here (`enable_monitoring` is never set).
- Its queue's polling: with no event to start, the queue looks again every millisecond (and for progress
  to send every 10 ms), so an idle app spent 4 % of a core (40 of 1,000 CPU ticks in 10 s, measured) and
  a busy one about 2 ms of CPU per answer (scripts/loadtest.py, 16 users: 25 → 23 ms). Every 5 ms (and
  100 ms) costs 1.2 % idle; a waiting question starts at most 5 ms later.

Nothing else about Gradio changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

TARGET = "gradio.component_meta"
QUEUE_POLL_S = 0.005  # Gradio's default on Linux: 0.001
PROGRESS_POLL_S = 0.1  # Gradio's default on Linux: 0.01; a rebuild's progress bar needs no more
# Gradio's own settings, read when a queue is made: the summary is never rebuilt, little is recorded.
QUEUE_ENV = {"GRADIO_ANALYTICS_CACHE_FREQUENCY": str(2**31 - 1), "GRADIO_ANALYTICS_MAX_EVENTS": "1"}


def _no_stub(*_args: Any, **_kwargs: Any) -> None:
    """Stands in for `create_or_modify_pyi`: the shipped stubs stay as they are."""


class _SkipStubs(importlib.abc.MetaPathFinder):
    """Finds `gradio.component_meta` as usual and swaps its stub writer out right after it runs."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != TARGET:
            return None
        sys.meta_path.remove(self)  # once is enough
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        loader = spec.loader if spec else None
        if spec is None or loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run(module)
            if hasattr(module, "create_or_modify_pyi"):
                module.create_or_modify_pyi = _no_stub  # type: ignore[attr-defined]

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def tune_gradio() -> None:
    """Make the coming `import gradio` skip its stub step, and its queues their monitoring summary.

    Call it before Gradio is imported; a value already set in the environment is kept.
    """
    for name, value in QUEUE_ENV.items():
        os.environ.setdefault(name, value)
    if TARGET in sys.modules or any(isinstance(f, _SkipStubs) for f in sys.meta_path):
        return
    sys.meta_path.insert(0, _SkipStubs())


def tune_queue(demo: Any) -> None:
    """Make the queue of `demo` (after `demo.queue()`) look for work less often: see the module's notes.

    The settings are the queue's own attributes; a Gradio without them is left as it is.
    """
    queue = getattr(demo, "_queue", None)
    for name, seconds in (("sleep_when_free", QUEUE_POLL_S), ("progress_update_sleep_when_free", PROGRESS_POLL_S)):
        if hasattr(queue, name):
            setattr(queue, name, seconds)
