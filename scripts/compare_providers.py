"""Compare answer providers on a question set in one run: quality, grounding and speed side by side.

    python scripts/compare_providers.py [evals/questions.yaml] --split heldout \
        [--configs extractive,local:smollm2,local:qwen0.5b,local:qwen] [--threads 1]

Each configuration is a provider, optionally with a local model after a colon. For each it prints
fact recall, lead accuracy, citation validity and support, abstention accuracy (the evaluation
metrics of azcompare.evaluation.metrics); the kept rate: of the answers the model was asked to
write, the share that passed verification and was not replaced by the extractive answer; how often
a kept answer had sentences flagged unsupported; p50/p95 of the whole answer and of the time to its
first token; and generation speed in tokens per second (completion tokens over generation time,
summed over the answers that called the model). The model is loaded before timing starts; the load
time is printed separately. Tune on `--split dev`; report `--split heldout`.

Why the model's answers were replaced is counted by the check the lead failed (Answer.fallback:
unsupported by its statement, verdict disagreement, not an answer, empty, timeout...) and printed
under the table. Kept answers are also checked for correctness: of the kept answers, the share whose
lead (first sentence) holds an expected fact, and whose verdict is the expected one on yes/no items,
each beside the extractive answer's figure on the same questions (the per-question lead_accuracy and
verdict_accuracy of azcompare.evaluation.metrics): a kept lead is verified against its statement, but
it can still lead with the less relevant fact.

The figures of every local model are also saved for `azcompare models` to show (models.py,
`comparison_path`: in the user's cache folder, outside the repository).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tqdm import tqdm

from azcompare import models
from azcompare.answering.pipeline import answer
from azcompare.evaluation.dataset import load_question_set
from azcompare.evaluation.metrics import percentile
from azcompare.evaluation.runner import ItemResult, RunResult, run_items
from azcompare.settings import Settings, apply_offline_env
from azcompare.types import Answer

ROOT = Path(__file__).resolve().parents[1]


def run_config(config: str, items, base: Settings) -> tuple[RunResult, float]:
    """Answer every item with one provider configuration; returns the run and the warm-up seconds."""
    provider, _, model = config.partition(":")
    settings = base.with_overrides(local_model=model or None)
    if provider == "local" and models.unavailable_reason(settings):
        # Measuring the extractive fallback under a model's name would be misleading.
        raise SystemExit(f"{config}: {models.unavailable_reason(settings)}")
    started = time.perf_counter()
    answer("Does Azure OpenAI support private endpoints?", provider=provider, settings=settings)  # load the model
    warm_up = time.perf_counter() - started
    with tqdm(total=len(items), desc=config, unit="q", file=sys.stderr) as bar:
        run = run_items(items, settings, provider=provider, progress=lambda done, total: bar.update(done - bar.n))
    return run, warm_up


def _asked(answer: Answer) -> bool:
    """The model was asked to write this answer (weak evidence and "the sources lack X" are answered
    without it); a model that failed or timed out was asked too."""
    return answer.status == "answered" and ("generate_ms" in answer.timings or bool(answer.fallback))


def _kept_mean(kept: list[ItemResult], name: str, reference: dict[str, ItemResult] | None) -> float | None:
    """The mean of metric `name` over the kept answers where it applies, or, with `reference` (item id →
    the extractive run's result), the extractive answers' mean on those same questions."""
    values = []
    for r in kept:
        value = r.metrics.get(name)
        if value is None:
            continue
        if reference is not None:
            value = reference[r.item.id].metrics.get(name) if r.item.id in reference else None
        if value is not None:
            values.append(value)
    return statistics.fmean(values) if values else None


def summarize(
    config: str, run: RunResult, warm_up: float, reference: dict[str, ItemResult] | None = None
) -> dict[str, Any]:
    """The figures of one configuration; `reference` (item id → the extractive run's result) gives the
    extractive figures on the questions whose model answer was kept."""
    provider = config.partition(":")[0]
    answers = [r.answer for r in run.results]
    generated = [a for a in answers if a.usage.get("completion_tokens") and a.timings.get("generate_ms")]
    tokens = sum(a.usage["completion_tokens"] for a in generated)
    seconds = sum(a.timings["generate_ms"] for a in generated) / 1000
    rates = [a.usage["completion_tokens"] / (a.timings["generate_ms"] / 1000) for a in generated]
    asked = [r for r in run.results if _asked(r.answer)]
    kept = [r for r in asked if r.answer.provider == provider]
    dropped = Counter(r.answer.fallback or "unknown" for r in asked if r.answer.provider != provider)
    return {
        "config": config,
        "questions": len(answers),
        "fact_recall": run.summary.get("fact_recall"),
        "lead_accuracy": run.summary.get("lead_accuracy"),
        "verdict_accuracy": run.summary.get("verdict_accuracy"),
        "citation_validity": run.summary.get("citation_validity"),
        "citation_support": run.summary.get("citation_support"),
        "abstention_accuracy": run.summary.get("abstention_accuracy"),
        "model_calls": len(asked),
        "kept_rate": len(kept) / len(asked) if asked else None,
        "flagged_rate": (sum(bool(r.answer.unsupported) for r in kept) / len(kept)) if kept else None,
        "kept_lead_accuracy": _kept_mean(kept, "lead_accuracy", None),
        "kept_lead_acc_extractive": _kept_mean(kept, "lead_accuracy", reference) if reference else None,
        "kept_verdict_accuracy": _kept_mean(kept, "verdict_accuracy", None),
        "kept_verdict_acc_extractive": _kept_mean(kept, "verdict_accuracy", reference) if reference else None,
        "p50_ms": percentile([a.timings.get("total_ms", 0.0) for a in answers], 50),
        "p95_ms": percentile([a.timings.get("total_ms", 0.0) for a in answers], 95),
        "ttft_p50_ms": percentile([a.timings["first_token_ms"] for a in answers if "first_token_ms" in a.timings], 50),
        "ttft_p95_ms": percentile([a.timings["first_token_ms"] for a in answers if "first_token_ms" in a.timings], 95),
        "tokens_per_s": tokens / seconds if seconds else None,
        "p50_tokens_per_s": statistics.median(rates) if rates else None,
        "warm_up_s": warm_up,
        "dropped": dict(dropped.most_common()),
    }


def _fmt(value: object, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def print_table(rows: list[dict]) -> None:
    """The figures side by side, one column per configuration."""
    fields = [
        ("questions", 0),
        ("fact_recall", 3),
        ("lead_accuracy", 3),
        ("verdict_accuracy", 3),
        ("citation_validity", 3),
        ("citation_support", 3),
        ("abstention_accuracy", 3),
        ("model_calls", 0),
        ("kept_rate", 3),
        ("flagged_rate", 3),
        ("kept_lead_accuracy", 3),
        ("kept_lead_acc_extractive", 3),
        ("kept_verdict_accuracy", 3),
        ("kept_verdict_acc_extractive", 3),
        ("p50_ms", 0),
        ("p95_ms", 0),
        ("ttft_p50_ms", 0),
        ("ttft_p95_ms", 0),
        ("tokens_per_s", 1),
        ("p50_tokens_per_s", 1),
        ("warm_up_s", 1),
    ]
    width = max(18, *(len(r["config"]) + 2 for r in rows))
    print(f"{'':<28}" + "".join(f"{r['config']:>{width}}" for r in rows))
    for name, digits in fields:
        print(f"{name:<28}" + "".join(f"{_fmt(r[name], digits):>{width}}" for r in rows))
    for r in rows:
        if r["dropped"]:
            total = sum(r["dropped"].values())
            reasons = ", ".join(f"{why} {n} ({n / total:.0%})" for why, n in r["dropped"].items())
            print(f"{r['config']}: {total} replaced answers, by the check the lead failed: {reasons}")


def main() -> None:
    """Parse arguments, run every configuration, print the table (and optionally save it as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question_set", nargs="?", default=str(ROOT / "evals" / "questions.yaml"))
    parser.add_argument("--split", default="", help="Only items of this split (dev, heldout); report heldout.")
    parser.add_argument("--configs", default="extractive,local:smollm2,local:qwen0.5b,local:qwen")
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (0: the settings' value).")
    parser.add_argument("--limit", type=int, default=0, help="Only the first N questions (0: all).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    parser.add_argument(
        "--no-save", action="store_true", help="Do not save the local models' figures for `azcompare models`."
    )
    args = parser.parse_args()
    apply_offline_env()
    base = Settings().with_overrides(local_threads=args.threads or None)
    questions = load_question_set(Path(args.question_set))
    items = questions.split(args.split) if args.split else questions.items
    if not items:
        raise SystemExit(f"no items of split {args.split!r} in {args.question_set} (splits: {questions.splits})")
    items = items[: args.limit] if args.limit else items
    rows = []
    where = f"{args.question_set}" + (f" (split {args.split})" if args.split else "")
    header = (
        f"{len(items)} questions from {where}; top_k={base.top_k}, passages to a model={base.llm_passages}, "
        f"local input={base.local_input}, max tokens={base.llm_max_tokens}, threads={base.local_threads or 'auto'}"
    )
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    reference: dict[str, ItemResult] | None = None
    if "extractive" not in configs:  # the kept answers are compared with the extractive answers (35 ms each)
        reference = {r.item.id: r for r in run_config("extractive", items, base)[0].results}
    for config in configs:
        run, warm_up = run_config(config, items, base)
        if config == "extractive":
            reference = {r.item.id: r for r in run.results}
        rows.append(summarize(config, run, warm_up, reference))
        # The table so far after every configuration: a slow model should not hide the others' figures.
        print(header)
        print_table(rows)
        print(flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        if not args.no_save and config.startswith("local:"):
            threads = base.local_threads or models.default_threads()
            models.save_measurement(
                base, config.partition(":")[2], {**rows[-1], "split": args.split, "threads": threads}
            )


if __name__ == "__main__":
    main()
