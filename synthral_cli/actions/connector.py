"""The extension point for connectors written in Python: the ``Connector`` base class, the
``Call`` it executes, and ``ActionSpec``/``Param`` to describe its actions.

A connector is a class registered under the entry-point group ``synthral.connectors``; the
entry point's name is the *transport* it provides. synthral's own transports come through the
same door (its pyproject declares ``http``, ``smtp`` and ``postgresql``): a YAML manifest's
``transport:`` names the connector that serves it. A connector that also sets ``slug`` (and
name, category, description, auth, actions) describes its own catalogue entry, validated
against the manifest schema, so that ``connectors list``, ``authorize``, ``invoke``, ``test``
and ``run`` treat it like a bundled one::

    class AcmeNotes(Connector):
        slug = "acme-notes"
        ...
        actions = [ActionSpec("test_connection", "Who am I?"), ...]

        def execute(self, call: Call) -> Outcome:
            ...

synthral checks the parameters against the action's schema and resolves the credential
(refreshed if needed) before ``execute`` runs; a dry run calls ``preview`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ClassVar

from ..basics.errors import AuthError, NetworkError, ProviderError, UsageError
from ..wire.request import Options, PreparedRequest, credential_fields, secret_values
from ..wire.response import Outcome

if TYPE_CHECKING:
    import httpx

    from ..auth.binding import Binding
    from ..auth.credential import Credential
    from ..catalogue.manifest import Action, Manifest

__all__ = [
    "ActionSpec",
    "AuthError",
    "Call",
    "Connector",
    "NetworkError",
    "Options",
    "Outcome",
    "Param",
    "PreparedRequest",
    "ProviderError",
    "UsageError",
]

_PY_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
                             dict: "object"}


class Param:
    """One parameter of an action: the manifest's parameter schema (always ``in: body``).
    ``type`` is a schema name (string, integer, number, boolean, array, object, file) or one of
    the Python types str, int, float, bool, list, dict; a ``secret`` value is masked in
    ``--dry-run`` and ``--debug`` output."""

    # Plain classes rather than dataclasses: this module is imported by every ``invoke``.
    __slots__ = ("name", "type", "required", "default", "description", "enum", "secret")

    def __init__(
        self,
        name: str,
        type: Any = "string",  # noqa: A002 - the manifest's field name
        required: bool = False,
        default: Any = None,
        description: str = "",
        enum: list[Any] | None = None,
        secret: bool = False,
    ) -> None:
        self.name = name
        self.type = type
        self.required = required
        self.default = default
        self.description = description
        self.enum = enum
        self.secret = secret

    def __repr__(self) -> str:
        return f"Param({self.name!r}, {self.type!r})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "in": "body", "type": _PY_TYPES.get(self.type, self.type)}
        if self.required:
            out["required"] = True
        if self.default is not None:
            out["default"] = self.default
        if self.description:
            out["description"] = self.description
        if self.enum:
            out["enum"] = list(self.enum)
        if self.secret:
            out["secret"] = True
        return out


class ActionSpec:
    """One action: its name, what it does, its parameters, the (OAuth) scopes it needs, and
    whether it is safe to repeat."""

    __slots__ = ("name", "description", "params", "scopes", "idempotent")

    def __init__(
        self,
        name: str,
        description: str,
        params: Sequence[Param] = (),
        scopes: Sequence[str] = (),
        idempotent: bool | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.params = params
        self.scopes = scopes
        self.idempotent = idempotent

    def __repr__(self) -> str:
        return f"ActionSpec({self.name!r})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "description": self.description}
        if self.params:
            out["parameters"] = [p.to_dict() for p in self.params]
        if self.scopes:
            out["scopes"] = list(self.scopes)
        if self.idempotent is not None:
            out["idempotent"] = self.idempotent
        return out


def _no_refresh() -> Credential | None:
    return None


class Call:
    """One action to run: what ``execute`` and ``preview`` receive.

    ``params`` are checked and typed by the action's schema, defaults filled; ``credential`` is
    the resolved (and, for OAuth, refreshed) credential, ``None`` for an ``auth: none``
    connector; ``refresh()`` forces one refresh after the provider refused the credential and
    returns the new one (also set as ``credential``), or ``None`` when that is impossible.
    """

    def __init__(
        self,
        manifest: Manifest,
        action: Action,
        params: dict[str, Any],
        credential: Credential | None,
        options: Options,
        refresh: Callable[[], Credential | None] = _no_refresh,
    ) -> None:
        self.manifest = manifest
        self.action = action
        self.params = params
        self.credential = credential
        self.options = options
        self.refresh = refresh

    def __repr__(self) -> str:
        return f"Call({self.manifest.slug!r}, {self.action.name!r})"

    @property
    def fields(self) -> dict[str, Any]:
        """The credential's fields, settings and secrets in one mapping (``fields["api_key"]``)."""
        return credential_fields(self.manifest, self.credential)

    @property
    def secrets(self) -> list[str]:
        """The secret values among ``fields`` (what a preview must mask)."""
        return secret_values(self.manifest, self.fields)

    @property
    def binding(self) -> Binding | None:
        """Where the credential may be sent (``auth/binding.py``): ``binding.check(url)`` before
        sending it anywhere; ``None`` without a credential."""
        if self.credential is None or self.credential.source == "placeholder":
            return None
        from ..auth.binding import credential_binding

        return credential_binding(self.manifest, self.credential)

    @contextmanager
    def http_client(self) -> Iterator[httpx.Client]:
        """An ``httpx.Client`` with synthral's TLS trust (``--ca-bundle``) and ``--timeout``; a
        workflow's shared client when there is one."""
        if self.options.client is not None:
            yield self.options.client
            return
        from ..wire.http import new_client

        with new_client(self.options.timeout, self.options.ca_bundle) as client:
            yield client


