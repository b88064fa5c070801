"""Statistics of the links from older passages to newer ones, and the calibration of their threshold.

    python scripts/link_stats.py                 # totals by kind, per older document: passages and rows linked
    python scripts/link_stats.py --calibrate     # precision/recall per threshold on scripts/link_labels.yaml
    python scripts/link_stats.py --sample 20     # a random sample of links to judge by hand
    python scripts/link_stats.py --timing        # answer() p50 with and without links, in one run

It reads the active index (AZCOMPARE_INDEX_DIR, built with `azcompare index`), never builds one.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import chromadb
import yaml

from azcompare import Settings, answer
from azcompare.answering.pipeline import ensure_index
from azcompare.corpus.sources import load_source_list
from azcompare.evaluation.dataset import load_question_set
from azcompare.evaluation.metrics import percentile
from azcompare.index import CHROMA_SETTINGS, COLLECTION, SENTENCES, link_recipe
from azcompare.index_state import CHROMA_DIR, inspect_index
from azcompare.links import THRESHOLD, LinkCorpus, Scorer, older_documents, read_links, summarize

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "scripts" / "link_labels.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="precision/recall per threshold on the labels")
    parser.add_argument("--sample", type=int, default=0, help="print N random links for hand-checking")
    parser.add_argument("--seed", type=int, default=10, help="seed of the sample")
    parser.add_argument("--timing", action="store_true", help="answer() p50 with vs without links")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the dev questions for --timing")
    args = parser.parse_args()
    settings = Settings()
    assert settings.index_dir is not None
    version = inspect_index(settings.index_dir).version
    if version is None:
        sys.exit(f"no usable index in {settings.index_dir}; build it with `azcompare index`")
    corpus = _corpus(version)
    by_old, problem = read_links(version)
    if problem:
        sys.exit(problem)
    links = [link for found in by_old.values() for link in found]
    if args.calibrate:
        calibrate(corpus, settings)
    elif args.sample:
        sample(links, args.sample, args.seed)
    elif args.timing:
        timing(settings, args.rounds)
    else:
        print(json.dumps(summarize(links, corpus, link_recipe(settings).span_days), indent=2))


def _corpus(version: Path) -> LinkCorpus:
    client = chromadb.PersistentClient(path=str(version / CHROMA_DIR), settings=CHROMA_SETTINGS)
    try:
        return LinkCorpus.from_collections(client.get_collection(COLLECTION), client.get_collection(SENTENCES))
    finally:
        client.close()


def calibrate(corpus: LinkCorpus, settings: Settings) -> None:
    """Score every labelled (old sentence, newer passage) pair and print precision/recall per threshold."""
    assert settings.sources_file is not None
    labels: list[dict[str, Any]] = yaml.safe_load(LABELS.read_text(encoding="utf-8"))["pairs"]
    older = older_documents(corpus.chunks, link_recipe(settings).span_days)
    scorer = Scorer(corpus, older, load_source_list(settings.sources_file).aliases)
    rows = {corpus.chunks[i].id: row for row, i in enumerate(scorer.new_index)}
    scored: list[tuple[float, bool]] = []
    lost: list[str] = []
    for item in labels:
        old = next((s for s in corpus.statements if s.chunk.doc_id in older and s.text == item["old"]), None)
        new = next(
            (c for c in corpus.chunks if c.doc_id == item["new_doc"] and item["new"] in c.text and c.id in rows), None
        )
        if old is None or new is None:
            # A page re-chunked or edited since the labels were made: the pair is reported, not scored.
            lost.append(f"{item['old'][:60]!r} / {item['new_doc']}: {item['new'][:60]!r}")
            continue
        score = float(scorer.scores(old)[0][rows[new.id]])
        scored.append((score, bool(item["same_point"])))
    positives = sum(same for _, same in scored)
    print(f"{len(scored)} labelled pairs, {positives} on the same point")
    for pair in lost:
        print(f"  not in the index (skipped): {pair}")
    print("threshold  precision  recall   F1   (links are made at or above the threshold)")
    best = (0.0, 0.0)
    for step in range(40, 81, 2):
        t = step / 100
        tp = sum(1 for s, same in scored if s >= t and same)
        fp = sum(1 for s, same in scored if s >= t and not same)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / positives if positives else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        best = max(best, (f1, t))
        mark = "  ← THRESHOLD" if abs(t - THRESHOLD) < 1e-9 else ""
        print(f"  {t:.2f}      {precision:.2f}       {recall:.2f}   {f1:.2f}{mark}")
    print(f"best F1 {best[0]:.2f} at {best[1]:.2f}")


def sample(links: list[Any], n: int, seed: int) -> None:
    """Print n random links (seeded) for a reader to judge: is the newer passage on the same point?"""
    for i, link in enumerate(random.Random(seed).sample(links, min(n, len(links))), 1):
        renamed = ", ".join(f"{a} → {b}" for a, b in link.renamed)
        print(f"{i}. [{link.kind} {link.score:.3f}{' ' + renamed if renamed else ''}]")
        print(f"   old {link.old_chunk_id} ({link.old_date}): {link.old_sentence}")
        print(f"   new {link.new_chunk_id} ({link.new_date}): {' '.join(link.new_sentences)}")


def timing(settings: Settings, rounds: int) -> None:
    """answer() p50 over the dev questions with links and with them switched off, interleaved in one run."""
    questions = [i.question for i in load_question_set(ROOT / "evals" / "dev.yaml").items]
    kb = ensure_index(settings)
    saved = kb._links  # the measurement switches links off for every other call; nothing else does
    for q in questions:
        answer(q, settings=settings)
    with_ms: list[float] = []
    without_ms: list[float] = []
    links_ms: list[float] = []  # the retrieval stage that appends the linked passages
    used = 0
    for _ in range(rounds):
        for q in questions:
            for on in (True, False):
                kb._links = saved if on else {}
                t0 = time.perf_counter()
                result = answer(q, settings=settings)
                (with_ms if on else without_ms).append((time.perf_counter() - t0) * 1000)
                used += bool(on and result.links)
                if on:
                    links_ms.append(result.timings.get("links_ms", 0.0))
    kb._links = saved
    w50, wo50 = percentile(with_ms, 50), percentile(without_ms, 50)
    print(f"answer() over {len(with_ms)} calls each ({len(questions)} dev questions × {rounds} rounds):")
    print(f"  with links p50 {w50:.1f} ms; without links p50 {wo50:.1f} ms; answers that used links: {used}")
    print(f"  the links stage itself: p50 {percentile(links_ms, 50):.3f} ms, max {max(links_ms, default=0.0):.3f} ms")


if __name__ == "__main__":
    main()
