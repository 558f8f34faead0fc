"""What an OAuth flow needs from the person authorizing: notices, a browser, a wait, pastes.

The CLI implements ``Interaction`` with ``ui`` (``cli/authorize.py``); ``SilentInteraction`` is
for library use and tests. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

DEFAULT_TIMEOUT = 300.0  # seconds to wait for the person to approve


class Interaction(Protocol):
    """What a flow needs from the user's side; the CLI implements it with ``ui``."""

    def notice(self, text: str) -> None: ...

    def open_browser(self, url: str) -> bool: ...

    def waiting(self, message: str) -> AbstractContextManager[None]: ...

    def paste_lines(self) -> Iterator[str] | None: ...


class SilentInteraction:
    """For library use and tests: no browser, no paste, nothing shown."""

    def __init__(self) -> None:
        self.notices: list[str] = []

    def notice(self, text: str) -> None:
        self.notices.append(text)

    def open_browser(self, url: str) -> bool:
        return False

    @contextmanager
    def waiting(self, message: str) -> Iterator[None]:
        yield

    def paste_lines(self) -> Iterator[str] | None:
        return None
