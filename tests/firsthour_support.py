"""Helpers for issue 15's tests: the installed ``synthral`` on a real terminal (a pty of a fixed
width) and a small user manifest whose help output is known."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import synthral_exe

SGR = re.compile(r"\x1b\[[0-9;]*m")

DEMO = """\
schema_version: 1
slug: zz-demo
name: Demo
category: Analytics & Data
status: beta
version: 0.1.0
description: A demo API.
docs_url: https://example.com/docs
base_url: https://api.example.com/v1
auth:
  type: api_key
  fields: [{name: api_key, label: API key}]
  inject: [{in: header, name: X-Api-Key, value: "{api_key}"}]
nango: {enabled: false, provider_key: null}
actions:
  - name: test_connection
    description: Who am I.
    method: GET
    path: /me
  - name: create_invoice_item_for_a_customer
    description: "Add a line item to the customer's next invoice; metadata becomes metadata[key]=value
      and [bold]this[/bold] stays as written."
    method: POST
    path: /invoiceitems
    body: form
    parameters:
      - {name: customer, in: body, type: string, required: true, description: Customer id (cus_...) to bill.}
      - {name: collection_method, in: body, type: string, enum: [charge_automatically, send_invoice],
         default: charge_automatically, description: How the invoice is paid}
      - {name: quantity, in: body, type: integer, default: 1, description: How many.}
      - {name: metadata, in: body, type: object, description: "Key/value pairs, sent as metadata[key]=value."}
  - name: upload_file
    description: Upload a file.
    method: POST
    base_url: https://upload.example.com/v1
    path: /files
    body: multipart
    parameters:
      - {name: file, in: body, type: file, required: true, description: The file to upload (-p file=@path).}
"""


def write_demo(config_dir: Path) -> Path:
    folder = config_dir / "manifests"
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "zz-demo.yaml"
    path.write_text(DEMO)
    return path


@dataclass
class Shown:
    exit_code: int
    screen: str  # stdout as the terminal showed it: styles removed, trailing blanks trimmed
    stderr: str


def on_terminal(*args: str, columns: int, env: dict[str, str] | None = None) -> Shown:
    """Run the installed ``synthral`` with stdout on a pty ``columns`` wide (stderr piped)."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full = dict(os.environ, COLUMNS=str(columns), **(env or {}))
    chunks: list[bytes] = []
    try:
        with subprocess.Popen(
            [synthral_exe(), *args], stdin=subprocess.DEVNULL, stdout=secondary, stderr=subprocess.PIPE, env=full
        ) as p:
            os.close(secondary)
            while True:
                try:
                    data = os.read(primary, 65536)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            stderr = p.stderr.read().decode() if p.stderr else ""
            code = p.wait(timeout=60)
    finally:
        os.close(primary)
    text = SGR.sub("", b"".join(chunks).decode()).replace("\r\n", "\n")
    return Shown(code, "\n".join(line.rstrip() for line in text.split("\n")), stderr)
