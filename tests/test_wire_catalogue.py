"""Exact dry-run requests of bundled manifests that use the newer invoker features: settings in
headers and query, oauth2 plus an app key, raw file uploads, JSON parts, S3 and Lambda signing."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.invoke_support import STORE_KEY, put_connection

UA = "synthral/0.1.0"


@pytest.fixture(autouse=True)
def store(monkeypatch):
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)


def wire(cli, *args):
    r = cli("invoke", *args, "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_etsy_sends_bearer_and_app_key(cli):
    put_connection("etsy", method="direct", secrets={"access_token": "etsy-at-1", "api_key": "ks:shared-1"})
    req = wire(cli, "etsy", "test_connection")
    assert req == {
        "method": "GET",
        "url": "https://api.etsy.com/v3/application/users/me",
        "headers": {
            "User-Agent": UA,
            "Accept": "application/json",
            "Authorization": "Bearer ***",
            "x-api-key": "***",
        },
        "body": None,
    }


def test_xero_tenant_header_on_accounting_calls_only(cli):
    put_connection("xero", method="direct", secrets={"access_token": "xero-at-1"})
    assert "Xero-tenant-id" not in wire(cli, "xero", "test_connection")["headers"]
    r = cli("invoke", "xero", "list_invoices", "--dry-run")  # shown with what it needs (issue 15, item 2)
    assert r.exit_code == 0 and "Xero-tenant-id: <tenant_id>" in r.stdout
    assert "--config tenant_id=70784a63-d24b-46a9-a4db-0e70a274b056" in r.stderr
    r = cli("invoke", "xero", "list_invoices")  # the real call stops before sending
    assert r.exit_code == 2 and "--config tenant_id=70784a63-d24b-46a9-a4db-0e70a274b056" in r.stderr
    tenant = "70784a63-d24b-46a9-a4db-0e70a274b056"
    put_connection(
        "xero", method="direct", config={"tenant_id": tenant}, secrets={"access_token": "xero-at-1"}
    )
    req = wire(cli, "xero", "list_invoices", "-p", "page=2")
    assert req["url"] == "https://api.xero.com/api.xro/2.0/Invoices?page=2"
    assert req["headers"]["Xero-tenant-id"] == tenant and req["headers"]["Authorization"] == "Bearer ***"


def test_mixpanel_project_from_the_connection(cli):
    put_connection(
        "mixpanel",
        method="basic",
        config={"project_id": "3456789"},
        secrets={"username": "svc.acct", "password": "mp-secret-1"},
    )
    req = wire(cli, "mixpanel", "list_funnels")
    assert req["url"] == "https://mixpanel.com/api/query/funnels/list?project_id=3456789"
    assert req["headers"]["Authorization"] == "Basic ***"


def test_google_drive_upload_is_multipart_related(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_GOOGLE_DRIVE_TOKEN", "ya29.wire-1")
    f = tmp_path / "q1.csv"
    f.write_text("a,b\n")
    req = wire(
        cli,
        "google-drive",
        "upload_file",
        "-p",
        'metadata={"name": "q1.csv", "parents": ["F1"]}',
        "-p",
        f"file=@{f}",
    )
    assert req["url"] == "https://www.googleapis.com/upload/drive/v3/files?uploadType=multipart"
    assert req["headers"]["Content-Type"] == "multipart/related; boundary=synthral-dry-run-boundary"
    assert req["body"] == (
        "--synthral-dry-run-boundary\r\n"
        "Content-Type: application/json; charset=UTF-8\r\n\r\n"
        '{"name":"q1.csv","parents":["F1"]}\r\n'
        "--synthral-dry-run-boundary\r\n"
        "Content-Type: text/csv\r\n\r\n"
        "a,b\n\r\n"
        "--synthral-dry-run-boundary--\r\n"
    )


def test_dropbox_upload_sends_the_file(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_DROPBOX_TOKEN", "sl.wire-1")
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    req = wire(
        cli,
        "dropbox",
        "upload_file",
        "-p",
        'arg={"path": "/notes.txt", "mode": "overwrite"}',
        "-p",
        f"file=@{f}",
    )
    assert req["url"] == "https://content.dropboxapi.com/2/files/upload"
    assert req["headers"]["Content-Type"] == "application/octet-stream"
    assert req["body"] == "hello"


AWS_SECRETS = {"secret_access_key": "wJalrXUtnFEMI/K7MDENG"}


def test_s3_put_object_signs_the_payload_hash(cli, tmp_path):
    put_connection(
        "amazon-s3",
        method="custom",
        config={"access_key_id": "AKIDEXAMPLE", "region": "eu-west-1"},
        secrets=AWS_SECRETS,
    )
    f = tmp_path / "q1.csv"
    f.write_bytes(b"a,b\n1,2\n")
    req = wire(cli, "amazon-s3", "put_object", "-p", "bucket=reports", "-p", "key=q1.csv", "-p", f"file=@{f}")
    assert req["method"] == "PUT" and req["url"].endswith("/reports/q1.csv")
    h = req["headers"]
    assert h["Content-Type"] == "text/csv"
    assert h["X-Amz-Content-SHA256"] == hashlib.sha256(b"a,b\n1,2\n").hexdigest()
    assert "/eu-west-1/s3/aws4_request" in h["Authorization"] and h["Authorization"].endswith("Signature=***")
    req = wire(
        cli,
        "amazon-s3",
        "put_object",
        "-p",
        "bucket=reports",
        "-p",
        "key=q1.csv",
        "-p",
        f"file=@{f}",
        "-p",
        "content_type=application/vnd.ms-excel",
    )
    assert req["headers"]["Content-Type"] == "application/vnd.ms-excel"


def test_aws_lambda_actions_sign_for_lambda(cli):
    put_connection(
        "aws",
        method="custom",
        config={"access_key_id": "AKIDEXAMPLE", "region": "eu-west-1"},
        secrets=AWS_SECRETS,
    )
    req = wire(
        cli,
        "aws",
        "invoke_function",
        "-p",
        "function_name=resize",
        "-p",
        'payload={"id": 7}',
        "-p",
        "invocation_type=Event",
    )
    assert req["url"] == "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions/resize/invocations"
    assert req["headers"]["X-Amz-Invocation-Type"] == "Event"
    assert req["headers"]["Content-Type"] == "application/json"
    assert "/eu-west-1/lambda/aws4_request" in req["headers"]["Authorization"]
    assert json.loads(req["body"]) == {"id": 7}
    req = wire(cli, "aws", "list_functions", "-p", "MaxItems=10")
    assert req["url"] == "https://lambda.eu-west-1.amazonaws.com/2015-03-31/functions?MaxItems=10"
    assert "/eu-west-1/lambda/aws4_request" in req["headers"]["Authorization"]
    req = wire(cli, "aws", "get_caller_identity")
    assert "/eu-west-1/sts/aws4_request" in req["headers"]["Authorization"]


def test_tiktok_creator_info(cli, monkeypatch):
    monkeypatch.setenv("SYNTHRAL_TIKTOK_TOKEN", "act.wire-1")
    assert wire(cli, "tiktok", "query_creator_info") == {
        "method": "POST",
        "url": "https://open.tiktokapis.com/v2/post/publish/creator_info/query/",
        "headers": {
            "User-Agent": UA,
            "Accept": "application/json",
            "Content-Type": "application/json; charset=UTF-8",
            "Authorization": "Bearer ***",
        },
        "body": None,
    }


@pytest.mark.parametrize(
    "key,path",
    [
        ("reports/q1.csv", "/reports/reports/q1.csv"),  # S3 keeps the "/" of a key
        ("a b/ü.txt", "/reports/a%20b/%C3%BC.txt"),
        ("x/../y", "/reports/x/%2E%2E/y"),  # a dot segment is never a path that climbs
        ("../../etc", "/reports/%2E%2E/%2E%2E/etc"),
        ("q?a=1#f", "/reports/q%3Fa%3D1%23f"),
        ("/lead//double", "/reports//lead//double"),
    ],
)
def test_s3_keys_keep_their_slashes(cli, key, path):
    put_connection(
        "amazon-s3",
        method="custom",
        config={"access_key_id": "AKIDEXAMPLE", "region": "eu-west-1"},
        secrets=AWS_SECRETS,
    )
    req = wire(cli, "amazon-s3", "get_object", "-p", "bucket=reports", "-p", f"key={key}")
    assert req["url"] == "https://s3.eu-west-1.amazonaws.com" + path


def test_keep_slashes_is_for_path_parameters_only():
    from synthral_cli.catalogue.validation import validate_dict
    from tests.invoke_support import manifest

    action = {
        "name": "x",
        "description": "x",
        "method": "GET",
        "path": "/{a}",
        "parameters": [
            {"name": "a", "in": "path", "type": "string", "required": True, "keep_slashes": True},
            {"name": "q", "in": "query", "type": "string", "keep_slashes": True},
        ],
    }
    problems = validate_dict(manifest("slashes", "https://s.test", [action]))
    assert problems == ["actions[x].parameters[q].keep_slashes: only for in: path"]
