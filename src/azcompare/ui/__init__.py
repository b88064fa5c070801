"""The Gradio chat UI: `launch()` serves it, `build_app()` returns the Blocks app."""

from azcompare.ui.gradio_tuning import tune_gradio

tune_gradio()  # before app.py imports gradio

from azcompare.ui.app import build_app, launch  # noqa: E402

__all__ = ["build_app", "launch"]
