"""The gaps the catalogue engineers found, closed: next-URL pagination, settings in headers and
inject, oauth2 with extra headers, non-secret fields, raw file bodies, JSON multipart parts, S3
signing and per-action services, GraphQL/XML errors, page/cursor fixes, repeated ``-p``."""

from __future__ import annotations

import json

import pytest

from tests.invoke_support import (
    STORE_KEY,
    Scripted,
    get_connection,
    manifest,
    put_connection,
    write_manifests,
)


def run_json(cli, *args):
    r = cli(*args, "--json")
    return r, (json.loads(r.stdout) if r.stdout.strip() else None)


# ---------------------------------------------------------------------------------------------
# Response paths


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ('["@odata.nextLink"]', "https://n.test/2"),
        ("['@odata.nextLink']", "https://n.test/2"),
        ("@odata.nextLink", None),  # a plain dotted path never reads a dotted key
        ("[0].message", None),
        ("value[1].id", "b"),
        ("value.1.id", "b"),
        ("value[-1].id", "b"),
        ('meta["a.b"].c', 3),
        ("value[5].id", None),
        ("value[x]", None),  # malformed: absent, not a crash
    ],
)
def test_get_path_quoted_keys_and_indexes(path, expected):
    from synthral_cli.wire.http import get_path

    body = {
        "@odata.nextLink": "https://n.test/2",
        "value": [{"id": "a"}, {"id": "b"}],
        "meta": {"a.b": {"c": 3}},
    }
    assert get_path(body, path) == expected


def test_get_path_into_a_top_level_array():
    from synthral_cli.wire.http import get_path

    assert get_path([{"message": "first"}, {"message": "second"}], "[0].message") == "first"
    assert get_path([{"message": "first"}], "[1].message") is None
    assert get_path({"0": "key zero"}, "0") == "key zero"  # a number names a key in an object


def test_validator_checks_paths_and_next_url(tmp_path):
    from synthral_cli.catalogue.validation import validate_dict

    doc = manifest(
        "paths",
        "https://api.paths.test",
        [
            {
                "name": "list",
                "description": "l",
                "method": "GET",
                "path": "/l",
                "pagination": {"type": "next_url", "items_path": "value[x"},
            }
        ],
        errors={"message_paths": ["ok", "a[b]"]},
    )
    problems = validate_dict(doc)
    assert any(p.startswith("actions[list].pagination.next_url_path: required") for p in problems)
    assert any(p.startswith("actions[list].pagination.items_path: cannot read the path") for p in problems)
    assert any(p.startswith("errors.message_paths[1]: cannot read the path 'a[b]'") for p in problems)


# ---------------------------------------------------------------------------------------------
# next_url pagination against a scripted peer


@pytest.fixture
def pages(tmp_path, monkeypatch):
    server = Scripted()
    actions = [
        {
            "name": "graph",
            "description": "odata",
            "method": "GET",
            "path": "/me/drive/root/children",
            "parameters": [{"name": "top", "in": "query", "type": "integer", "wire_name": "$top"}],
            "pagination": {"type": "next_url", "next_url_path": '["@odata.nextLink"]', "items_path": "value"},
        },
        {
            "name": "twilio",
            "description": "relative next_page_uri",
            "method": "GET",
            "path": "/Accounts/AC1/Messages.json",
            "pagination": {"type": "next_url", "next_url_path": "next_page_uri", "items_path": "messages"},
        },
        {
            "name": "clickup",
            "description": "zero-based pages with last_page",
            "method": "GET",
            "path": "/task",
            "parameters": [{"name": "page", "in": "query", "type": "integer"}],
            "pagination": {
                "type": "page",
                "page_param": "page",
                "start_page": 0,
                "items_path": "tasks",
                "last_page_path": "last_page",
            },
        },
        {
            "name": "nested",
            "description": "a cursor nested in the JSON body",
            "method": "POST",
            "path": "/search",
            "idempotent": True,
            "parameters": [{"name": "query", "in": "body", "type": "string"}],
            "pagination": {
                "type": "cursor",
                "cursor_param": "page.cursor",
                "cursor_in": "body",
                "next_cursor_path": "meta.next",
                "items_path": "results",
            },
        },
        {
            "name": "gql",
            "description": "GraphQL",
            "method": "POST",
            "path": "/graphql",
            "idempotent": True,
            "parameters": [{"name": "query", "in": "body", "type": "string", "required": True}],
        },
        {
            "name": "xml",
            "description": "XML errors",
            "method": "GET",
            "path": "/bucket",
            "accept": "application/xml",
        },
    ]
    doc = manifest("pages", server.url + "/2010-04-01", actions, errors={"error_path": "errors"})
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_PAGES_TOKEN", "pages-token-1")
    yield server
    server.close()


