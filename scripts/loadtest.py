"""Load test: the real chat page at 1, 4 and 16 concurrent users, over loopback with `gradio_client`.

    python scripts/loadtest.py [--url URL] [--levels 1,4,16] [--questions 6] [--level-seconds 120]
                               [--path chat|ask] [--rounds 3] [--split-cores | --apps N]

Without `--url` it starts `python app.py` on a free loopback port (the index of the current settings,
the extractive provider) and stops it at the end. Each user is a session of its own that asks a
sequence of questions from evals/questions.yaml one after the other, so its conversation grows as a
browser user's does. `--path chat` (the default) calls the page's chat event, the one pressing Enter
or Ask triggers, with the values a browser sends (the question, the chat shown so far, the provider
and passages settings); `--path ask` calls the /ask API instead, for comparison.

Every level is bounded: at most `--questions` per user, no new question after `--level-seconds`, and
a question that takes longer than `--timeout` counts as an error. Each of `--rounds` rounds runs every
level twice in turn, `answer()` alone in this process with as many threads as users and then the page,
and the figures pool the rounds: a level takes seconds, so one run of each would compare two moments of
a shared machine's load. Printed per level: p50/p95 latency (submit to the whole answer with its
sources), throughput beside `answer()`'s and their ratio, errors, whether every answer equals the
serial answer to the same question, and the server's CPU time per question and its ratio to
`answer()`'s own with as many threads; before the levels, the server's CPU while nobody asks.

The serial answers come from `answer()` in this process, asked the same conversation in the same
order with the same history the page passes (its earlier (question, answer text) pairs): the page
calls the same pipeline, so the message it shows must be `render.answer_markup()` of that Answer,
character for character. Timings on a shared machine are only comparable within one run.

On the same cores, the page's throughput also pays for the load test's own clients (a browser's work,
on the user's machine in real use) and the server's one interpreter lock, neither of which `answer()`'s
threads carry. `--split-cores` compares cost for cost: the app it starts runs on one core and this
process (its clients, and `answer()` between the page's turns) on the other, so `answer()` and the page
each get one core of their own. `--apps 2` starts two app processes over the one index instead, as a
team runs them (README, "A Chroma server for a team"), and the users take turns between them: each
process has its own interpreter, as `answer()`'s threads share one process's; the server CPU counted is
both processes'.
"""

from __future__ import annotations

import argparse
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from processes import cpu_seconds, free_port, stop, wait_for_http

ROOT = Path(__file__).resolve().parents[1]
APP_START_SECONDS = 300.0
IDLE_SECONDS = 5.0
# One TLS context for every request: gradio_client opens a new httpx client per request, and each would
# load the CA bundle again (~25 ms of CPU), which on a 2-core machine the server under test would pay for.
TLS = ssl.create_default_context()


@dataclass
class Reference:
    """The serial answers of one user's conversation, with `answer()`'s own cost for each."""

    questions: list[str]
    markup: list[str] = field(default_factory=list)  # what the page must show for each answer
    texts: list[str] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)


@dataclass
class LevelResult:
    """What one load level measured."""

    users: int
    latencies_ms: list[float] = field(default_factory=list)
    by_turn: dict[int, list[float]] = field(default_factory=dict)  # latencies of each turn of a conversation
    errors: list[str] = field(default_factory=list)
    same: int = 0
    different: list[str] = field(default_factory=list)
    wall_s: float = 0.0
    server_cpu_s: float | None = None
    client_cpu_s: float = 0.0

    def add(self, other: LevelResult) -> None:
        """Pool another round of the same level into this one."""
        self.latencies_ms += other.latencies_ms
        for turn, values in other.by_turn.items():
            self.by_turn.setdefault(turn, []).extend(values)
        self.errors += other.errors
        self.same += other.same
        self.different += other.different
        if not self.wall_s:  # the first round
            self.server_cpu_s = other.server_cpu_s
        elif self.server_cpu_s is not None and other.server_cpu_s is not None:
            self.server_cpu_s += other.server_cpu_s
        else:
            self.server_cpu_s = None  # not known for every round
        self.wall_s += other.wall_s
        self.client_cpu_s += other.client_cpu_s


