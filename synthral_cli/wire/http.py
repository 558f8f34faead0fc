"""HTTP on the wire: send one prepared request (httpx, or ``lean.py`` for one call) with retries, turn the answer into
an ``Outcome`` or a ``ProviderError`` carrying the provider's own message. Refreshing on 401 and
pagination, which need the credential layer, are in ``actions/deliver.py``.

Retries: 429/502/503/504 and dropped connections are retried (exponential backoff with full
jitter, ``Retry-After`` honoured up to :data:`MAX_RETRY_AFTER` seconds) only when the action is
idempotent; a connection that could not be opened at all is retried for every method, because
nothing reached the server. A read timeout is never retried: the server may still be working.

Redirects (``follow``): httpx follows none by itself. A request is followed to the same origin
over https (or loopback http), at most :data:`MAX_REDIRECTS` times, with 301/302/303/307/308
method and body rules; a request that carries anything secret (a bound credential, a secret
parameter, any header beyond the plain ones) never follows a redirect to another origin or down
to http: that answer is returned as it is, and nothing is re-sent. Each hop passes the request's
``Binding`` first (``auth/binding.py``), through the client's request hook as well.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..basics.errors import NetworkError, ProviderError
from ..catalogue.syntax import split_path
from . import lean
from .prepare import Invocation
from .request import PreparedRequest
from .response import Outcome, ProviderAuthError

if TYPE_CHECKING:
    import httpx

RETRY_STATUSES = {429, 502, 503, 504}
REDIRECT_STATUSES = {301, 302, 303, 307, 308}
MAX_REDIRECTS = 5
PLAIN_HEADERS = {"user-agent", "accept", "accept-encoding", "accept-language", "content-type", "content-length"}
MAX_RETRY_AFTER = 60.0
MAX_BACKOFF = 30.0
DEFAULT_MESSAGE_PATHS = ["error.message", "error", "message", "errors.0.message", "error_description"]
AUTH_ERROR_CODES = {
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "invalid_token",
    "invalid_grant",
}

# AWS answers a refused access key or signature with 403 and one of these codes (S3/STS XML
# ``<Code>``, Lambda's ``x-amzn-ErrorType`` header): the credential is wrong, not a permission.
AWS_AUTH_CODES = {
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
}


def _aws_code(resp: httpx.Response, message: str) -> str:
    header = resp.headers.get("x-amzn-ErrorType", "")
    return header.split(":", 1)[0] if header else message.split(":", 1)[0]


def get_path(data: Any, path: str) -> Any:
    """``errors.0.message`` / ``errors[0].message`` / ``[0].message`` / ``["@odata.nextLink"]``
    in nested dicts and lists (see ``manifest.split_path``); None when absent."""
    if not path:
        return data
    try:
        parts = split_path(path)
    except ValueError:
        return None
    for part in parts:
        if isinstance(data, dict):
            data = data.get(str(part))
        elif isinstance(data, list) and isinstance(part, int) and -len(data) <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        import email.utils  # an HTTP date: rare, and the email package is ~5 ms to import
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def backoff(attempt: int, base: float) -> float:
    """Full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    import random

    return random.uniform(0, min(MAX_BACKOFF, base * (2**attempt)))  # noqa: S311 - not crypto


def new_client(timeout: float, ca_bundle: str | None) -> httpx.Client:
    """The HTTP client every provider call goes through (one per call, or shared by a workflow)."""
    import httpx

    from ..auth.binding import request_hook
    from ..basics import tls
    from ..basics.logs import log_request, log_response

    return httpx.Client(
        timeout=timeout,
        verify=tls.verify(ca_bundle),
        follow_redirects=False,  # follow() decides, per hop
        event_hooks={"request": [request_hook, log_request], "response": [log_response]},
    )


