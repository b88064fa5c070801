"""The one exception the integrations raise where their protocol expects an exception."""

from __future__ import annotations

from typing import Any


class AzcompareError(Exception):
    """A question, query or argument azcompare refused, or an index it could not use.

    `str(error)` is the same one-line message `answer()` puts in a rejected Answer's text; `answer`
    holds that Answer's `to_dict()` when there is one. Deliberately not a ValueError: pydantic lets it
    through unchanged when a field check raises it.
    """

    def __init__(self, message: str, answer: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.answer = answer
