"""Misspelt words read as the word of the knowledge base they are one slip away from.

A terse message typed in a hurry ("encription at rest, wich algoritm??") names its topic with words no
passage holds: keyword search cannot match them, and the embedding of a misspelt word is far from the
word's. A word the documents never use that is one letter off (a letter missing, extra, wrong, or two
swapped) from words they do use is read as the most frequent of those words; the standalone question
shows the reading, so the user sees what was understood.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet

# Shorter words have too many neighbours one letter off ("wen": when, men, ten, web, we) to pick one.
MIN_LENGTH = 4
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
# Only plain lower-case words are read for slips: a capital, a digit, "_" or "-" marks a name or an identifier
# ("PTU", "gpt4.1", "finish_reason") that is written as its owner writes it.
_WORD = re.compile(r"(?<![\w.-])[a-z]+(?![\w-]|\.\w)")


def corrected(text: str, counts: Mapping[str, int], english: AbstractSet[str]) -> str:
    """`text` with each plain lower-case word that neither `counts` (the documents' words and how often they
    occur) nor `english` (a word list) holds replaced by the most frequent word of `counts` one slip away.
    Without a word list nothing is read as a slip: a word the documents never use may be plain English."""
    if not english:
        return text
    return _WORD.sub(lambda m: _best(m.group(0), counts, english), text)


def _best(word: str, counts: Mapping[str, int], english: AbstractSet[str]) -> str:
    if len(word) < MIN_LENGTH or word in counts or word in english or _inflects(word, counts):
        return word
    candidates = [w for w in _one_slip(word) if w in counts]
    # The most frequent wins; ties go to the alphabetically first, so that the reading is deterministic.
    return min(candidates, key=lambda w: (-counts[w], w), default=word)


def _inflects(word: str, counts: Mapping[str, int]) -> bool:
    """Whether the word is another form of a word the documents use ("encrypt" of "encrypts", "disables" of
    "disable"): right as it is, however few letters it differs by."""
    stem = re.sub(r"(es|s|ed|d|ing)$", "", word)
    forms = {stem, f"{stem}s", f"{stem}es", f"{stem}ed", f"{stem}ing"} | ({f"{stem}e"} if stem != word else set())
    return any(form in counts for form in forms - {word})


def _one_slip(word: str) -> set[str]:
    """Every string one deletion, transposition, substitution or insertion away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    swaps = {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    inserts = {a + c + b for a, b in splits for c in _LETTERS}
    return (deletes | swaps | replaces | inserts) - {word}
