"""Request preparation: an action, its checked parameters and a resolved credential become one
exact ``PreparedRequest`` (URL from the manifest and the connection's settings, the credential
injected as the manifest says, the body encoded). Nothing here sends."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from ..basics import redact
from ..basics.errors import AuthError, UsageError
from ..catalogue.manifest import Action, Manifest, Parameter
from ..catalogue.templates import _PLACEHOLDER, missing_setting, render_url
from .encoders import FileValue, encode_multipart, encoder, flatten_form, path_segment, query_pairs, scalar
from .request import (
    USER_AGENT,
    Options,
    PreparedRequest,
    _check_header,
    _display,
    credential_fields,
    secret_values,
)

if TYPE_CHECKING:
    from ..auth.credential import Credential

def _is_loopback(host: str) -> bool:
    return host in {"localhost", "::1"} or host.startswith("127.")


def _nest(target: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = value


class Invocation:
    """One action of one connector with checked parameters and a resolved credential."""

    def __init__(
        self,
        manifest: Manifest,
        action: Action,
        params: dict[str, Any],
        credential: Credential | None,
        options: Options,
    ) -> None:
        self.manifest = manifest
        self.action = action
        self.params = params
        self.credential = credential
        self.options = options
        self.needs: list[str] = []  # a dry run: the settings it shows as <name>, with how to give them

    @property
    def sends_credentials(self) -> bool:
        return self.action.raw.get("auth", True) is not False and self.manifest.auth_type != "none"

    @property
    def idempotent(self) -> bool:
        if self.action.raw.get("transport_op") == "http_request" and "idempotent" not in self.action.raw:
            return str(self.params.get("method") or self.action.method).upper() in {
                "GET",
                "HEAD",
                "PUT",
                "DELETE",
                "OPTIONS",
            }
        return self.action.idempotent

    # -- credentials ----------------------------------------------------------------------

    def _fields(self) -> dict[str, Any]:
        return credential_fields(self.manifest, self.credential)

    def _secret_values(self) -> list[str]:
        return secret_values(self.manifest, self._fields())

    def _field(self, *names: str) -> str:
        fields = self._fields()
        for n in names:
            if fields.get(n):
                return str(fields[n])
        raise self._missing_field(names[0])

    def _missing_field(self, name: str) -> AuthError:
        slug = self.manifest.slug
        return AuthError(f"The {slug} connection has no {name!r}.", f"Run: synthral authorize {slug}")

    def _fill(self, template: str, fields: dict[str, Any] | None = None) -> str:
        """``{name}`` from the credential's fields (or ``fields``). A connection setting that is
        not set is a usage error naming ``--config``; a literal ``{name}`` is never sent."""
        fields = self._fields() if fields is None else fields
        placeholder = self.credential is not None and self.credential.source == "placeholder"

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if fields.get(name) not in (None, ""):
                return str(fields[name])
            spec = self.manifest.connection_config.get(name)
            if spec is not None and spec.get("default"):
                return str(spec["default"])
            if spec is not None and (placeholder or self.options.dry_run):
                return self._unset(name)
            if placeholder:  # a dry run without a connection
                return f"<{name}>"
            if spec is not None:
                raise missing_setting(self.manifest, name, self.options.connection)
            raise self._missing_field(name)

        return _PLACEHOLDER.sub(sub, template)

    def auth_parts(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """``(headers, query pairs)`` that carry the credential (SigV4 is signed later)."""
        if not self.sends_credentials:
            return [], []
        auth = self.manifest.auth
        kind = auth["type"]
        headers: list[tuple[str, str]] = []
        query: list[tuple[str, str]] = []
        self._auth_sent = kind == "custom" and auth.get("scheme") == "aws_sigv4"
        self._path_auth = {i["name"]: self._fill(i["value"]) for i in auth.get("inject", []) if i["in"] == "path"}
        inject = [i for i in auth.get("inject", []) if i["in"] != "path"]
        # oauth2/bearer/basic: auth.inject adds to the default header unless it names that
        # header itself; for api_key and custom the injections are the whole credential.
        default_header = auth.get("token_header", "Authorization") if kind == "oauth2" else "Authorization"
        replaced = any(i["in"] == "header" and i["name"].lower() == default_header.lower() for i in inject)
        if auth.get("inject") and (kind not in {"oauth2", "bearer", "basic"} or replaced):
            pass
        elif kind == "oauth2":
            prefix = auth.get("token_prefix", "Bearer ")
            headers.append((default_header, prefix + self._field("access_token", "token")))
        elif kind == "bearer":
            headers.append(("Authorization", "Bearer " + self._field("token", "access_token")))
        elif kind == "api_key":
            headers.append(("Authorization", "Bearer " + self._field("api_key", "token", "access_token")))
        elif kind == "basic":
            headers.append(
                ("Authorization", self._basic(self._field("username"), self._fields().get("password", "")))
            )
        elif kind == "custom" and auth.get("scheme") == "http_generic":
            headers.extend(self._http_generic())
        elif kind == "custom" and auth.get("scheme") != "aws_sigv4":
            raise UsageError(
                f"{self.manifest.slug}'s manifest does not say how to apply its credentials.",
                "Add auth.inject to the manifest (or a known auth.scheme).",
            )
        for inj in inject:
            value = self._fill(inj["value"])
            (headers if inj["in"] == "header" else query).append((inj["name"], value))
        self._auth_sent = self._auth_sent or bool(headers or query or self._path_auth)
        return headers, query

    def _basic(self, user: str, password: str) -> str:
        import base64

        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        redact.register(token)
        self._extra_masks.append(token)
        return "Basic " + token

    _extra_masks: list[str]
    _auth_sent: bool = False
    _path_auth: dict[str, str]

    def _http_generic(self) -> list[tuple[str, str]]:
        fields = self._fields()
        scheme = str(
            fields.get("scheme")
            or ("bearer" if fields.get("token") or fields.get("access_token") else "none")
        ).lower()
        if scheme == "bearer":
            return [("Authorization", "Bearer " + self._field("token", "access_token"))]
        if scheme == "basic":
            return [
                ("Authorization", self._basic(self._field("username"), str(fields.get("password") or "")))
            ]
        if scheme == "api_key":
            return [(str(fields.get("api_key_header") or "X-API-Key"), self._field("api_key", "token"))]
        if scheme == "none":
            return []
        raise UsageError(f"Unknown http scheme {scheme!r}.", "Use none, bearer, basic or api_key.")

    # -- building -------------------------------------------------------------------------

    def _unset(self, name: str) -> str:
        """A dry run shows a connection setting not given yet as ``<name>`` and says how to give it."""
        error = missing_setting(self.manifest, name, self.options.connection)
        if f"{error.message} {error.hint}" not in self.needs:
            self.needs.append(f"{error.message} {error.hint}")
        return f"<{name}>"

    def base_url(self) -> str:
        template = self.action.raw.get("base_url") or self.manifest.base_url
        config = self.credential.config if self.credential else {}
        unset = self._unset if self.options.dry_run else None  # shown, never sent
        return render_url(template, config, self.manifest, unset).rstrip("/")

    def prepare(
        self, overrides: dict[str, Any] | None = None, url: str | None = None, dry_run: bool = False
    ) -> PreparedRequest:
        """The request for these parameters (``overrides`` from pagination; ``url`` a next link)."""
        self._extra_masks = []
        self._auth_sent = False
        self._path_auth = {}
        self.needs = []
        params = dict(self.params)
        extra_query: list[tuple[str, str]] = []
        extra_body: dict[str, Any] = {}
        for k, v in (overrides or {}).items():
            if self.action.parameter(k) is not None:
                params[k] = v
            elif k.startswith("body:"):
                extra_body[k[5:]] = v
            else:
                extra_query.append((k, scalar(v)))
        if self.action.raw.get("transport_op") == "http_request":
            req = self._http_request(params, dry_run)
        else:
            req = self._from_manifest(params, extra_query, extra_body, url, dry_run)
        if self.sends_credentials and self.manifest.auth.get("scheme") == "aws_sigv4":
            from ..wire.aws_sigv4 import sign

            service = self.action.raw.get("aws_service")
            self._extra_masks.extend(sign(req, self._fields(), self.manifest, service))
        req.masked = [
            *self._secret_values(),
            *self._extra_masks,
            *(scalar(params[p.name]) for p in self.action.parameters if p.secret and p.name in params),
        ]
        parts = urlsplit(req.url)
        if parts.scheme == "http" and not _is_loopback(parts.hostname or "") and self._auth_sent:
            raise UsageError(
                f"Refusing to send credentials over plain http to {parts.hostname}.", "Use an https:// URL."
            )
        cred = self.credential
        if self._auth_sent and cred is not None and cred.source != "placeholder":
            from ..auth.binding import credential_binding

            req.binding = credential_binding(self.manifest, cred)  # checked on the way out, each hop
            if dry_run and not self.needs:  # (a setting still missing: the call stops before this)
                req.binding.check(req.url)  # a dry run refuses what the call itself would refuse
        redact.register(*req.masked)
        if self.needs:
            req.note = "\n".join(self.needs)
        return req

    def _headers(self, extra: list[tuple[str, str]], user_ctype: str | None = None) -> list[tuple[str, str]]:
        cfg = dict(self.credential.config) if self.credential else {}
        out = [("User-Agent", USER_AGENT), ("Accept", str(self.action.raw.get("accept", "application/json")))]
        for source in (self.manifest.raw.get("headers") or {}, self.action.raw.get("headers") or {}):
            for k, v in source.items():
                out.append((k, self._fill(v, cfg) if _PLACEHOLDER.search(v) else v))
        out.extend(extra)
        merged: dict[str, tuple[str, str]] = {}
        for k, v in out:  # later wins, first position kept
            merged[k.lower()] = (merged.get(k.lower(), (k, v))[0], _check_header(k, v))
        if user_ctype is not None:  # a Content-Type header parameter wins over the computed one
            merged["content-type"] = (merged.get("content-type", ("Content-Type", ""))[0], user_ctype)
        return list(merged.values())

    def _from_manifest(
        self,
        params: dict[str, Any],
        extra_query: list[tuple[str, str]],
        extra_body: dict[str, Any],
        next_url: str | None,
        dry_run: bool,
    ) -> PreparedRequest:
        action = self.action
        by_loc: dict[str, list[Parameter]] = {"path": [], "query": [], "header": [], "body": []}
        for p in action.parameters:
            if p.name in params:
                by_loc[p.location].append(p)
        auth_headers, auth_query = self.auth_parts()
        if next_url is not None:  # a next page's URL as given, plus any credential it lacks
            url = next_url
            present = {k for k, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}
            missing = [(k, v) for k, v in auth_query if k not in present]
            if missing:
                url += ("&" if "?" in url else "?") + urlencode(missing, quote_via=quote, safe="[],")
        else:
            path = action.path
            for p in by_loc["path"]:
                path = path.replace("{" + p.name + "}", path_segment(params[p.name], p.keep_slashes))
            for name, value in self._path_auth.items():  # a credential in the path (Telegram)
                path = path.replace("{" + name + "}", path_segment(value))
            if path and not path.startswith("/") and not path.startswith("?"):
                path = "/" + path
            url = self.base_url() + path
            pairs: list[tuple[str, str]] = []
            for p in by_loc["query"]:
                pairs.extend(query_pairs(p.wire, params[p.name], p.style))
            pairs.extend(extra_query)
            pairs.extend(auth_query)
            if pairs:
                url += ("&" if "?" in url else "?") + urlencode(pairs, quote_via=quote, safe="[],")
        header_params = [(p.wire, scalar(params[p.name])) for p in by_loc["header"]]
        content: bytes | None = None
        display: Any = None
        ctype: str | None = None
        body_params = by_loc["body"]
        kind = action.body
        if action.raw.get("encoder"):
            encoded = encoder(str(action.raw["encoder"]))({p.name: params[p.name] for p in body_params})
            content, display, ctype = self._json(encoded)
        elif kind == "none" or (not body_params and not extra_body):
            pass
        elif kind == "json":
            obj: dict[str, Any] = {}
            for p in body_params:
                _nest(obj, p.wire, params[p.name])
            for k, v in extra_body.items():  # a pagination cursor: page.cursor nests
                _nest(obj, k, v)
            content, display, ctype = self._json(obj)
        elif kind == "form":
            pairs = [kv for p in body_params for kv in flatten_form(p.wire, params[p.name], p.style)]
            pairs += [kv for k, v in extra_body.items() for kv in flatten_form(k, v)]
            text = urlencode(pairs, safe="[]")
            content, display, ctype = text.encode(), text, "application/x-www-form-urlencoded"
        elif kind == "multipart":
            fields: list[tuple[str, str] | tuple[str, str, str]] = []
            for p in body_params:
                if p.type == "object":  # a JSON part (Google Drive's upload metadata)
                    text = json.dumps(params[p.name], ensure_ascii=False, separators=(",", ":"))
                    fields.append((p.wire, text, "application/json; charset=UTF-8"))
                elif p.type != "file":
                    fields.extend(flatten_form(p.wire, params[p.name], p.style))
            files = [(p.wire, params[p.name]) for p in body_params if p.type == "file"]
            import secrets

            boundary = "synthral-dry-run-boundary" if dry_run else "synthral-" + secrets.token_hex(16)
            related = str(action.raw.get("content_type") or "").startswith("multipart/related")
            content, ctype = encode_multipart(fields, files, boundary, related=related)
            display = _display(content)
        elif kind == "raw":
            value = params[body_params[0].name]
            if isinstance(value, FileValue):
                content, ctype = value.read(), value.content_type
            elif isinstance(value, str):
                content, ctype = value.encode("utf-8"), "text/plain; charset=utf-8"
            else:
                content, ctype = json.dumps(value, ensure_ascii=False).encode(), "application/json"
            display = _display(content)
        if content is not None and kind != "multipart":
            ctype = str(action.raw.get("content_type") or ctype)
        user_ctype = next((v for k, v in header_params if k.lower() == "content-type" and v), None)
        headers = self._headers(
            header_params + auth_headers + ([("Content-Type", ctype)] if ctype else []), user_ctype
        )
        return PreparedRequest(action.method, url, headers, content, display)

    @staticmethod
    def _json(obj: Any) -> tuple[bytes, Any, str]:
        return (
            json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
            obj,
            "application/json",
        )

    def _http_request(self, params: dict[str, Any], dry_run: bool) -> PreparedRequest:
        """The generic ``http`` connector: method/url/headers/params/body/timeout from parameters."""
        method = str(params.get("method") or self.action.method).upper()
        target = str(params.get("url") or "")
        if not re.match(r"^https?://", target):
            target = self.base_url() + ("" if target.startswith("/") else "/") + target
        pairs = [kv for k, v in (params.get("params") or {}).items() for kv in query_pairs(k, v)]
        if pairs:
            target += ("&" if "?" in target else "?") + urlencode(pairs, quote_via=quote, safe="[],")
        user_headers = [(str(k), scalar(v)) for k, v in (params.get("headers") or {}).items()]
        auth_headers, _ = self.auth_parts()
        body = params.get("body")
        content: bytes | None = None
        display: Any = None
        extra: list[tuple[str, str]] = []
        if body is not None:
            given = {k.lower(): v for k, v in user_headers}
            if "form-urlencoded" in given.get("content-type", "") and isinstance(body, dict):
                text = urlencode([kv for k, v in body.items() for kv in flatten_form(k, v)], safe="[]")
                content, display = text.encode(), text
            elif isinstance(body, str):
                content, display = body.encode("utf-8"), body
                extra.append(("Content-Type", "text/plain; charset=utf-8"))
            else:
                content, display, ctype = self._json(body)
                extra.append(("Content-Type", ctype))
        headers = self._headers([("Accept", "*/*"), *extra, *user_headers, *auth_headers])
        timeout = float(params["timeout"]) if params.get("timeout") is not None else None
        return PreparedRequest(method, target, headers, content, display, timeout=timeout)

