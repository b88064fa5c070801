"""Benchmark: what one Gradio event costs the server with nothing to do, the floor under the chat page.

    python scripts/gradio_floor.py [--events 400] [--users 4] [--runs 3]

Starts, as a whole process on a free loopback port, a Gradio app shaped like the chat page (the same
Gradio tuning, a text input, the page's eight outputs, the same queue settings, Gradio's per-component
processing off as on the page's chat event) whose handler returns at once, and drives its event with
`gradio_client` from --users sessions, as scripts/loadtest.py drives the page. Prints the server's CPU
per event (median of --runs), the figure to set beside the page's own
"server CPU ms/answer" and `answer()`'s CPU per question: the page costs at least this much more.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from processes import cpu_seconds, free_port, stop, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = 8  # the chat page's: chat, conversation, sources, how, question box, three suggestions


def serve(port: int) -> None:
    """The app (run in the child process)."""
    from azcompare.settings import apply_offline_env
    from azcompare.ui.gradio_tuning import tune_gradio, tune_queue

    apply_offline_env()
    tune_gradio()
    import gradio as gr

    from azcompare.ui.app import ANSWERS_AT_ONCE, QUEUE_SIZE, QUEUE_STATUS_EVERY_S

    with gr.Blocks(analytics_enabled=False) as demo:
        question = gr.Textbox()
        outputs = [gr.Markdown() for _ in range(OUTPUTS)]
        # As the page's chat event: Gradio's per-component processing off (ui/app.py, _postprocessed_here).
        question.submit(
            lambda q: (q,) * OUTPUTS, question, outputs, api_name="chat", preprocess=False, postprocess=False
        )
    demo.queue(default_concurrency_limit=ANSWERS_AT_ONCE, max_size=QUEUE_SIZE, status_update_rate=QUEUE_STATUS_EVERY_S)
    tune_queue(demo)
    demo.launch(server_name="127.0.0.1", server_port=port, show_error=False, quiet=True)


def one_run(events: int, users: int) -> float:
    """Start the app, send `events` events from `users` sessions, return the server's CPU ms per event."""
    from gradio_client import Client

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)], cwd=ROOT)
    try:
        problem = wait_for_http(process, url, timeout=120)
        if problem:
            raise SystemExit(f"gradio_floor: the app did not start: {problem}")
        clients = [Client(url, verbose=False, download_files=False) for _ in range(users)]
        for client in clients:  # each session's first event, like a page load, is not counted
            client.predict("warm-up", api_name="/chat")
        before = cpu_seconds(process.pid)

        def ask(client: Client) -> None:
            for n in range(events // users):
                client.predict(f"question {n}", api_name="/chat")

        started = time.perf_counter()
        with ThreadPoolExecutor(users) as pool:
            list(pool.map(ask, clients))
        seconds = time.perf_counter() - started
        after = cpu_seconds(process.pid)
        if before is None or after is None:
            raise SystemExit("gradio_floor: cannot read the app's CPU time")
        count = events // users * users
        print(f"  {count} events in {seconds:.1f} s: {(after - before) * 1000 / count:.1f} ms of server CPU each")
        return (after - before) * 1000 / count
    finally:
        stop(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=400, help="events per run")
    parser.add_argument("--users", type=int, default=4, help="concurrent sessions")
    parser.add_argument("--runs", type=int, default=3, help="whole app processes (median)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    if min(args.events, args.users, args.runs) < 1 or args.events < args.users:
        parser.error("--events, --users and --runs must be at least 1, and --events at least --users")
    figures = [one_run(args.events, args.users) for _ in range(args.runs)]
    print(
        f"Gradio's floor: {statistics.median(figures):.1f} ms of server CPU per event (median of {args.runs} runs; "
        f"{OUTPUTS} outputs, {args.users} sessions, a handler that returns at once)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
