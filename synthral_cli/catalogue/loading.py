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
and validated manifests are cached under ``<config>/cache/`` (``cache.py``: authenticated, so an
edited cache file is rebuilt, never trusted), keyed on the names, sizes, inodes and change and
modification times of its files. Listing the catalogue reads only small summaries.
"""

from __future__ import annotations

import json
import os
import zlib
from functools import cached_property
from pathlib import Path

from ..basics.errors import UsageError
from ..basics.files import POSIX, check_private, check_stat
from .cache import CacheFiles
from .manifest import SCHEMA_VERSION, Manifest, _manifest_files, bundled_dir, summarize
from .syntax import _did_you_mean

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Iterator
    from typing import Any

    from .origins import ShadowInfo

CACHE_FORMAT = 7


def _digest(text: str) -> str:
    """A 64-bit checksum (CRC-32 + Adler-32) for cache keys and file names; the cache's integrity
    is the MAC in ``cache.py``, not this."""
    data = text.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def _fingerprint(entries: list[os.DirEntry[str]], *, trusted: bool) -> str:
    """Names, sizes, inodes and change/modification times of a folder's manifest files, as one
    checksum (the change time cannot be set back, so an edit that restores the modification time
    is still seen). In a user folder each file must be the user's own and not writable by others."""
    parts = []
    check = not trusted and POSIX
    owners = (os.getuid(), 0) if check else ()
    for e in entries:
        try:
            st = e.stat()
        except OSError:
            continue
        if check and (st.st_uid not in owners or st.st_mode & 0o022):
            check_stat(st, e.path, "the manifest file")  # raises, naming the fix
        parts.append(f"{e.name}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}")
    return f"{len(parts)}:{_digest(chr(10).join(parts))}"


def _cache_name(folder: Path, kind: str) -> str:
    return f"catalogue-{_digest(str(folder.resolve()))}.{kind}.json"


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def _read_index(
    cache: CacheFiles, name: str, key: list[Any]
) -> tuple[dict[str, str], dict[str, str], list[str], str] | None:
    """The cached index if it was built for ``key``: line 1 is a JSON header (key, slugs, files,
    problems), line 2 the origins of each manifest (parsed only when needed); each following line
    is one rendered summary, in the header's slug order. Reading lines is much cheaper than
    JSON-decoding thousands of summaries."""
    text = cache.read(name)
    if text is None:
        return None
    try:
        lines = text.split("\n")
        header = json.loads(lines[0])
        if header.get("key") != key:
            return None
        rendered = dict(zip(header["slugs"], lines[2:], strict=True))
        return rendered, dict(header["files"]), list(header["problems"]), lines[1]
    except (ValueError, AttributeError, KeyError, TypeError, IndexError):
        return None


def render_summary(summary: dict[str, Any]) -> str:
    """One summary as ``connectors list --json`` prints it (``ui.print_json`` without indent)."""
    return json.dumps(summary, ensure_ascii=False)


