"""The runtime object every command gets (httpie's ``Environment`` idea): flags, the environment
and, lazily, the core ``Synthral``. Free of Typer so the fast entry path can use it too."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any


class Runtime:
    """What every command gets: the environment, flags and (lazily) the core ``Synthral``."""

    def __init__(self, debug: bool = False, env: dict[str, str] | None = None) -> None:
        self.debug = debug
        self.env = dict(os.environ) if env is None else env
        self._sy: Any = None

    @property
    def sy(self) -> Any:
        if self._sy is None:
            from ..api import Synthral

            self._sy = Synthral(env=self.env)
        return self._sy

    @property
    def catalogue(self) -> Any:
        """The catalogue; broken user manifests (file and field) and skipped or refused connector
        plugins (entry-point name, package and error) are reported once."""
        first = "catalogue" not in self.sy.__dict__
        cat = self.sy.catalogue
        if first:
            from . import ui

            for problem in cat.problems:
                ui.warn(f"skipped a broken manifest: {problem}")
            for notice in cat.notices:
                ui.warn(notice)
        return cat

    def flush_notices(self) -> None:
        """Say, once, what the core recorded for the user (e.g. that the store key went to a file
        because no OS keyring works): the core never prints."""
        store = self._sy.__dict__.get("store") if self._sy is not None else None
        if store is None:
            return
        notices = store.take_notices()
        if notices:
            from . import ui

            for text in notices:
                ui.warn(text)
