"""Benchmark: the cost curve of the knowledge base at 1×, 5× and 20× today's corpus.

    python scripts/scale_bench.py [--sizes 1,5,20] [--mode local|server] [--open-runs 3] [--quick]

Size 1× is today's corpus: the article in corpus/ plus the Microsoft Learn pages the project's own
corpus code syncs from the offline mirror (AZCOMPARE_MIRROR_DIR, --mirror, or ../shared/corpus-mirror).
Size N× adds N−1 generated copies of every real document that compete with it in retrieval: each
copy belongs to a fictional vendor landscape (OpenAI, Azure OpenAI, ChatGPT, the GPT models, Azure
regions and, in half of them, Microsoft and Azure renamed), with other figures, years, dates and some
wording, and a few lines dropped. They are written to a temporary folder, never into the repository.

Per size it builds a fresh index with `build_index` and prints, as Markdown tables:
- build throughput (passages + sentences embedded per second of the whole build) against raw
  `SentenceTransformer.encode` of the same model on (a sample of) the same texts, half of it just
  before the build and half just after;
- the index size on disk;
- open: fresh processes (median of --open-runs) timing `open_knowledge_base`, the first `answer()`,
  the whole process, and its resident memory after opening and answering;
- dev hit@5 and fact recall over the dev split of evals/questions.yaml, the distractors present,
  answered and scored with the evaluation's own functions (`azcompare eval … --split dev`), and the same
  over the held-out split as a check (the ranking's near-copy rules were shaped on dev);
- warm `answer()` p50/p95 over --rounds passes of the dev questions.
Fresh processes and answer() rounds take the sizes in turn, so the machine's load weighs on each alike.
Then each target of issue 11 with the figure measured against it.

--mode server starts a real `chroma run` per size on a free loopback port (data in the temporary
folder) and points the chroma_url setting (AZCOMPARE_CHROMA_URL) at it for the builds, the fresh
processes and the answers; the index size then counts the server's folder and the local reader files.
--quick is a tiny run for CI: the start of the article alone (no mirror) at 1× and 2×, a few dev
questions, one fresh process per size. Timings on a shared machine are only comparable within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "evals" / "questions.yaml"
SPLIT = "dev"
# Checked, never tuned on: the near-copy rules were shaped on the dev split at 20×.
CHECK_SPLIT = "heldout"
QUICK_SIZES = (1, 2)
QUICK_QUESTIONS = 3
QUICK_CHARS = 3000  # how much of the article a --quick run indexes
QUICK_RAW_SAMPLE = 64
ENCODE_BATCH = 64  # the batch the build embeds in (index.EMBED_BATCH), so the raw figure is like for like
SERVER_START_SECONDS = 90.0

# Targets of issue 11, point 5.
BUILD_RATIO_TARGET = 0.8
OPEN_TARGET_S = 2.0
P50_GROWTH_TARGET = 2.0
HIT_KEEP_TARGET = 0.95


# ---------------------------------------------------------------------------------------------------
# Distractor documents


VENDORS = (
    "Lumen AI", "Corvid Labs", "Quillon AI", "Vantage Minds", "Orbis AI", "Helixa Labs", "Zephyr AI",
    "Kestrel Labs", "Solace AI", "Tessera Labs", "Fathom AI", "Aurora Minds", "Cobalt Labs", "Meridian AI",
    "Pinecrest Labs", "Sable AI", "Tidewater Labs", "Umbra AI", "Verity Labs", "Juniper Minds",
)  # fmt: skip
CLOUDS = ("Nimbus", "Stratus", "Cirrus", "Altus", "Skyline", "Horizon", "Northstar", "Bluefield")
COMPANIES = ("Halcyon Systems", "Granite Software", "Bluepeak", "Ironbridge", "Westmark", "Calder Group")
STUDIOS = ("AI Studio", "Model Workshop", "Forge", "AI Hub", "Model Garden")
IDENTITIES = ("Identity", "Directory", "Access ID", "Sign-In")
PLACES = (
    "Avalon", "Meridia", "Borealis", "Tamsin", "Corvale", "Ostreva", "Lindor", "Pellham", "Vesper",
    "Halden", "Marrow", "Caskel", "Drummond", "Isolde", "Rhun", "Telmar", "Wexford", "Yarrow",
)  # fmt: skip
COMPASS = ("North", "South", "East", "West", "Central")
REGIONS = (
    "East US 2", "East US", "West US 3", "West US 2", "West US", "North Central US", "South Central US",
    "West Central US", "Central US", "West Europe", "North Europe", "Sweden Central", "Switzerland North",
    "Switzerland West", "France Central", "Germany West Central", "UK South", "UK West", "Norway East",
    "Poland Central", "Spain Central", "Italy North", "Japan East", "Japan West", "Korea Central",
    "Australia East", "Canada East", "Canada Central", "Brazil South", "South Africa North", "South India",
    "Central India", "Southeast Asia", "East Asia", "UAE North", "Qatar Central",
)  # fmt: skip
# Wording: each occurrence is swapped with probability WORDING_P.
WORDING = {
    "supports": "offers", "support": "offer", "customers": "clients", "customer": "client",
    "allows": "lets", "provides": "delivers", "enterprise": "business", "features": "capabilities",
    "users": "members", "regions": "zones", "region": "zone", "quota": "allowance", "limits": "caps",
    "requests": "calls", "available": "offered", "ensure": "make sure", "however": "still",
    "organization": "company", "organizations": "companies", "service": "platform", "services": "platforms",
}  # fmt: skip
WORDING_P = 0.5
FIGURE_P = 0.7  # share of figures (not years) given another value
DROP_LINE_P = 0.1  # share of prose lines left out
_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w]|\.\d)")
_MODEL = re.compile(r"(?<![\w-])(?:GPT|gpt)-(?=[\w.])")
_WORD = re.compile(r"\b(" + "|".join(sorted(WORDING, key=len, reverse=True)) + r")\b", re.IGNORECASE)


@dataclass(frozen=True)
class Universe:
    """One fictional vendor landscape: which real names its documents rename, and to what."""

    index: int
    vendor: str
    names: dict[str, str]
    model_prefix: str
    year_shift: int

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", self.vendor.lower()).strip("-")

    def rename(self, text: str) -> str:
        """Every real name replaced in one pass, so a replacement is never renamed again."""
        alternatives = "|".join(map(re.escape, sorted(self.names, key=len, reverse=True)))
        text = re.sub(rf"(?<![\w-])({alternatives})(?!\w)", lambda m: self.names[m.group(1)], text)
        if self.vendor.endswith("s"):
            text = text.replace(f"{self.vendor}'s", f"{self.vendor}'")
        return _MODEL.sub(f"{self.model_prefix}-", text)


def make_universe(index: int) -> Universe:
    """The `index`-th landscape (1-based). Even ones keep Microsoft and Azure: they compete hardest."""
    rng = random.Random(f"universe-{index}")
    vendor = VENDORS[(index - 1) % len(VENDORS)] + (f" {index // len(VENDORS) + 1}" if index > len(VENDORS) else "")
    short = vendor.split()[0]
    keep_cloud = index % 2 == 0
    cloud = "Azure" if keep_cloud else rng.choice(CLOUDS)
    company = "Microsoft" if keep_cloud else rng.choice(COMPANIES)
    names = {
        "Azure OpenAI Service": f"{cloud} {short} Service",
        "Azure OpenAI": f"{cloud} {short}",
        "Azure Direct Models": f"{cloud} {short} Direct",
        "OpenAI": vendor,
        "ChatGPT": f"{short}Chat",
        "DALL-E": f"{short} Canvas",
        "Whisper": f"{short} Listen",
        "Sora": f"{short} Motion",
    }
    if not keep_cloud:
        studio = f"{cloud} {rng.choice(STUDIOS)}"
        names |= {
            "Microsoft Foundry": studio,
            "Azure AI Foundry": studio,
            "Azure OpenAI Studio": studio,
            "Foundry": studio,
            "Microsoft Entra ID": f"{cloud} {rng.choice(IDENTITIES)}",
            "Entra ID": f"{cloud} {rng.choice(IDENTITIES)}",
            "Azure Active Directory": f"{cloud} Directory",
            "Azure AD": f"{cloud} Directory",
            "Microsoft": company,
            "Azure": cloud,
        }
    places = rng.sample(PLACES, k=len(PLACES))
    names |= {region: f"{rng.choice(COMPASS)} {places[i % len(places)]}" for i, region in enumerate(REGIONS)}
    return Universe(index, vendor, names, short[:2].upper() + "X", year_shift=rng.choice((-2, -1, -1, 0, 0)))


def distractor(doc: Any, universe: Universe, newest: dt.date | None) -> tuple[str, str]:
    """(file name, Markdown with front matter) of one generated copy of a real document."""
    rng = random.Random(f"{universe.index}-{doc.id}")
    factor = rng.choice((0.25, 0.5, 1.5, 2, 3, 4, 10))

    def figure(match: re.Match[str]) -> str:
        raw = match.group(0)
        value = float(raw)
        if raw.isdigit() and 1990 <= value <= 2035:
            return str(int(value) + universe.year_shift)
        if value in (0, 1) or rng.random() > FIGURE_P:
            return raw
        decimals = len(raw.partition(".")[2])
        return f"{value * factor:.{decimals}f}" if decimals else str(max(1, round(value * factor)))

    def word(match: re.Match[str]) -> str:
        found = match.group(1)
        if rng.random() > WORDING_P:
            return found
        new = WORDING[found.lower()]
        return new[0].upper() + new[1:] if found[0].isupper() else new

    lines = []
    for line in doc.text.split("\n"):
        prose = line.strip() and not line.lstrip().startswith(("#", "|", "```", "~~~"))
        if prose and rng.random() < DROP_LINE_P:
            continue
        lines.append(line)
    text = universe.rename("\n".join(lines))
    text = _WORD.sub(word, _NUMBER.sub(figure, text))
    title = universe.rename(doc.title) or doc.id
    header: dict[str, str] = {"title": title, "url": f"https://docs.{universe.slug}.example/{doc.id}"}
    if doc.date:
        date = doc.date + dt.timedelta(days=365 * universe.year_shift + rng.randint(-90, 90))
        header["date"] = min(date, newest or date).isoformat()
    front = "\n".join(f"{key}: {json.dumps(value, ensure_ascii=False)}" for key, value in header.items())
    return f"{universe.slug}-{universe.index:02d}-{doc.id}.md", f"---\n{front}\n---\n\n{text}"


def write_distractors(documents: Sequence[Any], copies: int, folder: Path) -> int:
    """Write `copies` generated copies of every document into `folder`; return the characters written."""
    folder.mkdir(parents=True, exist_ok=True)
    newest = max((d.date for d in documents if d.date), default=None)
    written = 0
    for index in range(1, copies + 1):
        universe = make_universe(index)
        for doc in documents:
            name, content = distractor(doc, universe, newest)
            (folder / name).write_text(content, encoding="utf-8")
            written += len(content)
    return written


# ---------------------------------------------------------------------------------------------------
# Measuring one size


@dataclass
class OpenRun:
    """One fresh process: import, open_knowledge_base, first answer, whole process, resident memory."""

    import_s: float
    open_s: float
    first_answer_s: float
    wall_s: float
    rss_mb: float


@dataclass
class SizeResult:
    """Every figure of one corpus size."""

    size: int
    documents: int = 0
    corpus_kb: float = 0.0
    passages: int = 0
    sentences: int = 0
    build_s: float = 0.0
    link_s: float = 0.0
    raw_texts: int = 0
    raw_s: float = 0.0
    index_mb: float = 0.0
    opens: list[OpenRun] = field(default_factory=list)
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    questions: int = 0
    hit_at_5: float | None = None
    fact_recall: float | None = None
    checks: int = 0  # held-out questions
    check_hit_at_5: float | None = None
    check_fact_recall: float | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def build_rate(self) -> float:
        return (self.passages + self.sentences) / self.build_s if self.build_s else 0.0

    @property
    def raw_rate(self) -> float:
        return self.raw_texts / self.raw_s if self.raw_s else 0.0

    def median(self, name: str) -> float:
        return statistics.median(getattr(run, name) for run in self.opens)


@dataclass
class Plan:
    """What the whole run does (from the command line)."""

    sizes: list[int]
    corpus: Path  # the folder of the article
    mode: str
    mirror: Path | None
    open_runs: int
    rounds: int  # warm answer() passes over the dev questions
    questions: int | None  # None: every dev question
    raw_sample: int
    work: Path


def settings_for(plan: Plan, size: int) -> dict[str, Any]:
    """The Settings fields of one size, as JSON-able values (the fresh processes get the same)."""
    corpus = [str(plan.corpus)] + ([str(plan.work / f"distractors-{size}")] if size > 1 else [])
    return {
        "home": str(ROOT),
        "corpus_dirs": corpus,
        "mirror_dir": str(plan.mirror) if plan.mirror else None,
        "cache_dir": str(plan.work / "cache"),
        "index_dir": str(plan.work / f"index-{size}"),
    }


def measure(
    plan: Plan,
    size: int,
    real_docs: Sequence[Any],
    items: Sequence[Any],
    checks: Sequence[Any],
    model: Any,
    url: str | None,
) -> tuple[SizeResult, dict[str, Any]]:
    """Build one corpus size, encode its texts raw, answer and score the dev and held-out questions; return
    its settings."""
    from azcompare import Settings, answer, build_index
    from azcompare.corpus.chunking import chunk_document
    from azcompare.corpus.loaders import load_documents
    from azcompare.evaluation.runner import run_items
    from azcompare.index import chunker_params
    from azcompare.text import quotable_sentences

    result = SizeResult(size)
    fields = settings_for(plan, size) | ({"chroma_url": url} if url else {})
    if size > 1:
        write_distractors(real_docs, size - 1, plan.work / f"distractors-{size}")
    settings = Settings(**fields)
    # The texts the build embeds, from the same corpus code (the pages were synced into the cache already).
    documents = load_documents(settings)
    result.documents = len(documents)
    result.corpus_kb = sum(len(d.text) for d in documents) / 1000
    params = chunker_params(settings)
    chunks = [c for d in documents for c in chunk_document(d, params)]
    texts = [c.embed_text for c in chunks] + [s.text for c in chunks for s in quotable_sentences(c.text)]
    sample = random.Random(size).sample(texts, min(plan.raw_sample, len(texts)))
    # Half of the raw encoding before the build and half after: a change of the machine's load during the
    # build then weighs on both figures.
    halves = (sample[: len(sample) // 2], sample[len(sample) // 2 :])
    result.raw_s += raw_encode(model, halves[0], size)

    progress(f"{size}×: building")
    started = time.perf_counter()
    report = build_index(settings, rebuild=True)
    result.build_s = time.perf_counter() - started
    result.link_s = report.link_seconds
    result.passages, result.sentences = report.embedded_chunks, report.embedded_sentences
    result.notes.extend(report.notices)
    result.index_mb = folder_bytes(Path(fields["index_dir"])) / 1e6
    if plan.mode == "server":
        result.index_mb += folder_bytes(plan.work / f"chroma-{size}") / 1e6
    if len(texts) != result.passages + result.sentences:
        result.notes.append(f"raw encode texts ({len(texts)}) differ from the build's ({report.embedded_chunks}+"
                            f"{report.embedded_sentences})")  # fmt: skip

    result.raw_s += raw_encode(model, halves[1], size)
    result.raw_texts = len(sample)

    progress(f"{size}×: {len(items)} dev questions")
    answer(items[0].question, settings=settings)  # the process's first answer is timed by the fresh processes
    run = run_items(items, settings)
    result.questions = len(items)
    result.hit_at_5, result.fact_recall = run.summary.get("hit@5"), run.summary.get("fact_recall")
    check = run_items(checks, settings)
    result.checks = len(checks)
    result.check_hit_at_5, result.check_fact_recall = check.summary.get("hit@5"), check.summary.get("fact_recall")
    rejected = [r for r in run.results if r.answer.status == "rejected"]
    if rejected:
        result.notes.append(
            f"{len(rejected)} answer(s) rejected, e.g. {rejected[0].item.id}: {rejected[0].answer.text}"
        )
    return result, fields


def interleaved(plan: Plan, sized: Sequence[tuple[SizeResult, dict[str, Any]]], items: Sequence[Any]) -> None:
    """Fresh processes, then warm answer() latency, each round over every size in turn.

    The machine's load changes by the minute; taking the sizes in turn within each round lets it weigh on
    every size alike, so their ratios hold even when the absolute figures do not.
    """
    from azcompare import Settings, answer
    from azcompare.evaluation.metrics import percentile

    for run in range(plan.open_runs):
        for result, fields in sized:
            progress(f"{result.size}×: fresh process {run + 1}/{plan.open_runs}")
            result.opens.append(fresh_process(fields, items[0].question))
    latencies: dict[int, list[float]] = {result.size: [] for result, _ in sized}
    for round_ in range(plan.rounds):
        for result, fields in sized:
            progress(f"{result.size}×: answer() round {round_ + 1}/{plan.rounds}")
            settings = Settings(**fields)
            for item in items:
                started = time.perf_counter()
                answer(item.question, history=list(item.history) or None, settings=settings)
                latencies[result.size].append((time.perf_counter() - started) * 1000)
    for result, _ in sized:
        result.p50_ms = percentile(latencies[result.size], 50) or 0.0
        result.p95_ms = percentile(latencies[result.size], 95) or 0.0


def raw_encode(model: Any, texts: Sequence[str], size: int) -> float:
    """Seconds `SentenceTransformer.encode` takes for the texts, in the build's batch size."""
    progress(f"{size}×: raw encode of {len(texts)} texts")
    started = time.perf_counter()
    model.encode(list(texts), batch_size=ENCODE_BATCH, normalize_embeddings=True)
    return time.perf_counter() - started


