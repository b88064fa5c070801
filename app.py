"""Start the azcompare chat UI: `python app.py` (http://127.0.0.1:7860); the same as `azcompare serve`."""

import sys

from azcompare.settings import apply_offline_env

apply_offline_env()

if __name__ == "__main__":
    from azcompare.cli import main

    main(["serve", *sys.argv[1:]])  # bad settings or a broken index: one line, no traceback
