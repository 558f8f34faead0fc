"""One manifest folder, indexed and cached: the bundled manifests, each user folder, or the
connectors described in code (``CodeIndex``).

Parsing YAML and validating is slow (hundreds of ms for the catalogue), so each folder's parsed
and validated manifests are cached under ``<config>/cache/`` (``cache.py``: authenticated, so an
edited cache file is rebuilt, never trusted), keyed on the names, sizes, inodes and change and
modification times of its files (every file is ``stat``-ed on every load: an edited, added or
removed manifest shows at once). Three files per folder: ``index`` (what a listing needs: each
summary already rendered, the file names, the problems), ``origins`` (read when a user manifest
replaces a bundled one) and ``full`` (the validated manifests, read by ``show`` and ``invoke``).
A folder's index is read only when something asks for its contents: a listing served whole from
the catalogue's listing file (``loading.py``) never reads it.
"""

from __future__ import annotations

import json
import os
import zlib
from functools import cached_property
from pathlib import Path

from ..basics.files import POSIX, check_stat
from .cache import CacheFiles
from .manifest import SCHEMA_VERSION, summarize

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any

CACHE_FORMAT = 8


def _digest(text: str) -> str:
    """A 64-bit checksum (CRC-32 + Adler-32) for cache keys and file names; the cache's integrity
    is the MAC in ``cache.py``, not this."""
    data = text.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def _manifest_names(folder: Path) -> list[str]:
    """The manifest files of ``folder`` (``*.yaml``, ``*.yml``, not hidden), in directory order:
    names are all the freshness check needs (``os.listdir`` is cheaper than ``os.scandir``)."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [n for n in names if n.endswith((".yaml", ".yml")) and not n.startswith(".")]


def _fingerprint(folder: Path, names: list[str], *, trusted: bool) -> str:
    """Names, sizes, inodes and change/modification times of a folder's manifest files, as one
    checksum (the change time cannot be set back, so an edit that restores the modification time
    is still seen). In a user folder each file must be the user's own and not writable by others.

    This runs on every command that loads the catalogue, one ``stat`` per file (2,000 user
    manifests: ~3.5 ms of its ~5 ms), so the loop stays lean: ``stat`` relative to the folder's
    descriptor (no path to resolve again), only integers collected, one ``hash`` of them. Names
    are taken in directory order (the same for an unchanged folder; another order only means a
    rebuild) and checksummed apart, since ``hash`` of text varies between processes."""
    check = not trusted and POSIX
    owners = (os.getuid(), 0) if check else ()
    stat = os.stat
    numbers: list[int] = []
    add = numbers.extend
    seen = []
    fd = None
    if stat in os.supports_dir_fd:
        try:
            fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        except OSError:
            return "0:"
    base = "" if fd is not None else str(folder) + os.sep
    try:
        for name in names:
            try:
                st = stat(base + name, dir_fd=fd)
            except OSError:
                continue
            if check and (st.st_uid not in owners or st.st_mode & 0o022):
                check_stat(st, str(folder / name), "the manifest file")  # raises, naming the fix
            add((st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
            seen.append(name)
    finally:
        if fd is not None:
            os.close(fd)
    return f"{len(seen)}:{_digest(chr(0).join(seen))}:{hash(tuple(numbers)) & 0xFFFFFFFFFFFFFFFF:016x}"


def _cache_name(folder: Path, kind: str) -> str:
    return f"catalogue-{_digest(str(folder.resolve()))}.{kind}.json"


def _dumps(data: Any) -> str:
    return json.dumps(data, separators=(",", ":"))


def _read_index(
    cache: CacheFiles, name: str, key: list[Any]
) -> tuple[dict[str, str], dict[str, str], list[str]] | None:
    """The cached listing index if it was built for ``key``: line 1 is a JSON header (key, slugs,
    files, problems), each following line one rendered summary, in the header's slug order. It
    holds only what a listing needs (the origins are in their own file, read when a user manifest
    replaces a bundled one), and splitting lines is much cheaper than JSON-decoding thousands of
    summaries."""
    text = cache.read(name)
    if text is None:
        return None
    try:
        lines = text.split("\n")
        header = json.loads(lines[0])
        if header.get("key") != key:
            return None
        rendered = dict(zip(header["slugs"], lines[1:], strict=True))
        return rendered, dict(header["files"]), list(header["problems"])
    except (ValueError, AttributeError, KeyError, TypeError, IndexError):
        return None


def _read_keyed(cache: CacheFiles | None, name: str, key: list[Any], field: str) -> Any:
    """``field`` of the cached JSON file ``name`` if it was built for ``key``, else ``None``."""
    text = cache.read(name) if cache is not None else None
    if text is None:
        return None
    try:
        cached = json.loads(text)
        return cached[field] if cached["key"] == key else None
    except (ValueError, TypeError, KeyError):
        return None


def render_summary(summary: dict[str, Any]) -> str:
    """One summary as ``connectors list --json`` prints it (``ui.print_json`` without indent),
    its DEL, C1 and bidi controls already escaped (``basics.sanitize.escape_json_text``), so that
    the listing writes the joined summaries as they are."""
    from ..basics.sanitize import escape_json_text

    return escape_json_text(json.dumps(summary, ensure_ascii=False))


class FolderIndex:
    """One folder's manifests: slug -> its rendered summary, plus per-file problems.

    Summaries are kept as the JSON text that ``connectors list --json`` prints, so the common
    listing joins strings instead of parsing and re-encoding every manifest's summary; they are
    parsed only when something needs the values (filters, tables). ``key`` (the folder's files'
    metadata) is known at once; the index is read, or built from the YAML, on first use, and
    the full manifests and their origins from their own cache files when asked for."""

    def __init__(
        self,
        folder: Path,
        bundled: bool,
        cache: CacheFiles | None,
        key: list[Any],
        names: list[str],
        built: tuple[dict[str, str], dict[str, str], list[str]] | None = None,
        full: dict[str, dict[str, Any]] | None = None,
        origins: dict[str, dict[str, str]] | None = None,  # slug -> {url field: origin}
    ) -> None:
        self.folder = folder
        self.bundled = bundled
        self.cache = cache
        self.key = key
        self._names = names
        self._full = full
        self._origins = origins
        if built is not None:
            self.__dict__["_content"] = built

    @cached_property
    def _content(self) -> tuple[dict[str, str], dict[str, str], list[str]]:
        if not self._names:  # no folder, or no manifests in it: nothing to parse or validate
            return {}, {}, []
        if self.cache is not None:
            cached = _read_index(self.cache, _cache_name(self.folder, "index"), self.key)
            if cached is not None:
                return cached
        return self._build()

    @property
    def fragments(self) -> dict[str, str]:
        """slug -> its rendered summary (``render_summary``)."""
        return self._content[0]

    @property
    def files(self) -> dict[str, str]:
        """slug -> file name, only where it is not ``<slug>.yaml``."""
        return self._content[1]

    @property
    def problems(self) -> list[str]:
        """The folder's broken manifests, one line each (file, field, what is wrong)."""
        return self._content[2]

    def _build(self) -> tuple[dict[str, str], dict[str, str], list[str]]:
        """Parse and validate every manifest file (``validate_files``), and cache the results."""
        from .origins import origins
        from .validation import validate_files

        names = sorted(self._names)  # a later file with the same slug replaces an earlier one
        fragments: dict[str, str] = {}
        files: dict[str, str] = {}  # only where the file is not <slug>.yaml
        full: dict[str, dict[str, Any]] = {}
        where: dict[str, dict[str, str]] = {}
        problems: list[str] = []
        for file, (doc, errs) in zip(names, validate_files([self.folder / n for n in names]), strict=True):
            if doc is None:
                problems.extend(errs)
                continue
            fragments[doc["slug"]] = render_summary(summarize(doc))
            if file != doc["slug"] + ".yaml":
                files[doc["slug"]] = file
            full[doc["slug"]] = doc
            where[doc["slug"]] = origins(doc)
        if self.cache is not None:
            key = self.key
            self.cache.write(_cache_name(self.folder, "full"), _dumps({"key": key, "docs": full}))
            self.cache.write(_cache_name(self.folder, "origins"), _dumps({"key": key, "origins": where}))
            header = {"key": key, "slugs": list(fragments), "files": files, "problems": problems}
            self.cache.write(_cache_name(self.folder, "index"), "\n".join([json.dumps(header), *fragments.values()]))
        self._full, self._origins = full, where
        return fragments, files, problems

    @cached_property
    def summaries(self) -> dict[str, dict[str, Any]]:
        parsed = json.loads("[" + ",".join(self.fragments.values()) + "]")
        return dict(zip(self.fragments, parsed, strict=True))

    @property
    def origins(self) -> dict[str, dict[str, str]]:
        """slug -> {url field: origin template}."""
        if self._origins is None:
            name = _cache_name(self.folder, "origins")
            data = _read_keyed(self.cache, name, self.key, "origins")
            if not isinstance(data, dict) or set(data) != set(self.fragments):
                from .origins import origins

                data = {slug: origins(self.full(slug)) for slug in self.fragments}
                if self.cache is not None:
                    self.cache.write(name, _dumps({"key": self.key, "origins": data}))
            self._origins = data
        return self._origins

    def file_name(self, slug: str) -> str:
        return self.files.get(slug, slug + ".yaml")

    def source(self, slug: str) -> str:
        """Where the manifest of ``slug`` came from (``connectors show``)."""
        return str(self.folder / self.file_name(slug))

    def full(self, slug: str) -> dict[str, Any]:
        if self._full is None:
            name = _cache_name(self.folder, "full")
            data = _read_keyed(self.cache, name, self.key, "docs")
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
        where = {slug: origins(doc) for slug, doc in docs.items()}
        super().__init__(Path(), False, None, ["code", _digest("\n".join(fragments.values()))], [],
                         (fragments, {}, []), docs, where)
        self.sources = sources

    def source(self, slug: str) -> str:
        return self.sources[slug]


def index_folder(folder: Path, *, bundled: bool, cache: CacheFiles | None) -> FolderIndex:
    """``folder``'s index: its files are listed and ``stat``-ed now (``key``; in a user folder a
    file that is not the user's own or is writable by others raises ``StoreError``), the index
    itself is read or built when first used."""
    names = _manifest_names(folder)
    key = [CACHE_FORMAT, SCHEMA_VERSION, _code_version(), str(folder), _fingerprint(folder, names, trusted=bundled)]
    if not names:
        return FolderIndex(folder, bundled, cache, key, names, ({}, {}, []), {}, {})
    return FolderIndex(folder, bundled, cache, key, names)


def _code_version() -> str:
    from ..basics.version import __version__

    return __version__