def fresh_process(fields: dict[str, Any], question: str) -> OpenRun:
    """Run `--child` in a new interpreter and read its timings; the wall time is measured from here."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps({"settings": fields, "q": question})],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=600,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BenchError(f"the fresh process failed (exit {done.returncode}): {tail}")
    data = json.loads(done.stdout.strip().splitlines()[-1])
    return OpenRun(data["import_s"], data["open_s"], data["first_answer_s"], wall, data["rss_mb"])


def child(payload: str) -> None:
    """In a fresh process: import, open the index, answer one question; print the timings as JSON."""
    started = time.perf_counter()
    from azcompare import Settings, answer
    from azcompare.retrieval import open_knowledge_base

    imported = time.perf_counter()
    data = json.loads(payload)
    settings = Settings(**data["settings"])
    open_knowledge_base(settings)
    opened = time.perf_counter()
    result = answer(data["q"], settings=settings)
    answered = time.perf_counter()
    if result.status == "rejected":
        raise SystemExit(f"the first answer was rejected: {result.text}")
    print(
        json.dumps(
            {
                "import_s": imported - started,
                "open_s": opened - imported,
                "first_answer_s": answered - opened,
                "rss_mb": resident_mb(),
            }
        )
    )


def resident_mb() -> float:
    """This process's resident memory now (Linux), else its peak."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under a folder."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


