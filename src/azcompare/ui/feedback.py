"""Thumbs up/down: appended, one JSON object per line, with the question, answer and citations."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from azcompare.types import Answer


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
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
