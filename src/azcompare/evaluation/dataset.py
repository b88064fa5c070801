"""Question sets: YAML or JSONL files of evaluation items, validated with messages that name the item."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KINDS = ("fact", "matrix", "conflict", "followup", "adversarial", "out_of_scope")


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

    @property
    def answerable(self) -> bool:
        return self.kind != "out_of_scope"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "kind": self.kind,
            "expected_facts": [list(g) for g in self.expected_facts],
            "expected_sources": list(self.expected_sources),
            "history": [list(t) for t in self.history],
            "reference": self.reference,
            "split": self.split,
        }


@dataclass
class QuestionSet:
    """The items of one or more files, in file order."""

    path: Path
    items: list[EvalItem] = field(default_factory=list)

    def split(self, name: str) -> list[EvalItem]:
        return [i for i in self.items if i.split == name]


def load_question_set(path: Path | str) -> QuestionSet:
    """Read a YAML (.yaml/.yml) or JSONL (.jsonl) question set; `include:` pulls in other files."""
    path = Path(path)
    items = _load(path, seen=set())
    ids: dict[str, Path] = {}
    for item in items:
        if item.id in ids:
            raise QuestionSetError(f"{path}: item id {item.id!r} appears twice")
        ids[item.id] = path
    return QuestionSet(path=path, items=items)


def _load(path: Path, seen: set[Path]) -> list[EvalItem]:
    resolved = path.resolve()
    if resolved in seen:
        raise QuestionSetError(f"{path}: includes itself")
    seen = seen | {resolved}
    if not path.is_file():
        raise QuestionSetError(f"{path}: no such question set file")
    text = path.read_text(encoding="utf-8")
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
    items: list[EvalItem] = []
    for include in data.get("include") or []:
        items.extend(_load(path.parent / str(include), seen))
    split = str(data.get("split") or "")
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
    return EvalItem(
        id=item_id.strip(),
        question=question,
        kind=kind,
        expected_facts=tuple(tuple(g) for g in facts),
        expected_sources=tuple(sources),
        history=tuple((t[0], t[1]) for t in history),
        reference=reference,
        split=str(item_split),
    )
