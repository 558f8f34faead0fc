"""Values from the provider are validated where they enter (issue 14, items 5 and 10).

The provider is the Authlib server of ``tests/authserver.py`` answering with crafted values
(``token_extra``, ``device_extra``); the browser flows run the installed CLI with headless
Chromium as ``BROWSER``.
"""

# ruff: noqa: F811 - pytest fixtures imported from tests.authserver
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

import httpx
import pytest

from synthral_cli.auth import device, grants
from synthral_cli.auth.interaction import SilentInteraction
from synthral_cli.auth.tokens import MAX_LIFETIME, sane_lifetimes, seconds
from synthral_cli.catalogue.manifest import Manifest
from tests.authserver import USERS, Raw, browser_log, oauth_server, provider  # noqa: F401
from tests.conftest import synthral_exe

TEN_YEARS = MAX_LIFETIME
INSTANCE = {
    "instance_url": {
        "description": "The org's API address, from the token response.",
        "from_token_response": "instance_url",
        "pattern": "^https://[a-z0-9-]+\\.my\\.example\\.com$",
        "required": False,
    }
}


@pytest.fixture
def crafty(provider):
    """The provider fixture with crafted answers switched off again afterwards."""
    provider.server.token_extra, provider.server.device_extra = {}, {}
    provider.server.device_interval = 1
    yield provider
    provider.server.token_extra, provider.server.device_extra = {}, {}


# -- from_token_response ---------------------------------------------------------------------


def test_token_response_setting_outside_the_pattern_is_refused_and_nothing_stored(crafty, sh):
    crafty.manifest(connection_config=INSTANCE)
    crafty.server.token_extra = {"instance_url": "https://evil.example"}
    r = sh("authorize", "testprov", "--timeout", "60", timeout=90)
    assert r.exit_code == 3, r.stderr
    assert "token endpoint named instance_url='https://evil.example'" in r.stderr
    assert "nothing was stored" in r.stderr
    assert crafty.stored() is None
    assert crafty.server.count("authorization_code", crafty.client_id) == 1  # the browser did consent


@pytest.mark.parametrize(
    "value",
    [
        "https://evil.example",
        "https://acme.my.example.com.evil.example",
        "https://acme.my.example.com/../x",
        {"host": "acme.my.example.com"},
        ["https://acme.my.example.com"],
        "https://acme.my.example.com\x1b]52;c;eA==\x07",
    ],
)
def test_refresh_answer_with_a_bad_setting_leaves_the_connection_as_it_was(crafty, cli, value):
    crafty.manifest(connection_config=INSTANCE)
    crafty.seed(expires_in=10)
    before = crafty.stored()
    crafty.server.token_extra = {"instance_url": value}
    r = cli("refresh", "testprov")
    assert r.exit_code == 3, r.stderr
    assert "instance_url=" in r.stderr and "nothing was stored" in r.stderr
    assert "\x1b" not in r.stderr
    after = crafty.stored()
    assert (after.version, after.secrets, after.config, after.expires_at) == (
        before.version,
        before.secrets,
        before.config,
        before.expires_at,
    )


def test_refresh_answer_with_a_good_setting_is_stored(crafty, sh):
    crafty.manifest(connection_config=INSTANCE)
    crafty.seed(expires_in=10)
    crafty.server.token_extra = {"instance_url": "https://acme.my.example.com"}
    r = sh("refresh", "testprov")
    assert r.exit_code == 0, r.stderr
    assert crafty.stored().config == {"instance_url": "https://acme.my.example.com"}


@pytest.mark.parametrize(
    "extra",
    [{"access_token": "tok\x1b]52;c;eA==\x07en"}, {"refresh_token": "r\r\nX-Injected: 1"}, {"access_token": "tök-ü"}],
)
def test_a_token_that_is_not_printable_ascii_is_refused(crafty, cli, extra):
    crafty.seed(expires_in=10)
    before = crafty.stored()
    crafty.server.token_extra = extra
    r = cli("refresh", "testprov")
    assert r.exit_code == 1 and "not printable ASCII" in r.stderr and "\x1b" not in r.stderr
    assert crafty.stored().version == before.version


