"""``synthral serve`` as a real subprocess on a free port, for the serve tests: start it, read
its JSON log lines (the listening URL and the login link), talk HTTP to it, stop it with a signal.

    srv = ServeProcess.start("--max-body", "4096")   # environment: os.environ (hermetic)
    httpx.get(srv.url + "/api/v1/health")
    srv.stop()                                        # SIGTERM -> exit code
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import synthral_exe
from tests.invoke_support import STORE_KEY

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(os.environ.get("SYNTHRAL_TEST_ARTIFACTS") or REPO / "test-artifacts")


class ServeProcess:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self.url = ""
        self.login_url = ""
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("event") == "listening":
                self.url = event["url"]
            elif event.get("event") == "login":
                self.login_url = event["login_url"]
                self._ready.set()
        self._ready.set()

    @classmethod
    def start(cls, *args: str, env: dict[str, str] | None = None, timeout: float = 30.0) -> ServeProcess:
        full = dict(os.environ)
        full.setdefault("SYNTHRAL_STORE_KEY", STORE_KEY)
        full["PYTHON_KEYRING_BACKEND"] = "keyring.backends.null.Keyring"
        full.update(env or {})
        proc = subprocess.Popen(
            [synthral_exe(), "serve", "--port", "0", "--json", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full,
        )
        srv = cls(proc)
        srv._ready.wait(timeout)
        if not srv.login_url:
            srv.stop(signal.SIGKILL)
            raise AssertionError("synthral serve did not start:\n" + "\n".join(srv.lines))
        return srv

    def events(self, name: str | None = None) -> list[dict[str, Any]]:
        out = []
        for line in list(self.lines):
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if name is None or event.get("event") == name:
                out.append(event)
        return out

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                raise AssertionError("synthral serve did not stop within the bound") from None
        self._reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return int(self.proc.returncode)


def new_key(*permissions: str, name: str | None = None) -> str:
    """An API key in the hermetic config dir (the same file the server reads)."""
    from synthral_cli.serve import keys

    _, key = keys.create(Path(os.environ["SYNTHRAL_CONFIG_DIR"]), name or "k-" + os.urandom(3).hex(),
                         list(permissions) or ["all"])
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def serve():
    """Start servers with ``serve(*args)``; all are stopped (SIGTERM) at the end of the test."""
    started: list[ServeProcess] = []

    def start(*args: str, env: dict[str, str] | None = None) -> ServeProcess:
        srv = ServeProcess.start(*args, env=env)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()
