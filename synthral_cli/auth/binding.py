"""Origin binding: the one place that decides where a credential may be sent.

A connection records, when it is made (authorize, ``--with-token``, import, Nango), the origins
(``scheme://host[:port]``) its credential may go to: the manifest's API ``base_url`` and every
action ``base_url`` with the connection's settings filled in, and its token, refresh and
revocation endpoints (``connection_origins``). The generic ``http`` connector binds to the hosts
given at authorization; SMTP and PostgreSQL to their server host.

Every request that carries a credential passes ``Binding.check`` on its way out: HTTP through an
httpx request hook (each hop, so a redirect is checked too), OAuth token calls (refresh token,
client secret) through the same hook, SMTP and PostgreSQL before they connect. Anything else is
refused with ``AuthError`` (exit 3) before a byte is sent, naming the origin and how to re-bind.
Plain ``http`` is allowed only to a loopback host.

Where nothing was recorded (connections stored before binding existed), and for
``SYNTHRAL_<SLUG>_TOKEN``, the origins come from the *bundled* manifest of the slug, never from a
user manifest that shadows it (``trusted_manifest``); a slug with no bundled manifest trusts its
user manifest, which nothing else defines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..basics.errors import AuthError, UsageError
from ..basics.insecure import is_loopback  # the one loopback rule, shared with the cleartext checks
from ..catalogue.manifest import Manifest
from ..catalogue.templates import render_url

if TYPE_CHECKING:
    import httpx

    from ..store.model import Connection
    from .context import Context
    from .credential import Credential

EXTENSION = "synthral.binding"  # the httpx request extension that carries a request's Binding
TOKEN_ENDPOINTS = ("token_url", "refresh_url", "revocation_url")


_PLAIN_URL = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://(?:[^/?#\\@\s]*@)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?=[/?#]|$)"
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(url: str | httpx.URL) -> str:
    """``scheme://host[:port]`` as httpx will connect to it (host lower-cased and IDNA-encoded,
    a default port dropped, user info ignored); ``""`` when ``url`` is not an absolute URL.
    A plain ASCII URL is read without httpx (a dry run does not load it); anything unusual
    (backslashes, non-ASCII hosts, odd ports) is read by httpx itself, which sends it."""
    if not isinstance(url, str) and type(url).__module__.split(".")[0] == "httpx2":
        url = str(url)  # Authlib's token client is built on httpx2 when that is installed (mcp brings it)
    if isinstance(url, str):
        m = _PLAIN_URL.match(url)
        if m and m.group(3) is None or m and 0 < int(m.group(3)) < 65536:
            scheme, host = m.group(1).lower(), m.group(2).lower()
            port = int(m.group(3)) if m.group(3) else None
            if host.startswith("[") or (host and not host.startswith(".") and ".." not in host):
                shown = "" if port is None or port == _DEFAULT_PORTS.get(scheme) else f":{port}"
                return f"{scheme}://{host}{shown}"
    import httpx

    try:
        u = url if isinstance(url, httpx.URL) else httpx.URL(url)
        host = u.raw_host.decode("ascii").lower()
    except (httpx.InvalidURL, UnicodeError, TypeError, ValueError):
        return ""
    if not u.scheme or not host:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{u.scheme.lower()}://{host}" + (f":{u.port}" if u.port else "")


def server_origin(scheme: str, host: str) -> str:
    """The origin of a non-HTTP server (``smtp://mail.example.com``, ``postgresql://db``)."""
    host = host.strip().lower()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{scheme}://{host}"


def _host(hostport: str) -> str:
    """``[::1]:8443`` -> ``::1``; ``api.example.com:8443`` -> ``api.example.com``."""
    if hostport.startswith("["):
        return hostport[1:].split("]", 1)[0]
    return hostport.rsplit(":", 1)[0] if hostport.count(":") == 1 else hostport


def cleartext(target: str) -> bool:
    """True for plain ``http`` to a host that is not loopback."""
    scheme, _, rest = target.partition("://")
    return scheme == "http" and not is_loopback(_host(rest))


# ---------------------------------------------------------------------------------------------
# Which origins a connection is bound to


def _render(template: str, fields: Mapping[str, Any], manifest: Manifest) -> str | None:
    """A URL template with settings filled in, or None when a setting it needs is missing or a
    value is not acceptable for it (that URL cannot be used by the connection either)."""
    try:
        return render_url(template, dict(fields), manifest)
    except UsageError:
        return None


def _hosts(value: Any) -> list[str]:
    return [h.strip() for h in str(value or "").replace(" ", ",").split(",") if h.strip()]


def connection_origins(manifest: Manifest, fields: Mapping[str, Any]) -> list[str]:
    """Where a connection of ``manifest`` with these settings (and secrets) may send its
    credential: API and action base URLs, token/refresh/revocation endpoints; SMTP and
    PostgreSQL servers; the ``http`` connector's hosts."""
    auth = manifest.auth
    out: list[str] = []

    def add(target: str | None) -> None:
        if target and target not in out:
            out.append(target)

    if manifest.transport == "smtp":
        if fields.get("host"):
            add(server_origin("smtp", str(fields["host"])))
        return out
    if manifest.transport == "postgresql":
        for host in postgres_hosts(fields):
            add(server_origin("postgresql", host))
        return out
    if auth.get("scheme") == "http_generic":
        for host in _hosts(fields.get("host")) + _hosts(fields.get("extra_hosts")):
            add(origin(f"https://{host}"))
            if is_loopback(_host(host)):
                add(origin(f"http://{host}"))
        return out
    templates = [manifest.base_url] + [str(a.raw["base_url"]) for a in manifest.actions if a.raw.get("base_url")]
    if manifest.auth_type == "oauth2":
        templates += [str(auth[k]) for k in TOKEN_ENDPOINTS if auth.get(k)]
    for template in templates:
        if template:
            url = _render(template, fields, manifest)
            add(origin(url) if url else None)
    return out


def check_settings(manifest: Manifest, config: Mapping[str, Any]) -> dict[str, Any]:
    """Connection settings decide origins: each one the manifest declares must match its pattern
    (and may not reshape a URL) wherever it enters — authorize, an import, a server's request.
    ``UsageError`` (exit 2) otherwise."""
    from ..catalogue.templates import check_config_value

    for name, value in config.items():
        if name in manifest.connection_config and value not in (None, ""):
            check_config_value(manifest, name, str(value))
    return dict(config)


def postgres_hosts(fields: Mapping[str, Any]) -> list[str]:
    """The server host(s) a PostgreSQL credential goes to: the dsn's and the ``host`` field's,
    else libpq's ``PGHOST``/``PGHOSTADDR``, else the local socket (``localhost``)."""
    dsn = str(fields.get("dsn") or "")
    hosts: list[str] = []
    if dsn:
        if "://" in dsn:
            from urllib.parse import parse_qs, urlsplit

            parts = urlsplit(dsn)
            netloc = parts.netloc.rpartition("@")[2]
            for item in netloc.split(","):
                host = item.rsplit(":", 1)[0] if not item.endswith("]") else item
                if host:
                    hosts.append(host.strip("[]"))
            query = parse_qs(parts.query)
            hosts += [h for v in query.get("host", []) + query.get("hostaddr", []) for h in v.split(",")]
        else:
            for m in re.finditer(r"(host|hostaddr)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn):
                hosts += [h for h in m.group(2).strip("'").split(",") if h]
    if fields.get("host"):
        hosts += _hosts(fields["host"])
    if not hosts:  # libpq falls back on the environment, then on the local socket
        import os

        hosts = _hosts(os.environ.get("PGHOST")) + _hosts(os.environ.get("PGHOSTADDR"))
    from urllib.parse import unquote

    return [unquote(h) for h in hosts] or ["localhost"]


def bundled_manifest(ctx: Context, slug: str) -> Manifest | None:
    """The manifest shipped with synthral for ``slug``, whatever user manifests say."""
    from ..catalogue.loading import load_bundled

    return load_bundled(slug, ctx.paths.cache_dir, ctx.paths.cache_key)


def trusted_manifest(ctx: Context, manifest: Manifest) -> Manifest:
    """The bundled manifest of the slug when there is one (a user manifest that shadows it is not
    trusted with stored or environment credentials), else ``manifest`` itself."""
    if manifest.bundled:
        return manifest
    return bundled_manifest(ctx, manifest.slug) or manifest


def default_origins(ctx: Context, manifest: Manifest, fields: Mapping[str, Any]) -> list[str]:
    """For a credential that recorded no origins (stored before binding, or an env token)."""
    return connection_origins(trusted_manifest(ctx, manifest), fields)


def bound_origins(ctx: Context, manifest: Manifest, conn: Connection) -> list[str]:
    """The origins a stored connection is bound to; for one stored before binding existed
    (``origins == []``), those of the bundled manifest with its settings. A connection bound to
    a bundled manifest's API also follows that manifest when an upgrade adds an endpoint."""
    fields = {**conn.config, **conn.secrets}
    if not conn.origins:
        return default_origins(ctx, manifest, fields)
    recorded = list(conn.origins)
    if manifest.bundled:  # a newer bundled manifest may add an endpoint of the same provider
        current = connection_origins(manifest, fields)
        if current and current[0] in recorded:  # it was authorized for this API
            recorded += [o for o in current if o not in recorded]
    return recorded


def endpoint_origins(manifest: Manifest, config: Mapping[str, Any]) -> list[str]:
    """The origins of the OAuth endpoints that receive the app's client secret."""
    out: list[str] = []
    for key in (*TOKEN_ENDPOINTS, "device_authorization_url"):
        url = _render(str(manifest.auth[key]), config, manifest) if manifest.auth.get(key) else None
        target = origin(url) if url else ""
        if target and target not in out:
            out.append(target)
    return out


# ---------------------------------------------------------------------------------------------
# The check


@dataclass(frozen=True)
class Binding:
    """The origins one credential may be sent to, and how to re-bind it."""

    slug: str
    connection: str = "default"
    origins: tuple[str, ...] = ()
    what: str = "credentials"
    rebind: str = field(default="")
    reason: str = ""  # why these origins (default: "the <name> connection is bound to ...")

    @classmethod
    def of(
        cls, slug: str, connection: str, origins: Iterable[str], *, what: str = "credentials", source: str = ""
    ) -> Binding:
        flag = f" --connection {connection}" if connection != "default" else ""
        if source == "environment":
            from ..basics.settings import token_var

            rebind = (
                f"{token_var(slug)} is sent only to the origins of {slug}'s bundled manifest; "
                f"store it for another host with: synthral authorize {slug}{flag} --with-token"
            )
        else:
            rebind = f"If that host is right, bind the connection to it again: synthral authorize {slug}{flag}"
        return cls(slug, connection, tuple(dict.fromkeys(origins)), what, rebind)

    def check(self, url: str | httpx.URL) -> None:
        """Raise ``AuthError`` unless ``url`` is on a bound origin (and not cleartext)."""
        self._check(origin(url) or repr(str(url)[:80]))

    def check_server(self, scheme: str, host: str) -> None:
        """The same for an SMTP or PostgreSQL server, before connecting to it."""
        self._check(server_origin(scheme, host))

    def _check(self, target: str) -> None:
        if target in self.origins and not cleartext(target):
            return
        bound = ", ".join(self.origins) if self.origins else "no origin"
        if cleartext(target):
            message = f"Refusing to send the {self.slug} {self.what} over plain http to {target}."
        else:
            why = self.reason or f"the {self.connection!r} connection is bound to {bound}"
            message = f"Refusing to send the {self.slug} {self.what} to {target}: {why}."
        raise AuthError(message, self.rebind)

    def hook(self, request: httpx.Request) -> None:
        """An httpx ``request`` event hook: runs before each request (and redirect) is sent."""
        self.check(request.url)


def credential_binding(manifest: Manifest, cred: Credential) -> Binding:
    """The binding of a resolved credential, with the way to re-bind it for this connector."""
    binding = Binding.of(cred.slug, cred.connection, cred.origins, source=cred.source)
    if manifest.auth.get("scheme") == "http_generic" and cred.source != "environment":
        flag = f" --connection {cred.connection}" if cred.connection != "default" else ""
        binding = replace(
            binding,
            rebind=f"Bind it to that host too: synthral authorize {manifest.slug}{flag} "
            "--config host=HOST --config extra_hosts=HOST2,HOST3",
        )
    return binding


def request_hook(request: httpx.Request) -> None:
    """The hook of the shared HTTP client: checks the ``Binding`` a request carries, if any."""
    binding = request.extensions.get(EXTENSION)
    if binding is not None:
        binding.check(request.url)
