"""The ``webhooks`` section of a manifest: how a provider signs its deliveries and where an
event's type and id are, as a typed view (``WebhookSpec``) plus the checks a JSON Schema cannot
make (templates name known parts, paths parse, a credential secret names a credential field).

A scheme is one of a few families, parameterised so that a new provider of an existing family is
a manifest change only (docs/connectors.md, "Webhooks"):

- ``hmac``: an HMAC (sha1/sha256/sha512) over a ``signed`` template (``{timestamp}.{body}``,
  ``{method}{url}{body}{timestamp}`` ...), sent hex or base64 in a header, either bare, behind a
  prefix (``sha256=``) or among ``key=value`` pairs (``t=...,v1=...``; Svix: ``v1,<sig> ...``);
- ``ed25519``: an Ed25519 signature (hex) over the template, checked with the provider's public key;
- ``token``: the header carries the shared secret itself (GitLab's ``X-Gitlab-Token``): compared in
  constant time; it proves the sender knows the secret but does not cover the body.

Verification itself lives in ``triggers/verify.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Mapping
    from typing import Any

SCHEMES = ("hmac", "ed25519", "token")
# {body} {timestamp} {method} {url} {form_sorted} {header:Name|Other-Name}
TEMPLATE_PART = re.compile(r"\{([a-z_]+)(?::([^{}]+))?\}")
TEMPLATE_VARS = ("body", "timestamp", "method", "url", "form_sorted", "header")
# {type}.{action}, {payload.uri}: payload paths in an event type or id template
PATH_PART = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class Source:
    """Where a value comes from: the first of ``header`` (alternatives), ``path`` (into the parsed
    payload), ``template`` (``{path}`` parts joined), ``value`` (a constant) that is present;
    ``digest`` (an event id only) is the SHA-256 of the body, for providers that send no id."""

    header: tuple[str, ...] = ()
    path: str | None = None
    template: str | None = None
    value: Any = None
    hmac: str | None = None  # handshakes only: HMAC (hex) of the value at this path
    digest: bool = False

    @classmethod
    def parse(cls, raw: Any) -> Source:
        if isinstance(raw, str):
            return cls(path=raw)
        header = raw.get("header", ())
        return cls(
            header=(header,) if isinstance(header, str) else tuple(header),
            path=raw.get("path"),
            template=raw.get("template"),
            value=raw.get("value"),
            hmac=raw.get("hmac"),
            digest=bool(raw.get("digest")),
        )


def _sources(raw: Any) -> tuple[Source, ...]:
    if raw is None:
        return ()
    return tuple(Source.parse(r) for r in (raw if isinstance(raw, list) else [raw]))


@dataclass(frozen=True)
class Timestamp:
    """The signed timestamp: from a header, a signature-header pair (``t``) or a payload path."""

    header: tuple[str, ...] = ()
    pair: str | None = None
    path: str | None = None
    unit: str = "seconds"  # or milliseconds
    tolerance: int = 300  # seconds either side of now; 0 = not checked


@dataclass(frozen=True)
class Handshake:
    """A verification request answered instead of emitted: when ``path`` equals ``equals`` the
    receiver answers ``status`` with ``respond`` (a JSON object of sources, or one source as text)."""

    path: str
    equals: Any
    respond: Mapping[str, Source] | Source
    content_type: str = "application/json"
    status: int = 200
    signed: bool = True  # the handshake itself must carry a valid signature


@dataclass(frozen=True)
class WebhookSpec:
    """One connector's webhook definition (see the module docstring)."""

    slug: str
    scheme: str
    docs_url: str
    secret: str  # "listener", or "credential"
    secret_field: str | None = None  # with secret == "credential": the connection's credential field
    secret_encoding: str = "text"  # noqa: S105 - a name, not a secret: text | base64 | whsec (Svix: "whsec_" + base64) | hex
    algorithm: str = "sha256"
    encoding: str = "hex"  # hex | base64
    signature_headers: tuple[str, ...] = ()
    signature_format: str = "raw"  # raw (after prefix) | pairs
    signature_prefix: str = ""
    signature_key: str = "v1"  # pairs: the key whose values are signatures
    pair_separator: str = ","
    pair_assign: str = "="
    signed: str = "{body}"
    timestamp: Timestamp | None = None
    payload: str = "auto"  # auto (form when form-encoded, else JSON) | json | form
    form_json_field: str | None = None  # a form body's JSON is in this field (GitHub, Slack: payload)
    batch: bool = False  # the payload is a JSON array of events (HubSpot)
    event_type: tuple[Source, ...] = ()
    event_id: tuple[Source, ...] = ()
    body_hash_param: str | None = None  # Twilio: a JSON body's SHA-256 travels in this query parameter
    handshake: Handshake | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_raw(cls, slug: str, raw: Mapping[str, Any]) -> WebhookSpec:
        sig = raw.get("signature") or {}
        headers = sig.get("header", ())
        secret = raw.get("secret", "listener")
        ts = raw.get("timestamp")
        timestamp = None
        if ts:
            th = ts.get("header", ())
            timestamp = Timestamp(
                header=(th,) if isinstance(th, str) else tuple(th),
                pair=ts.get("pair"),
                path=ts.get("path"),
                unit=ts.get("unit", "seconds"),
                tolerance=int(ts.get("tolerance", 300)),
            )
        hs = raw.get("handshake")
        handshake = None
        if hs:
            respond = hs["respond"]
            handshake = Handshake(
                path=hs["when"]["path"],
                equals=hs["when"]["equals"],
                respond={k: Source.parse(v) for k, v in respond.items()}
                if isinstance(respond, dict) and not _is_source(respond)
                else Source.parse(respond),
                content_type=hs.get("content_type", "application/json"),
                status=int(hs.get("status", 200)),
                signed=bool(hs.get("signed", True)),
            )
        return cls(
            slug=slug,
            scheme=raw["scheme"],
            docs_url=raw.get("docs_url", ""),
            secret="credential" if isinstance(secret, dict) else str(secret),
            secret_field=secret.get("credential") if isinstance(secret, dict) else None,
            secret_encoding=raw.get("secret_encoding", "hex" if raw["scheme"] == "ed25519" else "text"),
            algorithm=raw.get("algorithm", "sha256"),
            encoding=raw.get("encoding", "hex"),
            signature_headers=(headers,) if isinstance(headers, str) else tuple(headers),
            signature_format=sig.get("format", "raw"),
            signature_prefix=sig.get("prefix", ""),
            signature_key=sig.get("key", "v1"),
            pair_separator=sig.get("separator", ","),
            pair_assign=sig.get("assign", "="),
            signed=raw.get("signed", "{body}"),
            timestamp=timestamp,
            payload=raw.get("payload", "auto"),
            form_json_field=raw.get("form_json_field"),
            batch=bool(raw.get("batch", False)),
            event_type=_sources(raw.get("event_type")),
            event_id=_sources(raw.get("event_id")),
            body_hash_param=raw.get("body_hash_param"),
            handshake=handshake,
            raw=raw,
        )