@dataclass
class InProcess:
    """answer() with as many threads as users, in this process, pooled over rounds."""

    count: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    differ: int = 0

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def add(self, other: InProcess) -> None:
        """Pool another round into this one."""
        self.count += other.count
        self.seconds += other.seconds
        self.cpu_s += other.cpu_s
        self.differ += other.differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a running app to drive instead of starting one")
    parser.add_argument("--levels", default="1,4,16", help="concurrent users per level, comma-separated")
    parser.add_argument("--questions", type=int, default=6, help="questions each user asks (its conversation)")
    parser.add_argument("--level-seconds", type=float, default=120, help="no new question after this long")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a question counts as failed")
    parser.add_argument("--path", choices=["chat", "ask"], default="chat", help="the page's chat event or /ask")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of every level, pooled (answer() and page in turn)"
    )
    parser.add_argument(
        "--split-cores", action="store_true", help="the app on one core, this process on another (not with --url)"
    )
    parser.add_argument("--apps", type=int, default=1, help="app processes to start, users shared in turn")
    args = parser.parse_args()
    if args.apps < 1 or (args.apps > 1 and (args.url or args.split_cores)):
        sys.exit(
            "--apps must be at least 1, and more than 1 only when this script starts the apps (no --url, --split-cores)"
        )
    if args.split_cores:
        if args.url or len(os.sched_getaffinity(0)) < 2:
            sys.exit("--split-cores starts the app itself (no --url) and needs two cores")
        # Before any thread starts: threads inherit the core of the thread that starts them.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    try:
        levels = [int(n) for n in args.levels.split(",")]
    except ValueError:
        sys.exit(f"--levels must be whole numbers separated by commas, not {args.levels!r}")
    if not levels or min(levels) < 1 or args.questions < 1 or args.rounds < 1:
        sys.exit("--levels, --questions and --rounds must be at least 1")

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    from azcompare import Settings, answer
    from azcompare.evaluation.dataset import load_question_set
    from azcompare.ui import render

    settings = Settings()
    pool = list(dict.fromkeys(i.question for i in load_question_set(ROOT / "evals" / "questions.yaml").items))
    users = max(levels)
    # User u asks its own stretch of the question set, so the sessions differ from each other.
    sequences = [[pool[(u * args.questions + i) % len(pool)] for i in range(args.questions)] for u in range(users)]

    for q in pool[:5]:  # warm the index, the model and every code path once
        answer(q, settings=settings)
    references = [_converse(seq, settings=settings, answer=answer, render=render) for seq in sequences]
    answer_wall = [ms for r in references for ms in r.wall_ms]
    answer_cpu = [ms for r in references for ms in r.cpu_ms]
    print(
        f"answer() in this process, serial, {len(answer_wall)} questions ({users} conversations of "
        f"{args.questions}): wall p50 {_median(answer_wall):.1f} ms, p95 {_pct(answer_wall, 95):.1f} ms; "
        f"CPU {_median(answer_cpu):.1f} ms per question (median)",
        flush=True,
    )
    servers = [] if args.url else [_start_app(split_cores=args.split_cores) for _ in range(args.apps)]
    urls = [args.url] if args.url else [url for _, url, _ in servers]
    pids = [process.pid for process, _, _ in servers]
    log_path = servers[0][2] if servers else None
    in_process: dict[int, InProcess] = {n: InProcess() for n in levels}
    results: dict[int, LevelResult] = {n: LevelResult(n) for n in levels}
    try:
        _warm(urls, args.path, references)
        if pids:
            _print_idle_cpu(pids)
        # Each round measures answer() alone and then the page at every level in turn, so that a change of
        # the machine's load weighs on both sides of the ratio; the figures pool the rounds.
        for round_ in range(args.rounds):
            print(f"round {round_ + 1}/{args.rounds}", flush=True)
            for n in levels:
                in_process[n].add(_in_process(n, sequences, references, settings, answer, render))
                results[n].add(_run_level(urls, args.path, n, references[:n], args, pids, render))
    finally:
        for process, _, _ in servers:
            stop(process)
    for n in levels:
        own = in_process[n]
        print(f"answer() in this process, {n} threads: {own.rate:.2f} answers/s, process CPU "
              f"{own.cpu_s * 1000 / max(own.count, 1):.1f} ms/answer"
              + (f" ({own.differ} conversations differ from serial)" if own.differ else ""), flush=True)  # fmt: skip
    _report(list(results.values()), args, in_process, ", ".join(urls), log_path)


