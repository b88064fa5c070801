"""Compare answer providers on a question set in one run: quality, grounding and speed side by side.

    python scripts/compare_providers.py [evals/dev.yaml] [--configs extractive,local:smollm2,local:qwen]

Each configuration is a provider, optionally with a local model after a colon. For each it prints
fact recall and citation validity (the evaluation metrics of azcompare.evaluation.metrics), how
often the generative answer was replaced by the extractive one (no sentence backed by a cited
passage) or had sentences flagged unsupported, p50 latency of the whole answer, and generation
speed in tokens per second (completion tokens over generation time, summed over the answers that
called the model). The model is loaded before timing starts; the load time is printed separately.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from tqdm import tqdm

from azcompare.answering.pipeline import answer
from azcompare.evaluation.dataset import load_question_set
from azcompare.evaluation.metrics import percentile
from azcompare.evaluation.runner import RunResult, run_items
from azcompare.settings import Settings, apply_offline_env

ROOT = Path(__file__).resolve().parents[1]


def run_config(config: str, items, base: Settings) -> tuple[RunResult, float]:
    """Answer every item with one provider configuration; returns the run and the warm-up seconds."""
    provider, _, model = config.partition(":")
    settings = base.with_overrides(local_model=model or None)
    started = time.perf_counter()
    answer("Does Azure OpenAI support private endpoints?", provider=provider, settings=settings)  # load the model
    warm_up = time.perf_counter() - started
    with tqdm(total=len(items), desc=config, unit="q", file=sys.stderr) as bar:
        run = run_items(items, settings, provider=provider, progress=lambda done, total: bar.update(done - bar.n))
    return run, warm_up


def summarize(config: str, run: RunResult, warm_up: float) -> dict[str, float | str | None]:
    """The figures of one configuration."""
    provider = config.partition(":")[0]
    answers = [r.answer for r in run.results]
    answered = [a for a in answers if a.status == "answered"]
    generated = [a for a in answers if a.usage.get("completion_tokens") and a.timings.get("generate_ms")]
    tokens = sum(a.usage["completion_tokens"] for a in generated)
    seconds = sum(a.timings["generate_ms"] for a in generated) / 1000
    rates = [a.usage["completion_tokens"] / (a.timings["generate_ms"] / 1000) for a in generated]
    return {
        "config": config,
        "questions": len(answers),
        "fact_recall": run.summary.get("fact_recall"),
        "citation_validity": run.summary.get("citation_validity"),
        "citation_support": run.summary.get("citation_support"),
        "abstention_accuracy": run.summary.get("abstention_accuracy"),
        "fallback_rate": (sum(a.provider != provider for a in answered) / len(answered)) if answered else None,
        "flagged_rate": (sum(bool(a.unsupported) for a in answered) / len(answered)) if answered else None,
        "p50_ms": percentile([a.timings.get("total_ms", 0.0) for a in answers], 50),
        "p95_ms": percentile([a.timings.get("total_ms", 0.0) for a in answers], 95),
        "tokens_per_s": tokens / seconds if seconds else None,
        "p50_tokens_per_s": statistics.median(rates) if rates else None,
        "model_calls": len(generated),
        "warm_up_s": warm_up,
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
        ("citation_validity", 3),
        ("citation_support", 3),
        ("abstention_accuracy", 3),
        ("fallback_rate", 3),
        ("flagged_rate", 3),
        ("p50_ms", 0),
        ("p95_ms", 0),
        ("tokens_per_s", 1),
        ("p50_tokens_per_s", 1),
        ("model_calls", 0),
        ("warm_up_s", 1),
    ]
    width = max(18, *(len(r["config"]) + 2 for r in rows))
    print(f"{'':<22}" + "".join(f"{r['config']:>{width}}" for r in rows))
    for name, digits in fields:
        print(f"{name:<22}" + "".join(f"{_fmt(r[name], digits):>{width}}" for r in rows))


def main() -> None:
    """Parse arguments, run every configuration, print the table (and optionally save it as JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question_set", nargs="?", default=str(ROOT / "evals" / "dev.yaml"))
    parser.add_argument("--configs", default="extractive,local:smollm2,local:qwen")
    parser.add_argument("--limit", type=int, default=0, help="Only the first N questions (0: all).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this file.")
    args = parser.parse_args()
    apply_offline_env()
    base = Settings()
    questions = load_question_set(Path(args.question_set))
    items = questions.items[: args.limit] if args.limit else questions.items
    rows = []
    header = (
        f"{len(items)} questions from {args.question_set}; top_k={base.top_k}, passages to a model="
        f"{base.llm_passages}, max tokens={base.llm_max_tokens}, threads={base.local_threads or 'auto'}"
    )
    for config in [c.strip() for c in args.configs.split(",") if c.strip()]:
        run, warm_up = run_config(config, items, base)
        rows.append(summarize(config, run, warm_up))
        # The table so far after every configuration: a slow model should not hide the others' figures.
        print(header)
        print_table(rows)
        print(flush=True)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