def _client(inv: Invocation) -> Any:
    """The lean standard-library client (``lean.py``) when it may send the call, else httpx."""
    opts = inv.options
    if not opts.paginate and lean.usable():
        return lean.Client(opts.timeout, opts.ca_bundle, lambda: new_client(opts.timeout, opts.ca_bundle))
    return new_client(opts.timeout, opts.ca_bundle)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def send_once(client: Any, inv: Invocation, req: PreparedRequest) -> Any:
    """One request with retries (httpx or lean client); ``NetworkError`` when the network fails for good."""
    opts = inv.options
    sleep = opts.sleep or time.sleep
    timeout = req.timeout if req.timeout is not None else opts.timeout
    for attempt in range(opts.retries + 1):
        last = attempt == opts.retries
        try:
            resp = follow(client, req, timeout)
        except Exception as exc:
            if (kind := lean.failure_kind(exc)) is None:
                raise
            if kind == "connect":
                if "certificate verify failed" in str(exc).lower():
                    raise NetworkError(
                        f"The TLS certificate of {_host(req.url)} is not trusted: {_reason(exc)}.",
                        "For a private CA pass --ca-bundle FILE (or set SYNTHRAL_CA_BUNDLE).",
                    ) from None
                if last:
                    raise NetworkError(
                        f"Could not connect to {_host(req.url)}: {_reason(exc)}.",
                        # (no option named: `test`, `run` and the library retry too, without --retries)
                        f"Check your network and the URL; tried {attempt + 1} time(s).",
                    ) from None
                wait, why = backoff(attempt, opts.backoff_base), "connection failed"
            elif kind == "timeout":
                raise NetworkError(
                    f"No answer from {_host(req.url)} within {timeout:g} s.",
                    "Try again later, or allow more time with --timeout SECONDS.",
                ) from None
            else:
                if last or not inv.idempotent:
                    raise NetworkError(
                        f"The connection to {_host(req.url)} failed: {_reason(exc)}.",
                        "Try again; the request may or may not have reached the provider."
                        if not inv.idempotent
                        else "Check your network and try again.",
                    ) from None
                wait, why = backoff(attempt, opts.backoff_base), "connection dropped"
        else:
            if resp.status_code not in RETRY_STATUSES or last or not inv.idempotent:
                return resp
            hinted = retry_after(resp.headers.get("Retry-After"))
            wait = min(hinted, MAX_RETRY_AFTER) if hinted is not None else backoff(attempt, opts.backoff_base)
            why = f"HTTP {resp.status_code}"
            resp.close()
        if opts.on_wait is not None:
            opts.on_wait(wait, f"{why}; retry {attempt + 1} of {opts.retries}")
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _carries_secrets(req: PreparedRequest) -> bool:
    return (
        req.binding is not None
        or any(req.masked)
        or any(k.lower() not in PLAIN_HEADERS for k, _ in req.headers)
    )


def follow(client: Any, req: PreparedRequest, timeout: float) -> Any:
    """Send ``req`` and follow the redirects it may follow (see the module docstring)."""
    from ..auth.binding import EXTENSION, origin
    from ..basics.insecure import is_loopback

    method, url, content, headers = req.method, req.url, req.content, list(req.headers)
    secret = _carries_secrets(req)
    extensions = {EXTENSION: req.binding} if req.binding is not None else {}
    hops = 0
    while True:
        if req.binding is not None:
            req.binding.check(url)  # nothing is sent to an origin the credential is not bound to
        resp = client.request(
            method, url, headers=headers, content=content, timeout=timeout, extensions=extensions
        )
        location = resp.headers.get("Location")
        if resp.status_code not in REDIRECT_STATUSES or not location or hops >= MAX_REDIRECTS:
            return resp
        try:
            target = resp.request.url.join(location.strip())
        except Exception:  # noqa: BLE001 - an unusable Location: the caller gets the answer
            return resp
        same = origin(target) == origin(resp.request.url)
        secure = target.scheme == "https" or (target.scheme == "http" and is_loopback(target.host))
        if not secure or (secret and not same):
            return resp  # credentials stay with their origin; the caller sees the redirect
        if (resp.status_code == 303 and method != "HEAD") or (resp.status_code in {301, 302} and method == "POST"):
            method, content = "GET", None
            headers = [(k, v) for k, v in headers if k.lower() not in {"content-type", "content-length"}]
        if not same and content is not None:
            return resp  # a body is never re-sent to another origin
        resp.close()
        url, hops = str(target), hops + 1


def redirect_note(resp: httpx.Response) -> str | None:
    """Why a redirect answer was not followed, naming only the target's origin."""
    from ..auth.binding import origin

    location = resp.headers.get("Location")
    if resp.status_code not in REDIRECT_STATUSES or not location:
        return None
    try:
        target = origin(resp.request.url.join(location.strip())) or "an unusable URL"
    except Exception:  # noqa: BLE001
        target = "an unusable URL"
    if target == origin(resp.request.url):
        return f"redirected to {target} again after {MAX_REDIRECTS} redirects"
    return f"redirected to {target}, where synthral does not follow with credentials"


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text.split("] ")[-1] if "] " in text else text


# ---------------------------------------------------------------------------------------------
# Interpreting answers


_TEXT_TYPES = ("text/", "application/xml", "application/javascript", "application/x-www-form-urlencoded")


def parse_body(resp: httpx.Response) -> tuple[Any, bool]:
    """``(value, binary)``: JSON parsed, text as str, anything else as bytes."""
    content = resp.content
    ctype = resp.headers.get("Content-Type", "").lower()
    if not content:
        return None, False
    if "json" in ctype:
        try:
            return json.loads(content), False
        except ValueError:
            pass
    if ctype.startswith(_TEXT_TYPES) or "json" in ctype or "xml" in ctype:
        try:
            return resp.text, False
        except (UnicodeError, LookupError):  # charset=utf-16 without a BOM, and the like
            return content.decode("utf-8", "replace"), False
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return content, True
    if "\0" in text:
        return content, True
    if not ctype:
        try:
            return json.loads(text), False
        except ValueError:
            pass
    return text, False


