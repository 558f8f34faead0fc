"""What every handler shares: the library object, the process-wide HTTP client, the API keys and
the in-memory state, and the one way to run core code from a request.

A ``Store`` is used by one thread, so each worker thread gets its own ``Synthral`` (a sibling on
the same settings and catalogue); the store's lock still makes N concurrent refreshes one grant.
Core code runs in the thread pool with local files forbidden (``encoders.without_local_files``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from ..basics.errors import SynthralError
from .keys import KeyRing
from .options import ServeOptions
from .replies import Problem, not_found
from .state import Executions, PendingFlows, Sessions

if TYPE_CHECKING:
    from starlette.requests import Request

    from ..api import Synthral
    from ..catalogue.manifest import Action, Manifest
    from .keys import ApiKey

T = TypeVar("T")


class Hub:
    def __init__(self, sy: Synthral, options: ServeOptions, login_token: str | None = None) -> None:
        self.sy = sy
        self.options = options
        self.catalogue = sy.catalogue
        self.keys = KeyRing(sy.paths.config_dir)
        self.pending = PendingFlows()
        self.sessions = Sessions(login_token or secrets.token_urlsafe(32))
        self.executions = Executions()
        self._local = threading.local()
        self._opened: list[Synthral] = []
        self._lock = threading.Lock()
        self._http: Any = None
        self.openapi_cache: dict[str, Any] | None = None
        self._validators: dict[tuple[str, str], Any] = {}

    # -- the library, per thread ---------------------------------------------------------------

    def local(self) -> Synthral:
        """This thread's ``Synthral`` (its own store connection)."""
        sy = getattr(self._local, "sy", None)
        if sy is None:
            sy = self.sy.sibling()
            self._local.sy = sy
            with self._lock:
                self._opened.append(sy)
        return sy

    @property
    def http(self) -> Any:
        """The one ``httpx.Client`` every provider call of this process goes through."""
        if self._http is None:
            with self._lock:
                if self._http is None:
                    from ..wire.http import new_client

                    self._http = new_client(self.options.timeout, self.sy.settings.ca_bundle)
        return self._http

    def invoke_options(self, connection: str = "default") -> Any:
        from ..actions.invoke import Options

        return Options(connection=connection, timeout=self.options.timeout, client=self.http)

    def flow_runner(self, sy: Synthral) -> Any:
        """A workflow step runner on ``sy`` that shares the process-wide HTTP client."""
        from ..workflows.run import SynthralRunner

        return SynthralRunner(sy, timeout=self.options.timeout, client=self.http)

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(sy, *args, **kwargs)`` in the thread pool with this thread's ``Synthral``."""
        from starlette.concurrency import run_in_threadpool

        def work() -> T:
            from ..wire.encoders import without_local_files

            with without_local_files():
                return fn(self.local(), *args, **kwargs)

        return await run_in_threadpool(work)

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
        for sy in self._opened:
            if "store" in sy.__dict__:
                try:
                    sy.store.close()
                except Exception:  # noqa: BLE001, S110 - another thread's connection; the process is ending
                    pass

    # -- the catalogue -------------------------------------------------------------------------

    def manifest(self, slug: str) -> Manifest:
        if slug not in self.catalogue:
            raise not_found(f"Unknown connector {slug!r}.", "See them all: GET /api/v1/connectors/list")
        return self.catalogue.get(slug)

    def action(self, manifest: Manifest, name: str) -> Action:
        for action in manifest.actions:
            if action.name == name:
                return action
        raise not_found(
            f"{manifest.slug} has no action {name!r}.", f"See them: GET /api/v1/connectors/{manifest.slug}/actions"
        )

    def validator(self, manifest: Manifest, action: Action) -> Any:
        """A JSON Schema validator of the action's body (as ``/openapi.json`` describes it)."""
        key = (manifest.slug, action.name)
        found = self._validators.get(key)
        if found is None:
            from jsonschema import Draft202012Validator

            from .shapes import action_schema

            schema = action_schema(action)
            try:
                Draft202012Validator.check_schema(schema)
            except Exception:  # noqa: BLE001 - a user manifest's odd ``items``: the core checks still apply
                found = None
            else:
                found = Draft202012Validator(schema)
            self._validators[key] = found
        return found

    # -- access --------------------------------------------------------------------------------

    def authenticate(self, request: Request, permission: str) -> ApiKey:
        """The API key of ``Authorization: Bearer <key>``: 401 when missing or wrong, 403 when it
        lacks ``permission``."""
        challenge = {"WWW-Authenticate": 'Bearer realm="synthral"'}
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Problem(
                401,
                "unauthorized",
                "This API needs an API key: Authorization: Bearer <key>.",
                "Create one with: synthral serve keys create --name NAME --permission ...",
                challenge,
            )
        try:
            key = self.keys.verify(value.strip())
        except SynthralError as exc:
            raise Problem(503, "store_error", exc.message, exc.hint) from None
        if key is None:
            raise Problem(
                401,
                "unauthorized",
                "The API key is wrong or was revoked.",
                "Check the key, or create a new one: synthral serve keys create",
                challenge,
            )
        request.state.key_id = key.id  # for the access log
        if permission not in key.permissions:
            raise Problem(
                403,
                "forbidden",
                f"The API key {key.name!r} lacks the permission {permission}.",
                f"Create a key with --permission {permission}.",
            )
        return key