class FolderIndex:
    """One folder's manifests: slug -> its rendered summary, plus per-file problems.

    Summaries are kept as the JSON text that ``connectors list --json`` prints, so the common
    listing joins strings instead of parsing and re-encoding every manifest's summary; they are
    parsed only when something needs the values (filters, tables)."""

    def __init__(
        self,
        folder: Path,
        bundled: bool,
        fragments: dict[str, str],  # slug -> rendered summary
        files: dict[str, str],  # slug -> file name, only where it is not <slug>.yaml
        problems: list[str],
        origins_text: str,  # JSON: slug -> {url field: origin}
        cache: CacheFiles | None,
        key: list[Any],
        full: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.folder = folder
        self.bundled = bundled
        self.fragments = fragments
        self.files = files
        self.problems = problems
        self._origins_text = origins_text
        self.cache = cache
        self.key = key
        self._full = full

    @cached_property
    def summaries(self) -> dict[str, dict[str, Any]]:
        parsed = json.loads("[" + ",".join(self.fragments.values()) + "]")
        return dict(zip(self.fragments, parsed, strict=True))

    @cached_property
    def origins(self) -> dict[str, dict[str, str]]:
        """slug -> {url field: origin template}."""
        return dict(json.loads(self._origins_text))

    def file_name(self, slug: str) -> str:
        return self.files.get(slug, slug + ".yaml")

    def source(self, slug: str) -> str:
        """Where the manifest of ``slug`` came from (``connectors show``)."""
        return str(self.folder / self.file_name(slug))

    def full(self, slug: str) -> dict[str, Any]:
        if self._full is None:
            data = None
            name = _cache_name(self.folder, "full")
            text = self.cache.read(name) if self.cache is not None else None
            if text is not None:
                try:
                    cached = json.loads(text)
                    data = cached["docs"] if cached["key"] == self.key else None
                except (ValueError, TypeError, KeyError):
                    data = None
            if not isinstance(data, dict) or set(data) != set(self.fragments):
                from .validation import validate_file

                data = {}
                for s in self.fragments:
                    doc, _ = validate_file(self.folder / self.file_name(s))
                    if doc is not None:
                        data[s] = doc
                if self.cache is not None:
                    self.cache.write(name, _dumps({"key": self.key, "docs": data}))
            self._full = data
        return self._full[slug]


class CodeIndex(FolderIndex):
    """Connectors described in code (plugins): already validated manifests, each with a source."""

    def __init__(self, docs: dict[str, dict[str, Any]], sources: dict[str, str]) -> None:
        from .origins import origins

        fragments = {slug: render_summary(summarize(doc)) for slug, doc in docs.items()}
        where = _dumps({slug: origins(doc) for slug, doc in docs.items()})
        super().__init__(Path(), False, fragments, {}, [], where, None, [], docs)
        self.sources = sources

    def source(self, slug: str) -> str:
        return self.sources[slug]


def index_folder(folder: Path, *, bundled: bool, cache: CacheFiles | None) -> FolderIndex:
    entries = _manifest_files(folder)
    fp = _fingerprint(entries, trusted=bundled)
    key = [CACHE_FORMAT, SCHEMA_VERSION, _code_version(), str(folder), fp]
    name = _cache_name(folder, "index")
    if cache is not None and entries:
        cached = _read_index(cache, name, key)
        if cached is not None:
            return FolderIndex(folder, bundled, *cached, cache, key)
    if not entries:  # no folder, or no manifests in it: nothing to parse or validate
        return FolderIndex(folder, bundled, {}, {}, [], "{}", cache, key, {})
    from .origins import origins
    from .validation import validate_files

    fragments: dict[str, str] = {}
    files: dict[str, str] = {}  # only where the file is not <slug>.yaml
    full: dict[str, dict[str, Any]] = {}
    where: dict[str, dict[str, str]] = {}
    problems: list[str] = []
    for e, (doc, errs) in zip(entries, validate_files([Path(e.path) for e in entries]), strict=True):
        if doc is None:
            problems.extend(errs)
            continue
        fragments[doc["slug"]] = render_summary(summarize(doc))
        if e.name != doc["slug"] + ".yaml":
            files[doc["slug"]] = e.name
        full[doc["slug"]] = doc
        where[doc["slug"]] = origins(doc)
    origins_text = _dumps(where)
    if cache is not None:
        cache.write(_cache_name(folder, "full"), _dumps({"key": key, "docs": full}))
        header = {"key": key, "slugs": list(fragments), "files": files, "problems": problems}
        cache.write(name, "\n".join([json.dumps(header), origins_text, *fragments.values()]))
    return FolderIndex(folder, bundled, fragments, files, problems, origins_text, cache, key, full)


def _code_version() -> str:
    from ..basics.version import __version__

    return __version__


class Catalogue:
    """The merged catalogue. ``problems`` are broken user manifests (reported, then skipped);
    ``notices`` the plugins that were skipped or refused, one line each; ``shadowed`` the user
    manifests that replace bundled ones (announced, see ``ShadowInfo``)."""

    def __init__(self, folders: list[FolderIndex] | None = None, notices: list[str] | None = None) -> None:
        self.folders = folders or []
        self.notices = notices or []

    @cached_property
    def _owner(self) -> dict[str, FolderIndex]:
        owner: dict[str, FolderIndex] = {}
        for idx in self.folders:
            for slug in idx.fragments:
                owner[slug] = idx
        return owner

    @property
    def problems(self) -> list[str]:
        return [p for idx in self.folders for p in idx.problems]

    @cached_property
    def shadowed(self) -> dict[str, ShadowInfo]:
        """slug -> the user manifest that replaces its bundled manifest, and the hosts it changes."""
        bundled = next((idx for idx in self.folders if idx.bundled), None)
        if bundled is None:
            return {}
        found = [(s, idx) for s, idx in self._owner.items() if not idx.bundled and s in bundled.fragments]
        if not found:
            return {}
        from .origins import ShadowInfo  # only here: the common listing never needs it

        return {
            slug: ShadowInfo(slug, idx.source(slug), bundled.origins.get(slug, {}), idx.origins.get(slug, {}))
            for slug, idx in found
        }

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
    return Catalogue(folders, notices)


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
