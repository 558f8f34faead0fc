"""Provider and manifest text cannot drive the terminal (issue 14, item 8).

Human output (errors, warnings, text results, tables, panels, ``--debug`` logs) is stripped of
escape sequences and control characters by ``basics.sanitize`` in ``ui``; ``--json`` keeps the
data and writes those characters as ``\\u`` escapes. The end-to-end tests run the installed
``synthral`` against a scripted HTTP server on 127.0.0.1 that answers with hostile text.
"""

from __future__ import annotations

import json
import re

import pytest

from synthral_cli.basics.sanitize import escape_json_text, strip_controls
from tests.invoke_support import STORE_KEY, Scripted, manifest, write_manifests

# Every character a terminal could act on, apart from tab and newline.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

OSC52 = "\x1b]52;c;ZWNobyBwd25lZA==\x07"  # write "echo pwned" to the clipboard (BEL-terminated)
OSC52_ST = "\x1b]52;c;ZWNobyBwd25lZA==\x1b\\"  # the same, ST-terminated
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click here\x1b]8;;\x1b\\"  # a link hiding its target
HOSTILE = (
    "bad request"
    + OSC52
    + OSC52_ST
    + " \x1b[2J\x1b[1;31mred\x1b[0m"  # clear screen, colour
    + " \x9b2J\x9d0;title\x9c"  # the same as 8-bit C1 controls (CSI, OSC ... ST)
    + " \x1bP1$qm\x1b\\"  # DCS request
    + " \x1b_apc\x1b\\ \x1b^pm\x1b\\ \x1bXsos\x1b\\"  # APC, PM, SOS strings
    + " "
    + OSC8
    + " bell\x07 back\x08\x08\x08ok"  # BEL, backspaces
    + " hidden\rshown"  # carriage return overwriting the start of the line
    + " \u202egnp.exe\u202c"  # bidi override
    + " bare\x1b esc \x1bc reset \x1b7save"
)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        (OSC52 + "text", "text"),
        (OSC52_ST + "text", "text"),
        (OSC8, "click here"),
        ("\x1b[2J\x1b[1;31mred\x1b[0m", "red"),
        ("\x1b[?1049h\x1b[38;5;196mx\x1b[H", "x"),
        ("\x9b31mC1\x9b0m \x9d0;t\x07 \x90q\x9c", "C1  "),
        ("\x1bP1$qm\x1b\\dcs", "dcs"),
        ("\x1b_apc\x1b\\\x1b^pm\x1b\\\x1bXsos\x1b\\done", "done"),
        ("a\x07b\x08c\x7fd\x00e\x0bf\x0cg", "abcdefg"),
        ("hidden\rshown", "hiddenshown"),
        ("line 1\r\nline 2\n\tindented", "line 1\nline 2\n\tindented"),
        ("\u202egnp.exe\u202c \u2067iso\u2069", "gnp.exe iso"),
        ("bare\x1b esc \x1bc \x1b7 \x1b(B", "baresc   "),  # ESC SP e is one (nF) sequence
        ("\x1b]0;unterminated title", "0;unterminated title"),  # shown, never obeyed
        ("\x1b[31", "31"),  # a CSI cut short
        ("plain ünïcödé ✓ 🚀 中文", "plain ünïcödé ✓ 🚀 中文"),
    ],
)
def test_strip_controls_removes_escape_sequences_and_control_characters(raw, clean):
    assert strip_controls(raw) == clean
    assert not RAW_CONTROL.search(strip_controls(raw))


def test_strip_controls_one_line_for_cells():
    assert strip_controls("a\tb\nc\r\nd\x1b[1me", one_line=True) == "a b c de"


def test_json_dumps_escapes_c0_but_not_c1_so_ui_escapes_the_rest():
    data = {"m": HOSTILE, "k\x9b": ["\x7f", "\u202e"]}
    # What json.dumps does by itself: ESC and other C0 are escaped either way; with
    # ensure_ascii=False (what synthral uses, for readable UTF-8) DEL, C1 and bidi stay raw.
    assert "\x1b" not in json.dumps(data, ensure_ascii=False)
    assert "\x9b" in json.dumps(data, ensure_ascii=False)
    assert not RAW_CONTROL.search(json.dumps(data, ensure_ascii=True))
    text = escape_json_text(json.dumps(data, ensure_ascii=False, indent=2))
    assert not RAW_CONTROL.search(text)
    assert "\\u009b" in text and "\\u007f" in text and "\\u202e" in text and "\\u001b" in text
    assert json.loads(text) == data  # the same data


