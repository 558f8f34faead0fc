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
        from ..basics.settings import Settings

        self._check_config_dir(Settings(self.env).paths.config_dir)

    @property
    def sy(self) -> Any:
        if self._sy is None:
            from ..api import Synthral

            self._sy = Synthral(env=self.env, on_catalogue=self._announce)
        return self._sy

    @staticmethod
    def _check_config_dir(path: Any) -> None:
        """Once per command: a config directory that others can look into is reported (one
        ``stat``); one they can write to is refused where it is used (``check_private``)."""
        from ..basics.files import loose_dir_notice

        notice = loose_dir_notice(path, "the config directory")
        if notice:
            from . import ui

            ui.warn(notice)

    @property
    def catalogue(self) -> Any:
        return self.sy.catalogue

    @staticmethod
    def _announce(catalogue: Any) -> None:
        """Once per command, when the catalogue is loaded (by any command, through any path):
        broken user manifests (file and field, then skipped), skipped or refused connector
        plugins (entry-point name, package and error), and user manifests that replace a bundled
        connector (and which of its hosts they change)."""
        from . import ui

        for problem in catalogue.problems:
            ui.warn(f"skipped a broken manifest: {problem}")
        for notice in catalogue.notices:
            ui.warn(notice)
        for info in catalogue.shadowed.values():
            ui.warn(info.notice())

    def close(self) -> None:
        """Close the store if a command opened it (a PostgreSQL store holds a connection)."""
        store = self._sy.__dict__.pop("store", None) if self._sy is not None else None
        if store is not None:
            store.close()

    def flush_notices(self) -> None:
        """Say, once, what the core recorded for the user (e.g. that the store key went to a file
        because no OS keyring works): the core never prints."""
        if self._sy is None:
            return
        store = self._sy.__dict__.get("store")
        notices = [*(store.take_notices() if store is not None else []), *self._sy.notices]
        self._sy.notices.clear()
        if notices:
            from . import ui

            for text in notices:
                ui.warn(text)
