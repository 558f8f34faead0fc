"""Connector manifests: the typed views over one validated manifest, and the helpers that
fill its templates (``{var}`` in URLs, response paths).

Validation lives in ``validation.py``; loading, merging and caching the catalogue in
``loading.py``; YAML, response paths and URL checks in ``syntax.py``.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from ..basics.errors import UsageError
from .syntax import _did_you_mean

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from typing import Any

    from .origins import ShadowInfo
    from .webhooks import WebhookSpec

SCHEMA_VERSION = 1
CATEGORIES = (
    "Communication & Collaboration",
    "CRM & Sales",
    "Project Management",
    "File Storage & Cloud",
    "E-commerce & Payments",
    "Social Media",
    "Analytics & Data",
    "Development & Code",
    "AI & Machine Learning",
    "Productivity & Notes",
    "Calendar & Scheduling",
    "Payments",
)
STATUSES = ("alpha", "beta", "stable", "deprecated")
SUMMARY_KEYS = (
    "id",
    "slug",
    "name",
    "status",
    "category",
    "description",
    "latest_version",
    "nango_enabled",
    "nango_provider_key",
    "auth_type",
)


def schema_path() -> Path:
    return Path(__file__).parent / "schema" / "manifest-v1.json"


def bundled_dir() -> Path:
    """The manifests inside the installed package, or the checkout's ``manifests/``."""
    package = Path(__file__).parent.parent
    inside = package / "manifests"
    return inside if inside.is_dir() else package.parent / "manifests"


def _manifest_files(folder: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(folder) as it:
            return sorted(
                (e for e in it if e.name.endswith((".yaml", ".yml")) and not e.name.startswith(".")),
                key=lambda e: e.name,
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


# ---------------------------------------------------------------------------------------------
# The model: thin typed views over the validated dict, built lazily.


class Parameter:
    """One parameter of an action (``in`` is ``location`` here)."""

    __slots__ = ("name", "location", "type", "required", "default", "description", "enum", "wire_name",
                 "secret", "style", "keep_slashes")

    def __init__(
        self,
        name: str,
        location: str,
        type: str,  # noqa: A002 - the manifest's field name
        required: bool = False,
        default: Any = None,
        description: str = "",
        enum: list[Any] | None = None,
        wire_name: str | None = None,
        secret: bool = False,
        style: str | None = None,
        keep_slashes: bool = False,
    ) -> None:
        self.name = name
        self.location = location
        self.type = type
        self.required = required
        self.default = default
        self.description = description
        self.enum = enum
        self.wire_name = wire_name
        self.secret = secret
        self.style = style
        self.keep_slashes = keep_slashes

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, in={self.location!r}, type={self.type!r})"

    @property
    def wire(self) -> str:
        return self.wire_name or self.name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "in": self.location,
            "type": self.type,
            "required": self.required,
            "description": self.description,
        }
        if self.default is not None:
            out["default"] = self.default
        if self.enum:
            out["enum"] = self.enum
        return out


class Action:
    """A typed view over one action of a validated manifest; ``default_base_url`` is the
    connector's, which an action's own ``base_url`` replaces."""

    def __init__(self, raw: dict[str, Any], default_base_url: str = "") -> None:
        self.raw = raw
        self.default_base_url = default_base_url

    def __repr__(self) -> str:
        return f"Action({self.raw.get('name')!r})"

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def description(self) -> str:
        return str(self.raw["description"])

    @property
    def method(self) -> str:
        return str(self.raw.get("method", "GET"))

    @property
    def path(self) -> str:
        return str(self.raw.get("path", ""))

    @property
    def base_url(self) -> str:
        """Where this action's requests go: its own ``base_url`` (Box's uploads go to
        upload.box.com), else the connector's."""
        return str(self.raw.get("base_url") or self.default_base_url)

    @property
    def scopes(self) -> list[str]:
        return list(self.raw.get("scopes", []))

    @property
    def body(self) -> str:
        return str(self.raw.get("body", "json"))

    @property
    def exclusive(self) -> list[list[str]]:
        """Groups of parameters that must not be sent together."""
        return [list(group) for group in self.raw.get("exclusive", [])]

    @property
    def idempotent(self) -> bool:
        if "idempotent" in self.raw:
            return bool(self.raw["idempotent"])
        return self.method in {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}

    @cached_property
    def parameters(self) -> list[Parameter]:
        return [
            Parameter(
                name=p["name"],
                location=p["in"],
                type=p["type"],
                required=bool(p.get("required", False)),
                default=p.get("default"),
                description=p.get("description", ""),
                enum=p.get("enum"),
                wire_name=p.get("wire_name"),
                secret=bool(p.get("secret", False)),
                style=p.get("style"),
                keep_slashes=bool(p.get("keep_slashes", False)),
            )
            for p in self.raw.get("parameters", [])
        ]

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "method": self.method,
            "base_url": self.base_url,
            "path": self.path,
            "scopes": self.scopes,
            "body": self.body,
            "parameters": [p.to_dict() for p in self.parameters],
        }