def test_next_url_absolute_with_odata_key(cli, pages):
    base = pages.url + "/2010-04-01"
    pages.add(
        "/2010-04-01/me/drive/root/children",
        (200, {}, lambda path, body: {"value": [1, 2], "@odata.nextLink": f"{base}/me/next?$skiptoken=X"}),
    )
    pages.add("/2010-04-01/me/next", (200, {}, {"value": [3]}))
    r, out = run_json(cli, "invoke", "pages", "graph", "-p", "top=2", "--paginate")
    assert r.exit_code == 0, r.stderr
    assert out["result"] == [1, 2, 3]
    assert [req[1] for req in pages.requests] == [
        "/2010-04-01/me/drive/root/children?%24top=2",
        "/2010-04-01/me/next?$skiptoken=X",  # the next URL as the provider gave it
    ]
    assert all(req[2]["Authorization"] == "Bearer pages-token-1" for req in pages.requests)
    r, out = run_json(cli, "invoke", "pages", "graph")  # without --paginate: the page as it is
    assert out["result"]["@odata.nextLink"].endswith("$skiptoken=X")


def test_next_url_relative_to_the_base_url(cli, pages):
    """Twilio's next_page_uri is relative (it repeats the /2010-04-01 prefix)."""
    pages.add(
        "/2010-04-01/Accounts/AC1/Messages.json",
        (
            200,
            {},
            lambda path, body: (
                {"messages": [3], "next_page_uri": None}
                if "PageToken" in path
                else {
                    "messages": [1, 2],
                    "next_page_uri": "/2010-04-01/Accounts/AC1/Messages.json?Page=1&PageToken=PA2",
                }
            ),
        ),
    )
    r, out = run_json(cli, "invoke", "pages", "twilio", "--paginate")
    assert r.exit_code == 0, r.stderr
    assert out["result"] == [1, 2, 3]
    assert pages.requests[1][1] == "/2010-04-01/Accounts/AC1/Messages.json?Page=1&PageToken=PA2"


@pytest.mark.parametrize(
    "elsewhere",
    [
        "https://evil.test/steal",
        "http://localhost:{port}/2010-04-01/x",
        "//evil.test/x",
        "https://127.0.0.1:{port}/x",
    ],
)
def test_next_url_on_another_origin_is_never_followed(cli, pages, elsewhere):
    port = pages.server.server_address[1]
    pages.add(
        "/2010-04-01/me/drive/root/children",
        (200, {}, {"value": [1], "@odata.nextLink": elsewhere.format(port=port)}),
    )
    r, out = run_json(cli, "invoke", "pages", "graph", "--paginate")
    assert r.exit_code == 0 and out["result"] == [1]
    assert len(pages.requests) == 1  # the credential never left for another host


