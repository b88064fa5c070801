"""Fit a sentence score on a split of the question set and compare it with the hand-weighted one, out of fold.

For every answerable item with expected facts it retrieves the passages as the answerer does (the message read,
a follow-up condensed, the spelling mended, the same search), takes every sentence the extractive answerer could
quote first (readable, not from a support-only passage) with its features, and labels it by the item's expected
fact groups it holds (normalized as evaluation/metrics.py does).

The features are those extractive.hand_score reads (extractive.sentence_features) and a few general ones it
ignores, each 0..1 but the cosine (EXTRA_FEATURES says why each is worth a look). Models: L2-regularized logistic
regression, pointwise (is this sentence a fact sentence?) and pairwise (which of two sentences of one question
holds a fact: a ranking model), on the hand score's features and on all features. 5-fold cross-validation grouped
by question (no question is scored by a model fit on it) gives each ranking's precision@1 (the best sentence holds
a fact: what the answer leads with) and recall@3 (the share of the item's facts in the best three sentences: what a
three-sentence answer can quote), against the hand score on the same questions, with the paired standard error.

Run it only on dev (tuning data); a held-out run would spend the held-out split.

    python scripts/fit_sentence_scorer.py evals/questions.yaml --split dev
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from azcompare.answering.citations import Evidence, shown_sentence
from azcompare.answering.condense import condense_question
from azcompare.answering.extractive import Candidate, hand_score, sentence_features
from azcompare.answering.inputs import clean_message, parse_history, read_message
from azcompare.answering.pipeline import ensure_index, retrieve, spelled_right
from azcompare.answering.readable import is_readable
from azcompare.evaluation.dataset import EvalItem, load_question_set
from azcompare.evaluation.metrics import fact_present
from azcompare.retrieval import KnowledgeBase, SearchResult
from azcompare.settings import Settings

HAND_FEATURES = ("similarity", "coverage", "heading_coverage", "specifics", "pointer", "aside", "other_service")
# The features the hand score ignores, and why a careful reader would look at each.
EXTRA_FEATURES = {
    "passage_rank": "retrieval ranked the sentence's passage high (1 / rank): the search read the whole passage",
    "passage_similarity": "the whole passage is close to the question in meaning (its dense cosine)",
    "words": "length (words / 40, capped): a fragment says little, a long sentence several things",
    "position": "where it sits in its passage (0 first, 1 last): a section states its point early",
    "table_row": "a table row (feature matrix, limits table): a value per cell, often exactly what is asked",
    "list_item": "an item of a list: one of several, rarely the whole answer",
    "list_lead_in": "a lead-in quoted with its list items: the list as a whole",
    "age": "how much older its source is than the newest document (years / 3, capped): newer pages are current",
}
FEATURES = HAND_FEATURES + tuple(EXTRA_FEATURES)
# A sentence's sentence-BM25 is left out: coverage is already an idf-weighted match of the question's terms,
# and BM25's length normalization is what `words` stands for.
FOLDS = 5
C_GRID = (0.01, 0.1, 1.0, 10.0)
TOP = 3  # the statements an answer quotes (Settings.max_answer_sentences)
_LIST_MARKER = re.compile(r"\s*(?:[-*+]|\d+[.)])\s+")  # all the line holds before the sentence, when it is an item
_AGE_YEARS = 3.0


@dataclass
class Question:
    """One item's candidate sentences: their features, the fact groups each holds, the hand score of each."""

    id: str
    x: np.ndarray  # (sentences, FEATURES)
    groups: list[set[int]]
    n_groups: int
    hand: np.ndarray

    @property
    def labels(self) -> np.ndarray:
        """1 for a sentence holding any expected fact, else 0."""
        return np.array([1 if g else 0 for g in self.groups])


def extra_features(c: Candidate, result: SearchResult, kb: KnowledgeBase) -> dict[str, float]:
    """The EXTRA_FEATURES of one candidate sentence."""
    chunk = c.hit.chunk
    units = [u.sentence.spans for u in kb.sentences(chunk)]
    start = c.sentence.spans[0][0]
    before = chunk.text[chunk.text.rfind("\n", 0, start) + 1 : start]
    newest = kb.newest_date
    age = (newest - chunk.date).days / 365 if newest and chunk.date else 0.0
    return {
        "passage_rank": 1.0 / c.hit.rank,
        "passage_similarity": max(c.hit.dense_score or 0.0, 0.0),
        "words": min(len(c.sentence.text.split()) / 40, 1.0),
        "position": units.index(c.sentence.spans) / max(len(units) - 1, 1),
        "table_row": float(chunk.kind == "row"),
        "list_item": float(_LIST_MARKER.fullmatch(before) is not None),
        "list_lead_in": float(len(c.sentence.spans) > 1),
        "age": min(max(age, 0.0) / _AGE_YEARS, 1.0),
    }


def collect(items: Sequence[EvalItem], kb: KnowledgeBase, settings: Settings) -> list[Question]:
    """The candidate sentences of each answerable item with expected facts, as the extractive answerer sees them."""
    questions: list[Question] = []
    for item in items:
        if not item.answerable or not item.expected_facts:
            continue
        text, background = read_message(clean_message(item.question, settings.max_question_chars))
        turns = parse_history(list(item.history) or None, settings.max_question_chars)
        standalone = spelled_right(condense_question(text, turns), kb)
        result = retrieve(kb, standalone, settings.top_k, settings, background)
        rows, groups, hand = [], [], []
        for c in sentence_features(standalone, result, kb, result.background):
            if c.hit.support or not is_readable(shown_sentence(Evidence(c.hit, c.sentence, 0.0, c.coverage))):
                continue  # never quoted first (extractive_answer): not ranked there
            features = c.features | extra_features(c, result, kb)
            rows.append([features[f] for f in FEATURES])
            groups.append({i for i, g in enumerate(item.expected_facts) if fact_present(g, c.sentence.text)})
            hand.append(hand_score(c.features))
        if rows:
            questions.append(Question(item.id, np.array(rows), groups, len(item.expected_facts), np.array(hand)))
    return questions


