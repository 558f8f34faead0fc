"""Credentials from the environment, for CI without a store: ``SYNTHRAL_<SLUG>_TOKEN`` stands
for the connection's secret and ``SYNTHRAL_<SLUG>_<SETTING>`` for its settings (as rclone's
``RCLONE_CONFIG_<REMOTE>_<OPTION>``). A token from the environment goes only to the origins of the
slug's bundled manifest; a stored connection it shadows is said once (a notice, never printed
here); ``--ignore-env`` / ``SYNTHRAL_IGNORE_ENV`` turns both off (``Settings``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..basics import redact
from ..basics.errors import UsageError
from ..basics.settings import token_var
from .binding import default_origins
from .credential import Credential, authorize_cmd

if TYPE_CHECKING:
    from ..catalogue.manifest import Manifest
    from ..store.model import Connection
    from .context import Context as Synthral

_ENV_SECRET_KEY = {"oauth2": "access_token", "bearer": "token", "api_key": "api_key"}


def _stored(sy: Synthral, slug: str, name: str) -> Connection | None:
    """Best effort, for an env override: the stored connection it stands in for, if any."""
    from ..basics.errors import NetworkError, StoreError
    from ..store.encrypted import Store

    if not Store.exists(sy.settings):
        return None
    try:
        return sy.store.get(slug, name)
    except (StoreError, NetworkError):
        return None


def env_settings(sy: Synthral, manifest: Manifest) -> dict[str, str]:
    """``SYNTHRAL_<SLUG>_<SETTING>`` for the manifest's connection settings, each checked like
    ``--config``; they win over stored settings (a stored credential still goes only to the
    origins it is bound to)."""
    from ..basics.settings import setting_var
    from ..catalogue.templates import check_config_value

    found = sy.settings.setting_overrides(manifest.slug, manifest.connection_config)
    for key, value in found.items():
        try:
            check_config_value(manifest, key, value)
        except UsageError as exc:
            raise UsageError(f"{setting_var(manifest.slug, key)}: {exc.message}", exc.hint) from None
    return found


def _env_secret_key(manifest: Manifest) -> str | None:
    """The secret an env token stands for; a custom connector with one secret field takes it
    (``SYNTHRAL_TELEGRAM_TOKEN`` is the bot token)."""
    if manifest.auth_type == "custom" and manifest.transport == "http":
        secret = [f["name"] for f in manifest.auth.get("fields", []) if f.get("secret", True)]
        return secret[0] if len(secret) == 1 else None
    return _ENV_SECRET_KEY.get(manifest.auth_type)


def from_environment(sy: Synthral, manifest: Manifest, name: str, value: str) -> Credential:
    redact.register(value)
    key = _env_secret_key(manifest)
    if key is None:
        raise UsageError(
            f"{token_var(manifest.slug)} only works for OAuth, bearer, API-key and one-secret connectors; "
            f"{manifest.slug} uses {manifest.auth_type} credentials.",
            f"Unset it and run: {authorize_cmd(manifest.slug, name)} --with-token",
        )
    stored = _stored(sy, manifest.slug, name)
    if stored is not None:  # said once, by the surface: the core never prints
        notice = (
            f"{token_var(manifest.slug)} is set: it is used instead of the stored {manifest.slug} "
            f"connection {name!r} (pass --ignore-env to use the stored one)."
        )
        if notice not in sy.notices:
            sy.notices.append(notice)
    config = {**(dict(stored.config) if stored is not None else {}), **env_settings(sy, manifest)}
    return Credential(
        slug=manifest.slug,
        connection=name,
        kind=manifest.auth_type,
        secrets={key: value},
        config=config,
        scopes=None,
        source="environment",
        origins=default_origins(sy, manifest, config),  # the bundled manifest's, never a shadow's
    )
