"""Question sets: YAML or JSONL files of evaluation items, validated with messages that name the item."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = (
    "fact",
    "matrix",
    "conflict",
    "followup",
    "adversarial",
    "out_of_scope",
    "near_miss",  # the topic is covered, the asked-for fact is not: a partial "not covered" is right
    "comparison",  # difference / compare / which-is-better questions
    "yes_no",  # the answer should lead with a verdict
    "noisy",  # a question buried in a long message, or typed with typos
    "non_english",  # asked in another language: an English reply that says the knowledge base is English
    "howto",  # the steps of one procedure, in order
)
ITEM_FIELDS = (
    "id",
    "question",
    "kind",
    "history",
    "expected_facts",
    "expected_sources",
    "reference",
    "split",
    "absent",
    "stale_facts",
    "verdict",
)
VERDICTS = ("yes", "no", "depends")
FILE_FIELDS = ("version", "description", "split", "include", "items")


class QuestionSetError(ValueError):
    """A question set file is invalid; the message names the file, the item and the field."""


@dataclass(frozen=True)
class EvalItem:
    """One evaluation question with what a good answer must contain."""

    id: str
    question: str
    kind: str
    expected_facts: tuple[tuple[str, ...], ...] = ()
    expected_sources: tuple[str, ...] = ()
    history: tuple[tuple[str, str], ...] = ()
    reference: str = ""
    split: str = ""
    absent: str = ""  # near_miss: what the question asks for that the documents do not say
    stale_facts: tuple[str, ...] = ()  # conflict: the older source's outdated phrasings
    verdict: str = ""  # yes, no or depends: how the answer's first sentence should start

    @property
    def answerable(self) -> bool:
        """False for out-of-scope questions, where the right answer is an abstention."""
        return self.kind != "out_of_scope"

    @property
    def near_miss(self) -> bool:
        """True when the topic is covered but the asked-for fact is not (a partial abstention is right)."""
        return self.kind == "near_miss"

    def to_dict(self) -> dict[str, Any]:
        """The item as it would be written in a JSONL question set."""
        return {
            "id": self.id,
            "question": self.question,
            "kind": self.kind,
            "expected_facts": [list(g) for g in self.expected_facts],
            "expected_sources": list(self.expected_sources),
            "history": [list(t) for t in self.history],
            "reference": self.reference,
            "split": self.split,
            **({"absent": self.absent} if self.absent else {}),
            **({"stale_facts": list(self.stale_facts)} if self.stale_facts else {}),
            **({"verdict": self.verdict} if self.verdict else {}),
        }


@dataclass
class QuestionSet:
    """The items of one or more files, in file order."""

    path: Path
    items: list[EvalItem] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)  # every file read, includes first

    def split(self, name: str) -> list[EvalItem]:
        """The items of one split ("dev", "heldout")."""
        return [i for i in self.items if i.split == name]

    @property
    def splits(self) -> list[str]:
        """The split names present, in first-seen order."""
        return list(dict.fromkeys(i.split for i in self.items if i.split))


def check_sources(items: list[EvalItem], known: set[str] | dict[str, Any]) -> None:
    """Raise QuestionSetError for the first item whose expected_sources names a document not in `known`.

    A misspelt document id would otherwise silently score as a retrieval miss.
    """
    for item in items:
        for source in item.expected_sources:
            if source not in known:
                raise QuestionSetError(
                    f"item {item.id!r}: field 'expected_sources' names {source!r}, which is not a document "
                    f"of the index (known: {', '.join(sorted(known))})"
                )


def load_question_set(path: Path | str) -> QuestionSet:
    """Read a YAML (.yaml/.yml) or JSONL (.jsonl) question set; `include:` pulls in other files."""
    path = Path(path)
    files: list[Path] = []
    items = _load(path, seen=set(), files=files)
    ids: dict[str, Path] = {}
    for item in items:
        if item.id in ids:
            raise QuestionSetError(f"{path}: item id {item.id!r} appears twice")
        ids[item.id] = path
    return QuestionSet(path=path, items=items, files=files)


def _load(path: Path, seen: set[Path], files: list[Path]) -> list[EvalItem]:
    resolved = path.resolve()
    if resolved in seen:
        raise QuestionSetError(f"{path}: includes itself")
    seen = seen | {resolved}
    if not path.is_file():
        raise QuestionSetError(f"{path}: no such question set file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise QuestionSetError(f"{path}: cannot be read as UTF-8 text ({exc})") from exc
    files.append(path)
    if path.suffix.lower() == ".jsonl":
        raw_items = []
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                raw_items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise QuestionSetError(f"{path}: line {line_no} is not valid JSON ({exc.msg})") from exc
        return [_item(path, i, raw, "") for i, raw in enumerate(raw_items, 1)]
    if path.suffix.lower() not in {".yaml", ".yml"}:
        raise QuestionSetError(f"{path}: use a .yaml, .yml or .jsonl file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise QuestionSetError(f"{path}: not valid YAML ({exc})") from exc
    if isinstance(data, list):
        data = {"items": data}
    if not isinstance(data, dict):
        raise QuestionSetError(f"{path}: expected a mapping with 'items' (or a list of items)")
    unknown = sorted(set(data) - set(FILE_FIELDS))
    if unknown:
        raise QuestionSetError(f"{path}: unknown top-level field {unknown[0]!r} (allowed: {', '.join(FILE_FIELDS)})")
    includes = data.get("include") or []
    if not isinstance(includes, list) or not all(isinstance(i, str) and i.strip() for i in includes):
        raise QuestionSetError(f"{path}: field 'include' must be a list of file paths")
    items: list[EvalItem] = []
    for include in includes:
        items.extend(_load(path.parent / include, seen, files))
    split = data.get("split") or ""
    if not isinstance(split, str):
        raise QuestionSetError(f"{path}: field 'split' must be a string such as dev or heldout")
    raw_items = data.get("items") or []
    if not isinstance(raw_items, list):
        raise QuestionSetError(f"{path}: 'items' must be a list")
    items.extend(_item(path, i, raw, split) for i, raw in enumerate(raw_items, 1))
    if not items:
        raise QuestionSetError(f"{path}: no items")
    return items


def _item(path: Path, index: int, raw: Any, split: str) -> EvalItem:
    where = f"{path}: item #{index}"
    if not isinstance(raw, dict):
        raise QuestionSetError(f"{where}: must be a mapping")
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not item_id.strip():
        raise QuestionSetError(f"{where}: field 'id' must be a non-empty string")
    where = f"{path}: item {item_id!r}"
    unknown = sorted(set(raw) - set(ITEM_FIELDS))
    if unknown:
        raise QuestionSetError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(ITEM_FIELDS)})")
    question = raw.get("question")
    if not isinstance(question, str) or not question.strip():
        raise QuestionSetError(f"{where}: field 'question' must be a non-empty string")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise QuestionSetError(f"{where}: field 'kind' must be one of {', '.join(KINDS)} (got {kind!r})")
    facts = raw.get("expected_facts") or []
    if not isinstance(facts, list) or not all(
        isinstance(g, list) and g and all(isinstance(p, str) and p.strip() for p in g) for g in facts
    ):
        raise QuestionSetError(
            f"{where}: field 'expected_facts' must be a list of groups, each a non-empty list of phrasings"
        )
    sources = raw.get("expected_sources") or []
    if not isinstance(sources, list) or not all(isinstance(s, str) and s for s in sources):
        raise QuestionSetError(f"{where}: field 'expected_sources' must be a list of document ids")
    if kind != "out_of_scope" and not (facts or sources):
        raise QuestionSetError(f"{where}: an answerable item needs 'expected_facts' or 'expected_sources'")
    history = raw.get("history") or []
    if not isinstance(history, list) or not all(
        isinstance(t, list | tuple) and len(t) == 2 and all(isinstance(x, str) for x in t) for t in history
    ):
        raise QuestionSetError(f"{where}: field 'history' must be a list of [user, assistant] pairs")
    reference = raw.get("reference") or ""
    if not isinstance(reference, str):
        raise QuestionSetError(f"{where}: field 'reference' must be a string")
    item_split = raw.get("split") or split
    if not isinstance(item_split, str):
        raise QuestionSetError(f"{where}: field 'split' must be a string such as dev or heldout")
    absent, stale, verdict = _kind_fields(where, kind, raw)
    return EvalItem(
        id=item_id.strip(),
        question=question,
        kind=kind,
        expected_facts=tuple(tuple(g) for g in facts),
        expected_sources=tuple(sources),
        history=tuple((t[0], t[1]) for t in history),
        reference=reference,
        split=item_split,
        absent=absent,
        stale_facts=stale,
        verdict=verdict,
    )


def _kind_fields(where: str, kind: str, raw: dict[str, Any]) -> tuple[str, tuple[str, ...], str]:
    """absent (near_miss only, required), stale_facts (conflict only, required), verdict (yes_no: required)."""
    absent = raw.get("absent")
    if kind == "near_miss" and not (isinstance(absent, str) and absent.strip()):
        raise QuestionSetError(f"{where}: a near_miss item needs field 'absent' (what the documents do not say)")
    if absent is not None and kind != "near_miss":
        raise QuestionSetError(f"{where}: field 'absent' is only for near_miss items")
    stale = raw.get("stale_facts")
    if kind == "conflict" and not (
        isinstance(stale, list) and stale and all(isinstance(p, str) and p.strip() for p in stale)
    ):
        raise QuestionSetError(
            f"{where}: a conflict item needs field 'stale_facts': a non-empty list of the older source's phrasings"
        )
    if stale is not None and kind != "conflict":
        raise QuestionSetError(f"{where}: field 'stale_facts' is only for conflict items")
    verdict = raw.get("verdict")
    if isinstance(verdict, bool):  # YAML 1.1 reads a bare yes / no as a boolean
        verdict = "yes" if verdict else "no"
    if kind == "yes_no" and verdict is None:
        raise QuestionSetError(f"{where}: a yes_no item needs field 'verdict' ({', '.join(VERDICTS)})")
    if verdict is not None:
        if verdict not in VERDICTS:
            raise QuestionSetError(f"{where}: field 'verdict' must be one of {', '.join(VERDICTS)} (got {verdict!r})")
        if kind in ("out_of_scope", "near_miss"):
            raise QuestionSetError(f"{where}: field 'verdict' needs an answerable item (not {kind})")
    return (absent or "").strip(), tuple(stale or ()), verdict or ""
