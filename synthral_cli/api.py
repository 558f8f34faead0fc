"""The library behind the CLI: a ``Synthral`` object per environment.

The CLI is a thin layer over this module; scripts can use it directly::

    sy = Synthral()                      # reads os.environ
    sy.connectors(category="crm")        # list of summary dicts (the ``--json`` shape)
    sy.connector("slack").actions        # a Manifest with typed actions
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from .basics.settings import Settings
from .catalogue.loading import Catalogue, load_catalogue
from .catalogue.manifest import Manifest

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from .actions.registry import Registry
    from .store.encrypted import Store


class Synthral:
    """One environment: its settings, catalogue and (lazily) its store.

    ``on_catalogue`` is called once with the catalogue when it is first loaded: a surface uses
    it to announce ``problems`` (broken user manifests) and ``shadowed`` (user manifests that
    replace bundled ones); the library itself never prints."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        env: Mapping[str, str] | None = None,
        on_catalogue: Callable[[Catalogue], None] | None = None,
    ):
        if settings is None:
            settings = Settings(dict(env)) if env is not None else Settings()
        self.settings = settings
        self.paths = settings.paths
        self.on_catalogue = on_catalogue
        self.notices: list[str] = []  # for the user, once (the CLI says them as warnings)

    def sibling(self) -> Synthral:
        """Another ``Synthral`` on the same settings and catalogue with its own store connection:
        a ``Store`` is used by one thread, so a server gives each worker thread a sibling."""
        other = Synthral(self.settings)
        other.__dict__["catalogue"] = self.catalogue  # loaded once, read-only, shared
        return other

    @cached_property
    def store(self) -> Store:
        """The encrypted connection store, opened (and created or migrated) on first use."""
        from .store.encrypted import Store

        return Store.open(self.settings)

    # -- catalogue --------------------------------------------------------------------------

    @cached_property
    def registry(self) -> Registry:
        """The connectors registered under the entry-point group ``synthral.connectors``."""
        from .actions.registry import Registry

        return Registry(self.paths.cache_dir, self.paths.cache_key)

    @cached_property
    def catalogue(self) -> Catalogue:
        """Bundled manifests, connectors written in Python (plugins), user manifests. The config
        directory and every manifest folder must be the user's own and not writable by others
        (exit 5); a relative ``SYNTHRAL_MANIFESTS_PATH`` entry is refused (exit 2)."""
        from .basics.files import check_private

        dirs = [self.paths.user_manifests, *self.settings.extra_manifest_dirs]
        check_private(self.paths.config_dir, "the config directory")
        registry = self.registry
        catalogue = load_catalogue(
            dirs, self.paths.cache_dir, registry.described(), registry.problems, cache_key=self.paths.cache_key
        )
        if self.on_catalogue is not None:
            self.on_catalogue(catalogue)
        return catalogue

    def connectors(
        self,
        *,
        category: str | Sequence[str] | None = None,
        status: str | None = None,
        search: str | None = None,
    ) -> list[dict[str, Any]]:
        """Summaries of the catalogue, filtered (case-insensitive; ``category`` also by prefix or
        by one side of its "&"; several categories select their union). A category or status
        that names none of the valid ones raises ``UsageError`` naming them."""
        out = self.catalogue.summaries()
        wanted = [category] if isinstance(category, str) else list(category or [])
        if wanted:
            wants = [_known_category(w) for w in wanted]
            out = [c for c in out if any(_category_matches(c["category"], w) for w in wants)]
        if status:
            want = _known_status(status)
            out = [c for c in out if c["status"] == want]
        if search:
            needle = search.strip().lower()
            out = [
                c
                for c in out
                if needle in c["slug"].lower()
                or needle in c["name"].lower()
                or needle in c["description"].lower()
            ]
        return out

    def connector(self, slug: str) -> Manifest:
        """One connector's manifest; an unknown slug raises ``UsageError`` with suggestions."""
        return self.catalogue.get(slug)

    def connections(self) -> tuple[list[dict[str, Any]], str | None]:
        """The ``connections list --json`` rows (stored, environment and Nango's; times in ISO
        8601), and a note when Nango could not be asked. Metadata only: nothing is decrypted."""
        from .store.report import connection_rows, iso_times

        rows = connection_rows(self.store, self.settings.env, self.catalogue.slugs)
        note = None
        if self.settings.nango_secret_key:
            from .auth.nango_report import merge_rows

            rows, note = merge_rows(self.settings, self.store, rows, self.catalogue.summaries)
        return iso_times(rows), note

    def invoke(
        self, slug: str, action: str, params: Mapping[str, Any] | None = None, **options: Any
    ) -> Any:
        """Run one action: an ``invoke.Outcome`` (``.to_dict()`` is the ``--json`` shape), or the
        ``invoke.PreparedRequest`` of a dry run. ``options``: connection, dry_run, paginate,
        retries, timeout, ca_bundle (or ``options=invoke.Options(...)``). Errors raise ``errors.*``.
        """
        from .actions.invoke import invoke

        return invoke(self, slug, action, dict(params or {}), **options)

    def validate(self, paths: list[Path]) -> tuple[int, list[str]]:
        """Validate manifest files: ``(files checked, ["file: field.path: message", ...])``."""
        from .catalogue.validation import validate_paths

        return validate_paths(paths)


def _category_matches(category: str, want: str) -> bool:
    """``--category crm`` matches "CRM & Sales"; the full name matches too, in any case."""
    low = category.lower()
    return low == want or low.startswith(want) or want in {w.strip() for w in low.split("&")}


def _known_category(category: str) -> str:
    """``category`` lower-cased when it matches one of the catalogue's categories, else a
    ``UsageError`` that names them (with "did you mean")."""
    from .basics.errors import UsageError
    from .catalogue.manifest import CATEGORIES
    from .catalogue.syntax import _did_you_mean

    want = category.strip().lower()
    if want and any(_category_matches(c, want) for c in CATEGORIES):
        return want
    names = [c.lower() for c in CATEGORIES]
    words = sorted({w.strip() for c in names for w in c.split("&")} - set(names))
    raise UsageError(
        f"No category {category!r}.{_did_you_mean(want, names + words)}",
        "Categories (a word of one works too, e.g. crm): " + ", ".join(f'"{c}"' for c in CATEGORIES) + ".",
    )


def _known_status(status: str) -> str:
    from .basics.errors import UsageError
    from .catalogue.manifest import STATUSES
    from .catalogue.syntax import _did_you_mean

    want = status.strip().lower()
    if want in STATUSES:
        return want
    raise UsageError(
        f"No status {status!r}.{_did_you_mean(want, list(STATUSES))}",
        f"Statuses: {', '.join(STATUSES)}.",
    )
