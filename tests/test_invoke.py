"""Parameters and request building, checked through ``--dry-run`` (nothing is sent)."""

from __future__ import annotations

import json

import pytest

from tests.invoke_support import STORE_KEY, manifest, put_connection, write_manifests

ACME_ACTIONS = [
    {
        "name": "get_item",
        "description": "one item",
        "method": "GET",
        "path": "/items/{id}",
        "parameters": [
            {"name": "id", "in": "path", "type": "string", "required": True},
            {"name": "expand", "in": "query", "type": "array", "style": "brackets"},
            {"name": "tags", "in": "query", "type": "array"},
            {"name": "fields", "in": "query", "type": "array", "style": "csv"},
            {"name": "limit", "in": "query", "type": "integer", "default": 10},
            {"name": "ratio", "in": "query", "type": "number"},
            {"name": "active", "in": "query", "type": "boolean"},
            {"name": "kind", "in": "query", "type": "string", "enum": ["a", "b"]},
            {"name": "X-Trace", "in": "header", "type": "string"},
        ],
    },
    {
        "name": "create",
        "description": "json body",
        "method": "POST",
        "path": "/items",
        "scopes": ["items:write|admin"],
        "headers": {"X-Action": "create"},
        "parameters": [
            {"name": "name", "in": "body", "type": "string", "required": True},
            {"name": "raw", "in": "body", "type": "string", "wire_name": "message.raw"},
            {"name": "meta", "in": "body", "type": "object"},
            {"name": "count", "in": "body", "type": "integer"},
        ],
    },
    {
        "name": "form",
        "description": "form body",
        "method": "POST",
        "path": "/form",
        "body": "form",
        "parameters": [
            {"name": "email", "in": "body", "type": "string"},
            {"name": "metadata", "in": "body", "type": "object"},
            {"name": "items", "in": "body", "type": "array"},
            {"name": "expand", "in": "body", "type": "array", "style": "brackets"},
            {"name": "secret_code", "in": "body", "type": "string", "secret": True},
        ],
    },
    {
        "name": "upload",
        "description": "multipart",
        "method": "POST",
        "path": "/upload",
        "body": "multipart",
        "parameters": [
            {"name": "file", "in": "body", "type": "file", "required": True},
            {"name": "title", "in": "body", "type": "string"},
        ],
    },
    {
        "name": "raw",
        "description": "raw body",
        "method": "PUT",
        "path": "/raw",
        "body": "raw",
        "content_type": "text/csv",
        "parameters": [{"name": "content", "in": "body", "type": "string"}],
    },
    {"name": "public", "description": "no auth", "method": "GET", "path": "/public", "auth": False},
]


