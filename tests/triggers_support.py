"""Helpers for the trigger tests: ``synthral listen`` / ``synthral watch`` as real subprocesses
whose stdout lines (NDJSON events) and stderr lines are read as they come."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import threading
import time
from typing import Any

from tests.conftest import synthral_exe


class TriggerProcess:
    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        self._err_cond = threading.Condition()
        self._threads = [
            threading.Thread(target=self._read_out, daemon=True),
            threading.Thread(target=self._read_err, daemon=True),
        ]
        for t in self._threads:
            t.start()

    @classmethod
    def start(cls, *args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> TriggerProcess:
        full = dict(os.environ)
        full.update(env or {})
        proc = subprocess.Popen(
            [synthral_exe(), *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=full,
        )
        assert proc.stdin is not None
        if stdin is not None:
            proc.stdin.write(stdin)
        proc.stdin.close()
        return cls(proc)

    def _read_out(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def _read_err(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._err_cond:
                self.stderr.append(line.rstrip("\n"))
                self._err_cond.notify_all()
        with self._err_cond:
            self.stderr.append("<eof>")
            self._err_cond.notify_all()

    def wait_stderr(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        rx = re.compile(pattern)
        with self._err_cond:
            while True:
                for line in self.stderr:
                    m = rx.search(line)
                    if m:
                        return m
                left = deadline - time.monotonic()
                if left <= 0 or "<eof>" in self.stderr:
                    raise AssertionError(f"no stderr line matching {pattern!r}; stderr: {self.stderr}")
                self._err_cond.wait(left)

    def port(self) -> int:
        return int(self.wait_stderr(r"listening on https?://[^ ]+:(\d+)").group(1))

    def event(self, timeout: float = 20.0) -> dict[str, Any]:
        try:
            return dict(json.loads(self.lines.get(timeout=timeout)))
        except queue.Empty:
            raise AssertionError(f"no event line within {timeout} s; stderr: {self.stderr}") from None

    def no_event(self, wait: float = 0.5) -> None:
        try:
            line = self.lines.get(timeout=wait)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected event line: {line}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"did not stop on signal {sig}; stderr: {self.stderr}") from None
        finally:
            for t in self._threads:
                t.join(5)
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()
