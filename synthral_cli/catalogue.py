"""The catalogue: bundled manifests, then ``<config>/manifests/``, then each folder of
``SYNTHRAL_MANIFESTS_PATH``; a later manifest with the same slug replaces an earlier one, and a
broken user manifest is reported (``Catalogue.problems``) and skipped.

Parsing YAML and validating is slow (hundreds of ms for the catalogue), so each folder's parsed
and validated manifests are cached as JSON under ``<config>/cache/``, keyed on the names, sizes
and modification times of its files. Listing the catalogue reads only small summaries.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import UsageError
from .manifest import SCHEMA_VERSION, Manifest, _did_you_mean, bundled_dir, summarize
from .validation import _manifest_files, validate_file

CACHE_FORMAT = 3

def _fingerprint(entries: list[os.DirEntry[str]]) -> list[list[Any]]:
    out = []
    for e in entries:
        try:
            st = e.stat()
        except OSError:
            continue
        out.append([e.name, st.st_size, st.st_mtime_ns])
    return out


def _cache_file(cache_dir: Path, folder: Path, kind: str) -> Path:
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache_dir / f"catalogue-{digest}.{kind}.json"


def _write_json_atomic(path: Path, data: Any) -> None:
    """Best effort: a cache that cannot be written is simply rebuilt next time."""
    import tempfile

    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
        os.replace(tmp, path)
    except OSError:
        pass


@dataclass
class FolderIndex:
    """One folder's manifests: slug -> summary, plus per-file problems."""

    folder: Path
    bundled: bool
    summaries: dict[str, dict[str, Any]]
    files: dict[str, str]  # slug -> file name
    problems: list[str]
    cache_dir: Path | None
    _full: dict[str, dict[str, Any]] | None = None

    def full(self, slug: str) -> dict[str, Any]:
        if self._full is None:
            data = None
            if self.cache_dir is not None:
                try:
                    with open(_cache_file(self.cache_dir, self.folder, "full"), encoding="utf-8") as f:
                        data = json.load(f)
                except (OSError, ValueError):
                    data = None
            if not isinstance(data, dict) or set(data) != set(self.summaries):
                data = {}
                for s, name in self.files.items():
                    doc, _ = validate_file(self.folder / name)
                    if doc is not None:
                        data[s] = doc
                if self.cache_dir is not None:
                    _write_json_atomic(_cache_file(self.cache_dir, self.folder, "full"), data)
            self._full = data
        return self._full[slug]


def index_folder(folder: Path, *, bundled: bool, cache_dir: Path | None) -> FolderIndex:
    entries = _manifest_files(folder)
    fp = _fingerprint(entries)
    key = [CACHE_FORMAT, SCHEMA_VERSION, _code_version(), fp]
    if cache_dir is not None and entries:
        try:
            with open(_cache_file(cache_dir, folder, "index"), encoding="utf-8") as f:
                cached = json.load(f)
            if cached.get("key") == key:
                return FolderIndex(
                    folder, bundled, cached["summaries"], cached["files"], cached["problems"], cache_dir
                )
        except (OSError, ValueError, AttributeError, KeyError):
            pass
    summaries: dict[str, dict[str, Any]] = {}
    files: dict[str, str] = {}
    full: dict[str, dict[str, Any]] = {}
    problems: list[str] = []
    for e in entries:
        doc, errs = validate_file(Path(e.path))
        if doc is None:
            problems.extend(errs)
            continue
        summaries[doc["slug"]] = summarize(doc)
        files[doc["slug"]] = e.name
        full[doc["slug"]] = doc
    if cache_dir is not None and entries:
        _write_json_atomic(_cache_file(cache_dir, folder, "full"), full)
        _write_json_atomic(
            _cache_file(cache_dir, folder, "index"),
            {"key": key, "summaries": summaries, "files": files, "problems": problems},
        )
    return FolderIndex(folder, bundled, summaries, files, problems, cache_dir, full)


def _code_version() -> str:
    from . import __version__

    return __version__


@dataclass
class Catalogue:
    """The merged catalogue. ``problems`` are broken user manifests (reported, then skipped)."""

    folders: list[FolderIndex] = field(default_factory=list)

    @cached_property
    def _owner(self) -> dict[str, FolderIndex]:
        owner: dict[str, FolderIndex] = {}
        for idx in self.folders:
            for slug in idx.summaries:
                owner[slug] = idx
        return owner

    @property
    def problems(self) -> list[str]:
        return [p for idx in self.folders for p in idx.problems]

    def slugs(self) -> list[str]:
        return sorted(self._owner)

    def summaries(self) -> list[dict[str, Any]]:
        return [self._owner[s].summaries[s] for s in self.slugs()]

    def __contains__(self, slug: object) -> bool:
        return slug in self._owner

    def get(self, slug: str) -> Manifest:
        idx = self._owner.get(slug)
        if idx is None:
            raise UsageError(
                f"Unknown connector {slug!r}.{_did_you_mean(slug, self.slugs())}",
                "See them all with: synthral connectors list",
            )
        return Manifest(idx.full(slug), str(idx.folder / idx.files[slug]), idx.bundled)

    def __iter__(self) -> Iterator[Manifest]:
        return (self.get(s) for s in self.slugs())


def load_catalogue(user_dirs: list[Path], cache_dir: Path | None) -> Catalogue:
    folders = [index_folder(bundled_dir(), bundled=True, cache_dir=cache_dir)]
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
    return Catalogue(folders)