def _cpu(pids: list[int]) -> float | None:
    """The CPU seconds of all the app processes, or None when one cannot be read."""
    times = [cpu_seconds(pid) for pid in pids]
    return None if not times or None in times else sum(t for t in times if t is not None)


def _print_idle_cpu(pids: list[int]) -> None:
    """What the app costs with nobody asking (its queue's polling): a team server runs all day."""
    before = _cpu(pids)
    time.sleep(IDLE_SECONDS)
    after = _cpu(pids)
    if before is not None and after is not None:
        print(f"server CPU while idle: {(after - before) / IDLE_SECONDS:.1%} of a core ({IDLE_SECONDS:.0f} s)")


def _in_process(
    n: int, sequences: list[list[str]], references: list[Reference], settings: Any, answer: Any, render: Any
) -> InProcess:
    """The same conversations with `n` threads in this process: what answer() alone does with these cores."""
    t0, c0 = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=n) as executor:
        runs = list(executor.map(partial(_converse, settings=settings, answer=answer, render=render), sequences[:n]))
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    differ = sum(r.texts != ref.texts for r in runs for ref in references if ref.questions == r.questions)
    return InProcess(sum(len(r.texts) for r in runs), seconds, cpu, differ)


def _converse(sequence: list[str], *, settings: Any, answer: Any, render: Any) -> Reference:
    """Ask one user's questions in order with answer(), each with the history the page would pass."""
    ref, history = Reference(sequence), []
    for turn, q in enumerate(sequence):
        c0, t0 = time.thread_time(), time.perf_counter()
        result = answer(q, history, settings=settings)
        ref.wall_ms.append((time.perf_counter() - t0) * 1000)
        ref.cpu_ms.append((time.thread_time() - c0) * 1000)
        ref.markup.append(render.answer_markup(result, turn))
        ref.texts.append(result.text)
        if result.status != "rejected":  # the page's history leaves refused questions out
            history.append((q, result.text))
    return ref


