"""Write every dev question's answer (without timings) to a JSON file, or compare two such files.

    python scripts/answer_snapshot.py write before.json      # answers from the index AZCOMPARE_* names
    python scripts/answer_snapshot.py compare before.json after.json

A storage change must not change answers: run `write` before and after it, then `compare` ("N/N identical").
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from azcompare import Settings, answer
from azcompare.evaluation.dataset import load_question_set

ROOT = Path(__file__).resolve().parents[1]


def snapshot(settings: Settings) -> dict[str, Any]:
    """question → the answer as JSON, without the timings (they differ from run to run)."""
    items = [i for i in load_question_set(ROOT / "evals" / "questions.yaml").items if i.split == "dev"]
    found: dict[str, Any] = {}
    for item in items:
        data = answer(item.question, history=list(item.history), settings=settings).to_dict()
        data.pop("timings", None)
        found[item.question] = data
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["write", "compare"])
    parser.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args()
    if args.mode == "write":
        args.files[0].write_text(json.dumps(snapshot(Settings()), ensure_ascii=False, indent=1), encoding="utf-8")
        return
    before, after = (json.loads(p.read_text(encoding="utf-8")) for p in args.files[:2])
    same = [q for q in before if q in after and before[q] == after[q]]
    for question in before:
        if question not in same:
            print(f"differs: {question}")
    print(f"{len(same)}/{len(before)} identical")
    sys.exit(0 if len(same) == len(before) == len(after) else 1)


if __name__ == "__main__":
    main()