def test_next_url_keeps_query_credentials(cli, tmp_path, monkeypatch):
    server = Scripted()
    try:
        auth = {
            "type": "api_key",
            "inject": [{"in": "query", "name": "key", "value": "{api_key}"}],
        }
        action = {
            "name": "list",
            "description": "l",
            "method": "GET",
            "path": "/items",
            "pagination": {"type": "next_url", "next_url_path": "next", "items_path": "items"},
        }
        doc = manifest("qkey", server.url, [action], auth=auth)
        monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
        monkeypatch.setenv("SYNTHRAL_QKEY_TOKEN", "qk-secret-1")
        server.add("/items", (200, {}, {"items": [1], "next": f"{server.url}/items2?cursor=c2"}))
        server.add("/items2", (200, {}, {"items": [2], "next": f"{server.url}/items3?cursor=c3&key=given"}))
        server.add("/items3", (200, {}, {"items": [3], "next": ""}))
        r, out = run_json(cli, "invoke", "qkey", "list", "--paginate")
        assert r.exit_code == 0 and out["result"] == [1, 2, 3]
        assert [req[1] for req in server.requests] == [
            "/items?key=qk-secret-1",
            "/items2?cursor=c2&key=qk-secret-1",
            "/items3?cursor=c3&key=given",  # already there: not doubled
        ]
    finally:
        server.close()


def test_zero_based_pages_stop_at_last_page(cli, pages):
    def page(path, body):
        n = int(path.split("page=")[1]) if "page=" in path else 0
        return {"tasks": [f"t{n}"], "last_page": n == 2}

    pages.add("/2010-04-01/task", (200, {}, page))
    r, out = run_json(cli, "invoke", "pages", "clickup", "--paginate")
    assert r.exit_code == 0, r.stderr
    assert out["result"] == ["t0", "t1", "t2"]
    assert [req[1] for req in pages.requests] == [
        "/2010-04-01/task",
        "/2010-04-01/task?page=1",
        "/2010-04-01/task?page=2",
    ]
    pages.requests.clear()
    r, out = run_json(cli, "invoke", "pages", "clickup", "-p", "page=1", "--paginate")
    assert out["result"] == ["t1", "t2"]


def test_body_cursor_nests(cli, pages):
    def page(path, body):
        sent = json.loads(body)
        if sent.get("page", {}).get("cursor") == "c2":
            return {"results": [3], "meta": {"next": None}}
        return {"results": [1, 2], "meta": {"next": "c2"}}

    pages.add("/2010-04-01/search", (200, {}, page))
    r, out = run_json(cli, "invoke", "pages", "nested", "-p", "query=x", "--paginate")
    assert r.exit_code == 0 and out["result"] == [1, 2, 3]
    assert json.loads(pages.requests[1][3]) == {"query": "x", "page": {"cursor": "c2"}}


# ---------------------------------------------------------------------------------------------
# Errors inside a 200 (GraphQL) and XML error bodies


def test_graphql_errors_in_a_200(cli, pages):
    pages.add(
        "/2010-04-01/graphql", (200, {}, {"data": None, "errors": [{"message": "Field 'x' doesn't exist"}]})
    )
    r, out = run_json(cli, "invoke", "pages", "gql", "-p", "query={ x }")
    assert r.exit_code == 1
    assert "pages answered 200: Field 'x' doesn't exist" in r.stderr
    assert out["success"] is False and out["result"]["errors"][0]["message"] == "Field 'x' doesn't exist"
    pages.add("/2010-04-01/graphql", (200, {}, {"data": {"viewer": {"id": "u1"}}, "errors": []}))
    r, out = run_json(cli, "invoke", "pages", "gql", "-p", "query={ viewer { id } }")
    assert r.exit_code == 0 and out["result"]["data"] == {"viewer": {"id": "u1"}}
    pages.add("/2010-04-01/graphql", (200, {}, {"data": {"viewer": {"id": "u1"}}}))
    assert cli("invoke", "pages", "gql", "-p", "query={ viewer { id } }").exit_code == 0