def _start_app(*, split_cores: bool = False) -> tuple[subprocess.Popen[bytes], str, Path]:
    """`python app.py` on a free loopback port (on a core this process does not use when `split_cores`);
    returns it, its URL and its log once its page answers."""
    port = free_port()
    work = Path(tempfile.mkdtemp(prefix="azcompare-loadtest-"))
    env = {
        **os.environ,
        "AZCOMPARE_PORT": str(port),
        "AZCOMPARE_HOST": "127.0.0.1",
        "AZCOMPARE_FEEDBACK_PATH": str(work / "feedback.jsonl"),
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        command = [sys.executable, str(ROOT / "app.py")]
        if split_cores:
            free = sorted(set(range(os.cpu_count() or 1)) - os.sched_getaffinity(0))
            command = ["taskset", "--cpu-list", str(free[0]), *command]
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    problem = wait_for_http(process, url, APP_START_SECONDS, interval=0.5)
    if problem:
        stop(process)
        sys.exit(f"the app did not start: {problem}; its log: {log_path}")
    print(f"app started at {url} (pid {process.pid}, log {log_path})", flush=True)
    return process, url, log_path


class Session:
    """One user: a gradio_client session (its own server-side state), asking like the page does."""

    def __init__(self, url: str, path: str) -> None:
        from gradio_client import Client

        self.client = Client(url, verbose=False, download_files=False, ssl_verify=TLS)  # type: ignore[arg-type]
        self.path = path
        self.chat: list[Any] = []
        self.history: list[tuple[str, str]] = []
        if path == "chat":
            self.inputs = _chat_inputs(self.client.config)

    def ask(self, question: str, timeout: float) -> str:
        """Ask one question; returns the answer's text as the page (or /ask) delivers it."""
        if self.path == "ask":
            import json

            job = self.client.submit(question, json.dumps(self.history), "", 0, api_name="/ask")
            result = job.result(timeout=timeout)
            if result["status"] != "rejected":
                self.history.append((question, result["text"]))
            return result["text"]
        values = {"textbox": question, "chatbot": self.chat}
        arguments = [values.get(kind, default) for kind, default in self.inputs]
        outputs = self.client.submit(*arguments, api_name="/chat").result(timeout=timeout)
        self.chat = outputs[0]
        return _message_text(self.chat[-1])


def _chat_inputs(config: dict[str, Any]) -> list[tuple[str, Any]]:
    """The chat event's inputs other than state, as (component type, the page's initial value)."""
    dependency = next((d for d in config["dependencies"] if d.get("api_name") == "chat"), None)
    if dependency is None:
        sys.exit("the app has no /chat event: this load test needs the page's chat event callable as /chat")
    components = {c["id"]: c for c in config["components"]}
    inputs = []
    for cid in dependency["inputs"]:
        component = components[cid]
        if component["type"] != "state":
            inputs.append((component["type"], component.get("props", {}).get("value")))
    return inputs


def _message_text(message: Any) -> str:
    """The text of a chat message as the client receives it (a string or a list of text parts)."""
    content = message.get("content") if isinstance(message, dict) else message
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


def _warm(urls: list[str], path: str, references: list[Reference]) -> None:
    """Every conversation once through the chosen path before timing, as answer() had them serially.

    A process answers a question faster the second time it meets the passages (they are read from the
    index on first use), so both sides are compared warm.
    """

    def converse(url: str, ref: Reference) -> None:
        session = Session(url, path)
        for question in ref.questions:
            session.ask(question, timeout=300)

    with ThreadPoolExecutor(max_workers=4) as executor:  # every app meets every conversation
        for future in [executor.submit(converse, url, ref) for url in urls for ref in references]:
            future.result()


def _run_level(
    urls: list[str],
    path: str,
    users: int,
    references: list[Reference],
    args: argparse.Namespace,
    pids: list[int],
    render: Any,
) -> LevelResult:
    result = LevelResult(users)
    sessions = [Session(urls[i % len(urls)], path) for i in range(users)]  # connecting is not timed
    lock = threading.Lock()
    start = threading.Barrier(users + 1)
    deadline = [0.0]

    def user(index: int) -> None:
        session, ref = sessions[index], references[index]
        start.wait()
        for turn, question in enumerate(ref.questions):
            if time.monotonic() > deadline[0]:
                return
            t0 = time.perf_counter()
            try:
                shown = session.ask(question, args.timeout)
            except Exception as exc:  # a failed question is counted and reported, never raised
                with lock:
                    result.errors.append(f"user {index} Q{turn + 1}: {type(exc).__name__}: {str(exc)[:160]}")
                return  # the conversation cannot go on without this answer
            elapsed = (time.perf_counter() - t0) * 1000
            expected = ref.texts[turn] if path == "ask" else ref.markup[turn]
            with lock:
                result.latencies_ms.append(elapsed)
                result.by_turn.setdefault(turn + 1, []).append(elapsed)
                if shown == expected:
                    result.same += 1
                else:
                    result.different.append(f"user {index} Q{turn + 1}: {question!r}: {_difference(expected, shown)}")

    threads = [threading.Thread(target=user, args=(i,), daemon=True) for i in range(users)]
    for thread in threads:
        thread.start()
    print(f"  level {users}: {users} users asking…", flush=True)
    cpu0, client0 = _cpu(pids), time.process_time()
    deadline[0] = time.monotonic() + args.level_seconds
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join(args.level_seconds + args.timeout + 30)
    result.wall_s = time.perf_counter() - t0
    cpu1 = _cpu(pids)
    result.server_cpu_s = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    result.client_cpu_s = time.process_time() - client0
    for session in sessions:
        session.client.close()
    print(f"  level {users}: {len(result.latencies_ms)} answers in {result.wall_s:.1f} s", flush=True)
    return result


def _difference(expected: str, got: str) -> str:
    """Where two texts part, with a little of each from there."""
    at = next((i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b), min(len(expected), len(got)))
    return f"from character {at}: serial {expected[at : at + 80]!r}, got {got[at : at + 80]!r}"


def _report(
    results: list[LevelResult], args: argparse.Namespace, in_process: dict[int, InProcess], url: str, log: Path | None
) -> None:
    where = "the page's chat event (/chat: what Enter or Ask triggers)" if args.path == "chat" else "the /ask API"
    print(f"\npath: {where}, {url}; each user asks up to {args.questions} questions in one conversation")
    if args.apps > 1:
        print(f"apps: {args.apps} processes over one index, users in turn")
    if args.split_cores:
        print("cores: the app on one, this process (the clients, and answer() between the page's turns) on the other")
    print(
        "users | answers | errors | same as serial | p50 ms | p95 ms | answers/s | answer() answers/s | "
        "page cost × answer() | server CPU ms/answer | server CPU × answer()'s"
    )
    print("----- | ------- | ------ | -------------- | ------ | ------ | --------- | ------------------ | "
          "-------------------- | -------------------- | -----------------------")  # fmt: skip
    best = max((len(r.latencies_ms) / r.wall_s for r in results if r.wall_s), default=0.0)
    for r in results:
        n = len(r.latencies_ms)
        rate = n / r.wall_s if r.wall_s else 0.0
        own = in_process[r.users]
        server_ms = r.server_cpu_s * 1000 / n if r.server_cpu_s is not None and n else None
        own_ms = own.cpu_s * 1000 / own.count if own.count else None
        cpu = f"{server_ms:.1f}" if server_ms is not None else "–"
        # The same cost counted in CPU: the server's per answer against answer()'s with as many threads.
        cpu_ratio = f"{server_ms / own_ms:.2f}" if server_ms is not None and own_ms else "–"
        ratio = f"{own.rate / rate:.2f}" if rate else "–"
        p50, p95 = (f"{_median(r.latencies_ms):.0f}", f"{_pct(r.latencies_ms, 95):.0f}") if n else ("–", "–")
        print(
            f"{r.users:>5} | {n:>7} | {len(r.errors):>6} | {f'{r.same}/{n}':>14} | {p50:>6} | {p95:>6} | "
            f"{rate:>9.2f} | {own.rate:>18.2f} | {ratio:>20} | {cpu:>20} | {cpu_ratio:>23}"
        )
    print("p50 ms by turn of the conversation (does a session slow down as its chat grows?):")
    for r in results:
        print(f"  {r.users:>2} users: " + ", ".join(f"Q{t} {_median(ms):.0f}" for t, ms in sorted(r.by_turn.items())))
    for r in results:
        for line in r.errors[:5] + r.different[:5]:
            print(f"  {r.users} users: {line}")
    last = results[-1]
    n = len(last.latencies_ms)
    errors = sum(len(r.errors) for r in results)
    different = sum(len(r.different) for r in results)
    print(f"\nclient (this process) CPU at {last.users} users: {last.client_cpu_s * 1000 / max(n, 1):.1f} ms/answer")
    print(f"targets: 0 errors ({errors}), identical answers ({different} differ), ", end="")
    if n and last.wall_s:
        print(
            f"throughput at {last.users} users / best level {n / last.wall_s / best:.2f} (>= 0.8), "
            f"p95 at {last.users} users {_pct(last.latencies_ms, 95) / 1000:.2f} s (<= 1.5 s)"
        )
    else:
        print("no answers at the last level")
    if log is not None and (errors or different):
        print(f"server log: {log}")


def _median(values: list[float]) -> float:
    return _pct(values, 50)


def _pct(values: list[float], q: float) -> float:
    """The q-th percentile by linear interpolation (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


if __name__ == "__main__":
    main()
