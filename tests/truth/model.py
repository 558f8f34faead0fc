"""What a provider's own machine-readable API description says, reduced to what the truth test
compares: operations (method + path template, and the parameters when the description has
them), the base URLs and the API versions it lists.

Paths are full paths below the origin (``/repos/{owner}/{repo}``); a ``{...}`` segment is a
template. ``Param.location`` is path, query, header, body or ``any`` (a route table that names
parameters without saying where they go).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NODE_MODULES = REPO / ".test-deps" / "npm" / "node_modules"
_TEMPLATE = re.compile(r"\{[^}]*\}")


@dataclass
class Param:
    name: str
    location: str
    type: str | None = None
    required: bool = False
    known: bool = False  # the description says whether it is required (not just that it exists)


@dataclass
class Operation:
    method: str  # GET, POST, ... or ANY (a route table that does not say)
    path: str
    params: dict[str, Param] | None = None  # None: the description lists no parameters

    def __post_init__(self) -> None:
        self.path = "/" + self.path.lstrip("/")


@dataclass
class Description:
    """One provider's description: ``source`` names the package and version it came from."""

    source: str
    servers: list[str]
    operations: list[Operation]
    versions: list[str] = field(default_factory=list)  # API versions it lists as supported
    current_only: bool = False  # versions is only the one the SDK sends (older ones unknown)
    version_header: str | None = None  # where the pin goes, when it is a header

    def find(self, method: str, path: str) -> Operation | None:
        """The operation for ``method path`` (path templates matched by position)."""
        want = segments(path)
        best: Operation | None = None
        for op in self.operations:
            if op.method not in {method, "ANY"} and not (method == "HEAD" and op.method == "GET"):
                continue
            if match_segments(want, segments(op.path)):
                # prefer the operation with the most literal segments (GET /a/me over /a/{id})
                if best is None or _literals(op.path) > _literals(best.path):
                    best = op
        return best


def segments(path: str) -> list[str]:
    return [s for s in path.split("?")[0].strip("/").split("/") if s != ""]


def _literals(path: str) -> int:
    return sum(1 for s in segments(path) if "{" not in s)


def _segment_pattern(theirs: str) -> re.Pattern[str]:
    parts = _TEMPLATE.split(theirs)
    return re.compile(".+".join(re.escape(p) for p in parts) + r"\Z")


def match_segments(ours: list[str], theirs: list[str]) -> bool:
    """Segment by segment: equal text, or a template of theirs that our literal or template
    fills (``{id}`` matches ``me`` or ``{user_id}``; ``{id}.json`` matches ``{x}.json``). Our
    template against their literal does not match: we would send anything there."""
    if len(ours) != len(theirs):
        return False
    for a, b in zip(ours, theirs, strict=True):
        if a == b:
            continue
        if "{" not in b:
            return False
        if _TEMPLATE.sub("{}", a) == _TEMPLATE.sub("{}", b):
            continue
        if "{" in a and _TEMPLATE.fullmatch(b) is None:
            return False
        if not _segment_pattern(b).match(_TEMPLATE.sub("x", a)):
            return False
    return True


@cache
def load_json(path: Path) -> Any:
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: scripts/test installs the pinned descriptions "
            "(tests/npm/package-lock.json, pyproject's test extra)."
        )
    return json.loads(path.read_text(encoding="utf-8"))


def npm_package(name: str) -> tuple[Path, str]:
    """The installed npm package's folder and ``name version`` (the pinned one)."""
    folder = NODE_MODULES / name
    meta = load_json(folder / "package.json")
    return folder, f"npm {name} {meta['version']}"


def read_text(path: Path) -> str:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: scripts/test installs tests/npm/package-lock.json.")
    return path.read_text(encoding="utf-8", errors="replace")
