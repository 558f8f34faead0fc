"""A small client for Nango's REST API (unified OAuth), for teams that keep tokens in Nango.

Only the endpoints synthral needs, as documented in Nango's OpenAPI spec:

    POST   /connect/sessions                       start a hosted auth flow -> data.connect_link
    GET    /connections?tags[k]=v                  find the connection a flow created
    GET    /connections/{id}?provider_config_key=  a connection with its credentials
    DELETE /connections/{id}?provider_config_key=  remove it
    POST   /connections                            import tokens we already hold
    GET    /integrations/{unique_key}              does the integration exist?
    *      /proxy/{path}                           call the provider with Nango's token

Known differences between the spec and the real server, encoded here on purpose: the server requires
``tags`` (or an end user) on connect sessions; it answers ``201`` to ``POST /connections`` (the spec
says 200); an unknown connection id is ``400 unknown_connection`` (as well as the spec's ``404``).

Every answer of the API (not the proxy's) must be JSON of the expected shape: HTML (the dashboard's
port) or JSON of another shape is ``NotNango`` (exit 4), never a crash and never "key accepted".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..basics import redact
from ..basics.errors import AuthError, NetworkError, ProviderError, UsageError

CACHE_MAX_SECONDS = 300.0
NO_EXPIRY_SECONDS = 10 * 365 * 86400.0


class NotNango(NetworkError):
    """``NANGO_URL`` answers, but not like Nango's API (HTML, or JSON of another shape)."""
    HINT = "Set NANGO_URL to Nango's API (https://api.nango.dev for Nango Cloud; a self-hosted server's API address, not its dashboard)."  # noqa: E501


def _is_auth_error(errors: Any) -> bool:
    return isinstance(errors, list) and any(isinstance(e, dict) and e.get("type") == "auth" for e in errors)


@dataclass
class NangoCredential:
    """What ``GET /connections/{id}`` gave us, normalised to synthral's secret names."""

    secrets: dict[str, str]
    config: dict[str, Any]
    expires_at: float | None
    raw_type: str


def parse_credentials(conn: dict[str, Any]) -> NangoCredential:
    creds = conn.get("credentials") or {}
    kind = str(creds.get("type", ""))
    secrets: dict[str, str] = {}
    if kind == "OAUTH2":
        secrets["access_token"] = creds["access_token"]
        if creds.get("refresh_token"):
            secrets["refresh_token"] = creds["refresh_token"]
    elif kind == "OAUTH2_CC":
        secrets["access_token"] = creds["token"]
    elif kind == "API_KEY":
        secrets["api_key"] = creds["apiKey"]
    elif kind == "BASIC":
        secrets["username"] = creds["username"]
        secrets["password"] = creds["password"]
    elif kind == "OAUTH1":
        secrets["access_token"] = creds.get("oauth_token", "")
    else:
        raise ProviderError(
            f"Nango returned credentials of type {kind or 'unknown'!r}, which synthral cannot use.",
            "Use a connector whose auth Nango holds as OAuth 2.0, API key or basic credentials.",
        )
    redact.register(*secrets.values())
    expires_at = None
    if creds.get("expires_at"):
        expires_at = _parse_time(str(creds["expires_at"]))
    return NangoCredential(secrets, dict(conn.get("connection_config") or {}), expires_at, kind)


