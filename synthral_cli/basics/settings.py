"""Environment variable names and filesystem paths: the one place that knows them.

``SYNTHRAL_CONFIG_DIR`` moves all state (store, key file, user manifests, caches).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Iterable, Mapping

APP_NAME = "synthral"

CONFIG_DIR = "SYNTHRAL_CONFIG_DIR"
MANIFESTS_PATH = "SYNTHRAL_MANIFESTS_PATH"
STORE_KEY = "SYNTHRAL_STORE_KEY"
STORE_URL = "SYNTHRAL_STORE_URL"  # postgresql://... puts the store in PostgreSQL; unset = the SQLite file
STORE_LOCK_TIMEOUT = "SYNTHRAL_STORE_LOCK_TIMEOUT"  # seconds a command waits for a connection's lock
CA_BUNDLE = "SYNTHRAL_CA_BUNDLE"
ALLOW_INSECURE = "SYNTHRAL_ALLOW_INSECURE"
IGNORE_ENV = "SYNTHRAL_IGNORE_ENV"  # --ignore-env: SYNTHRAL_<SLUG>_TOKEN and _<SETTING> are not read
MCP_BEARER_TOKEN = "SYNTHRAL_MCP_BEARER_TOKEN"  # what `synthral mcp --transport http` clients must send
NANGO_URL = "NANGO_URL"
NANGO_SECRET_KEY = "NANGO_SECRET_KEY"
NANGO_ENABLED = "NANGO_ENABLED"
BROWSER = "BROWSER"
NANGO_DEFAULT_URL = "https://api.nango.dev"

STORE_FILENAME = "store.db"
CONFIG_FILENAME = "config.toml"  # optional: store_url = "postgresql://..."
KEY_FILENAME = "store.key"
USER_MANIFESTS_DIRNAME = "manifests"
CACHE_DIRNAME = "cache"
CACHE_KEY_FILENAME = "cache.key"
SPOOL_FILENAME = "triggers.db"  # accepted webhook events and watch positions (triggers/spool.py)


def slug_env_prefix(slug: str) -> str:
    """``google-drive`` -> ``SYNTHRAL_GOOGLE_DRIVE``."""
    return "SYNTHRAL_" + re.sub(r"[^A-Za-z0-9]", "_", slug).upper()


def client_id_var(slug: str) -> str:
    return slug_env_prefix(slug) + "_CLIENT_ID"


def client_secret_var(slug: str) -> str:
    return slug_env_prefix(slug) + "_CLIENT_SECRET"


def token_var(slug: str) -> str:
    return slug_env_prefix(slug) + "_TOKEN"


def secret_param_var(slug: str, name: str) -> str:
    """Where a ``secret: true`` parameter is read from: ``SYNTHRAL_DISCORD_WEBHOOK_TOKEN``."""
    return slug_env_prefix(slug) + "_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def webhook_secret_var(slug: str) -> str:
    """The signing secret of ``synthral listen SLUG`` (or ``--secret-stdin``)."""
    return slug_env_prefix(slug) + "_WEBHOOK_SECRET"


def setting_var(slug: str, name: str) -> str:
    """A connection setting from the environment: ``SYNTHRAL_ZENDESK_SUBDOMAIN`` (as rclone's
    ``RCLONE_CONFIG_<REMOTE>_<OPTION>``)."""
    return slug_env_prefix(slug) + "_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def nango_integration_var(slug: str) -> str:
    """Overrides the manifest's ``nango.provider_key`` (the integration's unique key in Nango)."""
    return slug_env_prefix(slug) + "_NANGO_INTEGRATION"


def make_private_dirs(path: Path) -> None:
    """Create ``path`` and every missing parent with mode 0700 (whatever the umask): everything
    synthral creates under its config directory is readable by the owner only. Existing
    directories are left as they are."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o700)
        except FileExistsError:
            continue
        os.chmod(directory, 0o700)  # mkdir's mode is masked by the umask


def default_config_dir() -> Path:
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False, roaming=True)


class Paths:
    """Every file synthral reads or writes, derived from one config directory."""

    __slots__ = ("config_dir",)

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir

    def __repr__(self) -> str:
        return f"Paths({self.config_dir!r})"

    @property
    def store(self) -> Path:
        return self.config_dir / STORE_FILENAME

    @property
    def config_file(self) -> Path:
        return self.config_dir / CONFIG_FILENAME

    @property
    def key_file(self) -> Path:
        return self.config_dir / KEY_FILENAME

    @property
    def user_manifests(self) -> Path:
        return self.config_dir / USER_MANIFESTS_DIRNAME

    @property
    def cache_dir(self) -> Path:
        return self.config_dir / CACHE_DIRNAME

    @property
    def cache_key(self) -> Path:
        """The random key that authenticates the catalogue cache (outside the cache folder, so a
        cache folder copied or restored from elsewhere is not trusted)."""
        return self.config_dir / CACHE_KEY_FILENAME

    @property
    def spool(self) -> Path:
        """Accepted trigger events (webhooks, watch) and watch positions: owner-only SQLite."""
        return self.config_dir / SPOOL_FILENAME


