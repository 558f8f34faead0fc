"""Body encoders: how parameter values become bytes on the wire.

- :func:`flatten_form` -- Stripe-style nested form keys (``metadata[userId]=1``,
  ``items[0][price]=x``, ``expand[]=a`` with ``style: brackets``).
- :func:`encode_multipart` -- ``multipart/form-data`` with file parts, built here so that a
  dry run can show the exact bytes (with a fixed boundary).
- Named encoders (``action.encoder`` in a manifest), looked up in :data:`ENCODERS`:
  ``rfc2822_base64url`` (Gmail ``users.messages.send``): to, cc, bcc, from, subject, text, html,
  attachments (file paths), reply_to, thread_id -> ``{"raw": <base64url RFC 2822>, "threadId"?}``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..basics.errors import UsageError


@dataclass(frozen=True)
class FileValue:
    """A ``-p name=@path`` value for a ``type: file`` parameter: read when the body is built."""

    path: str

    @property
    def filename(self) -> str:
        return Path(self.path).name

    def read(self) -> bytes:
        return read_file(self.path)

    @property
    def content_type(self) -> str:
        return mimetypes.guess_type(self.filename)[0] or "application/octet-stream"


@dataclass(frozen=True)
class InlineFile(FileValue):
    """A file given by its content (the REST API's ``{"filename", "content_base64"}``), not by a
    path: nothing is read from disk. ``path`` holds the file name."""

    data: bytes = b""
    media_type: str | None = None

    def read(self) -> bytes:
        return self.data

    @property
    def content_type(self) -> str:
        return self.media_type or super().content_type


# A server reads no file named by its caller: ``-p x=@/etc/passwd`` is for the command line only.
_LOCAL_FILES: ContextVar[bool] = ContextVar("synthral_local_files", default=True)


@contextmanager
def without_local_files() -> Iterator[None]:
    """Within this block (and the threads it hands a copy of its context to), reading a file named
    by a parameter (a ``file`` parameter given as a path, an e-mail attachment) is refused."""
    token = _LOCAL_FILES.set(False)
    try:
        yield
    finally:
        _LOCAL_FILES.reset(token)


def read_file(path: str) -> bytes:
    if not _LOCAL_FILES.get():
        raise UsageError(
            "This server does not read files from its own disk; a file parameter cannot be a path.",
            'Send the content instead: {"filename": "report.pdf", "content_base64": "..."}.',
        )
    try:
        return Path(path).expanduser().read_bytes()
    except ValueError:  # an embedded NUL (from --data or the Python API; argv cannot hold one)
        raise UsageError(f"Cannot read {path!r}: not a valid file name.", "Check the path given after '@'.") from None
    except OSError as exc:
        shown = path if path.isprintable() else repr(path)
        raise UsageError(
            f"Cannot read {shown}: {exc.strerror or exc}.", "Check the path given after '@'."
        ) from None


def scalar(value: Any) -> str:
    """How one value is written in a query string or form body."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def flatten_form(key: str, value: Any, style: str | None = None) -> list[tuple[str, str]]:
    """Stripe-style form pairs: objects as ``key[sub]``, arrays as ``key[0]`` (``brackets``:
    ``key[]``, ``repeat``: ``key`` again, ``csv``/``form``: one comma-joined value)."""
    if isinstance(value, dict):
        out: list[tuple[str, str]] = []
        for k, v in value.items():
            out.extend(flatten_form(f"{key}[{k}]", v))
        return out
    if isinstance(value, list):
        if style in {"csv", "form"}:
            return [(key, ",".join(scalar(v) for v in value))]
        out = []
        for i, v in enumerate(value):
            if style == "brackets":
                sub = f"{key}[]"
            elif style == "repeat":
                sub = key
            else:
                sub = f"{key}[{i}]"
            out.extend(flatten_form(sub, v))
        return out
    return [(key, scalar(value))]


def query_pairs(key: str, value: Any, style: str | None = None) -> list[tuple[str, str]]:
    """Query parameters: arrays repeat the key by default (OpenAPI ``form``, exploded)."""
    if isinstance(value, list):
        if style == "csv":
            return [(key, ",".join(scalar(v) for v in value))]
        if style == "brackets":
            return [(f"{key}[]", scalar(v)) for v in value]
        return [(key, scalar(v)) for v in value]
    if isinstance(value, dict):
        return flatten_form(key, value)
    return [(key, scalar(value))]


# ---------------------------------------------------------------------------------------------
# multipart/form-data

DRY_RUN_BOUNDARY = "synthral-dry-run-boundary"


def _quote_name(name: str) -> str:
    return name.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")


def encode_multipart(
    fields: Sequence[tuple[str, str] | tuple[str, str, str]],
    files: list[tuple[str, FileValue]],
    boundary: str,
    *,
    related: bool = False,
) -> tuple[bytes, str]:
    """``(body, content_type)``: text fields first, then files, in the order given. A field
    given as ``(name, text, content_type)`` is a typed part (a JSON object's part).
    ``related``: multipart/related (RFC 2387) parts, which carry no Content-Disposition."""
    out = bytearray()
    for name, value, *ctype in fields:
        out += f"--{boundary}\r\n".encode()
        if not related:
            out += f'Content-Disposition: form-data; name="{_quote_name(name)}"\r\n'.encode()
        if ctype:
            out += f"Content-Type: {ctype[0]}\r\n".encode()
        out += b"\r\n" + value.encode("utf-8") + b"\r\n"
    for name, fv in files:
        data = fv.read()
        out += f"--{boundary}\r\n".encode()
        if not related:
            out += (
                f'Content-Disposition: form-data; name="{_quote_name(name)}"; '
                f'filename="{_quote_name(fv.filename)}"\r\n'
            ).encode()
        out += f"Content-Type: {fv.content_type}\r\n\r\n".encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    kind = "related" if related else "form-data"
    return bytes(out), f"multipart/{kind}; boundary={boundary}"


# ---------------------------------------------------------------------------------------------
# Named encoders


def _addresses(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [a.strip() for a in value.split(",") if a.strip()]
    return [str(a) for a in value]


def build_email(params: dict[str, Any], *, default_from: str | None = None) -> Any:
    """An ``email.message.EmailMessage`` from to/cc/bcc/from/subject/text/html/attachments.

    Bcc is never a header here: SMTP passes it in the envelope only, and the Gmail encoder adds
    it itself. No Date or Message-ID is added, so the same
    parameters give the same message (dry runs are reproducible; servers add both).
    """
    from email.message import EmailMessage

    msg = EmailMessage()
    sender = params.get("from") or default_from
    if sender:
        msg["From"] = str(sender)
    to, cc = _addresses(params.get("to")), _addresses(params.get("cc"))
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if params.get("reply_to"):
        msg["Reply-To"] = str(params["reply_to"])
    msg["Subject"] = str(params.get("subject") or "")
    for key in ("subject", "from", "reply_to"):
        if any(c in str(params.get(key) or "") for c in "\r\n"):
            raise UsageError(f"{key} may not contain line breaks.", None)
    text, html = params.get("text"), params.get("html")
    if text is None and html is None:
        raise UsageError("An email needs text or html (or both).", "Add -p text=... or -p html=...")
    if text is not None:
        msg.set_content(str(text))
        if html is not None:
            msg.add_alternative(str(html), subtype="html")
    else:
        msg.set_content(str(html), subtype="html")
    for path in _addresses(params.get("attachments")):
        fv = FileValue(path)
        maintype, _, subtype = fv.content_type.partition("/")
        msg.add_attachment(fv.read(), maintype=maintype, subtype=subtype, filename=fv.filename)
    _fix_boundaries(msg)
    return msg


def _fix_boundaries(msg: Any) -> None:
    """Deterministic MIME boundaries derived from the content (random ones break dry runs)."""
    if not msg.is_multipart():
        return
    for part in msg.get_payload():
        _fix_boundaries(part)
    import hashlib  # not at the top: ``_hashlib`` loads OpenSSL (~2 ms) and only e-mail bodies need it

    h = hashlib.sha256()
    for part in msg.get_payload():
        h.update(part.as_bytes())
    digest = h.hexdigest()[:24]
    msg.set_boundary(f"=={digest}==")


def email_recipients(params: dict[str, Any]) -> list[str]:
    return [*_addresses(params.get("to")), *_addresses(params.get("cc")), *_addresses(params.get("bcc"))]


def rfc2822_base64url(params: dict[str, Any]) -> dict[str, Any]:
    """Gmail ``users.messages.send``: the message, base64url-encoded, in ``raw``."""
    import base64
    from email import policy

    if not email_recipients(params):
        raise UsageError("An email needs at least one recipient.", "Add -p to=someone@example.com")
    msg = build_email(params)
    bcc = _addresses(params.get("bcc"))
    if bcc:
        msg["Bcc"] = ", ".join(bcc)  # Gmail reads Bcc from the message and strips it on delivery
    raw = msg.as_bytes(policy=policy.SMTP)
    body: dict[str, Any] = {"raw": base64.urlsafe_b64encode(raw).decode("ascii")}
    if params.get("thread_id"):
        body["threadId"] = str(params["thread_id"])
    return body


ENCODERS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "rfc2822_base64url": rfc2822_base64url,
}


def encoder(name: str) -> Callable[[dict[str, Any]], Any]:
    try:
        return ENCODERS[name]
    except KeyError:
        raise UsageError(
            f"This manifest names an unknown body encoder {name!r}.",
            f"Known encoders: {', '.join(sorted(ENCODERS))}.",
        ) from None


def path_segment(value: Any, keep_slashes: bool = False) -> str:
    """One path segment that can never climb out of the path: ``../x`` -> ``..%2Fx``. With
    ``keep_slashes`` (an S3 object key) each ``/``-separated part is one such segment, so
    ``a/../b`` is sent as ``a/%2E%2E/b``: the ``/`` stay and no part is a dot segment."""
    if keep_slashes:
        return "/".join(path_segment(part) for part in scalar(value).split("/"))
    seg = quote(scalar(value), safe="")
    return seg.replace(".", "%2E") if seg in {".", ".."} else seg
