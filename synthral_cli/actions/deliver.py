"""Delivery over HTTP: send a prepared invocation, refresh the credential once on 401, and follow
the manifest's pagination, merging the items. One request's retries are in ``wire/http.py``.

The refresh is a callable (``Call.refresh``): this module needs a fresh credential, not the
credential layer or the library object.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin

from ..wire.http import _client, get_path, interpret, send_once
from ..wire.prepare import Invocation
from ..wire.response import Outcome

if TYPE_CHECKING:
    import httpx

    from ..auth.credential import Credential

Refresh = Callable[[], "Credential | None"]


def _exchange(refresh: Refresh | None, client: Any, inv: Invocation, **prepare: Any) -> Any:
    """Send; on 401 refresh the credential once (``refresh()``) and send again."""
    resp = send_once(client, inv, inv.prepare(**prepare))
    if resp.status_code == 401 and inv.sends_credentials and inv.credential is not None and refresh is not None:
        fresh = refresh()
        if fresh is not None:
            resp.close()
            inv.credential = fresh
            resp = send_once(client, inv, inv.prepare(**prepare))
    return resp


def deliver(inv: Invocation, refresh: Refresh | None = None) -> Outcome:
    """Send ``inv`` (following its pages with ``options.paginate``); ``refresh`` gives a new
    credential after a 401, or ``None`` when there is none to give."""
    started = time.monotonic()
    spec = _spec(inv)
    limit = spec.get("limit_param")
    if inv.options.paginate and limit and spec.get("page_size") and inv.action.parameter(limit) is not None:
        inv.params.setdefault(limit, spec["page_size"])
    shared = inv.options.client
    with contextlib.nullcontext(shared) if shared is not None else _client(inv) as client:
        resp = _exchange(refresh, client, inv)
        outcome = interpret(inv, resp)
        if inv.options.paginate:
            outcome = _paginate(refresh, client, inv, resp, outcome)
    outcome.elapsed = time.monotonic() - started
    return outcome


def _spec(inv: Invocation) -> dict[str, Any]:
    return dict(inv.action.raw.get("pagination") or inv.manifest.raw.get("pagination") or {"type": "none"})


def _items(spec: dict[str, Any], body: Any) -> list[Any]:
    items = get_path(body, spec.get("items_path", ""))
    if items is None:
        return []
    if not isinstance(items, list):
        from ..basics.errors import UsageError

        raise UsageError(
            "--paginate: the answer holds no list of items here.",
            "The manifest's pagination.items_path may be wrong.",
        )
    return items


def _paginate(
    refresh: Refresh | None, client: httpx.Client, inv: Invocation, resp: httpx.Response, first: Outcome
) -> Outcome:
    """Follow link / next_url / cursor / page / offset pagination up to ``max_pages``; merge
    the items. A next page (a Link or a ``next_url``) is judged against the connector's API
    origin (its base URL with the connection's settings), never against where a redirect
    ended up: on another origin it is not fetched (credentials stay with the provider)."""
    from ..auth.binding import origin

    spec = _spec(inv)
    kind = spec.get("type", "none")
    if kind == "none":
        return first
    items = list(_items(spec, first.result))
    page_items = items
    body = first.result
    pages, more = 1, True
    max_pages = int(spec.get("max_pages", 100))
    given_page = inv.params.get(spec.get("page_param", ""))
    page = int(given_page if given_page is not None else spec.get("start_page", 1))
    offset = int(inv.params.get(spec.get("offset_param", ""), 0) or 0)
    limit_param = spec.get("limit_param")
    size = inv.params.get(limit_param) if limit_param else None
    size = int(size or spec.get("page_size") or 0)
    base = inv.base_url()
    api_origin = origin(base)

    def on_api(url: str) -> str | None:
        """``url`` if it is on the API origin (the binding is checked again when it is sent)."""
        return url if api_origin and origin(url) == api_origin else None
    while True:
        prepare: dict[str, Any] = {}
        has_more = get_path(body, spec["has_more_path"]) if spec.get("has_more_path") else None
        if spec.get("has_more_path") and not has_more:
            more = False
        elif spec.get("last_page_path") and get_path(body, spec["last_page_path"]) is True:
            more = False
        elif kind == "next_url":
            nxt = get_path(body, spec.get("next_url_path", ""))
            if not isinstance(nxt, str) or not nxt.strip() or (pages > 1 and not page_items):
                more = False  # no next URL, or an empty page (Mailgun's events always link on)
            else:
                target = on_api(urljoin(base + "/", nxt.strip()))
                if target is None:
                    more = False  # never carry credentials to another host
                else:
                    prepare["url"] = target
        elif kind == "link":
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                more = False
            else:
                target = on_api(str(resp.request.url.join(nxt)))
                if target is None:
                    more = False  # never carry credentials to another host
                else:
                    prepare["url"] = target
        elif kind == "cursor":
            if spec.get("cursor_from_last_item"):
                cursor = get_path(page_items[-1], spec["cursor_from_last_item"]) if page_items else None
            else:
                cursor = get_path(body, spec.get("next_cursor_path", ""))
            key = spec.get("cursor_param", "cursor")
            if not cursor:
                more = False
            else:
                prepare["overrides"] = {("body:" if spec.get("cursor_in") == "body" else "") + key: cursor}
        elif kind in {"page", "offset"}:
            if not page_items or (size and len(page_items) < size):
                more = False
            elif kind == "page":
                page += 1
                prepare["overrides"] = {spec.get("page_param", "page"): page}
            else:
                offset += len(page_items)
                prepare["overrides"] = {spec.get("offset_param", "offset"): offset}
        if not more:
            break
        if pages >= max_pages:
            first.truncated = True
            break
        resp = _exchange(refresh, client, inv, **prepare)
        outcome = interpret(inv, resp, pages + 1)
        body = outcome.result
        page_items = _items(spec, body)
        items.extend(page_items)
        pages += 1
    first.result = items
    first.pages = pages
    return first
