"""The error hierarchy, one class per exit code of the contract.

    SynthralError (exit 2 unless a subclass says otherwise)
     ├── ProviderError    1  the provider answered with an error
     ├── UsageError       2  bad usage or bad input: unknown connector/action, bad parameter,
     │    └── ManifestError     invalid manifest
     ├── AuthError        3  not authorized: no connection, refresh refused, re-authorization needed
     ├── NetworkError     4  network failure or timeout
     ├── StoreError       5  local store problem: wrong key, unreadable or foreign store file,
     │                      a config directory or manifest folder that is not private
     └── Cancelled      130  the person cancelled: end of input (Ctrl-D) at a prompt

Core code raises these; only ``app.py`` renders them: one line for what happened (``message``),
one for what to do next (``hint``), then exits with ``exit_code``.
"""

from __future__ import annotations


class SynthralError(Exception):
    """Base class: ``message`` says what happened, ``hint`` what to do next."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ProviderError(SynthralError):
    """The provider answered with an error (HTTP 4xx/5xx, or an error inside a 200).
    ``retry_after``: the seconds its ``Retry-After`` header asked for (``synthral watch`` waits)."""

    exit_code = 1
    retry_after: float | None = None

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status: int | None = None,
        result: object = None,
    ) -> None:
        super().__init__(message, hint)
        self.status = status
        self.result = result


class UsageError(SynthralError):
    """Bad usage or bad input."""

    exit_code = 2


class ManifestError(UsageError):
    """A manifest is invalid; ``problems`` lists ``file: field.path: message`` lines."""

    def __init__(self, message: str, hint: str | None = None, problems: list[str] | None = None):
        super().__init__(message, hint)
        self.problems = problems or []


class AuthError(SynthralError):
    """Not authorized: no connection, refresh refused, or re-authorization needed."""

    exit_code = 3


class NetworkError(SynthralError):
    """Network failure or timeout."""

    exit_code = 4


class StoreError(SynthralError):
    """Local store problem: wrong key, corrupt or foreign file, unreadable key, or a config
    directory or manifest folder that is not the user's own or is writable by others."""

    exit_code = 5


class Cancelled(SynthralError):
    """The person cancelled, e.g. Ctrl-D (end of input) at a prompt: exit 130, like Ctrl-C."""

    exit_code = 130


EXIT_CODES = {
    0: "success",
    1: "the provider answered with an error",
    2: "bad usage or bad input",
    3: "not authorized",
    4: "network failure or timeout",
    5: "local store problem",
    130: "interrupted or cancelled",
}
