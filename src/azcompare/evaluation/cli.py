"""`azcompare eval FILE ...` (score a question set, write a run folder) and `azcompare eval compare A B`."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from typer.core import TyperGroup


class _RunByDefault(TyperGroup):
    """`azcompare eval FILE` means `azcompare eval run FILE`: a bare question set runs it."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_RunByDefault,
    no_args_is_help=True,
    rich_markup_mode=None,
    help="Score the assistant on a question set (`azcompare eval FILE`), or compare two runs.",
)


@eval_app.command("run")
def run(
    question_set: Annotated[Path, typer.Argument(help="Question set (.yaml or .jsonl).")],
    provider: Annotated[str | None, typer.Option(help="Answer provider (default: extractive).")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Passages to retrieve.")] = None,
    split: Annotated[str | None, typer.Option(help="Only items of this split (dev, heldout).")] = None,
    out: Annotated[Path, typer.Option(help="Folder for run folders.")] = Path("evals/runs"),
    baseline: Annotated[bool, typer.Option(help="Also score the naive tutorial baseline.")] = True,
    judge: Annotated[
        str | None, typer.Option(help="LLM judge: 'openai' or a generative provider with a chat model.")
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="Model name for the openai judge.")] = None,
    judge_repeats: Annotated[int, typer.Option(min=1, max=10, help="Judgments per question, averaged.")] = 3,
    thresholds: Annotated[
        Path | None, typer.Option(help="Fail (exit 1) when a score is below these thresholds (evals/thresholds.toml).")
    ] = None,
) -> None:
    """Answer every question, score it, and write a run folder with config, results, summary and report."""
    from azcompare.console import load_settings, progress_bar
    from azcompare.evaluation.evaluate import EvalRequest, evaluate

    settings = load_settings()
    gate = _load_gate(thresholds, provider or settings.provider) if thresholds else None
    request = EvalRequest(
        question_set=question_set,
        provider=provider,
        top_k=top_k,
        split=split,
        out=out,
        baseline=baseline,
        judge=_judge(judge, judge_model, judge_repeats, settings) if judge else None,
        command=shlex.join(["azcompare", "eval", *sys.argv[sys.argv.index("eval") + 1 :]])
        if "eval" in sys.argv
        else "",
    )
    _ensure_index(settings)
    outcome = evaluate(request, settings, progress=progress_bar)
    typer.echo(_summary_table(outcome.summary, question_set, split))
    typer.echo(f"\nrun folder: {outcome.folder}\nreport:     {outcome.folder / 'report.md'}")
    if gate is not None:
        _check_gate(gate, outcome.summary)


@eval_app.command("compare")
def compare(
    run_a: Annotated[Path, typer.Argument(help="A run folder (the reference).")],
    run_b: Annotated[Path, typer.Argument(help="Another run folder.")],
) -> None:
    """Print two runs side by side: scores, what was made differently, questions better and worse."""
    from azcompare.evaluation.compare import compare_runs
    from azcompare.evaluation.runs import load_run

    typer.echo(compare_runs(load_run(run_a), load_run(run_b)), nl=False)


def _ensure_index(settings: Any) -> None:
    """Build a missing or outdated index with a progress bar, rather than silently in the first question."""
    from azcompare.console import progress_bar
    from azcompare.index import build_index, index_is_current

    if not index_is_current(settings):
        typer.echo("building the index first…", err=True)
        with progress_bar("embedding") as bar:
            build_index(settings, progress=bar)


def _summary_table(summary: dict[str, Any], question_set: Path, split: str | None) -> str:
    from azcompare.evaluation.report import fmt

    ours = summary["pipelines"]["ours"]
    base = summary["pipelines"].get("baseline")
    glossary = summary.get("metrics", {})
    head = f"{ours['counts']['items']} questions from {question_set}" + (f" (split {split})" if split else "")
    width = max([22, *(len(name) for name in ours["overall"])])
    lines = [head, f"  {'metric':<{width}} {'ours':>9}" + (f" {'baseline':>9}" if base else "")]
    for name, value in ours["overall"].items():
        bounded = glossary.get(name, {}).get("bounded", True)
        row = f"  {name:<{width}} {fmt(value, bounded):>9}"
        if base:
            row += f" {fmt(base['overall'].get(name), bounded):>9}"
        lines.append(row)
    for label, block in (("ours", ours), ("baseline", base)):
        total = (block or {}).get("latency_ms", {}).get("total_ms")
        if total:
            lines.append(f"  {'latency p50/p95 ms':<{width}} {total['p50']:.1f} / {total['p95']:.1f} ({label})")
    used = ours["counts"].get("answered_by", {})
    if summary.get("provider") and set(used) - {summary["provider"]}:
        lines.append(f"  note: answers came from {used}: the {summary['provider']} provider fell back")
    return "\n".join(lines)


def _judge(name: str, model: str | None, repeats: int, settings: Any) -> Any:
    from azcompare.evaluation.judge import LLMJudge, judge_chat_model

    chat, label = judge_chat_model(name, settings, model)
    return LLMJudge(chat, repeats=repeats, label=label)


def _load_gate(path: Path, provider: str) -> Any:
    from azcompare.evaluation.gate import load_gate

    return load_gate(path, provider.strip().lower())


def _check_gate(spec: Any, summary: dict[str, Any]) -> None:
    from azcompare.evaluation.gate import check, format_rows

    rows = check(summary["pipelines"]["ours"]["overall"], spec)
    if summary.get("split") != spec.split:
        scored = summary.get("split") or "all splits"
        typer.echo(f"\nnote: these thresholds are for split {spec.split}; this run scored {scored}")
    typer.echo("\n" + format_rows(rows, spec))
    if not all(r.ok for r in rows):
        raise typer.Exit(code=1)
