"""Filling a manifest's ``{var}`` templates (base URLs, paths, headers) from a connection's
settings: a value must fit its pattern and may not reshape the URL; a missing one names the
``--config`` that sets it."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..basics.errors import UsageError
from .syntax import _is_safe_url

if TYPE_CHECKING:
    from .manifest import Manifest

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    return _PLACEHOLDER.findall(template)


def check_config_value(manifest: Manifest, name: str, value: str) -> None:
    """A connection-config value must match its pattern and must not reshape a URL."""
    spec = manifest.connection_config.get(name, {})
    if spec.get("enum") and value not in spec["enum"]:
        raise UsageError(f"{name} must be one of: {', '.join(spec['enum'])}.", None)
    pattern = spec.get("pattern")
    if pattern and not re.fullmatch(pattern, value):
        raise UsageError(
            f"{name}={value!r} does not look right (expected {spec.get('example') or pattern}).",
            f"Check {manifest.slug}'s {name}: {spec.get('description', '')}".strip(),
        )
    if not spec.get("from_token_response") and re.search(r"[/?#@\s\\]", value):
        raise UsageError(f"{name}={value!r} may not contain / ? # @ \\ or spaces.", None)


def missing_setting(manifest: Manifest | None, var: str, connection: str = "default") -> UsageError:
    """A ``{var}`` the connection has no value for: name it and the ``--config`` that sets it."""
    spec = (manifest.connection_config.get(var, {}) if manifest else {}) or {}
    slug = manifest.slug if manifest else "SLUG"
    conn = f" --connection {connection}" if connection != "default" else ""
    what = spec.get("description", "see the manifest")
    if len(what) > 160:
        what = what[:157].rstrip() + "..."
    env = ""
    if manifest is not None:
        from ..basics.settings import setting_var

        env = f" (or set {setting_var(slug, var)})"
    return UsageError(
        f"{slug if manifest else 'The connector'} needs the connection setting {var!r} ({what}).",
        f"Run: synthral authorize {slug}{conn} --config {var}={spec.get('example') or '...'}{env}",
    )


def render_url(
    template: str, config: dict[str, Any], manifest: Manifest | None = None, unset: Callable[[str], str] | None = None
) -> str:
    """Fill ``{var}`` placeholders from connection config; a missing one is a clear error, or
    (a dry run's preview, never sent) what ``unset(var)`` shows in its place."""
    shown: list[str] = []

    def sub(m: re.Match[str]) -> str:
        var = m.group(1)
        if var not in config or config[var] in (None, ""):
            spec = (manifest.connection_config.get(var, {}) if manifest else {}) or {}
            default = spec.get("default")
            if default:
                return str(default)
            if unset is not None:
                shown.append(var)
                return unset(var)
            raise missing_setting(manifest, var)
        return str(config[var])

    url = _PLACEHOLDER.sub(sub, template)
    if template.startswith("{") and not shown and not _is_safe_url(url):
        raise UsageError(
            f"{url!r} is not an https:// URL.",
            "Check the connection's settings; re-authorize it if they came from the provider.",
        )
    return url
