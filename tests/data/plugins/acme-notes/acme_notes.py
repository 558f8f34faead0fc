"""Acme Notes for synthral: a connector written in Python."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from synthral_cli.actions.connector import (
    ActionSpec,
    AuthError,
    Call,
    Connector,
    Outcome,
    Param,
    PreparedRequest,
    ProviderError,
    UsageError,
)


class AcmeNotes(Connector):
    """Read and write notes on an Acme Notes server."""

    slug = "acme-notes"
    name = "Acme Notes"
    category = "Productivity & Notes"
    description = "Read and write notes on an Acme Notes server (self-hosted)."
    docs_url = "https://acme-notes.example/docs/api"
    auth = {
        "type": "api_key",
        "fields": [
            {"name": "api_key", "label": "API key"},
            {"name": "url", "label": "Server URL", "secret": False, "description": "e.g. https://notes.example.com"},
        ],
    }
    actions = [
        ActionSpec("test_connection", "Check the key: who am I?"),
        ActionSpec("list_notes", "The latest notes.", [Param("limit", int, default=10, description="How many.")]),
        ActionSpec(
            "add_note",
            "Add a note.",
            [Param("text", str, required=True, description="The note."), Param("tags", list, description="Labels.")],
            idempotent=False,
        ),
    ]
    routes = {"test_connection": ("GET", "/me"), "list_notes": ("GET", "/notes"), "add_note": ("POST", "/notes")}

    def _request(self, call: Call) -> tuple[str, str, dict[str, str], dict[str, Any], dict[str, Any] | None]:
        """Method, URL, headers, query and JSON body of the call."""
        url = call.fields.get("url")
        if not url:
            raise UsageError("The acme-notes connection has no server URL.", "Run: synthral authorize acme-notes")
        method, path = self.routes[call.action.name]
        headers = {"Authorization": f"Bearer {call.fields['api_key']}"}
        if method == "GET":
            return method, url.rstrip("/") + path, headers, call.params, None
        return method, url.rstrip("/") + path, headers, {}, call.params

    def preview(self, call: Call) -> PreparedRequest:
        method, url, headers, query, body = self._request(call)
        url += ("?" + urlencode(query)) if query else ""
        return PreparedRequest(method, url, list(headers.items()), display_body=body)

    def execute(self, call: Call) -> Outcome:
        method, url, headers, query, body = self._request(call)
        with call.http_client() as http:
            resp = http.request(method, url, headers=headers, params=query, json=body)
        answer = resp.json()
        if resp.status_code == 401:
            raise AuthError("Acme Notes refused the API key.", "Run: synthral authorize acme-notes")
        if resp.is_error:
            raise ProviderError(
                f"Acme Notes answered {resp.status_code}: {answer.get('error')}", status=resp.status_code, result=answer
            )
        return Outcome(True, resp.status_code, answer)
