"""A person at a headless Chromium, for ``BROWSER``: signs in, then approves or denies.

``BROWSER="python tests/browser.py %s"`` makes Python's ``webbrowser`` run this script with the
authorization URL. Like a real browser launcher it returns at once; a detached child starts
``/usr/bin/chromium --headless`` with a DevTools port and drives it over the Chrome DevTools
Protocol (websockets): on a sign-in form it types the username and password and clicks
"Sign in"; on a consent page it clicks Allow (or Deny); any other page ends the visit.

Environment (set by the tests):
    TESTBROWSER_LOG         file receiving one JSON line per event (pages seen, final page)
    TESTBROWSER_ACTION      allow (default) or deny
    TESTBROWSER_USER_CODE   the code to type on a device verification page
    TESTBROWSER_BLOCK       a URL prefix the browser cannot reach (a remote machine's loopback):
                            the navigation fails and its URL is logged as "blocked"
    TESTBROWSER_FOREGROUND  1: drive in this process instead of a detached child
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = os.environ.get("TESTBROWSER_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
]
USERNAME, PASSWORD = "alice", "wonderland"
DEADLINE = 30.0


def log(event: dict[str, Any]) -> None:
    path = os.environ.get("TESTBROWSER_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(event) + "\n")


class DevTools:
    """A minimal CDP client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        from websockets.sync.client import connect

        self.ws = connect(ws_url, max_size=None, open_timeout=10)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv(timeout=DEADLINE))
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return dict(msg.get("result", {}))
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, names: set[str], timeout: float) -> dict[str, Any] | None:
        end = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev["method"] in names:
                    return self.events.pop(i)
            left = end - time.monotonic()
            if left <= 0:
                return None
            try:
                msg = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                return None
            if "method" in msg:
                self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        return res.get("result", {}).get("value")

    def close(self) -> None:
        self.ws.close()


PAGE_STATE = """JSON.stringify({
  href: location.href, title: document.title,
  text: document.body ? document.body.innerText.slice(0, 400) : '',
  login: !!document.querySelector('#username'),
  consent: !!document.querySelector('#allow'),
  code_field: !!document.querySelector('#user_code') && !document.querySelector('#user_code').value,
})"""


def start_chromium(profile: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = Path(profile) / "DevToolsActivePort"
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if port_file.exists() and len(port_file.read_text().splitlines()) >= 2:
            break
        time.sleep(0.05)
    else:
        proc.kill()
        raise RuntimeError("chromium did not open its DevTools port")
    port = port_file.read_text().splitlines()[0].strip()
    for _ in range(100):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:  # noqa: S310
            targets = json.load(r)
        pages = [t for t in targets if t.get("type") == "page"]
        if pages:
            return proc, str(pages[0]["webSocketDebuggerUrl"])
        time.sleep(0.05)
    raise RuntimeError("chromium has no page target")


def drive(url: str) -> None:
    action = os.environ.get("TESTBROWSER_ACTION", "allow")
    block = os.environ.get("TESTBROWSER_BLOCK")
    profile = tempfile.mkdtemp(prefix="testbrowser-chromium-")
    proc = None
    try:
        proc, ws_url = start_chromium(profile)
        dt = DevTools(ws_url)
        dt.call("Page.enable")
        dt.call("Runtime.enable")
        if block:
            dt.call("Fetch.enable", patterns=[{"urlPattern": block + "*", "requestStage": "Request"}])
        dt.call("Page.navigate", url=url)
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            ev = dt.wait_event({"Page.loadEventFired", "Fetch.requestPaused"}, end - time.monotonic())
            if ev is None:
                break
            if ev["method"] == "Fetch.requestPaused":
                blocked = ev["params"]["request"]["url"]
                dt.call(
                    "Fetch.failRequest", requestId=ev["params"]["requestId"], errorReason="ConnectionRefused"
                )
                log({"blocked": blocked})
                return
            state = json.loads(dt.evaluate(PAGE_STATE))
            log({"page": state["title"], "href": state["href"]})
            if state["login"]:
                for field, value in (("#username", USERNAME), ("#password", PASSWORD)):
                    dt.evaluate(f"document.querySelector('{field}').focus()")
                    dt.call("Input.insertText", text=value)
                dt.evaluate("document.querySelector('#signin').click()")
            elif state["consent"]:
                if state["code_field"]:
                    dt.evaluate("document.querySelector('#user_code').focus()")
                    dt.call("Input.insertText", text=os.environ.get("TESTBROWSER_USER_CODE", ""))
                button = "#allow" if action == "allow" else "#deny"
                dt.evaluate(f"document.querySelector('{button}').click()")
            else:
                log({"final": state["href"], "title": state["title"], "text": state["text"]})
                return
        log({"error": "timed out"})
    except Exception as exc:  # noqa: BLE001 - reported to the test through the log
        log({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(profile, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "--drive":
        drive(argv[1])
        return 0
    if not argv:
        sys.stderr.write("usage: browser.py URL\n")
        return 2
    if os.environ.get("TESTBROWSER_FOREGROUND") == "1":
        drive(argv[0])
        return 0
    # Return at once, like a browser launcher handing the URL to a running browser.
    subprocess.Popen(  # noqa: S603
        [sys.executable, os.path.abspath(__file__), "--drive", argv[0]],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