class Manifest:
    """One connector. ``raw`` is the validated manifest; ``source`` the file it came from;
    ``shadowing`` is set when it is a user manifest that replaces a bundled one."""

    def __init__(
        self, raw: dict[str, Any], source: str = "", bundled: bool = True, *, shadowing: ShadowInfo | None = None
    ) -> None:
        self.raw = raw
        self.source = source
        self.bundled = bundled
        self.shadowing = shadowing

    def __repr__(self) -> str:
        return f"Manifest({self.raw.get('slug')!r})"

    @property
    def slug(self) -> str:
        return str(self.raw["slug"])

    @property
    def name(self) -> str:
        return str(self.raw["name"])

    @property
    def category(self) -> str:
        return str(self.raw["category"])

    @property
    def status(self) -> str:
        return str(self.raw["status"])

    @property
    def description(self) -> str:
        return str(self.raw["description"])

    @property
    def docs_url(self) -> str:
        return str(self.raw["docs_url"])

    @property
    def transport(self) -> str:
        return str(self.raw.get("transport", "http"))

    @property
    def base_url(self) -> str:
        return str(self.raw.get("base_url", ""))

    @property
    def auth(self) -> dict[str, Any]:
        return dict(self.raw["auth"])

    @property
    def auth_type(self) -> str:
        return str(self.raw["auth"]["type"])

    @property
    def connection_config(self) -> dict[str, dict[str, Any]]:
        return dict(self.raw.get("connection_config") or {})

    @property
    def nango(self) -> dict[str, Any]:
        return dict(self.raw["nango"])

    @cached_property
    def webhooks(self) -> WebhookSpec | None:
        """How the provider signs webhook deliveries (``webhooks:``), or None when not declared."""
        from .webhooks import WebhookSpec

        raw = self.raw.get("webhooks")
        return WebhookSpec.from_raw(self.slug, raw) if raw else None

    @cached_property
    def actions(self) -> list[Action]:
        return [Action(a, self.base_url) for a in self.raw["actions"]]

    def action(self, name: str) -> Action:
        for action in self.actions:
            if action.name == name:
                return action
        names = [a.name for a in self.actions]
        raise UsageError(
            f"{self.slug} has no action {name!r}.{_did_you_mean(name, names)}",
            f"List them with: synthral connectors actions {self.slug}",
        )

    def summary(self) -> dict[str, Any]:
        return summarize(self.raw)

    def to_dict(self) -> dict[str, Any]:
        """The ``connectors show --json`` shape: summary, auth, Nango, base URL and actions."""
        auth = {k: v for k, v in self.auth.items() if not k.startswith("x-")}
        return {
            **self.summary(),
            "docs_url": self.docs_url,
            "transport": self.transport,
            "base_url": self.base_url,
            "auth": auth,
            "connection_config": self.connection_config,
            "nango": self.nango,
            "source": self.source,
            "actions": [a.to_dict() for a in self.actions],
        }


def summarize(raw: dict[str, Any]) -> dict[str, Any]:
    nango = raw.get("nango") or {}
    return {
        "id": raw["slug"],
        "slug": raw["slug"],
        "name": raw["name"],
        "status": raw["status"],
        "category": raw["category"],
        "description": raw["description"],
        "latest_version": raw["version"],
        "nango_enabled": bool(nango.get("enabled")),
        "nango_provider_key": nango.get("provider_key"),
        "auth_type": raw["auth"]["type"],
    }
