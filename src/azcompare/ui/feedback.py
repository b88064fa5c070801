"""Thumbs up/down: appended, one JSON object per line, with the question, answer and citations.

The file is the server's (AZCOMPARE_FEEDBACK_PATH); a visitor can add ratings of their own answers to it,
nothing else, and only until it reaches MAX_BYTES.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from azcompare.types import Answer

# Every rating is a few kilobytes; this bounds the disk a visitor clicking thumbs over and over can use.
MAX_BYTES = 50 * 1024 * 1024


class FeedbackError(RuntimeError):
    """A rating could not be saved; the message says why."""


def record(path: Path, result: Answer, *, liked: bool) -> None:
    """Append one rating to the JSONL feedback file (folders are created as needed)."""
    entry = {
        "time": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
        "rating": "up" if liked else "down",
        "question": result.question,
        "standalone_question": result.standalone_question,
        "answer": result.text,
        "provider": result.provider,
        "abstained": result.abstained,
        "citations": [c.to_dict() for c in result.citations],
    }
    try:
        if path.exists() and path.stat().st_size >= MAX_BYTES:
            raise FeedbackError(f"The feedback file is full ({MAX_BYTES // 2**20} MB); your rating was not saved.")
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise FeedbackError(f"Could not save your rating: {exc.strerror or exc}.") from exc