@pytest.mark.parametrize(
    ("xml", "message"),
    [
        (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchBucket</Code>'
            "<Message>The specified bucket does not exist</Message><BucketName>b</BucketName></Error>",
            "NoSuchBucket: The specified bucket does not exist",
        ),
        (
            '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
            "<Code>InvalidAction</Code><Message>The action or operation requested is "
            "invalid &amp; unknown.</Message></Error><RequestId>r1</RequestId></ErrorResponse>",
            "InvalidAction: The action or operation requested is invalid & unknown.",
        ),
    ],
)
def test_xml_error_bodies(cli, pages, xml, message):
    pages.add("/2010-04-01/bucket", (404, {"Content-Type": "application/xml"}, xml))
    r = cli("invoke", "pages", "xml", "--retries", "0")
    assert r.exit_code == 1
    assert f"pages answered 404: {message}" in r.stderr


@pytest.mark.parametrize(
    ("headers", "body", "code"),
    [
        (
            {"Content-Type": "application/xml"},
            "<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not "
            "exist in our records.</Message></Error>",
            "InvalidAccessKeyId",
        ),
        (  # Lambda: JSON, the code in a header
            {"x-amzn-ErrorType": "UnrecognizedClientException:http://internal.amazon.com/coral/x/"},
            {"message": "The security token included in the request is invalid."},
            "The security token included in the request is invalid.",
        ),
    ],
)
def test_aws_credential_refusals_exit_3(cli, pages, headers, body, code):
    """A 403 whose AWS code says the key or signature is wrong is a refused credential (exit 3),
    not a missing permission (a plain 403 stays exit 1)."""
    pages.add("/2010-04-01/bucket", (403, headers, body))
    r = cli("invoke", "pages", "xml", "--retries", "0")
    assert r.exit_code == 3, r.stderr
    assert f"pages refused the credentials (403: {code}" in r.stderr
    pages.add("/2010-04-01/bucket", (403, {"Content-Type": "application/xml"}, "<Error><Code>AccessDenied</Code>"
                                     "<Message>Access Denied</Message></Error>"))
    r = cli("invoke", "pages", "xml", "--retries", "0")
    assert r.exit_code == 1 and "pages answered 403: AccessDenied: Access Denied" in r.stderr


# ---------------------------------------------------------------------------------------------
# Connection settings in headers, action headers and inject


SETTINGS_ACTIONS = [
    {
        "name": "invoices",
        "description": "needs the tenant header",
        "method": "GET",
        "path": "/Invoices",
        "headers": {"Xero-tenant-id": "{tenant_id}"},
    },
]


