"""The Gradio chat UI: `launch()` serves it, `build_app()` returns the Blocks app."""

from azcompare.ui.app import build_app, launch

__all__ = ["build_app", "launch"]
