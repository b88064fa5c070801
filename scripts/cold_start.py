"""Benchmark: how long a new process takes to give its first answer, with an index already built.

    python scripts/cold_start.py [--runs 5] [--src DIR] [--index DIR] [--only ask,api,app]

Starts whole processes (never imports azcompare itself) and prints a Markdown table of the median,
min and max wall time of each, against its target:
- `azcompare ask "…"`: the command line, until it exits;
- `python -c "from azcompare import answer; answer('…')"`: the Python API, until it exits;
- `python app.py` on a free loopback port, until its `/ask` API has answered the question.

`--src` runs another checkout's code (its `src` folder goes first on PYTHONPATH): compare before and
after a change on the same index and machine, in one run of each, since timings on a shared machine
only compare within a run. A benchmark, not a test: it never runs in `make test`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from gradio_client import Client
from processes import free_port, stop, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "Does OpenAI support private endpoints?"
EXPECTED = "Private Endpoints: OpenAI no"  # the first answer's matrix row, so a wrong answer is not timed
# Targets of issue 11, seconds (median wall time).
TARGETS = {"ask": 2.5, "api": 2.5, "app": 6.0}
APP_TIMEOUT = 120.0
OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ORT_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "ANONYMIZED_TELEMETRY": "False",
}


def environment(src: Path, index: Path) -> dict[str, str]:
    """The child's environment: offline, the chosen code first on the path, this checkout's corpus and the index."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZCOMPARE_")}
    env.update(OFFLINE)
    env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["AZCOMPARE_HOME"] = str(ROOT)
    env["AZCOMPARE_INDEX_DIR"] = str(index)
    return env


def run_once(command: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one process that must exit 0 and print the expected answer."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or EXPECTED not in done.stdout:
        sys.exit(f"error: {' '.join(command[:3])} failed (exit {done.returncode}): {done.stderr.strip()[-400:]}")
    return seconds


def app_once(env: dict[str, str]) -> float:
    """Wall seconds from starting `python app.py` until its /ask API has answered the question."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    app_env = {**env, "AZCOMPARE_HOST": "127.0.0.1", "AZCOMPARE_PORT": str(port), "AZCOMPARE_READ_ONLY": "false"}
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")], env=app_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        problem = wait_for_http(process, url, APP_TIMEOUT, interval=0.05)
        if problem:
            tail = process.stderr.read().decode()[-400:] if process.poll() is not None and process.stderr else ""
            sys.exit(f"error: app.py did not start: {problem} {tail}".rstrip())
        result = Client(url, verbose=False).predict(QUESTION, "[]", "", 0, api_name="/ask")
        seconds = time.perf_counter() - started
        if EXPECTED not in result.get("text", ""):
            sys.exit(f"error: the app answered {result.get('text', '')[:200]!r}")
        return seconds
    finally:
        stop(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes started per measurement")
    parser.add_argument("--src", type=Path, default=ROOT / "src", help="the azcompare code to run (a src folder)")
    parser.add_argument("--index", type=Path, default=ROOT / "index", help="a built index folder")
    parser.add_argument("--only", default="ask,api,app", help="which processes, comma-separated (ask, api, app)")
    args = parser.parse_args()
    only = {part.strip() for part in args.only.split(",") if part.strip()}
    if not only or only - set(TARGETS):
        sys.exit(f"error: --only takes a comma-separated choice of {', '.join(TARGETS)}")
    if not (args.index / "CURRENT").is_file():
        sys.exit(f"error: no index in {args.index}; build it first with `azcompare index`")
    env = environment(args.src.resolve(), args.index.resolve())
    cli = Path(sys.executable).with_name("azcompare")
    measures: list[tuple[str, str, Callable[[], float]]] = [
        ("ask", f'`azcompare ask "{QUESTION}"`', lambda: run_once([str(cli), "ask", QUESTION], env)),
        (
            "api",
            "`python -c \"from azcompare import answer; answer('…')\"`",
            lambda: run_once(
                [sys.executable, "-c", f"from azcompare import answer; print(answer({QUESTION!r}).text)"], env
            ),
        ),
        ("app", "`python app.py` until `/ask` answers", lambda: app_once(env)),
    ]
    print(f"code: {args.src}; index: {args.index}; {args.runs} runs each; wall seconds\n")
    print("| process | median | min | max | target | met |")
    print("| --- | --- | --- | --- | --- | --- |")
    for key, label, measure in (m for m in measures if m[0] in only):
        times = [measure() for _ in range(args.runs)]
        median = statistics.median(times)
        met = "yes" if median <= TARGETS[key] else "no"
        print(
            f"| {label} | {median:.2f} | {min(times):.2f} | {max(times):.2f} | ≤ {TARGETS[key]:.1f} | {met} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
