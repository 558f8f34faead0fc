"""Secret redaction: every secret the process handles is registered here, and everything that
synthral prints or logs (errors, ``--debug`` logs, ``--dry-run`` requests) passes through
:func:`redact`. Core code registers secrets; ``ui`` applies redaction.
"""

from __future__ import annotations

import re

MASK = "***"
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
# Values that look like credentials even when they were never registered.
# "Bearer x", "Basic x", GitHub-style "token ghp_..." (a long value with a digit, so prose such as
# "the security token included in ..." is left alone), and secret-named query/form fields
# (``code=`` but not ``user_code=``, which the device flow must show).
_SHAPES = re.compile(
    r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|(\btoken\s+)(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{16,}"
    r"|((?<![A-Za-z0-9_])(?:access_token|refresh_token|id_token|client_secret|password|api_key|apikey|code|token)=)"
    r"[^&\s\"']+"
)


def register(*values: object) -> None:
    """Remember secrets (ignores empty and very short values, which would mask ordinary text),
    with their URL-encoded forms: a token in a URL path or query is logged encoded
    (``123:AA`` as ``123%3AAA``) by ``--debug``."""
    global _pattern
    from urllib.parse import quote, quote_plus

    for v in values:
        if isinstance(v, str) and len(v) >= 4 and v not in _secrets:
            _secrets.update({v, quote(v, safe=""), quote(v, safe="/"), quote_plus(v)})
            _pattern = None


def redact(text: str) -> str:
    global _pattern
    if _secrets:
        if _pattern is None:
            ordered = sorted(_secrets, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(s) for s in ordered))
        text = _pattern.sub(MASK, text)
    return _SHAPES.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + MASK, text)


def clear() -> None:
    """For tests."""
    global _pattern
    _secrets.clear()
    _pattern = None
