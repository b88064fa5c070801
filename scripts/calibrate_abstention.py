"""Choose the abstention threshold on the dev split and print how each candidate scores.

    python scripts/calibrate_abstention.py [evals/dev.yaml]

The threshold is the middle of the widest interval of evidence strengths that gives the best
abstention accuracy on the dev items; it is then set as the default of `abstain_threshold` in
settings.py. Only dev items are read, so the held-out score stays an honest estimate.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

from azcompare import Settings, answer
from azcompare.evaluation.dataset import load_question_set


def main(path: Path) -> None:
    settings = Settings().with_overrides(abstain_threshold=0.0)
    items = [i for i in load_question_set(path).items if i.split in ("", "dev")]
    points = []
    for item in items:
        result = answer(item.question, history=list(item.history) or None, settings=settings)
        points.append((result.strength or 0.0, not item.answerable, item.id))
    points.sort()
    strengths = [p[0] for p in points]
    cuts = [0.0] + [(a + b) / 2 for a, b in itertools.pairwise(strengths)] + [1.0]

    def accuracy(t: float) -> float:
        return sum((s < t) == oos for s, oos, _ in points) / len(points)

    best = max(accuracy(t) for t in cuts)
    good = [t for t in cuts if accuracy(t) == best]
    # The widest run of equally good thresholds; its middle leaves the most margin on both sides.
    runs: list[list[float]] = []
    for t in good:
        if runs and cuts.index(t) == cuts.index(runs[-1][-1]) + 1:
            runs[-1].append(t)
        else:
            runs.append([t])
    widest = max(runs, key=lambda r: (r[-1] - r[0], -r[0]))
    low = max((s for s, _, _ in points if s < widest[0]), default=0.0)
    high = min((s for s, _, _ in points if s >= widest[-1]), default=1.0)
    chosen = round((low + high) / 2, 3)
    print(f"{len(points)} dev items ({sum(p[1] for p in points)} out of scope)")
    for s, oos, item_id in points:
        print(f"  {s:.3f}  {'out-of-scope' if oos else 'answerable  '}  {item_id}")
    print(f"best accuracy {best:.3f} for thresholds in [{low:.3f}, {high:.3f}); chosen: {chosen}")
    print(f"current default abstain_threshold: {Settings().abstain_threshold}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "evals/dev.yaml"))