@pytest.fixture
def settings_manifest(tmp_path, monkeypatch):
    doc = manifest(
        "tenanty",
        "https://api.tenanty.test",
        SETTINGS_ACTIONS,
        auth={
            "type": "basic",
            "inject": [{"in": "query", "name": "project_id", "value": "{project_id}"}],
        },
        headers={"X-Region": "{region}"},
        connection_config={
            "tenant_id": {"description": "The organisation id", "example": "70784a63", "required": False},
            "project_id": {"description": "The project id", "example": "12345"},
            "region": {"description": "Data region", "default": "us"},
        },
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    return doc


def test_settings_fill_headers_and_inject(cli, settings_manifest):
    put_connection(
        "tenanty",
        method="basic",
        config={"tenant_id": "T-1", "project_id": "42", "region": "eu"},
        secrets={"username": "svc", "password": "pw-secret-1"},
    )
    r, req = run_json(cli, "invoke", "tenanty", "invoices", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert req["url"] == "https://api.tenanty.test/Invoices?project_id=42"
    assert req["headers"]["X-Region"] == "eu"
    assert req["headers"]["Xero-tenant-id"] == "T-1"
    assert req["headers"]["Authorization"] == "Basic ***"  # inject adds to basic, not replaces


def test_missing_setting_is_a_usage_error_naming_config(cli, settings_manifest):
    put_connection(
        "tenanty",
        method="basic",
        config={"project_id": "42"},
        secrets={"username": "svc", "password": "pw-1"},
    )
    r, req = run_json(cli, "invoke", "tenanty", "test_connection", "--dry-run")
    assert r.exit_code == 0 and req["headers"]["X-Region"] == "us"  # the setting's default
    assert "Xero-tenant-id" not in req["headers"]  # only the action that names it
    r = cli("invoke", "tenanty", "invoices", "--dry-run")  # a dry run shows it (issue 15, item 2)
    assert r.exit_code == 0 and "Xero-tenant-id: <tenant_id>" in r.stdout
    assert "warning: tenanty needs the connection setting 'tenant_id' (The organisation id)." in r.stderr
    r = cli("invoke", "tenanty", "invoices")  # the real call stops before sending
    assert r.exit_code == 2
    assert "tenanty needs the connection setting 'tenant_id' (The organisation id)." in r.stderr
    assert "synthral authorize tenanty --config tenant_id=70784a63" in r.stderr
    put_connection("tenanty", name="other", method="basic", secrets={"username": "svc", "password": "pw-1"})
    r = cli("invoke", "tenanty", "test_connection", "-c", "other")
    assert r.exit_code == 2 and "{project_id}" not in r.stderr
    assert "synthral authorize tenanty --connection other --config project_id=12345" in r.stderr


def test_validator_accepts_settings_in_headers_and_inject(settings_manifest):
    from synthral_cli.catalogue.validation import validate_dict

    assert validate_dict(settings_manifest) == []
    bad = json.loads(json.dumps(settings_manifest))
    bad["headers"] = {"X-Who": "{nobody}"}
    bad["actions"][1]["headers"] = {"X-Act": "{ghost}"}
    bad["auth"]["inject"].append({"in": "header", "name": "X-K", "value": "{nothing}"})
    problems = validate_dict(bad)
    assert "headers.X-Who: {nobody} is not a connection_config variable" in problems
    assert "actions[invoices].headers.X-Act: {ghost} is not a connection_config variable" in problems
    assert any(p.startswith("auth.inject[1].value: {nothing} is not a credential field") for p in problems)


# ---------------------------------------------------------------------------------------------
# OAuth 2.0 plus an injected app key (Etsy), against httpbin


ETSY_LIKE = {
    "type": "oauth2",
    "authorization_url": "https://x.test/a",
    "token_url": "https://x.test/t",
    "fields": [
        {"name": "keystring", "label": "App keystring"},
        {"name": "shop", "secret": False, "required": False},
    ],
    "inject": [{"in": "header", "name": "x-api-key", "value": "{keystring}"}],
}


@pytest.fixture
def etsyish(httpbin, tmp_path, monkeypatch):
    doc = manifest(
        "etsyish",
        httpbin.url,
        [{"name": "headers", "description": "echo", "method": "GET", "path": "/headers"}],
        auth=ETSY_LIKE,
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    return httpbin


def test_oauth2_sends_bearer_and_injected_header(cli, etsyish):
    r = cli(
        "authorize",
        "etsyish",
        "--with-token",
        input="access_token=at-etsy-1\nkeystring=ks-etsy-1\nshop=myshop\n",
    )
    assert r.exit_code == 0, r.stderr
    conn = get_connection("etsyish")
    assert conn.secrets == {"access_token": "at-etsy-1", "keystring": "ks-etsy-1"}
    assert conn.config == {"shop": "myshop"}  # secret: false -> a setting
    r, out = run_json(cli, "invoke", "etsyish", "headers")
    assert r.exit_code == 0, r.stderr
    h = out["result"]["headers"]
    assert h["Authorization"] == "Bearer at-etsy-1" and h["X-Api-Key"] == "ks-etsy-1"


def test_oauth2_inject_naming_authorization_replaces_the_default(cli, tmp_path, monkeypatch):
    auth = dict(
        ETSY_LIKE, inject=[{"in": "header", "name": "authorization", "value": "token {access_token}"}]
    )
    doc = manifest("replacer", "https://api.replacer.test", [], auth=auth)
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_REPLACER_TOKEN", "rt-123456")
    r, req = run_json(cli, "invoke", "replacer", "test_connection", "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert [k for k in req["headers"] if k.lower() == "authorization"] == ["authorization"]
    assert req["headers"]["authorization"] == "token ***"


def test_oauth2_extra_fields_need_a_terminal_or_with_token(cli, etsyish):
    r = cli("authorize", "etsyish")
    assert r.exit_code == 2
    assert "also needs keystring, shop" in r.stderr and "--with-token" in r.stderr


# ---------------------------------------------------------------------------------------------
# Non-secret custom fields are settings


def test_non_secret_fields_are_stored_as_config(cli, tmp_path, monkeypatch):
    auth = {
        "type": "custom",
        "fields": [
            {"name": "host", "secret": False},
            {"name": "api_key"},
            {"name": "region", "secret": False, "required": False},
        ],
        "inject": [{"in": "header", "name": "X-Key", "value": "{api_key}"}],
    }
    doc = manifest("mixed", "https://api.mixed.test", [], auth=auth)
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    r = cli(
        "authorize", "mixed", "--with-token", input="host=smtp.mixed.test\napi_key=mk-secret-9\nregion=eu-1\n"
    )
    assert r.exit_code == 0, r.stderr
    conn = get_connection("mixed")
    assert conn.secrets == {"api_key": "mk-secret-9"}
    assert conn.config == {"host": "smtp.mixed.test", "region": "eu-1"}
    r = cli("invoke", "mixed", "test_connection", "--dry-run")
    assert "X-Key: ***" in r.stdout and "mk-secret-9" not in r.stdout
    r = cli("connections", "list", "--json")
    assert "mk-secret-9" not in r.stdout


def test_basic_username_stays_with_the_password():
    from synthral_cli.auth.authorize import split_fields
    from synthral_cli.catalogue.manifest import Manifest

    m = Manifest(manifest("b", "https://b.test", [], auth={"type": "basic"}))
    assert split_fields(m, {"username": "u", "password": "p"}) == ({"username": "u", "password": "p"}, {})


# ---------------------------------------------------------------------------------------------
# Bodies: raw files, Content-Type parameters, JSON multipart parts


BODY_ACTIONS = [
    {
        "name": "put_object",
        "description": "raw file",
        "method": "PUT",
        "path": "/anything/{key}",
        "body": "raw",
        "parameters": [
            {"name": "key", "in": "path", "type": "string", "required": True},
            {"name": "file", "in": "body", "type": "file", "required": True},
            {"name": "content_type", "in": "header", "type": "string", "wire_name": "Content-Type"},
        ],
    },
    {
        "name": "upload_related",
        "description": "Drive-style multipart/related",
        "method": "POST",
        "path": "/upload",
        "body": "multipart",
        "content_type": "multipart/related",
        "parameters": [
            {"name": "metadata", "in": "body", "type": "object"},
            {"name": "file", "in": "body", "type": "file", "required": True},
        ],
    },
]


@pytest.fixture
def bodies(httpbin, tmp_path, monkeypatch):
    doc = manifest("bodies", httpbin.url, BODY_ACTIONS)
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_BODIES_TOKEN", "bodies-token-1")
    return httpbin


def test_raw_body_from_a_file(cli, bodies, tmp_path):
    f = tmp_path / "report.csv"
    f.write_bytes(b"a,b\n1,2\n")
    r, out = run_json(cli, "invoke", "bodies", "put_object", "-p", "key=r.csv", "-p", f"file=@{f}")
    assert r.exit_code == 0, r.stderr
    assert out["result"]["data"] == "a,b\n1,2\n"
    assert out["result"]["headers"]["Content-Type"] == "text/csv"  # guessed from the name
    r, out = run_json(
        cli,
        "invoke",
        "bodies",
        "put_object",
        "-p",
        "key=r.csv",
        "-p",
        f"file=@{f}",
        "-p",
        "content_type=text/plain",
    )
    assert out["result"]["headers"]["Content-Type"] == "text/plain"  # the user's header wins
    binary = tmp_path / "blob"
    binary.write_bytes(bytes(range(256)))
    r, req = run_json(
        cli, "invoke", "bodies", "put_object", "-p", "key=b", "-p", f"file=@{binary}", "--dry-run"
    )
    assert req["headers"]["Content-Type"] == "application/octet-stream"
    assert req["body"] == "<256 bytes of binary data>"


def test_validator_allows_file_for_raw_only_besides_multipart():
    from synthral_cli.catalogue.validation import validate_dict

    ok = manifest("rawf", "https://r.test", BODY_ACTIONS)
    assert validate_dict(ok) == []
    bad = manifest("rawf", "https://r.test", [dict(BODY_ACTIONS[0], body="json")])
    assert any("file parameters need body: multipart or raw" in p for p in validate_dict(bad))


def test_object_parameter_is_a_json_part(cli, tmp_path, monkeypatch):
    server = Scripted()
    try:
        doc = manifest("drive", server.url, BODY_ACTIONS)
        monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
        monkeypatch.setenv("SYNTHRAL_DRIVE_TOKEN", "drive-token-1")
        server.add("/upload", (200, {}, {"id": "f1"}))
        f = tmp_path / "notes.txt"
        f.write_text("hello")
        r = cli(
            "invoke", "drive", "upload_related", "-p", 'metadata={"name": "notes.txt"}', "-p", f"file=@{f}"
        )
        assert r.exit_code == 0, r.stderr
        _, _, headers, body = server.requests[0]
        ctype = headers["Content-Type"]
        assert ctype.startswith("multipart/related; boundary=synthral-")
        boundary = ctype.split("boundary=")[1]
        assert (
            body
            == (
                f"--{boundary}\r\n"  # RFC 2387 parts: no Content-Disposition
                "Content-Type: application/json; charset=UTF-8\r\n\r\n"
                '{"name":"notes.txt"}\r\n'
                f"--{boundary}\r\n"
                "Content-Type: text/plain\r\n\r\n"
                "hello\r\n"
                f"--{boundary}--\r\n"
            ).encode()
        )
    finally:
        server.close()


# ---------------------------------------------------------------------------------------------
# S3 signing and per-action services


def test_s3_and_per_action_service_signatures(cli, httpbin, tmp_path, monkeypatch):
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    auth = {
        "type": "custom",
        "scheme": "aws_sigv4",
        "aws_service": "s3",
        "fields": [
            {"name": "access_key_id", "secret": False},
            {"name": "secret_access_key"},
            {"name": "region", "secret": False},
        ],
    }
    actions = [
        {
            "name": "put",
            "description": "s3 put",
            "method": "PUT",
            "path": "/anything/bucket/key",
            "body": "raw",
            "parameters": [{"name": "content", "in": "body", "type": "string", "required": True}],
        },
        {
            "name": "functions",
            "description": "lambda",
            "method": "GET",
            "path": "/anything/2015-03-31/functions/",
            "aws_service": "lambda",
        },
    ]
    doc = manifest("s3ish", httpbin.url, actions, auth=auth)
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection(
        "s3ish",
        method="custom",
        config={"access_key_id": "AKIDEXAMPLE", "region": "eu-west-1"},
        secrets={"secret_access_key": "wJalrXUtnFEMI/K7MDENG"},
    )
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG")
    for action, service, signer, extra in [
        ("put", "s3", S3SigV4Auth, ["-p", "content=hello s3"]),
        ("functions", "lambda", SigV4Auth, []),
    ]:
        r, out = run_json(cli, "invoke", "s3ish", action, *extra)
        assert r.exit_code == 0, r.stderr
        echoed = out["result"]
        h = echoed["headers"]
        assert f"/eu-west-1/{service}/aws4_request" in h["Authorization"]
        signed = [p.split("=")[1] for p in h["Authorization"].split(", ") if p.startswith("SignedHeaders")][0]
        if service == "s3":
            import hashlib

            assert h["X-Amz-Content-Sha256"] == hashlib.sha256(b"hello s3").hexdigest()
            assert "x-amz-content-sha256" in signed.split(";")
        else:
            assert "X-Amz-Content-Sha256" not in h
        req = AWSRequest(
            method=echoed["method"],
            url=echoed["url"],
            data=echoed["data"].encode(),
            headers={k: v for k, v in h.items() if k.lower() in signed.split(";")},
        )
        req.context["timestamp"] = h["X-Amz-Date"]
        auth_ = signer(creds, service, "eu-west-1")
        expected = auth_.signature(auth_.string_to_sign(req, auth_.canonical_request(req)), req)
        assert h["Authorization"].endswith("Signature=" + expected)


def test_action_aws_service_needs_sigv4():
    from synthral_cli.catalogue.validation import validate_dict

    doc = manifest(
        "nosig",
        "https://n.test",
        [{"name": "x", "description": "x", "method": "GET", "path": "/", "aws_service": "s3"}],
    )
    assert "actions[x].aws_service: only for auth.scheme aws_sigv4" in validate_dict(doc)


# ---------------------------------------------------------------------------------------------
# Repeated -p for arrays; enum per item


@pytest.fixture
def arrays(tmp_path, monkeypatch):
    action = {
        "name": "filter",
        "description": "arrays",
        "method": "GET",
        "path": "/f",
        "parameters": [
            {"name": "status", "in": "query", "type": "array", "enum": ["open", "closed", "draft"]},
            {"name": "ids", "in": "query", "type": "array", "style": "csv"},
            {"name": "name", "in": "query", "type": "string"},
        ],
    }
    doc = manifest("arrays", "https://api.arrays.test", [action])
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_ARRAYS_TOKEN", "arrays-token-1")


def test_repeated_p_accumulates_for_arrays(cli, arrays):
    r, req = run_json(
        cli,
        "invoke",
        "arrays",
        "filter",
        "-p",
        "status=open",
        "-p",
        "status=closed",
        "-p",
        "ids=1,2",
        "-p",
        "ids:=[3]",
        "--dry-run",
    )
    assert r.exit_code == 0, r.stderr
    assert req["url"] == "https://api.arrays.test/f?status=open&status=closed&ids=1,2,3"
    r = cli("invoke", "arrays", "filter", "-p", "name=a", "-p", "name=b", "--dry-run")
    assert r.exit_code == 2  # a string takes one value: a second -p is an error (issue 15.11)
    assert r.stderr.startswith("error: -p name is given more than once; name takes one value.")


def test_enum_is_checked_per_item(cli, arrays):
    r = cli("invoke", "arrays", "filter", "-p", "status=open", "-p", "status=bogus", "--dry-run")
    assert (
        r.exit_code == 2 and "Parameter 'status' must be one of open, closed, draft; got 'bogus'" in r.stderr
    )


def test_object_part_in_multipart_form_data(cli, tmp_path, monkeypatch, httpbin):
    action = dict(BODY_ACTIONS[1], name="upload_form", path="/anything")
    del action["content_type"]
    doc = manifest("formjson", httpbin.url, [action])
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_FORMJSON_TOKEN", "fj-token-1")
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    r, req = run_json(
        cli,
        "invoke",
        "formjson",
        "upload_form",
        "-p",
        'metadata={"name": "n"}',
        "-p",
        f"file=@{f}",
        "--dry-run",
    )
    assert req["body"].startswith(
        "--synthral-dry-run-boundary\r\n"
        'Content-Disposition: form-data; name="metadata"\r\n'
        "Content-Type: application/json; charset=UTF-8\r\n\r\n"
        '{"name":"n"}\r\n'
    )
    r, out = run_json(
        cli, "invoke", "formjson", "upload_form", "-p", 'metadata={"name": "n"}', "-p", f"file=@{f}"
    )
    assert r.exit_code == 0, r.stderr
    assert out["result"]["form"] == {"metadata": '{"name":"n"}'} and out["result"]["files"] == {
        "file": "hello"
    }