def _parse_time(value: str) -> float | None:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class NangoClient:
    """Calls Nango with the environment's secret key. Every failure becomes a SynthralError."""

    def __init__(self, base_url: str, secret_key: str, *, timeout: float = 30.0, verify: Any = True) -> None:
        import httpx

        from ..basics.version import __version__

        redact.register(secret_key)
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {secret_key}", "User-Agent": f"synthral/{__version__}"},
            timeout=timeout,
            verify=verify,
        )
        self._cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def close(self) -> None:
        self._client.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _request(self, method: str, path: str, *, api: bool = True, **kw: Any) -> Any:
        """One call; ``api=False`` for the proxy, whose answers are the provider's."""
        import httpx

        try:
            resp = self._client.request(method, path, **kw)
        except httpx.TimeoutException:
            raise NetworkError(
                f"Nango at {self.base_url} did not answer in time.",
                "Check NANGO_URL and that the Nango server is up.",
            ) from None
        except httpx.HTTPError as exc:
            raise NetworkError(
                f"Cannot reach Nango at {self.base_url} ({type(exc).__name__}).",
                "Check NANGO_URL and your network; unset NANGO_SECRET_KEY to use direct OAuth.",
            ) from None
        if api:
            self._check_json(resp)
        if resp.status_code == 401:
            raise AuthError(
                "Nango refused the secret key (401).",
                "Set NANGO_SECRET_KEY to an environment secret key from your Nango dashboard.",
            )
        return resp

    def _not_nango(self, what: str) -> NotNango:
        return NotNango(f"{self.base_url} does not look like Nango's API: {what}.", NotNango.HINT)

    def _check_json(self, resp: Any) -> None:
        """Nango's API answers JSON (or nothing); anything else is another server."""
        ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
        if resp.status_code == 204 or not resp.content or ctype in ("application/json", "application/problem+json"):
            return
        raise self._not_nango(f"it answered HTTP {resp.status_code} with {ctype or 'no content type'}, not JSON")

    def _shaped(self, resp: Any, key: str | None = None, kind: type = dict) -> Any:
        """The JSON object of a successful answer, or its ``key`` of type ``kind``."""
        try:
            body = resp.json()
        except ValueError:  # sent as JSON, but is not
            body = None
        value = body.get(key) if isinstance(body, dict) and key is not None else body
        if isinstance(body, dict) and isinstance(value, kind):
            return value
        what = f"{resp.request.method} {resp.request.url.path} did not answer "
        raise self._not_nango(what + (f"an object with {key!r}" if key else "a JSON object"))

    @staticmethod
    def _error(resp: Any) -> tuple[str, str]:
        try:
            body = resp.json()
            err = (body.get("error") if isinstance(body, dict) else None) or {}
        except ValueError:
            return "", resp.text[:200]
        if isinstance(err, str):
            return err, err
        return str(err.get("code", "")), str(err.get("message") or err.get("code") or "")

    def _fail(self, resp: Any, what: str) -> ProviderError:
        code, message = self._error(resp)
        return ProviderError(
            f"Nango could not {what}: HTTP {resp.status_code} {message or code}".rstrip(),
            "Check the Nango dashboard's logs for this request.",
            status=resp.status_code,
        )

    # -- integrations -------------------------------------------------------------------------

    def require_integration(self, unique_key: str) -> None:
        resp = self._request("GET", f"/integrations/{_seg(unique_key)}")
        if resp.status_code == 404:
            raise UsageError(
                f"Nango has no integration {unique_key!r}.",
                f"Create the integration {unique_key!r} in your Nango dashboard first, then retry.",
            )
        if resp.status_code >= 400:
            raise self._fail(resp, f"read the integration {unique_key!r}")

    # -- connect sessions ---------------------------------------------------------------------

    def create_connect_session(
        self, unique_key: str, tags: dict[str, str], *, connection_config: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``data.token``, ``data.connect_link`` (for the person to open) and ``data.expires_at``.

        The link is shown to the user on purpose, so its session token is not redacted; it is
        single-use and expires after 30 minutes. ``connection_config`` becomes the integration's
        defaults (``oauth_scopes_override``, per-connection settings such as a subdomain).
        """
        body: dict[str, Any] = {"tags": tags, "allowed_integrations": [unique_key]}
        if connection_config:
            body["integrations_config_defaults"] = {unique_key: {"connection_config": connection_config}}
        resp = self._request("POST", "/connect/sessions", json=body)
        if resp.status_code >= 400:
            code, message = self._error(resp)
            if "integration" in code or "integration" in message.lower():
                raise UsageError(
                    f"Nango has no integration {unique_key!r}.",
                    f"Create the integration {unique_key!r} in your Nango dashboard first, then retry.",
                )
            raise self._fail(resp, "start a connect session")
        return dict(self._shaped(resp, "data"))

    def find_connections(self, tags: dict[str, str]) -> list[dict[str, Any]]:
        params = {f"tags[{k}]": v for k, v in tags.items()}
        resp = self._request("GET", "/connections", params=params)
        if resp.status_code >= 400:
            raise self._fail(resp, "list connections")
        return list(self._shaped(resp, "connections", list))

    def list_connections(self) -> list[dict[str, Any]]:
        return self.find_connections({})

    def probe(self) -> int:
        """``GET /connections?limit=1``: raises like every call when Nango is unreachable, refuses
        the key or is not Nango; returns how many connections came back (0 or 1)."""
        resp = self._request("GET", "/connections", params={"limit": 1})
        if resp.status_code >= 400:
            raise self._fail(resp, "list connections")
        return len(self._shaped(resp, "connections", list))

    def wait_for_connection(
        self, tags: dict[str, str], *, timeout: float, interval: float = 2.0, sleep: Any = time.sleep
    ) -> dict[str, Any]:
        """Poll ``GET /connections`` filtered by the session's tags until it appears."""
        deadline = time.monotonic() + timeout
        delay = min(interval, 0.5)
        while True:
            found = self.find_connections(tags)
            if found:
                return found[0]
            if time.monotonic() >= deadline:
                raise AuthError(
                    f"No connection was made in Nango within {timeout:.0f} s.",
                    "Open the connect link again (rerun authorize) or raise --timeout.",
                )
            sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 1.5, interval)

    # -- connections --------------------------------------------------------------------------

    def get_connection(
        self,
        connection_id: str,
        unique_key: str,
        *,
        force_refresh: bool = False,
        reconnect: str = "synthral authorize SLUG --method nango",
    ) -> dict[str, Any]:
        """The connection with its credentials; ``reconnect`` is the command that fixes a lost
        authorization (it goes into the AuthError hints)."""
        key = (connection_id, unique_key)
        now = time.time()
        if not force_refresh and key in self._cache and self._cache[key][0] > now:
            return self._cache[key][1]
        params: dict[str, str] = {"provider_config_key": unique_key}
        if force_refresh:
            params["force_refresh"] = "true"
        resp = self._request("GET", f"/connections/{_seg(connection_id)}", params=params)
        if resp.status_code == 424:
            _, message = self._error(resp)
            self._cache.pop(key, None)
            raise AuthError(
                f"Nango could not refresh the connection {connection_id!r}: "
                f"{message or 'refresh exhausted'}.",
                f"Reconnect it: {reconnect}",
            )
        if resp.status_code in (400, 404):
            code, message = self._error(resp)
            if resp.status_code == 404 or code == "unknown_connection":
                raise AuthError(
                    f"Nango has no connection {connection_id!r} for {unique_key!r}.",
                    f"Connect it again: {reconnect}",
                )
        if resp.status_code >= 400:
            raise self._fail(resp, f"read the connection {connection_id!r}")
        conn = dict(self._shaped(resp))
        if _is_auth_error(conn.get("errors")):
            raise AuthError(
                f"Nango reports that the connection {connection_id!r} lost its authorization.",
                f"Reconnect it: {reconnect}",
            )
        cred = parse_credentials(conn)
        life = CACHE_MAX_SECONDS if cred.expires_at is None else min(CACHE_MAX_SECONDS, cred.expires_at - now)
        if life > 0:
            self._cache[key] = (now + life, conn)
        return conn

    def delete_connection(self, connection_id: str, unique_key: str) -> bool:
        resp = self._request(
            "DELETE", f"/connections/{_seg(connection_id)}", params={"provider_config_key": unique_key}
        )
        self._cache.pop((connection_id, unique_key), None)
        if resp.status_code in (400, 404):
            code, _ = self._error(resp)
            if resp.status_code == 404 or code == "unknown_connection":
                return False
        if resp.status_code >= 400:
            raise self._fail(resp, f"delete the connection {connection_id!r}")
        return True

    def import_connection(
        self,
        unique_key: str,
        connection_id: str,
        credentials: dict[str, Any],
        *,
        connection_config: dict[str, Any] | None = None,
        tags: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "provider_config_key": unique_key,
            "connection_id": connection_id,
            "credentials": credentials,
        }
        if connection_config:
            body["connection_config"] = connection_config
        if tags:
            body["tags"] = tags
        resp = self._request("POST", "/connections", json=body)
        if resp.status_code not in (200, 201):  # the real server answers 201, the spec says 200
            code, message = self._error(resp)
            if "integration" in code or "provider_config" in code or "integration" in message.lower():
                raise UsageError(
                    f"Nango has no integration {unique_key!r}.",
                    f"Create the integration {unique_key!r} in your Nango dashboard first, then retry.",
                )
            raise self._fail(resp, "import the connection")
        return dict(self._shaped(resp))

    # -- proxy --------------------------------------------------------------------------------

    def proxy(
        self,
        method: str,
        path: str,
        connection_id: str,
        unique_key: str,
        *,
        params: Any = None,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> Any:
        hdrs = {"Connection-Id": connection_id, "Provider-Config-Key": unique_key}
        for k, v in (headers or {}).items():
            hdrs[k] = v
        return self._request(
            method, "/proxy/" + path.lstrip("/"), api=False, params=params, headers=hdrs, content=content
        )


def _seg(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def oauth2_import_credentials(secrets: dict[str, str], expires_at: float | None) -> dict[str, Any]:
    """Credentials for ``POST /connections``; ``expires_at`` always set so Nango keeps refreshing."""
    creds: dict[str, Any] = {"type": "OAUTH2", "access_token": secrets["access_token"]}
    if secrets.get("refresh_token"):
        creds["refresh_token"] = secrets["refresh_token"]
    if expires_at is None:
        # Without an expiry Nango would never refresh: a refreshable token of unknown life is
        # treated as expiring now (Nango refreshes it and learns the real life); a token that
        # cannot be refreshed and has no known expiry (e.g. a Slack bot token) does not expire.
        expires_at = time.time() if creds.get("refresh_token") else time.time() + NO_EXPIRY_SECONDS
    creds["expires_at"] = iso(expires_at)
    return creds


def import_credentials(auth_type: str, secrets: dict[str, str], expires_at: float | None) -> dict[str, Any]:
    """``POST /connections`` credentials for a local connection of ``auth_type``."""
    if auth_type == "oauth2" and secrets.get("access_token"):
        return oauth2_import_credentials(secrets, expires_at)
    if auth_type in ("api_key", "bearer") and (secrets.get("api_key") or secrets.get("token")):
        return {"type": "API_KEY", "apiKey": secrets.get("api_key") or secrets["token"]}
    if auth_type == "basic" and secrets.get("username"):
        return {"type": "BASIC", "username": secrets["username"], "password": secrets.get("password", "")}
    raise UsageError(
        f"Nango cannot hold these {auth_type} credentials "
        f"(it takes an OAuth 2.0 token, an API key or a username and password).",
        "Keep this connection in the local store.",
    )
