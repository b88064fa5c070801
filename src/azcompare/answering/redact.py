"""Keep secrets out of messages and logs.

Every error text from a model client passes through `scrub`; `protect_logs` makes every log record of
the process (ours and the libraries', the HTTP client's DEBUG header dumps included) pass through it too.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable

MASK = "***"
# A server that echoes part of a key (its last characters, say) must not leak that part either.
MIN_SECRET_RUN = 6
# Key-shaped strings even when we do not know their value (a key typed into a URL, a bearer token).
_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)\b(bearer)(\s+)([A-Za-z0-9._~+/=\-]{6,})"),
    re.compile(r"(?i)\b(api[-_ ]?key|token|secret|password)([\"']?\s*[:=]\s*[\"']?)([^\s\"',;&]{6,})"),
    re.compile(r"(?i)([?&](?:api[-_]?key|key|token|sig|code)=)[^&\s]+"),
)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """The text with known secrets, any run of MIN_SECRET_RUN or more of their characters, and
    key-shaped strings masked."""
    known = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)
    for secret in known:
        text = text.replace(secret, MASK)
    text = _mask_runs(text, [s for s in known if len(s) >= MIN_SECRET_RUN])
    text = _PATTERNS[0].sub(MASK, text)
    for named in _PATTERNS[1:3]:
        text = named.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _PATTERNS[3].sub(lambda m: f"{m.group(1)}{MASK}", text)


def _mask_runs(text: str, secrets: list[str]) -> str:
    """Mask every stretch of text covered by MIN_SECRET_RUN-character pieces of a secret."""
    if not secrets or len(text) < MIN_SECRET_RUN:
        return text
    pieces = {s[i : i + MIN_SECRET_RUN] for s in secrets for i in range(len(s) - MIN_SECRET_RUN + 1)}
    covered = [False] * len(text)
    for i in range(len(text) - MIN_SECRET_RUN + 1):
        if text[i : i + MIN_SECRET_RUN] in pieces:
            covered[i : i + MIN_SECRET_RUN] = [True] * MIN_SECRET_RUN
    if not any(covered):
        return text
    out: list[str] = []
    for i, ch in enumerate(text):
        if not covered[i]:
            out.append(ch)
        elif i == 0 or not covered[i - 1]:
            out.append(MASK)
    return "".join(out)


# The secrets of every Settings this process answered with: log records are made process-wide, so the
# filter must know them all. A set guarded by a lock; it only grows by the few keys configured.
_known: set[str] = set()
_lock = threading.Lock()
_installed = False


def protect_logs(secrets: Iterable[str] = ()) -> None:
    """Scrub every log record made from now on in this process, whichever library makes it."""
    global _installed
    with _lock:
        _known.update(s for s in secrets if s)
        if _installed:
            return
        make_record = logging.getLogRecordFactory()

        def scrubbed_record(*args: object, **kwargs: object) -> logging.LogRecord:
            record = make_record(*args, **kwargs)
            _scrub_record(record)
            return record

        logging.setLogRecordFactory(scrubbed_record)
        _installed = True


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # a record whose arguments do not fit its format: logging reports it later
        return
    secrets = tuple(_known)
    cleaned = scrub(message, secrets)
    if cleaned != message:
        record.msg, record.args = cleaned, ()
    if record.exc_info:
        # Formatted now (formatters reuse exc_text), so that a key quoted in an exception is masked too.
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info), secrets)
    if record.stack_info:
        record.stack_info = scrub(record.stack_info, secrets)
