"""Text that reaches a terminal: provider and manifest text cannot drive it.

A provider's error message, a token response value or a manifest's description may hold escape
sequences that a terminal would obey: OSC 52 writes the clipboard, OSC 8 hides a link target,
CSI moves the cursor or hides text, DCS/APC talk to the terminal, C1 bytes (U+0080-U+009F) are
the same controls in one character, and backspace, carriage return or Unicode bidi overrides
make the shown text differ from the real one. ``ui`` (and the ``--debug`` log handler) pass
everything they write through one of these two functions:

    strip_controls(text)     human output: whole sequences removed, then every control character
                             except tab and newline (``\\r\\n`` becomes ``\\n``)
    escape_json_text(text)   JSON output: ``json.dumps`` already writes C0 controls (ESC
                             included) as ``\\u001b``, but with ``ensure_ascii=False`` it leaves
                             DEL, C1 and bidi controls raw; they become ``\\u`` escapes too, so
                             the JSON decodes to the same data and the terminal sees no control
"""

from __future__ import annotations

import re

# Whole sequences first (so no "[31m" debris is left): CSI with its final byte; OSC, DCS, SOS,
# PM and APC strings up to their terminator (BEL or ST); any other ESC sequence. An introducer
# without its end loses only the introducer: what follows is shown as plain text.
_SEQUENCES = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
# Then single characters: C0 except tab and newline, DEL, C1, and the bidi embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069) that reorder what is shown.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_LINE_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_JSON_RAW = re.compile("[\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str, *, one_line: bool = False) -> str:
    """``text`` without escape sequences or control characters; ``one_line`` also turns tabs
    and newlines into spaces (a table cell)."""
    if text.isprintable():  # the common case: nothing to do (tab and newline are not printable)
        return text
    text = _SEQUENCES.sub("", text.replace("\r\n", "\n"))
    if one_line:
        return _LINE_CONTROLS.sub(lambda m: " " if m.group() in "\t\n" else "", text)
    return _CONTROLS.sub("", text)


def escape_json_text(text: str) -> str:
    """JSON text with DEL, C1 and bidi controls written as ``\\uXXXX`` escapes. They can only
    occur inside JSON strings (JSON's own syntax is ASCII), so the result decodes to the same
    value. Text that is ASCII but for no DEL (most JSON) has none of them: no scan needed."""
    if text.isascii() and "\x7f" not in text:
        return text
    return _JSON_RAW.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
