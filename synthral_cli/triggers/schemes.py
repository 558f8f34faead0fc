"""The pieces a webhook signature is made of, shared by every scheme family: reading the signature
header (bare, prefixed, or ``key=value`` pairs), turning the secret into key bytes, rendering the
``signed`` template over the exact bytes received, HMAC and Ed25519 checks in constant time, the
payload (JSON or form fields) and the sources of an event's type and id.

Nothing here decides an HTTP answer; ``verify.py`` does.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from ..basics.errors import UsageError
from ..catalogue.syntax import split_path
from ..catalogue.webhooks import PATH_PART, TEMPLATE_PART

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs start-up time; annotations are strings here
    from collections.abc import Mapping, Sequence
    from typing import Any

    from ..catalogue.webhooks import Source, WebhookSpec

_ABSENT = object()


class Rejected(Exception):  # noqa: N818 - a verdict, not an error
    """A delivery that is not accepted: ``reason`` is said to the sender with ``status``."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def header(headers: Mapping[str, str], names: Sequence[str]) -> str | None:
    """The first of ``names`` present in ``headers`` (case-insensitive, as HTTP says)."""
    lower = {k.lower(): v for k, v in headers.items()}
    for name in names:
        if name.lower() in lower:
            return lower[name.lower()]
    return None


def key_bytes(spec: WebhookSpec, secret: str | bytes) -> bytes:
    """The secret as the scheme's key bytes; a secret that cannot be one is the user's mistake."""
    enc = spec.secret_encoding
    if isinstance(secret, bytes) and enc == "text":
        key = secret
    else:
        text = secret.decode() if isinstance(secret, bytes) else secret
        text = text.strip() if enc != "text" else text
        try:
            if enc == "whsec":
                key = base64.b64decode(text.removeprefix("whsec_"), validate=True)
            elif enc == "base64":
                key = base64.b64decode(text, validate=True)
            elif enc == "hex":
                key = bytes.fromhex(text)
            else:
                key = text.encode()
        except (ValueError, binascii.Error):
            raise UsageError(
                f"The {spec.slug} webhook secret is not {spec.secret_encoding} text.",
                f"Copy the signing secret again from the provider (see {spec.docs_url}).",
            ) from None
    if not key:
        raise UsageError(f"The {spec.slug} webhook secret is empty.", f"See {spec.docs_url} for where to find it.")
    if spec.scheme == "ed25519" and len(key) != 32:
        raise UsageError(
            f"The {spec.slug} public key must be 32 bytes (64 hex digits).",
            f"Copy the application's public key again (see {spec.docs_url}).",
        )
    return key


def signatures(spec: WebhookSpec, value: str) -> tuple[list[bytes], dict[str, str]]:
    """The candidate signatures (decoded) in a signature header, and its ``key=value`` pairs."""
    pairs: dict[str, str] = {}
    if spec.signature_format == "pairs":
        encoded = []
        for part in value.split(spec.pair_separator):
            key, sep, val = part.strip().partition(spec.pair_assign)
            if not sep:
                continue
            if key == spec.signature_key:
                encoded.append(val.strip())
            else:
                pairs.setdefault(key, val.strip())
    else:
        if not value.startswith(spec.signature_prefix):
            raise Rejected(f"malformed signature header (expected {spec.signature_prefix!r} first)")
        encoded = [value[len(spec.signature_prefix):].strip()]
    decoded = [d for d in (_decode(spec.encoding, e) for e in encoded) if d is not None]
    if not decoded:
        raise Rejected("no signature in the signature header")
    return decoded, pairs


def _decode(encoding: str, text: str) -> bytes | None:
    try:
        return bytes.fromhex(text) if encoding == "hex" else base64.b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return None


def url_variants(url: str) -> list[str]:
    """The URL as received; with its port removed or the default port added (Twilio's validator
    tries both); and with the reserved characters HubSpot decodes before signing decoded."""
    out = [url]
    try:
        parts = urlsplit(url)
    except ValueError:  # "https://[::1" and other URLs no provider signs
        return out
    default = {"https": 443, "http": 80}.get(parts.scheme)
    try:
        port = parts.port
    except ValueError:
        port = None
    if default is not None and parts.hostname:
        if port is not None:
            out.append(urlunsplit(parts._replace(netloc=parts.netloc[: parts.netloc.rindex(":")])))
        else:
            out.append(urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}")))
    out += [decode_uri(u) for u in out]
    return list(dict.fromkeys(out))


def url_query(url: str) -> str:
    try:
        return urlsplit(url).query
    except ValueError:
        return ""


# HubSpot v3 decodes these escapes in the request URI before signing:
# https://developers.hubspot.com/docs/apps/legacy-apps/authentication/validating-requests
_HUBSPOT_DECODED = ("%3A", "%2F", "%3F", "%40", "%21", "%24", "%27", "%28", "%29", "%2A", "%2C", "%3B")