@pytest.fixture
def acme(tmp_path, monkeypatch):
    folder = write_manifests(
        tmp_path / "manifests",
        manifest("acme", "https://api.acme.test/v1", ACME_ACTIONS, headers={"X-Connector": "acme"}),
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_ACME_TOKEN", "acme-secret-token")
    return folder


def dry(cli, *args):
    r = cli("invoke", "acme", *args, "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_path_param_stays_one_segment(cli, acme):
    req = dry(cli, "get_item", "-p", "id=../../admin")
    assert req["url"] == "https://api.acme.test/v1/items/..%2F..%2Fadmin?limit=10"
    assert dry(cli, "get_item", "-p", "id=..")["url"].startswith("https://api.acme.test/v1/items/%2E%2E?")
    assert dry(cli, "get_item", "-p", "id=a b?c#d")["url"].startswith(
        "https://api.acme.test/v1/items/a%20b%3Fc%23d?"
    )


def test_query_types_and_array_styles(cli, acme):
    req = dry(
        cli,
        "get_item",
        "-p",
        "id=1",
        "-p",
        'expand=["a","b"]',
        "-p",
        "tags=x,y",
        "-p",
        'fields:=["f","g"]',
        "-p",
        "limit=5",
        "-p",
        "ratio=1.5",
        "-p",
        "active=yes",
        "-p",
        "kind=b",
    )
    assert req["url"] == (
        "https://api.acme.test/v1/items/1?expand[]=a&expand[]=b&tags=x&tags=y&fields=f,g"
        "&limit=5&ratio=1.5&active=true&kind=b"
    )
    assert req["method"] == "GET" and req["body"] is None


def test_headers_order_auth_and_redaction(cli, acme):
    req = dry(cli, "get_item", "-p", "id=1", "-p", "X-Trace=t-1")
    assert req["headers"] == {
        "User-Agent": "synthral/0.1.0",
        "Accept": "application/json",
        "X-Connector": "acme",
        "X-Trace": "t-1",
        "Authorization": "Bearer ***",
    }
    r = cli("invoke", "acme", "get_item", "-p", "id=1", "--dry-run")
    assert r.exit_code == 0
    assert (
        r.stdout.splitlines()[:6]
        == [
            "GET https://api.acme.test/v1/items/1?limit=10",
            "User-Agent: synthral/0.1.0",
            "Accept: application/json",
            "X-Connector: acme",
            "Authorization: Bearer ***",
        ][:6]
    )
    assert "acme-secret-token" not in r.stdout + r.stderr


def test_header_with_line_break_is_refused(cli, acme):
    r = cli("invoke", "acme", "get_item", "-p", "id=1", "-p", "X-Trace=a\r\nX-Evil: 1", "--dry-run")
    assert r.exit_code == 2
    assert "may not contain line breaks" in r.stderr


def test_json_body_nesting_and_action_headers(cli, acme):
    req = dry(cli, "create", "-p", "name=widget", "-p", "raw=abc", "-p", 'meta={"k": 1}', "-p", "count=3")
    assert req["body"] == {"name": "widget", "message": {"raw": "abc"}, "meta": {"k": 1}, "count": 3}
    assert req["headers"]["X-Action"] == "create"
    assert req["headers"]["Content-Type"] == "application/json"
    r = cli("invoke", "acme", "create", "-p", "name=w", "--dry-run")
    assert r.stdout.rstrip().endswith('{"name":"w"}')  # the body exactly as sent


def test_data_merges_with_params_and_p_wins(cli, acme, tmp_path):
    req = dry(cli, "create", "--data", '{"name": "from-data", "count": "7"}', "-p", "name=from-p")
    assert req["body"] == {"name": "from-p", "count": 7}
    f = tmp_path / "data.json"
    f.write_text('{"name": "file"}')
    assert dry(cli, "create", "--data", f"@{f}")["body"] == {"name": "file"}
    r = cli("invoke", "acme", "create", "--data", "-", "--dry-run", "--json", input='{"name": "stdin"}')
    assert json.loads(r.stdout)["body"] == {"name": "stdin"}


def test_value_from_file(cli, acme, tmp_path):
    f = tmp_path / "name.txt"
    f.write_text("from a file\n")
    assert dry(cli, "create", "-p", f"name=@{f}")["body"] == {"name": "from a file"}
    r = cli("invoke", "acme", "create", "-p", f"name=@{tmp_path}/missing.txt", "--dry-run")
    assert r.exit_code == 2
    assert "Cannot read" in r.stderr and "missing.txt" in r.stderr


def test_form_body_stripe_style(cli, acme, monkeypatch):
    # a secret parameter comes from SYNTHRAL_<SLUG>_<NAME>, never -p (issue 14)
    monkeypatch.setenv("SYNTHRAL_ACME_SECRET_CODE", "hunter22")
    req = dry(
        cli,
        "form",
        "-p",
        "email=a@b.c",
        "-p",
        'metadata={"userId": 1, "plan": "pro"}',
        "-p",
        'items=[{"price": "p_1", "quantity": 2}]',
        "-p",
        "expand=customer,invoice",
    )
    assert req["body"] == (
        "email=a%40b.c&metadata[userId]=1&metadata[plan]=pro&items[0][price]=p_1"
        "&items[0][quantity]=2&expand[]=customer&expand[]=invoice&secret_code=***"
    )
    assert req["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


def test_multipart_with_fixed_dry_run_boundary(cli, acme, tmp_path):
    f = tmp_path / "note.txt"
    f.write_text("hello file")
    req = dry(cli, "upload", "-p", f"file=@{f}", "-p", "title=Notes")
    b = "synthral-dry-run-boundary"
    assert req["headers"]["Content-Type"] == f"multipart/form-data; boundary={b}"
    assert req["body"] == (
        f'--{b}\r\nContent-Disposition: form-data; name="title"\r\n\r\nNotes\r\n'
        f'--{b}\r\nContent-Disposition: form-data; name="file"; filename="note.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\nhello file\r\n--{b}--\r\n"
    )


def test_raw_body_with_content_type(cli, acme):
    req = dry(cli, "raw", "-p", "content=a,b\n1,2")
    assert req["body"] == "a,b\n1,2"
    assert req["headers"]["Content-Type"] == "text/csv"


def test_auth_false_sends_no_credentials(cli, acme):
    req = dry(cli, "public")
    assert "Authorization" not in req["headers"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["get_item", "-p", "id=1", "-p", "nope=1"],
            "get_item has no parameter 'nope'. Valid: id, expand, tags",
        ),
        (["get_item"], "get_item needs id."),
        (["create"], "create needs name."),
        (["get_item", "-p", "id=1", "-p", "limit=ten"], "Parameter 'limit' must be an integer, got 'ten'."),
        (["get_item", "-p", "id=1", "-p", "ratio=x"], "Parameter 'ratio' must be a number"),
        (["get_item", "-p", "id=1", "-p", "active=maybe"], "Parameter 'active' must be true or false"),
        (["get_item", "-p", "id=1", "-p", "kind=c"], "Parameter 'kind' must be one of a, b; got 'c'."),
        (["create", "-p", "name=x", "-p", "meta=[1]"], "Parameter 'meta' must be a JSON object"),
        (["create", "-p", "name=x", "-p", "count:=1.5"], "Parameter 'count' must be an integer"),
        (["create", "-p", "name:={bad"], "-p name:= needs JSON"),
        (["create", "-p", "justaword"], "is not KEY=VALUE"),
        (["create", "--data", "[1]"], "--data must be a JSON object"),
        (["create", "--data", "{"], "--data is not valid JSON"),
        (["nosuch"], "acme has no action 'nosuch'"),
    ],
)
def test_bad_input_exits_2(cli, acme, args, message):
    r = cli("invoke", "acme", *args, "--dry-run")
    assert r.exit_code == 2, r.stdout
    assert message in r.stderr
    assert r.stdout == ""


def test_unknown_connector_exits_2(cli, acme):
    r = cli("invoke", "nosuch", "x")
    assert r.exit_code == 2 and "Unknown connector 'nosuch'" in r.stderr


def test_scope_not_checked_when_the_credential_reports_none(cli, acme, monkeypatch):
    monkeypatch.delenv("SYNTHRAL_ACME_TOKEN")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("acme", method="bearer", scopes=["items:read"], secrets={"token": "stored-token-1"})
    r = cli("invoke", "acme", "create", "-p", "name=x", "--dry-run")
    # bearer credentials report no scopes (None): no check; an oauth2 connector checks below
    assert r.exit_code == 0


def test_scope_check_for_oauth2(cli, tmp_path, monkeypatch):
    auth = {
        "type": "oauth2",
        "authorization_url": "https://acme.test/auth",
        "token_url": "https://acme.test/token",
    }
    folder = write_manifests(
        tmp_path / "m", manifest("oauthy", "https://api.oauthy.test", ACME_ACTIONS, auth=auth)
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("oauthy", scopes=["items:read"], secrets={"access_token": "tok-oauthy-1"})
    r = cli("invoke", "oauthy", "create", "-p", "name=x", "--dry-run")
    assert r.exit_code == 3
    assert "needs the scope items:write|admin" in r.stderr
    assert "synthral authorize oauthy --scope items:write" in r.stderr
    put_connection("oauthy", scopes=["admin"], secrets={"access_token": "tok-oauthy-1"})
    assert cli("invoke", "oauthy", "create", "-p", "name=x", "--dry-run").exit_code == 0
    put_connection("oauthy", name="work", scopes=["x"], secrets={"access_token": "tok-oauthy-2"})
    r = cli("invoke", "oauthy", "create", "-p", "name=x", "--connection", "work", "--dry-run")
    assert r.exit_code == 3 and "synthral authorize oauthy --connection work --scope items:write" in r.stderr


def test_no_connection_exits_3_but_dry_run_shows_placeholders(cli, acme, monkeypatch):
    monkeypatch.delenv("SYNTHRAL_ACME_TOKEN")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    r = cli("invoke", "acme", "get_item", "-p", "id=1")
    assert r.exit_code == 3
    assert "No acme connection 'default' yet." in r.stderr
    assert "synthral authorize acme" in r.stderr
    r = cli("invoke", "acme", "get_item", "-p", "id=1", "--dry-run", "--json")
    assert r.exit_code == 0
    assert json.loads(r.stdout)["headers"]["Authorization"] == "Bearer ***"
    assert "credentials are placeholders" in r.stderr


def test_stored_credential_is_injected_and_masked(cli, acme, monkeypatch):
    monkeypatch.delenv("SYNTHRAL_ACME_TOKEN")
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("acme", method="bearer", secrets={"token": "stored-bearer-9"})
    r = cli("invoke", "acme", "get_item", "-p", "id=1", "--dry-run")
    assert "Authorization: Bearer ***" in r.stdout and "stored-bearer-9" not in r.stdout


AUTH_CASES = [
    (
        {
            "type": "api_key",
            "inject": [
                {"in": "header", "name": "X-Api-Key", "value": "{api_key}"},
                {"in": "query", "name": "key", "value": "{api_key}"},
            ],
        },
        {"api_key": "k-123456"},
        {"X-Api-Key": "***"},
        "?key=***",
    ),
    ({"type": "basic"}, {"username": "user", "password": "pass-word"}, {"Authorization": "Basic ***"}, ""),
    (
        {
            "type": "oauth2",
            "authorization_url": "https://x.test/a",
            "token_url": "https://x.test/t",
            "token_header": "X-Token",
            "token_prefix": "OAuth ",
        },
        {"access_token": "at-123456"},
        {"X-Token": "OAuth ***"},
        "",
    ),
    ({"type": "api_key"}, {"api_key": "k-abcdef"}, {"Authorization": "Bearer ***"}, ""),
    (
        {
            "type": "custom",
            "scheme": "http_generic",
            "fields": [{"name": "scheme"}, {"name": "api_key"}, {"name": "api_key_header"}],
        },
        {"scheme": "api_key", "api_key": "gk-123456", "api_key_header": "X-Key"},
        {"X-Key": "***"},
        "",
    ),
]


@pytest.mark.parametrize(("auth", "secrets", "headers", "query"), AUTH_CASES)
def test_auth_injection_per_type(cli, tmp_path, monkeypatch, auth, secrets, headers, query):
    folder = write_manifests(tmp_path / "m", manifest("kinds", "https://api.kinds.test", [], auth=auth))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("kinds", method="custom", secrets=secrets, origins=["https://api.kinds.test"])
    r = cli("invoke", "kinds", "test_connection", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    req = json.loads(r.stdout)
    for k, v in headers.items():
        assert req["headers"][k] == v
    assert req["url"] == "https://api.kinds.test/get" + query
    for s in secrets.values():
        if s not in {"user", "api_key", "X-Key"}:
            assert s not in r.stdout


def test_base_url_from_connection_config(cli, tmp_path, monkeypatch):
    doc = manifest(
        "shoppy",
        "https://{shop}.shoppy.test/api",
        [],
        connection_config={"shop": {"description": "Shop name"}},
    )
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(write_manifests(tmp_path / "m", doc)))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection("shoppy", method="bearer", config={"shop": "acme"}, secrets={"token": "t-shoppy-1"})
    r = cli("invoke", "shoppy", "test_connection", "--dry-run", "--json")
    assert json.loads(r.stdout)["url"] == "https://acme.shoppy.test/api/get"
    put_connection("shoppy", name="bare", method="bearer", secrets={"token": "t-shoppy-2"})
    # A dry run shows where the missing setting goes and how to give it (issue 15, item 2) ...
    r = cli("invoke", "shoppy", "test_connection", "--dry-run", "-c", "bare", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["url"] == "https://<shop>.shoppy.test/api/get"
    assert r.stderr == (
        "warning: shoppy needs the connection setting 'shop' (Shop name). "
        "Run: synthral authorize shoppy --connection bare --config shop=... (or set SYNTHRAL_SHOPPY_SHOP)\n"
    )
    # ... and the real call stops before sending anything.
    r = cli("invoke", "shoppy", "test_connection", "-c", "bare")
    assert r.exit_code == 2 and "needs the connection setting 'shop'" in r.stderr


def test_python_api(acme):
    from synthral_cli import Synthral
    from synthral_cli.actions.invoke import PreparedRequest
    from synthral_cli.basics.errors import UsageError

    sy = Synthral()
    req = sy.invoke("acme", "create", {"name": "x", "count": "4"}, dry_run=True)
    assert isinstance(req, PreparedRequest)
    assert req.to_dict()["body"] == {"name": "x", "count": 4}
    assert req.content == b'{"name":"x","count":4}'
    with pytest.raises(UsageError, match="needs name"):
        sy.invoke("acme", "create", {}, dry_run=True)


def test_request_command_dry_run(cli, acme):
    r = cli("request", "acme", "get", "/things", "-p", "q=a b", "-p", "n:=2", "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    req = json.loads(r.stdout)
    assert req["method"] == "GET" and req["url"] == "https://api.acme.test/v1/things?q=a%20b&n=2"
    assert req["headers"]["Authorization"] == "Bearer ***"
    r = cli("request", "acme", "POST", "/things", "-p", "q=x", "-p", "n:=2", "--dry-run", "--json")
    assert json.loads(r.stdout)["body"] == {"q": "x", "n": 2}
    r = cli("request", "acme", "GET", "https://evil.test/x", "--dry-run")
    assert r.exit_code == 2 and "is not under acme's base URL" in r.stderr
    r = cli("request", "acme", "FETCH", "/x", "--dry-run")
    assert r.exit_code == 2 and "Unknown HTTP method" in r.stderr


def test_subprocess_dry_run_and_exit_codes(sh, acme):
    r = sh("invoke", "acme", "create", "-p", "name=x", "--dry-run", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["body"] == {"name": "x"}
    assert "acme-secret-token" not in r.stdout + r.stderr
    r = sh("invoke", "acme", "create", "-p", "bogus=1")
    assert r.exit_code == 2 and r.stdout == "" and "Valid: name, raw, meta, count" in r.stderr


def test_invoke_does_not_import_httpx_for_a_dry_run(acme):
    import subprocess
    import sys

    code = (
        "import sys; from synthral_cli.cli.app import main\n"
        "try:\n    main(['invoke','acme','create','-p','name=x','--dry-run'])\nexcept SystemExit: pass\n"
        "print('httpx' in sys.modules, file=sys.stderr)"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.stderr.strip().endswith("False")