def error_message(inv: Invocation, body: Any) -> str | None:
    errors = inv.manifest.raw.get("errors") or {}
    paths = list(errors.get("message_paths") or [])
    if errors.get("error_path"):  # GraphQL: errors[0].message
        paths += [f"{errors['error_path']}[0].message", f"{errors['error_path']}.message"]
    for path in [*paths, *DEFAULT_MESSAGE_PATHS]:
        value = get_path(body, path) if isinstance(body, (dict, list)) else None
        if isinstance(value, (str, int, float)) and str(value).strip():
            return _one_line(str(value))
    if isinstance(body, str):
        xml = xml_error(body)
        if xml:
            return _one_line(xml)
    if isinstance(body, str) and body.strip() and len(body) < 300 and "<html" not in body.lower():
        return _one_line(body)
    return None


def _one_line(text: str, limit: int = 500) -> str:
    """A provider's message as one line of at most ``limit`` characters (the error contract)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _xml_text(body: str, tag: str) -> str | None:
    import html
    import re

    m = re.search(rf"<{tag}>([^<]*)</{tag}>", body)
    return html.unescape(m.group(1)).strip() if m and m.group(1).strip() else None


def xml_error(body: str) -> str | None:
    """``Code: Message`` of an XML error answer (S3 ``<Error>``, STS/EC2 ``<ErrorResponse>``).
    Read with a regular expression: no XML parser ever sees a provider's body."""
    if not body.lstrip().startswith("<") or "<html" in body[:500].lower():
        return None
    message, code = _xml_text(body, "Message"), _xml_text(body, "Code")
    if message and code:
        return f"{code}: {message}"
    return message or code


_HINTS = {
    400: "Check the parameters: synthral connectors actions {slug}",
    403: "The account may lack a permission; see the message, or re-authorize: synthral authorize {slug}",
    404: "Check the ids and names you passed.",
    409: "The request conflicts with the current state; see the message.",
    422: "Check the parameters: synthral connectors actions {slug}",
    429: "Rate limited; wait a little and try again.",
}


def interpret(inv: Invocation, resp: httpx.Response, pages: int = 1) -> Outcome:
    """An ``Outcome`` for a success; raises ``ProviderError`` (exit 1) or, for a refused
    credential, ``ProviderAuthError`` (exit 3) with status and body for ``--json``."""
    body, binary = parse_body(resp)
    ctype = resp.headers.get("Content-Type", "")
    status = resp.status_code
    slug = inv.manifest.slug
    errors = inv.manifest.raw.get("errors") or {}
    failed = not 200 <= status < 300
    if not failed and errors.get("ok_path") and isinstance(body, dict):
        flag = get_path(body, errors["ok_path"])  # absent: not an answer of that shape
        failed = flag is not None and flag != errors.get("ok_value", True)
    if not failed and errors.get("error_path") and isinstance(body, (dict, list)):
        found = get_path(body, errors["error_path"])  # GraphQL: a 200 whose "errors" is not empty
        failed = found is not None and found not in ([], {}, "", False)
    if not failed:
        return Outcome(True, status, body, resp.content, ctype, binary, pages, headers=dict(resp.headers))
    result = body if not binary else None
    message = redirect_note(resp) or error_message(inv, body) or resp.reason_phrase or "error"
    conn = inv.options.connection
    conn_flag = f" --connection {conn}" if conn != "default" else ""
    from_env = inv.credential is not None and inv.credential.source == "environment"
    if (
        status == 401
        or (200 <= status < 300 and message in AUTH_ERROR_CODES)
        or (status == 403 and _aws_code(resp, message) in AWS_AUTH_CODES)
    ):
        from ..basics.settings import token_var

        fix = f"Check {token_var(slug)}." if from_env else f"Re-authorize: synthral authorize {slug}{conn_flag}"
        raise ProviderAuthError(
            f"{slug} refused the credentials ({status}: {message}).", fix, status=status, result=result
        )
    if 200 <= status < 300 and message == "missing_scope" and isinstance(body, dict) and body.get("needed"):
        raise ProviderAuthError(
            f"{slug} says the connection lacks the scope {body['needed']}.",
            f"Run: synthral authorize {slug}{conn_flag} --scope {body['needed']}",
            status=status,
            result=result,
        )
    hint = _HINTS.get(status)
    if hint is None and redirect_note(resp):
        hint = "Credentials go only to the connection's own origin; call that URL yourself if you trust it."
    if hint is None and status >= 500:
        hint = "The provider had a problem; try again later."
    error = ProviderError(
        f"{slug} answered {status}: {message}",
        hint.format(slug=slug) if hint else None,
        status=status,
        result=result,
    )
    error.retry_after = retry_after(resp.headers.get("Retry-After"))
    raise error