def decode_uri(url: str) -> str:
    for escape in _HUBSPOT_DECODED:
        url = url.replace(escape, unquote(escape)).replace(escape.lower(), unquote(escape))
    return url


def form_sorted(fields: list[tuple[str, str]]) -> str:
    """Twilio's string of form parameters: names sorted, each name followed by its value(s)."""
    grouped: dict[str, set[str]] = {}
    for k, v in fields:
        grouped.setdefault(k, set()).add(v)
    return "".join(k + v for k in sorted(grouped) for v in sorted(grouped[k]))


def render(template: str, parts: Mapping[str, bytes], headers: Mapping[str, str]) -> bytes:
    """The ``signed`` template over the exact bytes: ``{body}``, ``{timestamp}``, ``{header:Name}`` ..."""
    out = bytearray()
    pos = 0
    for m in TEMPLATE_PART.finditer(template):
        out += template[pos:m.start()].encode()
        name, arg = m.group(1), m.group(2)
        if name == "header":
            names = arg.split("|")
            value = header(headers, names)
            if value is None:
                raise Rejected(f"missing header {names[0]}")
            out += value.encode()
        else:
            out += parts[name]
        pos = m.end()
    out += template[pos:].encode()
    return bytes(out)


def hmac_matches(algorithm: str, key: bytes, message: bytes, candidates: list[bytes]) -> bool:
    expected = hmac.new(key, message, algorithm).digest()
    # Every candidate is compared (no early exit on the first that differs): constant time.
    return any([hmac.compare_digest(expected, c) for c in candidates])


def ed25519_matches(key: bytes, message: bytes, candidates: list[bytes]) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = Ed25519PublicKey.from_public_bytes(key)
    ok = False
    for sig in candidates:
        try:
            public.verify(sig, message)
            ok = True
        except InvalidSignature:
            pass
    return ok


def hmac_hex(algorithm: str, key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), algorithm).hexdigest()


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def is_form(headers: Mapping[str, str]) -> bool:
    ctype = header(headers, ["Content-Type"]) or ""
    return ctype.split(";")[0].strip().lower() == "application/x-www-form-urlencoded"


def form_fields(body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
    except UnicodeDecodeError:
        raise Rejected("the form body is not UTF-8", 400) from None


def parse_payload(spec: WebhookSpec, headers: Mapping[str, str], body: bytes) -> Any:
    """The body as JSON, or as form fields (a name given twice holds a list)."""
    if spec.payload == "form" or (spec.payload == "auto" and is_form(headers)):
        out: dict[str, Any] = {}
        for k, v in form_fields(body):
            if k in out:
                out[k] = [*out[k], v] if isinstance(out[k], list) else [out[k], v]
            else:
                out[k] = v
        inner = out.get(spec.form_json_field) if spec.form_json_field else None
        if not isinstance(inner, str):
            return out
        try:
            return json.loads(inner)
        except (ValueError, RecursionError):
            raise Rejected(f"the form field {spec.form_json_field} is not JSON", 400) from None
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; so deep it recurses: not JSON
        raise Rejected("the body is not JSON", 400) from None


@functools.lru_cache(maxsize=256)
def _split(path: str) -> tuple[str | int, ...]:
    return tuple(split_path(path))


def lookup(payload: Any, path: str) -> Any:
    """The value at a response path (``data.object.id``), or ``_ABSENT``."""
    node = payload
    for part in _split(path):
        if isinstance(part, int) and isinstance(node, list) and -len(node) <= part < len(node):
            node = node[part]
        elif isinstance(node, dict) and str(part) in node:
            node = node[str(part)]
        else:
            return _ABSENT
    return node


def resolve(sources: Sequence[Source], headers: Mapping[str, str], payload: Any) -> Any:
    """The first source that is present (a header, a path, a filled template, a constant), or None."""
    for src in sources:
        if src.header:
            value = header(headers, src.header)
            if value:
                return value
        elif src.path is not None:
            value = lookup(payload, src.path)
            if value is not _ABSENT and value is not None and value != "":
                return value
        elif src.template is not None:
            values = [lookup(payload, m.group(1)) for m in PATH_PART.finditer(src.template)]
            if values and all(v is not _ABSENT and v is not None and v != "" for v in values):
                texts = PATH_PART.split(src.template)[0::2]  # the text around the {path} parts
                return texts[0] + "".join(str(v) + t for v, t in zip(values, texts[1:], strict=True))
        elif src.value is not None:
            return src.value
    return None


def as_text(value: Any) -> str | None:
    """An event type or id as text (numbers as written, objects as compact JSON)."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
