"""Start the azcompare chat UI: `python app.py` (http://127.0.0.1:7860)."""

from azcompare.settings import apply_offline_env

apply_offline_env()

if __name__ == "__main__":
    from azcompare.ui import launch

    launch()