@pytest.fixture
def peer(tmp_path, monkeypatch):
    server = Scripted()
    actions = [
        {"name": "get", "description": "a thing", "method": "GET", "path": "/thing"},
        {
            "name": "hostile",
            "description": "Lists [link=https://evil.example/]things[/link] \x1b]52;c;cHduZWQ=\x07now",
            "method": "GET",
            "path": "/thing",
        },
    ]
    folder = write_manifests(tmp_path / "m", manifest("peer", server.url, actions))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_PEER_TOKEN", "peer-token-1234567")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    yield server
    server.close()


def test_provider_error_text_reaches_stderr_clean(sh, peer):
    peer.add("/thing", (400, {}, {"error": {"message": HOSTILE}}))
    r = sh("invoke", "peer", "get")
    assert r.exit_code == 1
    assert not RAW_CONTROL.search(r.stderr), repr(r.stderr)
    assert r.stderr.startswith("error: peer answered 400: bad request")
    for visible in ("red", "click here", "bell", "backok", "shown", "gnp.exe", "reset save"):
        assert visible in r.stderr
    assert "evil.example" not in r.stderr and "ZWNobyBwd25lZA" not in r.stderr


def test_provider_error_json_keeps_the_text_escaped(sh, peer):
    body = {"error": {"message": HOSTILE}}
    peer.add("/thing", (400, {}, body))
    r = sh("invoke", "peer", "get", "--json")
    assert r.exit_code == 1
    assert not RAW_CONTROL.search(r.stdout + r.stderr)
    assert json.loads(r.stdout) == {"success": False, "status": 400, "result": body}
    assert "\\u001b]52;c;" in r.stdout and "\\u009b2J" in r.stdout


def test_text_results_and_json_results_on_stdout(sh, peer):
    peer.add("/thing", (200, {"Content-Type": "text/plain"}, "hello " + OSC52 + "\x1b[8mworld\x1b[0m\r\n"))
    r = sh("invoke", "peer", "get")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == "hello world\n\n"  # the body's own CRLF, then the line end
    peer.add("/thing", (200, {}, {"name": "a\x9b31mb", "note": OSC8}))
    r = sh("invoke", "peer", "get")  # a JSON result shown to a person is still JSON
    assert r.exit_code == 0 and not RAW_CONTROL.search(r.stdout)
    assert json.loads(r.stdout) == {"name": "a\x9b31mb", "note": OSC8}


def test_secret_split_by_an_escape_sequence_is_still_redacted(sh, peer):
    peer.add("/thing", (401, {}, {"error": {"message": "token peer-token\x1b[0m-1234567 is revoked"}}))
    r = sh("invoke", "peer", "get")
    assert r.exit_code == 3
    assert "peer-token-1234567" not in r.stderr and "-1234567" not in r.stderr
    assert "***" in r.stderr and not RAW_CONTROL.search(r.stderr)


def test_tables_and_panels_show_manifest_text_as_text(sh, peer):
    piped = sh("connectors", "actions", "peer")
    assert piped.exit_code == 0
    assert not RAW_CONTROL.search(piped.stdout)
    assert "Lists [link=https://evil.example/]things[/link] now" in piped.stdout
    # Rich, as on a terminal: no OSC (clipboard, link) at all, the markup shown literally.
    rich = sh("connectors", "actions", "peer", env={"FORCE_COLOR": "1", "NO_COLOR": ""})
    assert rich.exit_code == 0
    assert "\x1b]" not in rich.stdout and "\x07" not in rich.stdout
    assert "[link=https://evil.example/]things[/link]" in re.sub(r"\x1b\[[0-9;]*m|\s*│\s*|\n", "", rich.stdout)


def test_debug_log_lines_are_clean(capsys):
    import logging

    from synthral_cli.basics.logs import disable_debug_logging, enable_debug_logging

    enable_debug_logging()
    try:
        logging.getLogger("synthral.http").debug("response reason %s", "OK" + OSC52 + "\x9b2J")
    finally:
        disable_debug_logging()
    err = capsys.readouterr().err
    assert err == "debug: synthral.http: response reason OK\n"