# -- lifetimes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"expires_in": Raw("1e999")}, TEN_YEARS),
        ({"expires_in": Raw("1e12")}, TEN_YEARS),
        ({"expires_in": "7200"}, 7200),
        ({"expires_in": 90.9}, 90),
        ({"expires_in": Raw("NaN")}, None),
        ({"expires_in": Raw("-Infinity")}, None),
        ({"expires_in": -5}, None),
        ({"expires_in": "soon"}, None),
        ({"expires_in": True}, None),
        ({"expires_in": {"seconds": 5}}, None),
        ({"expires_in": None, "expires_at": Raw("1e999")}, TEN_YEARS),
        ({"expires_in": None, "expires_at": "yesterday"}, None),
    ],
)
def test_absurd_lifetimes_are_clamped_or_unknown(crafty, cli, extra, expected):
    crafty.seed(expires_in=10)
    crafty.server.token_extra = extra
    r = cli("refresh", "testprov", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    stored = crafty.stored()
    assert stored.secrets["access_token"] != ""
    if expected is None:
        assert out["expires_in"] is None and stored.expires_at is None
    else:
        assert expected - 5 <= out["expires_in"] <= expected
    assert cli("connections", "list", "--json").exit_code == 0  # the stored expiry renders


def test_a_code_flow_answering_expires_in_1e999_connects(crafty, sh):
    """The reported crash: ``expires_in: 1e999`` made ``authorize`` exit 70."""
    crafty.server.token_extra = {"expires_in": Raw("1e999")}
    r = sh("authorize", "testprov", "--json", "--timeout", "60", timeout=90)
    assert r.exit_code == 0, r.stderr
    expires = datetime.fromisoformat(json.loads(r.stdout)["expires_at"].replace("Z", "+00:00"))
    years = (expires - datetime.now(timezone.utc)).days / 365
    assert 9.9 < years <= 10.01
    assert browser_log(os.environ["TESTBROWSER_LOG"], until="final")[-1]["title"] == "Connected"


def test_seconds_and_sane_lifetimes():
    assert seconds(3600) == 3600 and seconds("60") == 60 and seconds(float("inf")) == TEN_YEARS
    assert seconds("1e999") == TEN_YEARS and seconds(0) == 0
    for junk in (float("nan"), -1, "x", None, True, [], "", "-inf"):
        assert seconds(junk) is None
    good = {"access_token": "a", "expires_in": 60}
    assert sane_lifetimes(good) is good
    assert sane_lifetimes({"expires_in": float("inf")}) == {"expires_in": int(TEN_YEARS)}
    assert sane_lifetimes({"expires_in": float("nan"), "expires_at": "x"}) == {}


# -- the device flow's verification URIs and timers ----------------------------------------------

RECORDING_BROWSER = """\
import os, sys
with open(os.environ["OPENED_LOG"], "a") as f:
    f.write(sys.argv[1] + "\\n")
"""

HOSTILE_URIS = [
    "javascript:alert(document.cookie)//https://x.example",
    "JavaScript:alert(1)",
    "file:///etc/passwd",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "vbscript:msgbox(1)",
    "http://evil.example/device",
    "https://",
    "https://ok.example/\x1b]8;;https://evil.example\x07device",
    "//evil.example/device",
]


@pytest.fixture
def recording_browser(tmp_path, monkeypatch):
    script = tmp_path / "recording_browser.py"
    script.write_text(RECORDING_BROWSER, encoding="utf-8")
    opened = tmp_path / "opened.log"
    monkeypatch.setenv("BROWSER", f"{sys.executable} {script} %s")
    monkeypatch.setenv("OPENED_LOG", str(opened))
    return opened


@pytest.mark.parametrize("uri", HOSTILE_URIS[:4])  # the rest: test_web_address_rule
def test_hostile_verification_uri_is_never_opened_or_printed(crafty, sh, recording_browser, uri):
    crafty.server.device_extra = {"verification_uri": uri, "verification_uri_complete": uri}
    r = sh("authorize", "testprov", "--method", "device", "--timeout", "5", timeout=30)
    assert r.exit_code == 3, r.stderr
    assert "verification address that is not an https:// URL" in r.stderr
    for part in ("javascript", "JavaScript", "file:", "data:", "vbscript", "evil.example", "enter the code"):
        assert part not in r.stderr
    assert not recording_browser.exists()
    assert crafty.stored() is None


def test_hostile_complete_uri_is_ignored_and_the_plain_one_opened(crafty, recording_browser):
    crafty.server.device_extra = {"verification_uri_complete": "javascript:alert(1)"}
    proc = subprocess.Popen(
        [synthral_exe(), "authorize", "testprov", "--method", "device", "--json", "--timeout", "60"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    for line in proc.stderr:
        seen.append(line)
        m = re.search(r"open (\S+) and enter the code: (\S+)", line)
        if m:
            break
    assert m, "".join(seen)
    assert m.group(1) == crafty.server.url + "/device"
    user, password = next(iter(USERS.items()))
    with httpx.Client(base_url=crafty.server.url) as person:  # the person types the code
        person.post("/login", data={"username": user, "password": password, "next": "/device"})
        assert person.post("/device", data={"user_code": m.group(2), "decision": "allow"}).status_code == 200
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "javascript" not in "".join(seen) + err
    end = time.monotonic() + 10
    while not recording_browser.exists() and time.monotonic() < end:
        time.sleep(0.05)
    assert recording_browser.read_text().split() == [crafty.server.url + "/device"]


@pytest.mark.parametrize(
    ("extra", "sleeps"),
    [
        ({"interval": Raw("NaN"), "expires_in": Raw("1e999")}, [5]),
        ({"interval": -3, "expires_in": "soon"}, [5]),
        ({"interval": "2"}, [2]),
        ({"interval": Raw("1e999")}, [60]),
        ({"interval": 0.01}, [1]),
    ],
)
def test_device_timers_are_clamped(oauth_server, extra, sleeps):
    oauth_server.device_interval = 1
    oauth_server.device_extra = extra
    client = oauth_server.add_client("device-timers-" + str(len(oauth_server.clients)))
    m = Manifest(
        {
            "slug": "testprov",
            "name": "Test Provider",
            "auth": {
                "type": "oauth2",
                "token_url": oauth_server.url + "/token",
                "device_authorization_url": oauth_server.url + "/device_authorization",
            },
            "connection_config": {},
        }
    )

    class Person(SilentInteraction):
        def notice(self, text):
            super().notice(text)
            code = re.search(r"enter the code: (\S+)", text).group(1)
            user, password = next(iter(USERS.items()))
            with httpx.Client(base_url=oauth_server.url) as b:
                b.post("/login", data={"username": user, "password": password, "next": "/device"})
                b.post("/device", data={"user_code": code, "decision": "allow"})

    slept: list[float] = []
    try:
        tokens = device.device_flow(
            m,
            grants.ClientApp(client.client_id, client.client_secret),
            interaction=Person(),
            scopes=["read"],
            config={},
            timeout=300,
            sleep=slept.append,
        )
    finally:
        oauth_server.device_extra = {}
    assert tokens.access_token and slept == sleeps


def test_web_address_rule():
    assert device.web_address("https://example.com/device") == "https://example.com/device"
    assert device.web_address("http://127.0.0.1:8080/device") == "http://127.0.0.1:8080/device"
    assert device.web_address("http://localhost/device")
    for bad in [*HOSTILE_URIS, None, 5, "https://a b.example", "https://[::1"]:
        assert device.web_address(bad) is None
