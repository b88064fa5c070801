"""Keep secrets out of messages: every error text from a model client passes through `scrub`."""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
# Key-shaped strings even when we do not know their value (a key typed into a URL, a bearer token).
_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9._~+/=\-]{6,})"),
    re.compile(r"(?i)\b(api[-_ ]?key|token|secret|password)([\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]{6,})"),
    re.compile(r"(?i)([?&](?:api[-_]?key|key|token|sig|code)=)[^&\s]+"),
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with known secret values and key-shaped strings masked."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _PATTERNS[0].sub(MASK, text)
    for named in _PATTERNS[1:3]:
        text = named.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _PATTERNS[3].sub(lambda m: f"{m.group(1)}{MASK}", text)
