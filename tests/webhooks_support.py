"""Helpers for the webhook verification tests: the bundled connectors' webhook definitions,
deliveries, and the providers' own npm libraries (tests/webhooks_npm, installed by scripts/test)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from synthral_cli.catalogue.manifest import Manifest, bundled_dir
from synthral_cli.catalogue.validation import validate_file
from synthral_cli.catalogue.webhooks import WebhookSpec
from synthral_cli.triggers.verify import Delivery, Verdict, verify

NPM_DIR = Path(__file__).resolve().parent / "webhooks_npm"


def spec(slug: str) -> WebhookSpec:
    doc, problems = validate_file(bundled_dir() / f"{slug}.yaml")
    assert problems == [] and doc is not None
    hooks = Manifest(doc).webhooks
    assert hooks is not None, f"{slug} declares no webhooks"
    return hooks


def check(
    slug: str,
    body: bytes,
    headers: dict[str, str],
    secret: str | bytes,
    *,
    url: str = "https://hooks.example.com/in",
    method: str = "POST",
    now: float | None = None,
) -> Verdict:
    delivery = Delivery(method=method, url=url, headers=headers, body=body)
    return verify(spec(slug), delivery, secret, now=time.time() if now is None else now)


def flip(data: bytes, index: int = -3) -> bytes:
    """The body with one byte changed."""
    b = bytearray(data)
    b[index] ^= 0x01
    return bytes(b)


def node(*ops: dict[str, Any]) -> list[Any]:
    """Run operations in tests/webhooks_npm/sign.mjs (the providers' npm libraries)."""
    exe = shutil.which("node")
    assert exe, "node is missing: scripts/test installs npm (and node)"
    assert (NPM_DIR / "node_modules").is_dir(), "run scripts/test: it installs tests/webhooks_npm with npm ci"
    p = subprocess.run(  # noqa: S603 - our own script
        [exe, str(NPM_DIR / "sign.mjs")], input=json.dumps(list(ops)), capture_output=True, text=True, timeout=60
    )
    assert p.returncode == 0, p.stderr
    return list(json.loads(p.stdout))


def assert_rejected(verdict: Verdict, reason: str, status: int = 401) -> None:
    assert (verdict.kind, verdict.status, verdict.reason) == ("rejected", status, reason)