def _is_source(raw: dict[str, Any]) -> bool:
    return bool(raw) and set(raw) <= {"header", "path", "template", "value", "hmac", "digest"}


def webhook_problems(doc: Mapping[str, Any]) -> list[str]:
    """What the schema cannot say about ``doc['webhooks']``, as ``webhooks.field: message``."""
    from .syntax import split_path

    hooks = doc.get("webhooks")
    if not hooks:
        return []
    problems: list[str] = []
    auth = doc.get("auth") or {}
    secret = hooks.get("secret", "listener")
    if isinstance(secret, dict):
        fields = {f["name"] for f in auth.get("fields", [])} | _DEFAULT_FIELDS.get(auth.get("type", ""), set())
        if secret["credential"] not in fields:
            known = ", ".join(sorted(fields)) or "none"
            problems.append(
                f"webhooks.secret.credential: {secret['credential']!r} is not a credential field of this "
                f"connector (its fields: {known}); use secret: listener for a per-listener secret"
            )
    signed = hooks.get("signed", "{body}")
    for m in TEMPLATE_PART.finditer(signed):
        if m.group(1) not in TEMPLATE_VARS:
            problems.append(f"webhooks.signed: {{{m.group(1)}}} is not one of {{{'}, {'.join(TEMPLATE_VARS)}}}")
        elif (m.group(1) == "header") != bool(m.group(2)):
            problems.append(f"webhooks.signed: {m.group(0)} — write {{header:Name}} (and only header takes a name)")
    ts = hooks.get("timestamp")
    if "{timestamp}" in signed and not ts:
        problems.append("webhooks.timestamp: the signed template uses {timestamp}, so say where it comes from")
    if ts and sum(k in ts for k in ("header", "pair", "path")) != 1:
        problems.append("webhooks.timestamp: give exactly one of header, pair or path")
    sig = hooks.get("signature") or {}
    if ts and "pair" in ts and sig.get("format") != "pairs":
        problems.append("webhooks.timestamp.pair: only with signature.format: pairs")
    if hooks["scheme"] == "ed25519" and hooks.get("encoding", "hex") != "hex":
        problems.append("webhooks.encoding: ed25519 signatures are hex")
    if hooks["scheme"] == "token":
        for key in ("signed", "algorithm", "encoding", "timestamp"):
            if key in hooks:
                problems.append(f"webhooks.{key}: a token scheme signs nothing (the header is the secret)")

    def check_path(where: str, path: Any) -> None:
        if isinstance(path, str):
            try:
                split_path(path)
            except ValueError as exc:
                problems.append(f"{where}: {exc}")

    for key in ("event_type", "event_id"):
        value = hooks.get(key)
        for i, src in enumerate(value if isinstance(value, list) else [value] if value is not None else []):
            where = f"webhooks.{key}" + (f"[{i}]" if isinstance(value, list) else "")
            if isinstance(src, str):
                check_path(where, src)
            elif isinstance(src, dict):
                check_path(f"{where}.path", src.get("path"))
                for m in PATH_PART.finditer(src.get("template") or ""):
                    check_path(f"{where}.template", m.group(1))
                if "hmac" in src:
                    problems.append(f"{where}.hmac: only handshake responses compute an HMAC")
                if "digest" in src and key != "event_id":
                    problems.append(f"{where}.digest: only an event id can be the body's digest")
    if ts:
        check_path("webhooks.timestamp.path", ts.get("path"))
    if hooks.get("handshake"):
        check_path("webhooks.handshake.when.path", hooks["handshake"]["when"]["path"])
    return problems


_DEFAULT_FIELDS = {
    "api_key": {"api_key"},
    "bearer": {"token"},
    "basic": {"username", "password"},
    "oauth2": {"access_token"},
}
