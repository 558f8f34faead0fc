"""The catalogue: bundled manifests, then connectors described in code (plugins, see
``actions/registry.py``), then ``<config>/manifests/``, then each folder of
``SYNTHRAL_MANIFESTS_PATH``; a later manifest with the same slug replaces an earlier one, except
that a plugin never replaces a bundled connector (it is refused, ``Catalogue.notices``). A
broken user manifest is reported (``Catalogue.problems``) and skipped. A user manifest that
replaces a bundled one is recorded in ``Catalogue.shadowed`` (with the hosts it changes) for the
caller to announce, and its ``Manifest.shadowing`` lets the credential layer refuse secrets
stored for the bundled connector. User manifest folders and files must be the user's own and
not writable by others (``basics.files``), or loading stops with exit 5.

Parsing YAML and validating is slow (hundreds of ms for the catalogue), so each folder's parsed
and validated manifests are cached under ``<config>/cache/`` (``folders.py``; ``cache.py``:
authenticated, so an edited cache file is rebuilt, never trusted), keyed on the names, sizes,
inodes and change and modification times of its files, every one of them ``stat``-ed on every
load. Above them, the merged catalogue caches what a listing prints and what every command
announces, keyed on all the folders' keys (``Catalogue.listing``): ``connectors list --json``
reads that one file and writes it out, and an edited, added or removed manifest changes a
folder's key, so it shows on the next listing.
"""

from __future__ import annotations

import json
from functools import cached_property

from ..basics.errors import UsageError
from ..basics.files import check_private
from .cache import CacheFiles
from .folders import CodeIndex, FolderIndex, _digest, _dumps, _read_keyed, index_folder
from .manifest import Manifest, bundled_dir
from .syntax import _did_you_mean

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

    from .origins import ShadowInfo

LISTING_FORMAT = 1


class Catalogue:
    """The merged catalogue. ``problems`` are broken user manifests (reported, then skipped);
    ``notices`` the plugins that were skipped or refused, one line each; ``shadowed`` the user
    manifests that replace bundled ones (announced, see ``ShadowInfo``).

    What every command announces (problems, shadowed) and the whole listing (``listing``) are
    cached too, in two files keyed on every folder's key: with 2,000 user manifests, reading
    one file that is already the output beats reading, splitting and merging the folders'
    indexes (~3 ms). The folders' indexes are then not read at all."""

    def __init__(
        self,
        folders: list[FolderIndex] | None = None,
        notices: list[str] | None = None,
        cache: CacheFiles | None = None,
    ) -> None:
        self.folders = folders or []
        self.notices = notices or []
        self.cache = cache

    @cached_property
    def _owner(self) -> dict[str, FolderIndex]:
        owner: dict[str, FolderIndex] = {}
        for idx in self.folders:
            for slug in idx.fragments:
                owner[slug] = idx
        return owner

    @cached_property
    def _key(self) -> list[Any]:
        return [LISTING_FORMAT, *(idx.key for idx in self.folders)]

    def _name(self, kind: str) -> str:
        return f"catalogue-{_digest(chr(0).join(str(idx.folder) for idx in self.folders))}.{kind}.json"

    @cached_property
    def _notes(self) -> tuple[list[str], list[list[Any]]]:
        """(problems, shadowed as [slug, source, bundled origins, user origins])."""
        found = _read_keyed(self.cache, self._name("notes"), self._key, "notes")
        try:
            if found is not None:
                return list(found[0]), [list(s) for s in found[1]]
        except (TypeError, IndexError, KeyError):
            pass
        problems = [p for idx in self.folders for p in idx.problems]
        shadowed = self._shadowed()
        if self.cache is not None:
            self.cache.write(self._name("notes"), _dumps({"key": self._key, "notes": [problems, shadowed]}))
        return problems, shadowed

    def _shadowed(self) -> list[list[Any]]:
        bundled = next((idx for idx in self.folders if idx.bundled), None)
        if bundled is None:
            return []
        found = [(s, idx) for s, idx in self._owner.items() if not idx.bundled and s in bundled.fragments]
        return [[s, idx.source(s), bundled.origins.get(s, {}), idx.origins.get(s, {})] for s, idx in found]

    @property
    def problems(self) -> list[str]:
        return self._notes[0]

    @cached_property
    def shadowed(self) -> dict[str, ShadowInfo]:
        """slug -> the user manifest that replaces its bundled manifest, and the hosts it changes."""
        if not self._notes[1]:
            return {}
        from .origins import ShadowInfo  # only here: the common listing never needs it

        return {s[0]: ShadowInfo(*s) for s in self._notes[1]}

    def listing(self) -> tuple[bytes | memoryview, int]:
        """The rendered summaries in slug order joined with ``", "`` (``rendered_summaries``), as
        UTF-8 (a lone surrogate as the ``\\udxxx`` escape ``ui.echo_json`` writes), and how many."""
        found = self.cache.read_raw(self._name("listing")) if self.cache is not None else None
        if found is not None:
            data, start = found
            end = data.find(b"\n", start)
            try:
                header = json.loads(data[start:end]) if end > 0 else None
                if header is not None and header["key"] == self._key:
                    return memoryview(data)[end + 1 :], int(header["count"])
            except (ValueError, TypeError, KeyError):
                pass
        rendered = self.rendered_summaries()
        body = ", ".join(rendered).encode("utf-8", "backslashreplace")
        if self.cache is not None:
            header_line = json.dumps({"key": self._key, "count": len(rendered)}).encode("ascii")
            self.cache.write(self._name("listing"), header_line + b"\n" + body)
        return body, len(rendered)

    def slugs(self) -> list[str]:
        return sorted(self._owner)

    def summaries(self) -> list[dict[str, Any]]:
        return [self._owner[s].summaries[s] for s in self.slugs()]

    def rendered_summaries(self) -> list[str]:
        """The summaries as JSON text (see ``render_summary``), in slug order."""
        return [self._owner[s].fragments[s] for s in self.slugs()]

    def __contains__(self, slug: object) -> bool:
        return slug in self._owner

    def get(self, slug: str) -> Manifest:
        idx = self._owner.get(slug)
        if idx is None:
            low = slug.lower()  # slugs are lower case: SLACK is a slip for slack
            hint = f" Did you mean {low!r}?" if low in self._owner else _did_you_mean(low, self.slugs())
            raise UsageError(
                f"Unknown connector {slug!r}.{hint}",
                "See them all with: synthral connectors list",
            )
        return Manifest(idx.full(slug), idx.source(slug), idx.bundled, shadowing=self.shadowed.get(slug))

    def __iter__(self) -> Iterator[Manifest]:
        return (self.get(s) for s in self.slugs())


