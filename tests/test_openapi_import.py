"""``synthral connectors import-openapi``: OpenAPI 3.x operations as a manifest skeleton.

On GitHub's own description (npm ``@octokit/openapi``, pinned in tests/npm and installed by
scripts/test into ``.test-deps/npm``; a missing file fails, never skips) and on a small
hand-written one (tests/data/openapi/petshop.yaml: server variables, OAuth 2.0 flows, an API key,
every parameter location and body encoding, schemas that refer to themselves). Each imported
manifest passes ``connectors validate``, and imported actions send the request the description
describes to httpbin on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.invoke_support import STORE_KEY, put_connection

REPO = Path(__file__).resolve().parent.parent
NPM = REPO / ".test-deps" / "npm" / "node_modules"
GITHUB = NPM / "@octokit" / "openapi" / "generated" / "api.github.com.json"
GITHUB_VERSION = "23.0.2"  # the version tests/npm/package-lock.json pins
PETSHOP = REPO / "tests" / "data" / "openapi" / "petshop.yaml"


@pytest.fixture(scope="module")
def github() -> Path:
    if not GITHUB.is_file():
        pytest.fail(
            f"GitHub's OpenAPI description is missing: {GITHUB}. `bash scripts/test` installs it "
            "(npm ci of tests/npm).",
            pytrace=False,
        )
    pkg = json.loads((NPM / "@octokit" / "openapi" / "package.json").read_text(encoding="utf-8"))
    assert pkg["version"] == GITHUB_VERSION
    return GITHUB


def imported(cli: Any, *args: str) -> tuple[dict[str, Any], str]:
    r = cli("connectors", "import-openapi", *args)
    assert r.exit_code == 0, r.stderr
    return yaml.safe_load(r.stdout), r.stderr


def actions_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in doc["actions"]}


def params_of(action: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in action.get("parameters", [])}


GITHUB_OPS = [
    "issues/create",
    "repos/get",
    "repos/upload-release-asset",
    "markdown/render-raw",
    "repos/create-or-update-file-contents",
    "issues/list-for-repo",
]


def test_github_operations_import_and_validate(cli, github, config_dir):
    out = config_dir / "manifests" / "gh.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    r = cli(
        "connectors",
        "import-openapi",
        str(github),
        *[a for o in GITHUB_OPS for a in ("--operation", o)],
        "--output",
        str(out),
    )
    assert r.exit_code == 0, r.stderr
    assert r.stdout == ""
    assert "7 action(s) written to" in r.stderr
    # GitHub's description declares no securitySchemes: the skeleton says so instead of guessing
    assert "note: auth: the description declares no securitySchemes" in r.stderr
    assert "note: test_connection: users/get-authenticated (GET /user)" in r.stderr
    v = cli("connectors", "validate", str(out))
    assert v.exit_code == 0, v.stderr

    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["slug"] == "gh" and doc["base_url"] == "https://api.github.com"
    assert doc["auth"] == {"type": "none"} and doc["docs_url"] == "https://docs.github.com/rest/"
    assert doc["x-openapi"]["version"] == GITHUB_VERSION
    acts = actions_of(doc)
    assert list(acts) == ["test_connection", *[o.replace("/", "_").replace("-", "_") for o in GITHUB_OPS]]
    assert acts["test_connection"]["path"] == "/user"
    create = acts["issues_create"]
    assert (create["method"], create["path"], create["x-operation-id"]) == (
        "POST",
        "/repos/{owner}/{repo}/issues",
        "issues/create",
    )
    assert "body" not in create  # json, the default
    p = params_of(create)
    assert p["owner"] == {
        "name": "owner",
        "in": "path",
        "type": "string",
        "required": True,
        "description": "The account owner of the repository. The name is not case sensitive.",
    }
    assert p["title"]["required"] is True and p["title"]["in"] == "body"
    assert p["assignees"]["type"] == "array" and p["assignees"]["items"] == {"type": "string"}
    assert not p["body"].get("required") and p["body"]["in"] == "body"
    listing = params_of(acts["issues_list_for_repo"])
    assert listing["state"]["enum"] == ["open", "closed", "all"] and listing["state"]["in"] == "query"
    assert listing["per_page"]["type"] == "integer" and "(default: 30)" in listing["per_page"]["description"]
    upload = acts["repos_upload_release_asset"]
    assert upload["base_url"] == "https://uploads.github.com" and upload["body"] == "raw"
    assert params_of(upload)["body"]["type"] == "file" and params_of(upload)["name"]["required"] is True
    raw = acts["markdown_render_raw"]
    assert (raw["body"], raw["content_type"], raw["accept"]) == ("raw", "text/plain", "text/html")
    # GitHub marks a file path parameter x-multi-segment: its "/" stay
    assert params_of(acts["repos_create_or_update_file_contents"])["path"]["keep_slashes"] is True


def test_every_github_operation_imports_into_a_valid_manifest(cli, github, tmp_path):
    out = tmp_path / "github-all.yaml"
    r = cli("connectors", "import-openapi", str(github), "--output", str(out))
    assert r.exit_code == 0, r.stderr
    doc = yaml.load(out.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    assert doc["slug"] == "github-all"  # from the file name
    ids = [a["x-operation-id"] for a in doc["actions"][1:]]
    spec = json.loads(github.read_text(encoding="utf-8"))
    expected = [
        op["operationId"]
        for item in spec["paths"].values()
        for m, op in item.items()
        if m in {"get", "put", "post", "delete", "patch", "head"}
    ]
    assert ids == expected and len(ids) > 1000
    assert len({a["name"] for a in doc["actions"]}) == len(doc["actions"])
    # the command validated it before writing (validate_dict); the loader reads it back the same
    from synthral_cli.catalogue.syntax import _yaml_load

    assert _yaml_load(out.read_text(encoding="utf-8")) == doc


def test_imported_github_actions_send_the_described_requests(cli, github, httpbin, config_dir, tmp_path):
    out = config_dir / "manifests" / "gh.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    r = cli(
        "connectors",
        "import-openapi",
        str(github),
        "--operation",
        "issues/create",
        "--operation",
        "repos/create-or-update-file-contents",
        "--operation",
        "markdown/render-raw",
        "--base-url",
        f"{httpbin.url}/anything",
        "--output",
        str(out),
    )
    assert r.exit_code == 0, r.stderr
    r = cli(
        "invoke",
        "gh",
        "issues_create",
        "-p",
        "owner=octo",
        "-p",
        "repo=hello",
        "-p",
        "title=Found a bug",
        "-p",
        "labels=bug",
        "-p",
        "labels=ui",
        "-p",
        "assignees=octocat",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    echo = json.loads(r.stdout)["result"]
    assert echo["method"] == "POST" and echo["url"] == f"{httpbin.url}/anything/repos/octo/hello/issues"
    assert echo["json"] == {"title": "Found a bug", "labels": ["bug", "ui"], "assignees": ["octocat"]}
    assert echo["headers"]["Content-Type"] == "application/json"

    r = cli(
        "invoke",
        "gh",
        "repos_create_or_update_file_contents",
        "-p",
        "owner=octo",
        "-p",
        "repo=hello",
        "-p",
        "path=docs/read me.md",
        "-p",
        "message=Add docs",
        "-p",
        "content=aGk=",
        "--dry-run",
        "--json",
    )
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["url"] == f"{httpbin.url}/anything/repos/octo/hello/contents/docs/read%20me.md"

    r = cli("invoke", "gh", "markdown_render_raw", "-p", "body=Hello **world**", "--json")
    assert r.exit_code == 0, r.stderr
    echo = json.loads(r.stdout)["result"]
    assert echo["data"] == "Hello **world**" and echo["headers"]["Content-Type"] == "text/plain"


def test_a_path_inside_an_installed_package(cli, github, monkeypatch, tmp_path):
    package_path = "@octokit/openapi/generated/api.github.com.json"
    monkeypatch.chdir(NPM.parent)  # node_modules of the working folder (or a folder above it)
    doc, _ = imported(cli, package_path, "--operation", "repos/get", "--slug", "gh")
    assert actions_of(doc)["repos_get"]["path"] == "/repos/{owner}/{repo}"
    monkeypatch.chdir(tmp_path)
    r = cli("connectors", "import-openapi", package_path, "--operation", "repos/get")
    assert r.exit_code == 2 and f"Cannot read {package_path}" in r.stderr
    monkeypatch.setenv("NODE_PATH", str(NPM))  # or a folder on NODE_PATH
    doc, _ = imported(cli, package_path, "--operation", "repos/get", "--slug", "gh")
    assert doc["x-openapi"]["source"] == package_path


def test_a_path_inside_a_python_package():
    from synthral_cli.catalogue.openapi_import import locate

    found = locate("synthral_cli/catalogue/schema/manifest-v1.json", Path("/"), {})
    assert found == REPO / "synthral_cli" / "catalogue" / "schema" / "manifest-v1.json"


# ---------------------------------------------------------------------------------------------
# A hand-written description: auth, servers, every parameter location and body encoding


def test_petshop_auth_servers_and_actions(cli, config_dir):
    out = config_dir / "manifests" / "petshop.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    r = cli("connectors", "import-openapi", str(PETSHOP), "--output", str(out), "--category", "e-commerce & payments")
    assert r.exit_code == 0, r.stderr
    assert cli("connectors", "validate", str(out)).exit_code == 0
    notes = [line for line in r.stderr.splitlines() if line.startswith("note: ")]
    assert notes == [
        "note: servers: the first is used; the others: https://sandbox.petshop.example/v2",
        "note: test_connection: getMe (GET /me)",
        "note: 1 deprecated operation(s): deleteLegacy",
        "note: listPets: cookie parameter 'session' left out (manifests send none)",
        "note: #/components/schemas/Loop refers back to itself; read as any value",
    ]
    doc = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert doc["category"] == "E-commerce & Payments"
    assert doc["description"] == "The Pet Shop API: pets, photos and orders."
    assert doc["docs_url"] == "https://petshop.example/docs"
    # the scheme and a one-value variable are filled in; a choice becomes a connection setting
    assert doc["base_url"] == "https://{region}.api.petshop.example/v2"
    assert doc["connection_config"] == {
        "region": {
            "description": "Your account's region.",
            "example": "eu",
            "default": "eu",
            "enum": ["eu", "us", "ap"],
        }
    }
    assert doc["auth"] == {
        "type": "oauth2",
        "authorization_url": "https://auth.petshop.example/authorize",
        "token_url": "https://{region}.api.petshop.example/oauth/token",  # relative to the server
        "refresh_url": "https://auth.petshop.example/refresh",
        "grant_types": ["authorization_code", "client_credentials"],
        "default_scopes": ["pets:read", "pets:write", "photos"],
    }
    acts = actions_of(doc)
    assert acts["test_connection"]["path"] == "/me" and acts["test_connection"]["scopes"] == ["pets:read"]
    listing = params_of(acts["list_pets"])
    assert listing["limit"] == {
        "name": "limit",
        "in": "query",
        "type": "integer",
        "description": "Page size. (default: 20)",
    }
    assert listing["status"]["enum"] == ["yes", "no", "on", "1.0", "null"]  # text, not YAML booleans
    assert listing["tags"] == {
        "name": "tags",
        "in": "query",
        "type": "array",
        "style": "csv",
        "items": {"type": "string", "enum": ["cat", "dog"]},
    }
    assert listing["x_trace_id"] == {
        "name": "x_trace_id",
        "in": "header",
        "type": "string",
        "required": True,
        "wire_name": "X-Trace-Id",
    }
    assert "session" not in listing and "accept" not in listing
    create = acts["create_pet"]
    assert create["scopes"] == ["pets:write"] and "body" not in create
    body = params_of(create)
    assert body["name"]["required"] is True and body["name"]["in"] == "body"
    assert "id" not in body  # readOnly
    assert body["born"]["type"] == "string" and body["owner"]["type"] == "object"  # allOf merged
    upload = acts["upload_photo"]
    assert upload["body"] == "multipart" and upload["path"] == "/pets/{pet_id}/photo"
    assert upload["scopes"] == ["photos|pets:write"]  # either requirement will do
    up = params_of(upload)
    assert up["pet_id"]["type"] == "integer" and up["file"] == {
        "name": "file",
        "in": "body",
        "type": "file",
        "required": True,
    }
    assert up["meta"]["type"] == "object"
    login = acts["login_form"]
    assert login["body"] == "form" and "scopes" not in login  # security: [] is public
    assert [p["name"] for p in login["parameters"]] == ["username", "password"]
    tree = params_of(acts["put_tree"])  # a schema that refers to itself
    assert tree["label"]["required"] is True and tree["children"]["items"] == {"type": "object"}
    assert acts["post_loop"]["body"] == "raw"
    assert acts["pet_report"]["accept"] == "application/pdf"
    put_file = acts["put_file"]
    assert put_file["body"] == "raw" and "content_type" not in put_file  # guessed from the file name
    assert params_of(put_file)["path"]["keep_slashes"] is True and params_of(put_file)["body"]["type"] == "file"


def test_petshop_actions_send_the_described_requests(cli, httpbin, config_dir, tmp_path, monkeypatch):
    out = config_dir / "manifests" / "petshop.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    r = cli("connectors", "import-openapi", str(PETSHOP), "--base-url", f"{httpbin.url}/anything", "--output", str(out))
    assert r.exit_code == 0, r.stderr
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    put_connection(
        "petshop",
        method="direct",
        scopes=["pets:read", "pets:write", "photos"],
        secrets={"access_token": "pet-token-1"},
    )

    def call(action: str, *params: str) -> dict[str, Any]:
        r = cli("invoke", "petshop", action, *[a for p in params for a in ("-p", p)], "--json")
        assert r.exit_code == 0, r.stderr
        return json.loads(r.stdout)["result"]

    echo = call("list_pets", "tags=cat", "tags=dog", "limit=5", "x_trace_id=trace-1", "status=on")
    assert echo["args"] == {"tags": "cat,dog", "limit": "5", "status": "on"}
    assert echo["headers"]["X-Trace-Id"] == "trace-1" and echo["headers"]["Authorization"] == "Bearer pet-token-1"
    photo = tmp_path / "rex.png"
    photo.write_bytes(b"\x89PNG fake")
    echo = call("upload_photo", "pet_id=7", f"file=@{photo}", "caption=Rex", 'meta={"width": 3}')
    assert echo["url"].endswith("/anything/pets/7/photo")
    assert echo["headers"]["Content-Type"].startswith("multipart/form-data; boundary=")
    assert echo["form"] == {"caption": "Rex", "meta": '{"width":3}'} and "file" in echo["files"]
    echo = call("login_form", "username=ann", "password=pw")
    assert echo["form"] == {"username": "ann", "password": "pw"}
    assert echo["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    echo = call("create_pet", "name=Rex", "tags=a", 'owner={"name": "Ann"}')
    assert echo["json"] == {"name": "Rex", "tags": ["a"], "owner": {"name": "Ann"}}


def test_an_api_key_scheme_and_a_relative_server(cli, tmp_path):
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "Key API", "version": "1"},
        "servers": [{"url": "/v1"}],
        "components": {"securitySchemes": {"k": {"type": "apiKey", "in": "query", "name": "api_key"}}},
        "security": [{"k": []}],
        "paths": {"/things": {"get": {"operationId": "listThings", "responses": {}}}},
    }
    path = tmp_path / "key.json"
    path.write_text(json.dumps(spec))
    r = cli("connectors", "import-openapi", str(path))
    assert r.exit_code == 2
    assert "The description's server URL '/v1' is not absolute." in r.stderr
    assert "--base-url https://api.example.com" in r.stderr
    doc, _ = imported(cli, str(path), "--base-url", "https://api.key.example/v1/")
    assert doc["slug"] == "key-api" and doc["base_url"] == "https://api.key.example/v1"
    assert doc["auth"] == {"type": "api_key", "inject": [{"in": "query", "name": "api_key", "value": "{api_key}"}]}
    spec["components"]["securitySchemes"] = {"b": {"type": "http", "scheme": "bearer"}}
    spec["security"] = [{"b": []}]
    path.write_text(json.dumps(spec))
    doc, _ = imported(cli, str(path), "--base-url", "https://api.key.example/v1")
    assert doc["auth"] == {"type": "bearer"}


def test_yaml_output_has_no_aliases_and_reads_back_the_same(cli, tmp_path):
    shared = {"type": "string", "enum": ["yes", "off", "~", "0x10", "2024-01-01"], "description": "a: b # c"}
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "yes", "version": "1.0", "description": "on"},
        "servers": [{"url": "https://api.yes.example"}],
        "paths": {
            "/a": {"get": {"operationId": "a", "parameters": [{"name": "x", "in": "query", "schema": shared}]}},
            "/b": {"get": {"operationId": "b", "parameters": [{"name": "x", "in": "query", "schema": shared}]}},
        },
    }
    path = tmp_path / "yes.yaml"
    path.write_text(yaml.safe_dump(spec))  # PyYAML writes the shared schema once, with an alias
    assert "&id" in path.read_text()
    r = cli("connectors", "import-openapi", str(path), "--slug", "yes")
    assert r.exit_code == 0, r.stderr
    assert "&id" not in r.stdout and "*id" not in r.stdout
    from synthral_cli.catalogue.syntax import _yaml_load

    doc = _yaml_load(r.stdout)  # the manifest loader refuses aliases; this reads
    assert doc["name"] == "yes" and doc["description"] == "on" and doc["x-openapi"]["version"] == "1.0"
    enum = actions_of(doc)["a"]["parameters"][0]["enum"]
    assert enum == ["yes", "off", "~", "0x10", "2024-01-01"]
    assert actions_of(doc)["b"]["parameters"][0]["description"] == "a: b # c"


@pytest.mark.parametrize(
    "content,message",
    [
        ('{"swagger": "2.0", "paths": {}}', "is Swagger 2.0 (OpenAPI 2); import-openapi reads OpenAPI 3.x."),
        ("openapi: 2.5\npaths: {}\n", "is OpenAPI 2.5; import-openapi reads OpenAPI 3.x."),
        ('{"name": "not openapi"}', "is not an OpenAPI description (it has no 'openapi' field)."),
        ("- a\n- b\n", "is not an OpenAPI description (no mapping at the top)."),
        ("openapi: 3.0.0\ninfo: [\n", "is neither JSON nor YAML (line 3)."),
        ('{"openapi": "3.0.0"}', "has no 'paths': nothing to import."),
        ('{"openapi": "3.0.0", "paths": {}}', "The description has no operations."),
    ],
)
def test_bad_descriptions_exit_2(cli, tmp_path, content, message):
    path = tmp_path / "spec.yaml"
    path.write_text(content)
    r = cli("connectors", "import-openapi", str(path))
    assert r.exit_code == 2, r.stderr
    assert message in r.stderr and r.stdout == ""
    assert "Traceback" not in r.stderr


def test_swagger_hint_names_a_converter(cli, tmp_path):
    path = tmp_path / "old.json"
    path.write_text('{"swagger": "2.0", "info": {}, "paths": {}}')
    r = cli("connectors", "import-openapi", str(path))
    assert r.exit_code == 2 and "swagger2openapi" in r.stderr


def test_unknown_operation_and_category_suggest_names(cli):
    r = cli("connectors", "import-openapi", str(PETSHOP), "--operation", "listPet")
    assert r.exit_code == 2
    assert "The description has no operation 'listPet'. Did you mean 'listPets'?" in r.stderr
    doc, _ = imported(cli, str(PETSHOP), "--operation", "post /pets", "--operation", "getMe")
    assert [a["name"] for a in doc["actions"]] == ["test_connection", "create_pet", "get_me"]
    r = cli("connectors", "import-openapi", str(PETSHOP), "--category", "payment")
    assert r.exit_code == 2 and "'payment' is not a category. Did you mean 'Payments'?" in r.stderr
    r = cli("connectors", "import-openapi", str(PETSHOP), "--slug", "Pet Shop")
    assert r.exit_code == 2 and "'Pet Shop' is not a connector slug." in r.stderr


def test_missing_file_exits_2(cli, tmp_path):
    r = cli("connectors", "import-openapi", str(tmp_path / "nope.yaml"))
    assert r.exit_code == 2
    assert f"Cannot read {tmp_path / 'nope.yaml'}: No such file or directory." in r.stderr
    assert "node_modules" in r.stderr


def test_odd_shapes_never_crash(cli, tmp_path):
    """Fields of the wrong type anywhere give a manifest that validates (or exit 2), never exit 70."""
    spec = {
        "openapi": "3.0.0",
        "info": "not a mapping",
        "servers": [{"url": "https://odd.example", "variables": []}],
        "security": {"x": 1},
        "components": {"securitySchemes": {"o": {"type": "oauth2", "flows": {"authorizationCode": "nope"}}}},
        "paths": {
            "/a/{id-x}/{undeclared}": {
                "parameters": {"not": "a list"},
                "post": {
                    "operationId": "123 odd-op",
                    "summary": 7,
                    "parameters": [
                        "not an object",
                        {"name": "id-x", "in": "path", "schema": {"type": ["integer", "null"]}},
                        {"name": "q", "in": "query", "schema": {"type": "array", "items": [1]}},
                        {"name": "bin", "in": "query", "schema": {"type": "string", "format": "binary"}},
                        {"name": "gone", "in": "path", "required": True, "schema": {"type": "string"}},
                        {"name": "e", "in": "query", "schema": {"enum": [{"a": 1}, None]}},
                        {"$ref": "#/components/parameters/missing"},
                        {"$ref": "other.yaml#/x"},
                    ],
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "properties": ["a"],
                                    "allOf": {"x": 1},
                                    "oneOf": [{"properties": {"a.b": {}, "c": {"oneOf": "x"}}}],
                                    "required": "c",
                                }
                            }
                        }
                    },
                    "responses": [],
                    "security": [{"o": ["s1"]}, "x"],
                },
                "get": "not an operation",
            },
            "/b": None,
        },
    }
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(spec))
    r = cli("connectors", "import-openapi", str(path), "--slug", "odd")
    assert r.exit_code == 0, r.stderr
    doc = yaml.safe_load(r.stdout)
    odd = actions_of(doc)["op_123_odd_op"]
    assert odd["path"] == "/a/{id_x}/{undeclared}"
    params = params_of(odd)
    assert params["id_x"]["type"] == "integer" and params["undeclared"]["required"] is True
    assert "e" in params and "enum" not in params["e"]
    assert params["bin"]["type"] == "string" and "gone" not in params
    assert "a.b" not in params and params["c"]["type"] == "string"
    assert "path parameter {undeclared} is not declared" in r.stderr
    assert "path parameter 'gone' is not in the path; left out" in r.stderr
    assert "other.yaml#/x is in another file" in r.stderr
    assert "#/components/parameters/missing points to nothing" in r.stderr
    assert doc["auth"] == {"type": "bearer"}  # an OAuth flow synthral cannot run, noted
