"""The catalogue page of ``synthral serve`` in headless Chromium: the one-time login link sets an
HttpOnly SameSite=Strict cookie, the page groups connectors by category with a filter, a Nango
badge, actions, auth type and connection status, and Connect runs OAuth at the local Authlib
server and comes back to the page. Screenshots go to test-artifacts/."""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver / tests.serve_support
from __future__ import annotations

import json
import shutil
import time
from typing import Any

import httpx
import pytest

from tests import browser
from tests.authserver import USERS, oauth_server, provider  # noqa: F401
from tests.serve_support import ARTIFACTS, serve  # noqa: F401

PAGE = """JSON.stringify({
  ready: document.readyState, href: location.href, title: document.title,
  text: document.body ? document.body.innerText : '',
  categories: [...document.querySelectorAll('h2')].map(h => h.textContent),
  cards: [...document.querySelectorAll('.card')].map(c => c.dataset.slug),
  nango: document.querySelectorAll('.card .badge.nango').length,
  login: !!document.querySelector('#username'), consent: !!document.querySelector('#allow'),
})"""


def state(dt: browser.DevTools) -> dict[str, Any]:
    return dict(json.loads(dt.evaluate(PAGE)))


def wait_for(dt: browser.DevTools, check, timeout: float = 30.0) -> dict[str, Any]:
    end = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < end:
        try:
            last = state(dt)
        except (RuntimeError, TypeError, ValueError):  # the page is between documents
            time.sleep(0.1)
            continue
        if last["ready"] == "complete" and check(last):
            return last
        time.sleep(0.1)
    raise AssertionError(f"the page never got there: {last.get('href')}\n{str(last.get('text'))[:800]}")


def screenshot(dt: browser.DevTools, name: str) -> None:
    import base64

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    dt.call("Emulation.setDeviceMetricsOverride", width=1280, height=900, deviceScaleFactor=1, mobile=False)
    shot = dt.call("Page.captureScreenshot", format="png")
    (ARTIFACTS / name).write_bytes(base64.b64decode(shot["data"]))


# tests/browser.py normally runs in its own process; here its websockets client runs in-process.
@pytest.mark.filterwarnings("ignore:connect.. must be used as a context manager:DeprecationWarning")
def test_catalogue_page_signs_in_once_filters_and_connects_through_oauth(provider, serve, tmp_path):
    srv = serve()
    profile = tmp_path / "chromium"
    profile.mkdir()
    proc, ws = browser.start_chromium(str(profile))
    dt = browser.DevTools(ws)
    try:
        dt.call("Page.enable")
        dt.call("Runtime.enable")
        dt.call("Network.enable")
        dt.call("Page.navigate", url=srv.url + "/")
        signed_out = wait_for(dt, lambda s: "login link" in s["text"])
        assert not signed_out["cards"]
        dt.call("Page.navigate", url=srv.login_url)
        page = wait_for(dt, lambda s: s["cards"])
        assert page["href"] == srv.url + "/"
        cookie = next(c for c in dt.call("Network.getCookies")["cookies"] if c["name"] == "synthral_session")
        assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
        assert len(page["categories"]) >= 10 and "testprov" in page["cards"] and page["nango"] > 0
        assert "Actions: test_connection" in page["text"] and "not connected" in page["text"]
        screenshot(dt, "serve-catalogue.png")
        # The login link works once.
        assert httpx.get(srv.login_url, follow_redirects=False).status_code == 401
        # The filter (a GET form, no script).
        dt.evaluate("document.querySelector('#q').value = 'test provider'")
        dt.evaluate("document.querySelector('form.filter').submit()")
        filtered = wait_for(dt, lambda s: "q=test" in s["href"] and s["cards"])
        assert filtered["cards"] == ["testprov"]
        # A form without the CSRF token (or from another origin) is refused, even with the cookie.
        jar = {"synthral_session": cookie["value"]}
        no_csrf = httpx.post(srv.url + "/ui/connect/testprov", cookies=jar, data={}, follow_redirects=False)
        assert no_csrf.status_code == 403
        dt.evaluate("document.querySelector('#connect-testprov').click()")
        wait_for(dt, lambda s: s["login"])
        user, password = next(iter(USERS.items()))
        for field, value in (("#username", user), ("#password", password)):
            dt.evaluate(f"document.querySelector('{field}').focus()")
            dt.call("Input.insertText", text=value)
        dt.evaluate("document.querySelector('#signin').click()")
        wait_for(dt, lambda s: s["consent"])
        dt.evaluate("document.querySelector('#allow').click()")
        back = wait_for(dt, lambda s: "connected=testprov" in s["href"] and s["cards"])
        assert "Connected testprov." in back["text"]
        assert "default (untested)" in back["text"]
        screenshot(dt, "serve-catalogue-connected.png")
        assert provider.stored().secrets["access_token"]
        assert provider.server.code_requests[-1]["pkce"] == "S256"
    finally:
        dt.close()
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(profile, ignore_errors=True)