class Settings:
    """What the environment says, read once. Tests build one from a dict."""

    __slots__ = ("env",)

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.env: Mapping[str, str] = dict(os.environ) if env is None else env

    @property
    def paths(self) -> Paths:
        raw = self.env.get(CONFIG_DIR)
        return Paths(Path(raw).expanduser() if raw else default_config_dir())

    @property
    def extra_manifest_dirs(self) -> list[Path]:
        """The folders of ``SYNTHRAL_MANIFESTS_PATH``. A relative entry is refused: it would be
        read from whatever the current directory is (a checked-out repository in CI)."""
        raw = self.env.get(MANIFESTS_PATH, "")
        dirs = []
        for entry in raw.split(os.pathsep):
            if not entry:
                continue
            d = Path(entry).expanduser()
            if not d.is_absolute():
                from .errors import UsageError

                raise UsageError(
                    f"{MANIFESTS_PATH} has the relative entry {entry!r}; synthral does not read "
                    "manifests relative to the current directory.",
                    f"Use an absolute path, e.g. {MANIFESTS_PATH}={os.path.abspath(d)} "
                    "(only if you trust every manifest in it).",
                )
            dirs.append(d)
        return dirs

    @property
    def store_key(self) -> str | None:
        return self.env.get(STORE_KEY) or None

    @property
    def store_url(self) -> str | None:
        """Where a shared store is (``SYNTHRAL_STORE_URL``, ``--store-url``, or ``store_url`` in
        ``config.toml`` of the config directory); ``None`` = the SQLite file."""
        value = self.env.get(STORE_URL)
        if value is None:
            value = _config_value(self.paths.config_file, "store_url")
        return (value.strip() or None) if value else None

    @property
    def store_lock_timeout(self) -> float:
        """How long a command waits for a connection's lock (a refresh elsewhere) before exit 4."""
        raw = self.env.get(STORE_LOCK_TIMEOUT, "")
        try:
            value = float(raw) if raw else 30.0
        except ValueError:
            value = 30.0
        return value if 0 < value < 3600 else 30.0

    @property
    def ca_bundle(self) -> str | None:
        return self.env.get(CA_BUNDLE) or None

    @property
    def allow_insecure(self) -> bool:
        """``SYNTHRAL_ALLOW_INSECURE=1`` (or ``--allow-insecure``): plain text to a host that is
        not loopback is allowed (``basics.insecure``)."""
        return self.env.get(ALLOW_INSECURE, "").strip().lower() in {"1", "true", "yes", "on"}

    @property
    def mcp_bearer_token(self) -> str | None:
        return self.env.get(MCP_BEARER_TOKEN) or None

    def client_id(self, slug: str) -> str | None:
        return self.env.get(client_id_var(slug)) or None

    def client_secret(self, slug: str) -> str | None:
        return self.env.get(client_secret_var(slug)) or None

    @property
    def ignore_env(self) -> bool:
        """``--ignore-env``: the stored connection is used even when the environment has a token
        or settings for it."""
        return self.env.get(IGNORE_ENV, "").strip().lower() in {"1", "true", "yes", "on"}

    def token_override(self, slug: str) -> str | None:
        if self.ignore_env:
            return None
        return self.env.get(token_var(slug)) or None

    def setting_overrides(self, slug: str, names: Iterable[str]) -> dict[str, str]:
        """``SYNTHRAL_<SLUG>_<SETTING>`` for each of ``names`` that is set (and not ignored)."""
        if self.ignore_env:
            return {}
        found = ((name, self.env.get(setting_var(slug, name))) for name in names)
        return {name: value for name, value in found if value}

    @property
    def nango_url(self) -> str:
        return (self.env.get(NANGO_URL) or NANGO_DEFAULT_URL).rstrip("/")

    @property
    def nango_secret_key(self) -> str | None:
        return self.env.get(NANGO_SECRET_KEY) or None

    @property
    def nango_enabled(self) -> bool:
        """Nango is used when a secret key is set and ``NANGO_ENABLED`` is not false."""
        flag = self.env.get(NANGO_ENABLED, "").strip().lower()
        if flag in {"0", "false", "no", "off"}:
            return False
        return self.nango_secret_key is not None


def _config_value(path: Path, key: str) -> str | None:
    """One string setting of ``config.toml`` (``key = "value"``), or ``None``; the file is read
    only when it exists. A file that is not TOML is a usage error naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        from .errors import UsageError

        raise UsageError(f"cannot read {path}: {exc.strerror}.", "Fix its permissions or remove it.") from None
    try:
        import tomllib
    except ImportError:  # Python 3.10: the one kind of line synthral writes and reads
        for line in text.splitlines():
            name, eq, value = line.partition("=")
            if eq and name.strip() == key:
                return value.strip().strip("\"'")
        return None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        from .errors import UsageError

        raise UsageError(f"{path} is not valid TOML: {exc}.", f"Fix it, e.g. {key} = \"postgresql://...\"") from None
    found = data.get(key)
    return found if isinstance(found, str) else None
