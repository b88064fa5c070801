"""A how-to answered with the steps of one procedure, in order.

A procedure is a numbered list ("1. Go to your resource.") in a section of a document; a long section
is cut into several passages, so its list may go on in the next one. The answer quotes each step
whole (its sentences and sub-items), each with its citation, under a line naming the section, the
page and its date. Only retrieved passages are quoted: when the section goes on in one that was not
retrieved, the answer says so and gives the page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from azcompare.answering.citations import Citer, Evidence, body
from azcompare.answering.compose import Composed
from azcompare.answering.readable import is_readable
from azcompare.retrieval import KnowledgeBase
from azcompare.text import Sentence, match_key, passage_lines, terms
from azcompare.types import Hit

MAX_STEPS = 10
# A how-to names its task with a verb that the section heading may name with another: "check that it works"
# is the section "Testing your configuration". Stems of one task, each group read as its first member.
_TASKS = (
    ("test", "check", "verifi", "valid", "confirm", "troubleshoot"),
    ("creat", "set", "add", "configur", "deploy"),
    ("remov", "delet", "disabl"),
)
_TASK = {stem: group[0] for group in _TASKS for stem in group}
_ITEM = re.compile(r"^ {0,3}\d{1,2}[.)][ \t]+(?=\S)")
_SUB_ITEM = re.compile(r"^\s+(?:[-*+]|\d{1,2}[.)])\s+(?=\S)")


@dataclass(frozen=True)
class Procedure:
    """The steps found, and the page to read when the section goes on beyond the retrieved passages."""

    steps: list[Evidence]
    more_at: str = ""  # the page's address when steps were left out


def find_procedure(
    question: str, scored: list[Evidence], kb: KnowledgeBase, hits: Mapping[str, Hit], floor: float
) -> Procedure | None:
    """The numbered procedure of the retrieved section that fits the question best, or None.

    The sections are those holding a sentence scored at least `floor` (`scored` is best first); the one
    whose headings hold more of the question's words (rarer words weigh more) wins, then the one with
    the better sentence; a heading that names another task than the question's counts none of them.
    `hits` are the retrieved passages by id: the only ones quoted.
    """
    weights = {_task_key(t): kb.idf(t) for t in terms(question)}
    best: dict[tuple[str, tuple[str, ...]], Evidence] = {}
    for e in scored:
        if e.score < floor:
            break
        best.setdefault((e.hit.chunk.doc_id, e.hit.chunk.heading_path), e)
    found: list[tuple[float, float, Procedure]] = []
    for e in best.values():
        section = kb.section(e.hit.chunk)
        steps = _without_repeats(
            [
                Evidence(hits[chunk.id], sentence, e.score, e.coverage)
                for chunk in section
                if chunk.id in hits
                for sentence in numbered_steps(chunk.text)
            ]
        )
        steps, left_out = _readable(steps)
        if len(steps) < 2:
            continue
        unquoted = left_out or any(c.id not in hits and numbered_steps(c.text) for c in section)
        headings = {_task_key(t) for t in terms(" ".join(e.hit.chunk.heading_path))}
        named = sum(w for k, w in weights.items() if k in headings) if _same_task(weights, headings) else 0.0
        url = e.hit.chunk.url if unquoted or len(steps) > MAX_STEPS else ""
        found.append((named, e.score, Procedure(steps[:MAX_STEPS], url)))
    return max(found, key=lambda f: f[:2])[2] if found else None


def _task_key(term: str) -> str:
    """A stemmed word's match key, one key for the words of one task ("check", "verify", "test")."""
    return _TASK.get(term, match_key(term))


def _same_task(asked: Mapping[str, float], heading: set[str]) -> bool:
    """False when the question and the heading each name a task and not the same one: the steps of
    "Create a private endpoint" do not answer "how do I check my private endpoint?"."""
    tasks = set(_TASK.values())
    wanted, named = tasks & set(asked), tasks & heading
    return not (wanted and named) or bool(wanted & named)