class Connector:
    """Base class of every connector: the transports behind YAML manifests (``http``, ``smtp``,
    ``postgresql``) and connectors written in Python.

    A connector that describes its own catalogue entry sets ``slug`` and the attributes below
    (the manifest schema's fields: ``auth`` is the manifest's ``auth`` block, ``actions`` a list
    of ``ActionSpec`` or manifest action dicts); ``version`` defaults to its package's version.
    A transport leaves ``slug`` empty.
    """

    slug: ClassVar[str] = ""
    name: ClassVar[str] = ""
    category: ClassVar[str] = ""
    description: ClassVar[str] = ""
    status: ClassVar[str] = "beta"
    version: ClassVar[str] = ""
    docs_url: ClassVar[str] = ""
    auth: ClassVar[dict[str, Any]] = {"type": "none"}
    connection_config: ClassVar[dict[str, dict[str, Any]]] = {}
    nango: ClassVar[dict[str, Any]] = {"enabled": False, "provider_key": None}
    actions: ClassVar[Sequence[ActionSpec | dict[str, Any]]] = ()

    def execute(self, call: Call) -> Outcome:
        """Run ``call.action`` and return the provider's answer; raise ``ProviderError`` (exit 1)
        when the provider answered with an error, ``AuthError`` (3) when it refused the
        credential, ``NetworkError`` (4) when it could not be reached."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")

    def preview(self, call: Call) -> PreparedRequest:
        """What a dry run shows instead of running (secrets masked): by default the action, its
        parameters and the credential's fields. Override it to show the exact request."""
        body = {"parameters": call.params, "credential": call.fields}
        return PreparedRequest(
            "CALL",
            f"{call.manifest.slug}.{call.action.name}",
            [],
            display_body=json.loads(json.dumps(body, default=str)),
            masked=call.secrets,
        )

    @classmethod
    def describe(cls, transport: str, version: str = "") -> dict[str, Any] | None:
        """The manifest this connector's attributes describe (``None`` for a transport), with
        ``transport`` naming it; the registry validates it against the manifest schema."""
        if not cls.slug:
            return None
        doc: dict[str, Any] = {
            "schema_version": 1,
            "slug": cls.slug,
            "name": cls.name or cls.slug,
            "category": cls.category,
            "status": cls.status,
            "version": cls.version or version,
            "description": cls.description or (cls.__doc__ or "").strip().split("\n")[0],
            "docs_url": cls.docs_url,
            "transport": transport,
            "auth": dict(cls.auth),
            "nango": dict(cls.nango),
            "actions": [a.to_dict() if isinstance(a, ActionSpec) else dict(a) for a in cls.actions],
        }
        if cls.connection_config:
            doc["connection_config"] = dict(cls.connection_config)
        result: dict[str, Any] = json.loads(json.dumps(doc))  # plain JSON values, as a YAML file gives
        return result
