"""The catalogue: bundled manifests, then connectors described in code (plugins, see
``actions/registry.py``), then ``<config>/manifests/``, then each folder of
``SYNTHRAL_MANIFESTS_PATH``; a later manifest with the same slug replaces an earlier one, except
that a plugin never replaces a bundled connector (it is refused, ``Catalogue.notices``). A broken
user manifest is reported (``Catalogue.problems``) and skipped.

Parsing YAML and validating is slow (hundreds of ms for the catalogue), so each folder's parsed
and validated manifests are cached as JSON under ``<config>/cache/``, keyed on the names, sizes
and modification times of its files. Listing the catalogue reads only small summaries.
"""

from __future__ import annotations

import json
import os
import zlib
from functools import cached_property
from pathlib import Path

from ..basics.errors import UsageError
from ..basics.settings import make_private_dirs
from .manifest import SCHEMA_VERSION, Manifest, _manifest_files, bundled_dir, summarize
from .syntax import _did_you_mean

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Iterator
    from typing import Any

CACHE_FORMAT = 6


def _digest(text: str) -> str:
    """A 64-bit checksum (CRC-32 + Adler-32) for cache keys; not security, and cheaper to import
    than hashlib, which loads OpenSSL."""
    data = text.encode("utf-8", "surrogateescape")
    return f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}"


def _fingerprint(entries: list[os.DirEntry[str]]) -> str:
    """Names, sizes and modification times of a folder's manifest files, as one checksum."""
    parts = []
    for e in entries:
        try:
            st = e.stat()
        except OSError:
            continue
        parts.append(f"{e.name}\0{st.st_size}\0{st.st_mtime_ns}")
    return f"{len(parts)}:{_digest(chr(10).join(parts))}"


def _cache_file(cache_dir: Path, folder: Path, kind: str) -> Path:
    return cache_dir / f"catalogue-{_digest(str(folder.resolve()))}.{kind}.json"


def _write_atomic(path: Path, text: str) -> None:
    """Best effort: a cache that cannot be written is simply rebuilt next time."""
    import tempfile

    try:
        make_private_dirs(path.parent)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError:
        pass


def _write_json_atomic(path: Path, data: Any) -> None:
    _write_atomic(path, json.dumps(data, separators=(",", ":")))


def _read_index(path: Path, key: list[Any]) -> tuple[dict[str, str], dict[str, str], list[str]] | None:
    """The cached index if it was built for ``key``: line 1 is a JSON header (key, slugs, files,
    problems); each following line is one rendered summary, in the header's slug order. Reading
    lines is much cheaper than JSON-decoding thousands of summaries."""
    try:
        with open(path, encoding="utf-8", newline="") as f:
            lines = f.read().split("\n")
        header = json.loads(lines[0])
        if header.get("key") != key:
            return None
        rendered = dict(zip(header["slugs"], lines[1:], strict=True))
        return rendered, dict(header["files"]), list(header["problems"])
    except (OSError, ValueError, AttributeError, KeyError, TypeError):
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
        cache_dir: Path | None,
        full: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.folder = folder
        self.bundled = bundled
        self.fragments = fragments
        self.files = files
        self.problems = problems
        self.cache_dir = cache_dir
        self._full = full

    @cached_property
    def summaries(self) -> dict[str, dict[str, Any]]:
        parsed = json.loads("[" + ",".join(self.fragments.values()) + "]")
        return dict(zip(self.fragments, parsed, strict=True))

    def file_name(self, slug: str) -> str:
        return self.files.get(slug, slug + ".yaml")

    def source(self, slug: str) -> str:
        """Where the manifest of ``slug`` came from (``connectors show``)."""
        return str(self.folder / self.file_name(slug))

    def full(self, slug: str) -> dict[str, Any]:
        if self._full is None:
            data = None
            if self.cache_dir is not None:
                try:
                    with open(_cache_file(self.cache_dir, self.folder, "full"), encoding="utf-8") as f:
                        data = json.load(f)
                except (OSError, ValueError):
                    data = None
            if not isinstance(data, dict) or set(data) != set(self.fragments):
                from .validation import validate_file

                data = {}
                for s in self.fragments:
                    doc, _ = validate_file(self.folder / self.file_name(s))
                    if doc is not None:
                        data[s] = doc
                if self.cache_dir is not None:
                    _write_json_atomic(_cache_file(self.cache_dir, self.folder, "full"), data)
            self._full = data
        return self._full[slug]


class CodeIndex(FolderIndex):
    """Connectors described in code (plugins): already validated manifests, each with a source."""

    def __init__(self, docs: dict[str, dict[str, Any]], sources: dict[str, str]) -> None:
        fragments = {slug: render_summary(summarize(doc)) for slug, doc in docs.items()}
        super().__init__(Path(), False, fragments, {}, [], None, docs)
        self.sources = sources

    def source(self, slug: str) -> str:
        return self.sources[slug]


def index_folder(folder: Path, *, bundled: bool, cache_dir: Path | None) -> FolderIndex:
    entries = _manifest_files(folder)
    fp = _fingerprint(entries)
    key = [CACHE_FORMAT, SCHEMA_VERSION, _code_version(), str(folder), fp]
    if cache_dir is not None and entries:
        cached = _read_index(_cache_file(cache_dir, folder, "index"), key)
        if cached is not None:
            return FolderIndex(folder, bundled, *cached, cache_dir)
    from .validation import validate_file

    fragments: dict[str, str] = {}
    files: dict[str, str] = {}  # only where the file is not <slug>.yaml
    full: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for e in entries:
        doc, errs = validate_file(Path(e.path))
        if doc is None:
            problems.extend(errs)
            continue
        fragments[doc["slug"]] = render_summary(summarize(doc))
        if e.name != doc["slug"] + ".yaml":
            files[doc["slug"]] = e.name
        full[doc["slug"]] = doc
    if cache_dir is not None and entries:
        _write_json_atomic(_cache_file(cache_dir, folder, "full"), full)
        header = {"key": key, "slugs": list(fragments), "files": files, "problems": problems}
        _write_atomic(_cache_file(cache_dir, folder, "index"), "\n".join([json.dumps(header), *fragments.values()]))
    return FolderIndex(folder, bundled, fragments, files, problems, cache_dir, full)


def _code_version() -> str:
    from ..basics.version import __version__

    return __version__


class Catalogue:
    """The merged catalogue. ``problems`` are broken user manifests (reported, then skipped);
    ``notices`` the plugins that were skipped or refused, one line each."""

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
            raise UsageError(
                f"Unknown connector {slug!r}.{_did_you_mean(slug, self.slugs())}",
                "See them all with: synthral connectors list",
            )
        return Manifest(idx.full(slug), idx.source(slug), idx.bundled)

    def __iter__(self) -> Iterator[Manifest]:
        return (self.get(s) for s in self.slugs())


def load_catalogue(
    user_dirs: list[Path],
    cache_dir: Path | None,
    described: list[tuple[dict[str, Any], str, str]] | None = None,
    notices: list[str] | None = None,
) -> Catalogue:
    """``described``: ``(manifest, source, label)`` of connectors written in code; one with a
    bundled connector's slug, or a slug another plugin took first, is refused with a notice."""
    bundled = index_folder(bundled_dir(), bundled=True, cache_dir=cache_dir)
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
        try:
            resolved = d.resolve()
        except OSError:
            continue
        if resolved in seen:
            continue
        seen.add(resolved)
        folders.append(index_folder(d, bundled=False, cache_dir=cache_dir))
    return Catalogue(folders, notices)