# ---------------------------------------------------------------------------------------------------
# Server mode


@contextlib.contextmanager
def chroma_server(path: Path, log_file: Path) -> Iterator[str]:
    """A real `chroma run` on a free loopback port, stopped on exit; yields its URL."""
    # Imported here: tests load this file without scripts/ on the path.
    from processes import free_port, stop, wait_for_http

    binary = Path(sys.executable).with_name("chroma")
    if not binary.exists():
        found = shutil.which("chroma")
        if not found:
            raise BenchError("server mode needs the `chroma` command that comes with chromadb")
        binary = Path(found)

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with open(log_file, "wb") as log:
        server = subprocess.Popen(
            [str(binary), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            problem = wait_for_http(server, f"{url}/api/v2/heartbeat", SERVER_START_SECONDS, interval=0.3)
            if problem:
                raise BenchError(f"chroma run did not start: {problem}; see {log_file}")
            yield url
        finally:
            stop(server, timeout=15)


# ---------------------------------------------------------------------------------------------------
# Report


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


Column = tuple[str, Callable[[SizeResult], str]]
BUILD_COLUMNS: tuple[Column, ...] = (
    ("documents", lambda r: str(r.documents)),
    ("passages", lambda r: str(r.passages)),
    ("sentences", lambda r: str(r.sentences)),
    ("build s", lambda r: fmt(r.build_s, 1)),
    ("of it linking s", lambda r: fmt(r.link_s, 1)),
    ("build texts/s", lambda r: fmt(r.build_rate, 1)),
    ("raw encode texts/s", lambda r: fmt(r.raw_rate, 1)),
    ("build / raw", lambda r: fmt(r.build_rate / r.raw_rate if r.raw_rate else None)),
    ("index MB", lambda r: fmt(r.index_mb, 1)),
)
OPEN_COLUMNS: tuple[Column, ...] = (
    ("import s", lambda r: fmt(r.median("import_s"))),
    ("open_knowledge_base s", lambda r: fmt(r.median("open_s"))),
    ("first answer s", lambda r: fmt(r.median("first_answer_s"))),
    ("process wall s", lambda r: fmt(r.median("wall_s"))),
    ("RSS MB", lambda r: fmt(r.median("rss_mb"), 0)),
    ("answer() p50 ms", lambda r: fmt(r.p50_ms, 1)),
    ("answer() p95 ms", lambda r: fmt(r.p95_ms, 1)),
)
QUALITY_COLUMNS: tuple[Column, ...] = (
    ("dev questions", lambda r: str(r.questions)),
    ("hit@5", lambda r: fmt(r.hit_at_5, 3)),
    ("fact recall", lambda r: fmt(r.fact_recall, 3)),
    ("held-out questions", lambda r: str(r.checks)),
    ("held-out hit@5", lambda r: fmt(r.check_hit_at_5, 3)),
    ("held-out fact recall", lambda r: fmt(r.check_fact_recall, 3)),
)


def size_table(results: Sequence[SizeResult], columns: Sequence[Column]) -> str:
    """One row per size, one column per figure."""
    return table(
        ["size", *(name for name, _ in columns)], [[f"{r.size}×", *(get(r) for _, get in columns)] for r in results]
    )


def render(results: Sequence[SizeResult], plan: Plan, seconds: float) -> str:
    """The Markdown tables of a run."""
    base = results[0]
    out = [
        f"## Scale benchmark: {plan.mode} mode, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min",
        "",
        f"1× = {base.documents} documents ({base.corpus_kb:.0f} k characters cleaned); N× adds N−1 generated copies "
        f"of each. Dev questions: {base.questions} ({QUESTIONS.relative_to(ROOT)} --split {SPLIT}), and "
        f"{base.checks} {CHECK_SPLIT} questions as a check. "
        f"Fresh processes per size: {plan.open_runs} (medians); warm answer() passes: {plan.rounds}; both taken "
        f"size after size within each round. Raw encode: `encode` in batches of "
        f"{ENCODE_BATCH} on up to {plan.raw_sample} of the build's texts, half just before the build, half just after.",
        "",
        "### Build",
        "",
        size_table(results, BUILD_COLUMNS),
        "",
        "### Open and answer",
        "",
        size_table(results, OPEN_COLUMNS),
        "",
        "### Quality with the distractors present",
        "",
        size_table(results, QUALITY_COLUMNS),
        "",
        "### Targets",
        "",
        table(("target", "measured", "met"), targets(results)),
    ]
    notes = [f"- {r.size}×: {note}" for r in results for note in dict.fromkeys(r.notes)]
    if notes:
        out += ["", "Notes:", *notes]
    return "\n".join(out) + "\n"


def targets(results: Sequence[SizeResult]) -> list[tuple[str, str, str]]:
    """Each target of issue 11 (point 5) with the figure measured and whether it is met."""
    base, top = results[0], results[-1]
    ratios = [r.build_rate / r.raw_rate if r.raw_rate else 0.0 for r in results]
    rows = [
        (
            f"build ≥ {BUILD_RATIO_TARGET}× raw encode at every size",
            ", ".join(f"{r.size}×: {ratio:.2f}" for r, ratio in zip(results, ratios, strict=True)),
            yes(all(ratio >= BUILD_RATIO_TARGET for ratio in ratios)),
        ),
        (
            f"open ≤ {OPEN_TARGET_S:.0f} s at {top.size}× (open_knowledge_base in a fresh process)",
            f"{top.median('open_s'):.2f} s",
            yes(top.median("open_s") <= OPEN_TARGET_S),
        ),
    ]
    growth = top.p50_ms / base.p50_ms if base.p50_ms else None
    rows.append(
        (
            f"answer() p50 at {top.size}× ≤ {P50_GROWTH_TARGET:.0f}× the {base.size}× figure",
            f"{top.p50_ms:.1f} / {base.p50_ms:.1f} ms = {fmt(growth)}×",
            yes(growth is not None and growth <= P50_GROWTH_TARGET),
        )
    )
    for split, get in (
        (SPLIT, lambda r: r.hit_at_5),
        (f"{CHECK_SPLIT} (a check, not the target)", lambda r: r.check_hit_at_5),
    ):
        high, low = get(top), get(base)
        keep = high / low if high is not None and low else None
        rows.append(
            (
                f"{split} hit@5 at {top.size}× ≥ {HIT_KEEP_TARGET} of the {base.size}× figure",
                f"{fmt(high, 3)} / {fmt(low, 3)} = {fmt(keep, 3)}",
                yes(keep is not None and keep >= HIT_KEEP_TARGET),
            )
        )
    return rows


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


# ---------------------------------------------------------------------------------------------------
# Running


class BenchError(RuntimeError):
    """Something the benchmark needs is missing or failed; the message says what."""


class SizeFailed(RuntimeError):
    """Some sizes could not be measured; the message is the report of the others, failures listed."""


def progress(message: str) -> None:
    print(f"[{dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise BenchError(f"--sizes takes whole numbers separated by commas, e.g. 1,5,20 (got {text!r})") from None
    if not sizes or sizes[0] < 1:
        raise BenchError(f"--sizes must be whole numbers of at least 1 (got {text!r})")
    return sizes


def find_mirror(option: str | None) -> Path | None:
    """--mirror, else AZCOMPARE_MIRROR_DIR, else ../shared/corpus-mirror beside the checkout."""
    for candidate in (option, os.environ.get("AZCOMPARE_MIRROR_DIR"), str(ROOT.parent / "shared" / "corpus-mirror")):
        if candidate and (Path(candidate) / "manifest.json").exists():
            return Path(candidate).resolve()
        if candidate and candidate in (option, os.environ.get("AZCOMPARE_MIRROR_DIR")):
            raise BenchError(f"no mirror at {candidate} (it needs a manifest.json)")
    return None


def run(plan: Plan) -> str:
    """Measure every size and return the report."""
    from azcompare import Settings, build_index
    from azcompare.corpus.loaders import load_documents
    from azcompare.corpus.sources import sync_sources
    from azcompare.embeddings import model_path
    from azcompare.evaluation.dataset import load_question_set
    from azcompare.evaluation.evaluate import select_items

    clock = time.perf_counter()
    questions = load_question_set(QUESTIONS)
    items, checks = (select_items(questions, split) for split in (SPLIT, CHECK_SPLIT))
    if plan.questions:
        items, checks = items[: plan.questions], checks[: plan.questions]
    if plan.mode == "server" and "chroma_url" not in Settings.model_fields:
        raise BenchError("this checkout has no server mode (AZCOMPARE_CHROMA_URL); run with --mode local")

    base = Settings(**settings_for(plan, 1))
    if plan.mirror:
        sync_sources(base)
    real_docs = load_documents(base)

    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_path(base), device="cpu")
    # Load the build's own embedding model once, so no size's build time includes it.
    progress("warm-up build")
    warm = plan.work / "warm"
    (warm / "corpus").mkdir(parents=True)
    (warm / "corpus" / "warm.md").write_text("# Warm-up\n\nThis document warms the embedding model up.\n")
    build_index(Settings(home=ROOT, corpus_dirs=[warm / "corpus"], mirror_dir=None, cache_dir=warm / "cache",
                         index_dir=warm / "index"))  # fmt: skip

    with contextlib.ExitStack() as servers:  # every size's server serves until the interleaved rounds end
        sized = []
        failed: dict[int, str] = {}
        for size in plan.sizes:
            url = None
            if plan.mode == "server":
                url = servers.enter_context(
                    chroma_server(plan.work / f"chroma-{size}", plan.work / f"chroma-{size}.log")
                )
            try:
                sized.append(measure(plan, size, real_docs, items, checks, model, url))
            except Exception as exc:  # a size that breaks the pipeline is a finding: report it, measure the rest
                failed[size] = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}"
                progress(f"{size}×: failed: {failed[size]}")
        if not sized:
            raise BenchError("every size failed: " + "; ".join(f"{k}×: {v}" for k, v in failed.items()))
        interleaved(plan, sized, items)
    report = render([result for result, _ in sized], plan, time.perf_counter() - clock)
    if failed:
        report += "\nFailed sizes (not in the tables above):\n" + "".join(f"- {k}×: {v}\n" for k, v in failed.items())
        raise SizeFailed(report)
    return report


def quick_corpus(work: Path) -> Path:
    """A folder holding the first QUICK_CHARS of each corpus file (whole lines), under their own names."""
    folder = work / "quick-corpus"
    folder.mkdir()
    for path in sorted((ROOT / "corpus").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        cut = text.rfind("\n", 0, QUICK_CHARS)
        (folder / path.name).write_text(text[: cut if cut > 0 else QUICK_CHARS] + "\n", encoding="utf-8")
    return folder


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="1,5,20", help="corpus sizes as multiples of today's (default 1,5,20)")
    parser.add_argument("--mode", choices=("local", "server"), default="local", help="embedded Chroma or `chroma run`")
    parser.add_argument("--open-runs", type=int, default=3, help="fresh processes per size (median)")
    parser.add_argument("--rounds", type=int, default=2, help="warm answer() passes over the dev questions")
    parser.add_argument("--raw-sample", type=int, default=4000, help="most texts the raw encode figure uses")
    parser.add_argument("--questions", type=int, default=0, help="only the first N dev and held-out questions (0: all)")
    parser.add_argument("--mirror", help="offline mirror folder (default: AZCOMPARE_MIRROR_DIR)")
    parser.add_argument("--quick", action="store_true", help="tiny run for CI: part of the article at 1× and 2×")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)  # before any import of azcompare, which the child times
        return 0
    from azcompare.settings import apply_offline_env

    apply_offline_env()  # also for the fresh processes, which inherit the environment
    work = Path(tempfile.mkdtemp(prefix="azcompare-scale-"))
    try:
        if min(args.open_runs, args.rounds, args.raw_sample) < 1 or args.questions < 0:
            raise BenchError("--open-runs, --rounds and --raw-sample must be at least 1, --questions at least 0")
        quick = args.quick
        plan = Plan(
            sizes=list(QUICK_SIZES) if quick else parse_sizes(args.sizes),
            corpus=quick_corpus(work) if quick else ROOT / "corpus",
            mode=args.mode,
            mirror=None if quick else find_mirror(args.mirror),
            open_runs=1 if quick else args.open_runs,
            rounds=1 if quick else args.rounds,
            questions=QUICK_QUESTIONS if quick else args.questions or None,
            raw_sample=QUICK_RAW_SAMPLE if quick else args.raw_sample,
            work=work,
        )
        if not quick and plan.mirror is None:
            raise BenchError("today's corpus needs the mirrored pages: set AZCOMPARE_MIRROR_DIR or --mirror")
        print(run(plan), end="")
        return 0
    except SizeFailed as exc:
        print(exc, end="")
        return 1
    except BenchError as exc:
        print(f"scale_bench: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