def numbered_steps(passage: str) -> list[Sentence]:
    """The items of the numbered lists of a passage, each one Sentence: its line, then its sub-items
    (joined by "; "), with one span per piece so that the quote can be found in the passage."""
    steps: list[list[tuple[int, int]]] = []
    for start, line, code in passage_lines(passage):
        if code or not line.strip():
            continue
        item = _ITEM.match(line)
        sub = _SUB_ITEM.match(line) if steps and not item else None
        if item:
            steps.append([(start + item.end(), start + len(line.rstrip()))])
        elif sub:
            steps[-1].append((start + sub.end(), start + len(line.rstrip())))
        elif not line.startswith((" ", "\t")):
            steps.append([])  # prose ends the list: what follows is another list
    for spans in steps:
        if len(spans) == 1 and passage[spans[0][0] : spans[0][1]].endswith(":"):
            # "... your endpoint. For example:" before a code block: the step ends with its last full sentence.
            start, end = spans[0]
            cut = passage.rfind(". ", start, end)
            spans[0] = (start, cut + 1) if cut > start else (start, end)
    return [Sentence(_joined(passage, spans), tuple(spans)) for spans in steps if spans]


def _joined(passage: str, spans: list[tuple[int, int]]) -> str:
    """A step's line, then its sub-items separated by "; "."""
    (a, b), *subs = spans
    return " ".join([passage[a:b], *(["; ".join(passage[i:j].rstrip(".;") for i, j in subs)] if subs else [])])


def _without_repeats(steps: list[Evidence]) -> list[Evidence]:
    """Consecutive passages of a section overlap: a step at the end of one and the start of the next
    is one step, kept in its longer form (the passage that holds its sub-items too)."""
    kept: list[Evidence] = []
    for e in steps:
        text = e.sentence.text
        same = next(
            (i for i, k in enumerate(kept) if text.startswith(k.sentence.text) or k.sentence.text.startswith(text)),
            None,
        )
        if same is None:
            kept.append(e)
        elif len(text) > len(kept[same].sentence.text):
            kept[same] = e
    return kept


def _readable(steps: list[Evidence]) -> tuple[list[Evidence], bool]:
    """Steps that read on their own, and whether one was left out. A short step ("Save your changes.")
    joins the step before it in the same passage; a lead-in whose sub-items are in a passage that was not
    retrieved ("On the Upload files page:") is left out, and the answer then points to the page."""
    kept: list[Evidence] = []
    left_out = False
    for e in steps:
        text = e.sentence.text
        if is_readable(text):
            kept.append(e)
        elif text.rstrip().endswith(":"):
            left_out = True
        elif kept and kept[-1].hit.chunk.id == e.hit.chunk.id:
            before = kept[-1].sentence
            joined = f"{before.text.rstrip('.;')}; {text}"  # one statement, as a lead-in and its items are
            kept[-1] = replace(kept[-1], sentence=Sentence(joined, before.spans + e.sentence.spans))
        else:
            kept.append(e)  # nothing before it to join: it stands as it is
    return kept, left_out


def steps_answer(procedure: Procedure) -> Composed:
    """The answer text: a line naming the section, page and date, then the numbered steps, each cited."""
    chunk = procedure.steps[0].hit.chunk
    date = f" ({chunk.date.isoformat()})" if chunk.date else ""
    where = f"“{chunk.heading_path[-1]}” in “{chunk.title}”{date}" if chunk.heading_path else f"“{chunk.title}”{date}"
    citer = Citer()
    lines = [f"The steps of {where}:"]
    lines += [f"{n}. {body(e)} [{citer.number(e)}]." for n, e in enumerate(procedure.steps, 1)]
    if procedure.more_at:
        lines.append(f"Not every step is quoted here; the whole procedure is on the page: {procedure.more_at}")
    return Composed("\n".join(lines), citer.citations, procedure.steps)