def load_catalogue(
    user_dirs: list[Path],
    cache_dir: Path | None,
    described: list[tuple[dict[str, Any], str, str]] | None = None,
    notices: list[str] | None = None,
    *,
    cache_key: Path | None = None,
) -> Catalogue:
    """The bundled manifests, then connectors written in code, then each of ``user_dirs``.

    ``described``: ``(manifest, source, label)`` of connectors written in code; one with a bundled
    connector's slug, or a slug another plugin took first, is refused with a notice. The cache
    lives in ``cache_dir``, authenticated with the key at ``cache_key``; without both, nothing is
    cached. A user folder that is not the user's own or is writable by others raises
    ``StoreError`` (exit 5)."""
    cache = CacheFiles(cache_dir, cache_key) if cache_dir is not None and cache_key is not None else None
    bundled = index_folder(bundled_dir(), bundled=True, cache=cache)
    folders = [bundled]
    notices = list(notices or [])
    if described:
        docs: dict[str, dict[str, Any]] = {}
        sources: dict[str, str] = {}
        for doc, source, label in described:
            slug = doc["slug"]
            if slug in bundled.fragments:
                notices.append(f"{label}: the slug {slug!r} belongs to a bundled connector; refused.")
            elif slug in docs:
                notices.append(f"{label}: the slug {slug!r} is already taken by {sources[slug]}; refused.")
            else:
                docs[slug], sources[slug] = doc, source
        folders.append(CodeIndex(docs, sources))
    seen = {bundled_dir().resolve()}
    for d in user_dirs:
        check_private(d, "the manifest folder")
        try:
            resolved = d.resolve()
        except OSError:
            continue
        if resolved in seen:
            continue
        seen.add(resolved)
        folders.append(index_folder(d, bundled=False, cache=cache))
    return Catalogue(folders, notices, cache)


def load_bundled(slug: str, cache_dir: Path | None, cache_key: Path | None) -> Manifest | None:
    """The manifest shipped with synthral for ``slug``, whatever user manifests say (through the
    same authenticated cache)."""
    folder = bundled_dir()
    if not (folder / f"{slug}.yaml").is_file():  # bundled manifests are named after their slug
        return None
    cache = CacheFiles(cache_dir, cache_key) if cache_dir is not None and cache_key is not None else None
    idx = index_folder(folder, bundled=True, cache=cache)
    if slug not in idx.fragments:
        return None
    return Manifest(idx.full(slug), idx.source(slug), True)
