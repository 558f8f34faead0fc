"""What actions and workflows need from the library object: the auth layer's ``Context`` plus
the catalogue, to look connectors up by slug, and the registry of connector implementations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from ..auth.context import Context as AuthContext

if TYPE_CHECKING:
    from ..catalogue.manifest import Manifest
    from .registry import Registry


class Context(AuthContext, Protocol):
    """An ``auth.context.Context`` that also finds connectors (``Synthral`` is one)."""

    def connector(self, slug: str) -> Manifest: ...

    @property
    def registry(self) -> Registry: ...
