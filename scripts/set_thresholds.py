"""Write evals/thresholds.toml from a run of the dev split: each threshold is the dev score minus a margin.

    azcompare eval evals/questions.yaml --split dev --no-baseline --out evals/runs
    python scripts/set_thresholds.py evals/runs/<that run> [--out evals/thresholds.toml]

Only a dev run is accepted, so the held-out split stays an honest test: its size sets how wide the
margin must be (a smaller sample varies more), its scores never enter. The margin rule is in
src/azcompare/evaluation/gate.py.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from azcompare.evaluation.dataset import load_question_set
from azcompare.evaluation.gate import MIN_MARGIN, derive, to_toml, units, z_for
from azcompare.evaluation.metrics import METRICS
from azcompare.evaluation.runs import EvaluationError, load_run

HEADER = """# Quality gate thresholds: `make test` fails when the {provider} provider scores below them on the
# {split} split (tests/test_quality_gate.py); `azcompare eval ... --thresholds evals/thresholds.toml` checks a run.
#
# How they were set, from the DEV split only (never from the held-out scores):
#   threshold = dev score − margin   (+ margin, as a maximum, for lower-is-better metrics), to 2 decimals
#   margin    = max({floor}, z · sqrt(p(1−p)) · sqrt(1/n_dev + 1/n_heldout)),  p = (x + 2) / (n_dev + 4)
#   z         = {z:.3f}: one-sided, Bonferroni-corrected for the {k} metrics checked together (family-wise 5%)
# i.e. a held-out score below a threshold is a drop larger than the difference between two samples of
# questions explains by chance. n_dev is the number of dev questions a metric applies to (x: the sum of their
# scores); n_heldout scales it by the split sizes ({n_heldout} held-out / {n_dev} dev questions).
# The `dev` and `margin` lines record where each bound came from; tests/test_eval_gate.py checks they agree.
#
# Dev run: {run} (commit {commit})
#   {command}
# Regenerate: python scripts/set_thresholds.py <dev run folder>   (after a deliberate change, with a reason)
"""


def _history(path: Path) -> str:
    """The "# History" comment block of the thresholds file being replaced: it outlives each regeneration."""
    if not path.exists():
        return ""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("# History")), None)
    if start is None:
        return ""
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line)
    return "#\n" + "\n".join(block) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder of the dev split")
    parser.add_argument("--out", type=Path, default=Path("evals/thresholds.toml"))
    parser.add_argument("--note", default="", help="a paragraph for the header: why the thresholds changed")
    args = parser.parse_args()
    try:
        run = load_run(args.run)
        split = run.config.get("split")
        results = run.results("ours")
        if split != "dev" or any(r.get("split") != "dev" for r in results):
            raise EvaluationError(f"{args.run} is not a run of the dev split only: thresholds come from dev")
        questions = load_question_set(run.config["question_set"]["path"])
    except (EvaluationError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    n_dev, n_heldout = len(results), len(questions.split("heldout"))
    overall = run.aggregates("ours")["overall"]
    gated = [
        metric
        for metric in METRICS
        if metric.bounded and metric.higher_is_better is not None and overall.get(metric.name) is not None
    ]
    z = z_for(len(gated))
    thresholds = []
    for metric in gated:
        rows = [(r["kind"] != "out_of_scope", r["metrics"].get(metric.name)) for r in results]
        values = units(metric.name, rows)
        n_other = max(1, round(len(values) * n_heldout / n_dev))
        thresholds.append(derive(metric.name, overall[metric.name], values, n_other, metric.higher_is_better, z))
    header = HEADER.format(
        provider=run.config["provider"],
        split="heldout",
        floor=MIN_MARGIN,
        z=z,
        k=len(gated),
        n_heldout=n_heldout,
        n_dev=n_dev,
        run=run.name,
        commit=(run.config.get("git", {}).get("commit") or "unknown")[:12],
        command=run.config.get("command") or "azcompare eval",
    )
    # The history outlives each regeneration; a note joins it.
    history = _history(args.out)
    if args.note:
        text = args.note if history else f"History: {args.note}"
        history = (history or "#\n") + "".join(f"# {line}\n" for line in textwrap.wrap(text, 110))
    header += history
    args.out.write_text(to_toml(run.config["provider"], "heldout", thresholds, header), encoding="utf-8")
    for t in thresholds:
        sign = "≥" if t.direction == "min" else "≤"
        print(f"{t.metric:<24} dev {t.dev:.3f}  margin {t.margin:.3f}  → {sign} {t.bound:.2f}")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
