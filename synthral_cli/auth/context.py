"""What the auth layer (and the layers above it) need from the library object: its settings, its
paths and its store. ``Synthral`` (api.py) is one; a test or a server can pass another. Naming the
protocol here, rather than importing ``Synthral``, keeps every import pointing downwards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ..basics.settings import Paths, Settings
    from ..store.encrypted import Store


class Context(Protocol):
    """Settings, paths and the (lazily opened) store of one environment."""

    @property
    def settings(self) -> Settings: ...

    @property
    def paths(self) -> Paths: ...

    @property
    def store(self) -> Store: ...

    @property
    def notices(self) -> list[str]:
        """What the user should be told once (e.g. an env token shadows a stored connection);
        the surface says them, the core never prints."""
        ...
