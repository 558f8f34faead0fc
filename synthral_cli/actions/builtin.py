"""synthral's own connectors, the transports behind its YAML manifests: ``http`` (the
manifest-driven HTTP connector), ``smtp`` and ``postgresql``. They are registered by synthral's
pyproject under the entry-point group ``synthral.connectors``, like any third-party connector;
a manifest's ``transport:`` names the one that serves it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..wire.response import Outcome
from .connector import Call, Connector

if TYPE_CHECKING:
    from ..wire.prepare import Invocation
    from ..wire.request import Options, PreparedRequest


class HttpConnector(Connector):
    """The manifest-driven HTTP connector: the request is built from the manifest
    (``wire/prepare.py``) and delivered with retries, one refresh on 401 and pagination
    (``deliver.py``)."""

    def _invocation(self, call: Call) -> Invocation:
        from ..wire.prepare import Invocation

        return Invocation(call.manifest, call.action, call.params, call.credential, call.options)

    def preview(self, call: Call) -> PreparedRequest:
        return self._invocation(call).prepare(dry_run=True)

    def execute(self, call: Call) -> Outcome:
        from .deliver import deliver

        return deliver(self._invocation(call), call.refresh)


class _Operations(Connector):
    """A transport whose actions name an operation (``transport_op``) of a module in ``wire/``."""

    def _run(self, call: Call) -> Outcome | PreparedRequest:
        raise NotImplementedError

    def _op(self, call: Call) -> tuple[str, dict[str, Any]]:
        return str(call.action.raw.get("transport_op") or call.action.name), call.fields

    def _options(self, call: Call) -> Options:
        """The call's options with the credential's binding: the server is checked against it
        before the login or the password is sent."""
        import dataclasses

        return dataclasses.replace(call.options, binding=None if call.options.dry_run else call.binding)

    def preview(self, call: Call) -> PreparedRequest:
        out = self._run(call)
        assert not isinstance(out, Outcome)  # noqa: S101 - options.dry_run is set
        return out

    def execute(self, call: Call) -> Outcome:
        out = self._run(call)
        assert isinstance(out, Outcome)  # noqa: S101 - not a dry run
        return out


class SmtpConnector(_Operations):
    """SMTP submission with smtplib (``wire/smtp.py``): test_connection, send_email,
    send_raw_email, verify_address."""

    def _run(self, call: Call) -> Outcome | PreparedRequest:
        from ..wire import smtp

        op, fields = self._op(call)
        return smtp.run(call.manifest, op, call.params, fields, self._options(call))


class PostgresqlConnector(_Operations):
    """PostgreSQL with psycopg 3 (``wire/postgresql.py``): test_connection, query, list_tables,
    describe_table."""

    def _run(self, call: Call) -> Outcome | PreparedRequest:
        from ..wire import postgresql

        op, fields = self._op(call)
        return postgresql.run(call.manifest, op, call.params, fields, self._options(call))
