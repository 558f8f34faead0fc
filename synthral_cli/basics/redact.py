"""Secret redaction: every secret the process handles is registered here, and everything that
synthral prints or logs (errors, ``--debug`` logs, ``--dry-run`` requests) passes through
:func:`redact`. Core code registers secrets; ``ui`` applies redaction.

A secret is masked wherever it occurs whole. A short one (fewer than ``SHORT`` characters, a test
key or a password) is masked only where it stands alone, as a whole value or word: with the key
``test``, ``Bearer test`` and ``key=test`` are masked, ``latest`` and ``test%40example.com`` are
not, and a one-letter secret never turns ``https://`` into ``h***ps://``.
"""

from __future__ import annotations

import re

MASK = "***"
SHORT = 8  # a secret shorter than this is masked only where it stands alone
# A short secret stands alone between the start or end of the text and characters that do not
# continue a word: letters, digits, "_~@-", a "." inside a host name and a %-escaped "@" continue
# one (``test%40example.com``); a space, "+", a quote, "=&,:;/" (a path segment), another %-escape
# (``%20``) and a sentence's final "." do not. ``user:pw@host`` is masked too.
_WORD = r"A-Za-z0-9_~@\-"
_BEFORE = rf"(?:^|(?<=[^{_WORD}.%])|(?<=%[0-9A-Fa-f]{{2}})(?<!%40))"
_AFTER = rf"(?:$|(?=[^{_WORD}.%])|(?=\.(?:[^{_WORD}]|$))|(?=%[0-9A-Fa-f]{{2}})(?!%40))"
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


def pattern(values: set[str] | list[str]) -> re.Pattern[str] | None:
    """One pattern for ``values``: long ones anywhere, short ones only where they stand alone
    (not inside a word, host name, address or %-escape); the longest first."""
    ordered = sorted({v for v in values if v}, key=len, reverse=True)
    if not ordered:
        return None
    parts = [
        re.escape(v) if len(v) >= SHORT else f"{_BEFORE}{re.escape(v)}{_AFTER}|(?<=:){re.escape(v)}(?=@)"  # u:pw@h
        for v in ordered
    ]
    return re.compile("|".join(parts))


def mask(text: str, values: set[str] | list[str]) -> str:
    """``text`` with every occurrence of ``values`` (by the rule above) replaced by ``***``."""
    found = pattern(values)
    return text if found is None else found.sub(MASK, text)


def redact(text: str) -> str:
    global _pattern
    if _secrets:
        if _pattern is None:
            _pattern = pattern(_secrets)
        if _pattern is not None:
            text = _pattern.sub(MASK, text)
    return _SHAPES.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + MASK, text)


def clear() -> None:
    """For tests."""
    global _pattern
    _secrets.clear()
    _pattern = None