def per_question(questions: Sequence[Question], scores: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Precision@1 and recall@TOP of each question where some sentence holds a fact (elsewhere no ranking helps)."""
    p1, r3 = [], []
    for q, s in zip(questions, scores, strict=True):
        if not q.labels.any():
            continue
        order = np.argsort(-s, kind="stable")
        p1.append(float(bool(q.groups[order[0]])))
        r3.append(len(set().union(*(q.groups[i] for i in order[:TOP]))) / q.n_groups)
    return np.array(p1), np.array(r3)


def pointwise(questions: Sequence[Question], columns: Sequence[int], c: float) -> np.ndarray:
    """Weights of a logistic regression telling fact sentences from the others (classes balanced)."""
    x = np.vstack([q.x[:, columns] for q in questions])
    y = np.concatenate([q.labels for q in questions])
    return LogisticRegression(C=c, class_weight="balanced", max_iter=3000).fit(x, y).coef_[0]


def pairwise(questions: Sequence[Question], columns: Sequence[int], c: float) -> np.ndarray:
    """Weights of a logistic regression on the feature differences of (fact, other) sentence pairs of a question:
    a linear ranking model (RankSVM's idea with the logistic loss)."""
    diffs = []
    for q in questions:
        x, y = q.x[:, columns], q.labels.astype(bool)
        if y.any() and not y.all():
            diffs.append((x[y][:, None, :] - x[~y][None, :, :]).reshape(-1, len(columns)))
    d = np.vstack(diffs)
    x = np.vstack([d, -d])
    y = np.r_[np.ones(len(d)), np.zeros(len(d))]
    return LogisticRegression(C=c, fit_intercept=False, max_iter=3000).fit(x, y).coef_[0]


Fit = Callable[[Sequence[Question], Sequence[int], float], np.ndarray]


def out_of_fold(questions: Sequence[Question], fit: Fit, columns: Sequence[int], c: float) -> list[np.ndarray]:
    """Each question's sentence scores from a model fit on the other folds (grouped by question)."""
    scores: list[np.ndarray] = [np.empty(0)] * len(questions)
    ids = np.arange(len(questions))
    for train, test in GroupKFold(n_splits=FOLDS).split(ids, groups=ids):
        w = fit([questions[i] for i in train], columns, c)
        for i in test:
            scores[i] = questions[i].x[:, columns] @ w
    return scores


def versus(new: np.ndarray, old: np.ndarray) -> str:
    """The mean, and its difference from the hand score's with the paired standard error."""
    diff = new - old
    return f"{new.mean():.3f} ({diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.3f})"


def report(questions: Sequence[Question]) -> str:
    """The out-of-fold comparison, then each feature's weight in the all-feature pairwise model fit on every item."""
    hand_p1, hand_r3 = per_question(questions, [q.hand for q in questions])
    lines = [
        f"{len(questions)} questions, {sum(len(q.groups) for q in questions)} candidate sentences; "
        f"{len(hand_p1)} have a sentence holding a fact (the others cannot tell rankings apart).",
        f"Out of fold ({FOLDS}-fold by question): precision@1 and recall@{TOP} (difference from the hand score ± s.e.)",
        f"  hand score (weights set by hand on this split)   {hand_p1.mean():.3f}  {hand_r3.mean():.3f}",
    ]
    sets = {"hand features": list(range(len(HAND_FEATURES))), "all features": list(range(len(FEATURES)))}
    for model, fit in (("pointwise", pointwise), ("pairwise", pairwise)):
        for name, columns in sets.items():
            for c in C_GRID:
                p1, r3 = per_question(questions, out_of_fold(questions, fit, columns, c))
                label = f"{model}, {name}, C={c:g}"
                lines.append(f"  {label:48s} {versus(p1, hand_p1)}  {versus(r3, hand_r3)}")
    w = pairwise(questions, sets["all features"], 1.0)
    spread = {f: w[i] * np.vstack([q.x for q in questions])[:, i].std() for i, f in enumerate(FEATURES)}
    lines.append("Pairwise, all features, C=1, fit on every question: weight (weight x the feature's spread)")
    lines += [
        f"  {f:20s} {w[FEATURES.index(f)]:+7.2f} ({spread[f]:+.2f})"
        for f in sorted(spread, key=lambda f: -abs(spread[f]))
    ]
    sim, cov = w[FEATURES.index("similarity")], w[FEATURES.index("coverage")]
    lines.append(f"Similarity's weight against coverage's: {sim / cov:.2f} (the hand score: 0.35 / 0.65 = 0.54)")
    return "\n".join(lines)


def main() -> None:
    """Collect the split's candidate sentences and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question_set", type=Path)
    parser.add_argument("--split", default="dev")
    args = parser.parse_args()
    settings = Settings()
    questions = collect(load_question_set(args.question_set).split(args.split), ensure_index(settings), settings)
    print(report(questions))


if __name__ == "__main__":
    main()
