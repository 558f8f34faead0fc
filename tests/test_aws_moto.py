"""The bundled S3 and Lambda actions against moto's server mode, which checks SigV4 signatures.

moto runs in a thread on 127.0.0.1 (port 0) with authentication on: an IAM user and its access
key are made through moto's IAM API, then ``/moto-api/reset-auth`` turns the check on, so every
later request must carry a valid signature of that key (a wrong secret is refused with 403). The
bundled ``amazon-s3`` and ``aws`` manifests are used as they are, only their base URLs pointed at
the server; the canonical requests synthral signs are compared with botocore's own for the same
calls (both are printed by botocore's ``botocore.auth`` debug log).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml

from synthral_cli.catalogue.manifest import bundled_dir
from tests.invoke_support import STORE_KEY, put_connection, write_manifests

REGION = "eu-west-1"
BUCKET = "reports"
# a "folder", spaces and unicode, characters that mean something in a URL, a literal %
KEYS = ["reports/q1.csv", "a b/ü ✓.txt", "we+ird&=?#;.txt", "100%/p", "deep/er/still/x.csv"]


class Moto:
    def __init__(self, url: str, key_id: str, secret: str) -> None:
        self.url, self.key_id, self.secret = url, key_id, secret

    def client(self, service: str) -> Any:
        import botocore.session
        from botocore.config import Config

        return botocore.session.get_session().create_client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 1},
            ),
        )


def _fix_moto_bodiless_signature_check() -> None:
    """moto 5.x rebuilds a bodiless request (GET) for its signature check with its parsed query
    or header dict as the body, so botocore's own ListFunctions is refused too: check it with the
    empty body that was signed. Requests with a body, and S3, are checked unchanged."""
    from moto.iam.access_control import IAMRequestBase

    original = IAMRequestBase._create_aws_request
    if getattr(original, "synthral_fixed", False):
        return

    def create(self: Any) -> Any:
        request = original(self)
        if not self._body:
            request.data = b""
        return request

    create.synthral_fixed = True  # type: ignore[attr-defined]
    IAMRequestBase._create_aws_request = create


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    import httpx
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _fix_moto_bodiless_signature_check()
    server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        httpx.post(f"{url}/moto-api/config", json={"lambda": {"use_docker": False}}).raise_for_status()
        iam = Moto(url, "AKIDSETUP", "setup").client("iam")  # before the check is on
        iam.create_user(UserName="synthral")
        allow = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        iam.put_user_policy(UserName="synthral", PolicyName="all", PolicyDocument=json.dumps(allow))
        key = iam.create_access_key(UserName="synthral")["AccessKey"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
        role = iam.create_role(RoleName="fn", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        # from here on every request is authenticated: its signature is checked against the key
        httpx.post(f"{url}/moto-api/reset-auth", content=b"0").raise_for_status()
        moto = Moto(url, key["AccessKeyId"], key["SecretAccessKey"])
        moto.client("s3").create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as z:
            z.writestr("index.py", "def handler(event, context):\n    return event\n")
        moto.client("lambda").create_function(
            FunctionName="resize",
            Runtime="python3.12",
            Role=role,
            Handler="index.handler",
            Code={"ZipFile": code.getvalue()},
        )
        yield moto
    finally:
        httpx.post(f"{url}/moto-api/reset-auth", content=b"inf")
        server.stop()


def local_copy(slug: str, url: str) -> dict[str, Any]:
    """The bundled manifest ``slug``, its base URLs on the moto server, as ``<slug>-local``."""
    doc = yaml.safe_load((bundled_dir() / f"{slug}.yaml").read_text(encoding="utf-8"))
    doc["slug"] = f"{slug}-local"
    doc["base_url"] = url
    for action in doc["actions"]:
        if "base_url" in action:
            action["base_url"] = url
    return doc


def connect(moto: Moto, secret: str) -> None:
    for slug in ("amazon-s3-local", "aws-local"):
        put_connection(
            slug,
            method="custom",
            config={"access_key_id": moto.key_id, "region": REGION},
            secrets={"secret_access_key": secret},
        )


@pytest.fixture
def aws(moto: Moto, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Moto:
    folder = write_manifests(tmp_path / "m", local_copy("amazon-s3", moto.url), local_copy("aws", moto.url))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_STORE_KEY", STORE_KEY)
    connect(moto, moto.secret)
    return moto


def invoke(cli: Any, slug: str, action: str, *params: str) -> Any:
    r = cli("invoke", slug, action, *[a for p in params for a in ("-p", p)], "--json")
    assert r.exit_code == 0, r.stderr
    return json.loads(r.stdout)


def test_s3_objects_round_trip(cli, aws, tmp_path):
    s3 = aws.client("s3")
    assert invoke(cli, "amazon-s3-local", "test_connection")["status"] == 200
    assert f"<Name>{BUCKET}</Name>" in invoke(cli, "amazon-s3-local", "list_buckets")["result"]
    for i, key in enumerate(KEYS):
        f = tmp_path / f"upload{i}.csv"
        f.write_bytes(f"n,key\n{i},{key}\n".encode())
        invoke(cli, "amazon-s3-local", "put_object", f"bucket={BUCKET}", f"key={key}", f"file=@{f}")
        # the key is stored as given ("reports/q1.csv", not "reports%2Fq1.csv") with the file's bytes
        got = s3.get_object(Bucket=BUCKET, Key=key)
        assert got["Body"].read() == f.read_bytes() and got["ContentType"] == "text/csv"
        out = invoke(cli, "amazon-s3-local", "get_object", f"bucket={BUCKET}", f"key={key}")
        assert out["result"] == f.read_text()
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sorted(listed) == sorted(KEYS)

    page = invoke(cli, "amazon-s3-local", "list_objects", f"bucket={BUCKET}", "prefix=reports/")["result"]
    assert "<Key>reports/q1.csv</Key>" in page and "<KeyCount>1</KeyCount>" in page
    page = invoke(cli, "amazon-s3-local", "list_objects", f"bucket={BUCKET}", "delimiter=/")["result"]
    for folder in ("reports/", "a b/", "100%/", "deep/"):
        assert f"<CommonPrefixes><Prefix>{folder}</Prefix></CommonPrefixes>" in page
    assert "<Key>we+ird&amp;=?#;.txt</Key>" in page
    page = invoke(cli, "amazon-s3-local", "list_objects", f"bucket={BUCKET}", "max_keys=2")["result"]
    assert "<IsTruncated>true</IsTruncated>" in page and "<NextContinuationToken>" in page

    for key in KEYS:
        assert invoke(cli, "amazon-s3-local", "delete_object", f"bucket={BUCKET}", f"key={key}")["status"] == 204
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_a_dot_segment_in_a_key_stays_in_the_key(cli, aws, tmp_path):
    """``x/../y`` is sent as ``x/%2E%2E/y`` (never a path that climbs; botocore sends ``x/../y``
    raw, which an HTTP stack may collapse); S3 stores the key ``x/../y`` either way."""
    f = tmp_path / "d.txt"
    f.write_bytes(b"dots")
    invoke(cli, "amazon-s3-local", "put_object", f"bucket={BUCKET}", "key=x/../y", f"file=@{f}")
    s3 = aws.client("s3")
    assert s3.get_object(Bucket=BUCKET, Key="x/../y")["Body"].read() == b"dots"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="x/")["Contents"]] == ["x/../y"]
    invoke(cli, "amazon-s3-local", "delete_object", f"bucket={BUCKET}", "key=x/../y")
    assert s3.list_objects_v2(Bucket=BUCKET, Prefix="x/")["KeyCount"] == 0


def test_lambda_and_sts_actions(cli, aws):
    listed = invoke(cli, "aws-local", "list_functions")["result"]
    # moto answers ListFunctions as text/html (Lambda says application/json): synthral keeps text
    listed = json.loads(listed) if isinstance(listed, str) else listed
    assert [f["FunctionName"] for f in listed["Functions"]] == ["resize"]
    out = invoke(cli, "aws-local", "invoke_function", "function_name=resize", 'payload={"id": 7, "name": "ü"}')
    assert out["result"] == {"id": 7, "name": "ü"}
    identity = invoke(cli, "aws-local", "get_caller_identity")["result"]
    assert "<Arn>arn:aws:iam::123456789012:user/synthral</Arn>" in identity


@pytest.mark.parametrize("slug,action", [("amazon-s3-local", "list_buckets"), ("aws-local", "list_functions")])
def test_a_wrong_secret_is_refused_by_the_server(cli, aws, slug, action):
    connect(aws, "not-" + aws.secret)
    r = cli("invoke", slug, action, "--json")
    assert r.exit_code == 3, r.stderr
    assert f"{slug} refused the credentials (403: SignatureDoesNotMatch" in r.stderr
    assert f"synthral authorize {slug}" in r.stderr
    assert aws.secret not in r.stderr + r.stdout


class CanonicalRequests(logging.Handler):
    """The canonical requests botocore's signer logs (synthral signs with it too)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if text.startswith("CanonicalRequest:\n"):
            self.seen.append(text.split("\n", 1)[1])

    def last(self) -> dict[str, Any]:
        """Method, URI, query, headers (name -> value), signed header names, payload hash."""
        method, uri, query, *rest = self.seen[-1].split("\n")
        blank = rest.index("")
        headers = dict(line.split(":", 1) for line in rest[:blank])
        signed, payload = rest[blank + 1 :]
        return {"method": method, "uri": uri, "query": query, "headers": headers, "signed": signed, "payload": payload}


@pytest.fixture
def canonical() -> Iterator[CanonicalRequests]:
    handler = CanonicalRequests()
    logger = logging.getLogger("botocore.auth")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def same_request(ours: dict[str, Any], theirs: dict[str, Any]) -> None:
    """Equal but for the time stamp, the headers only botocore sends (its SDK invocation id) and
    the ones only synthral sends (Accept; the Content-Type botocore leaves out of a Lambda payload)."""
    for part in ("method", "uri", "query", "payload"):
        assert ours[part] == theirs[part], part
    common = set(ours["headers"]) & set(theirs["headers"])
    assert {"host", "x-amz-date"} <= common
    for name in common - {"x-amz-date"}:
        assert ours["headers"][name] == theirs["headers"][name], name
    assert set(ours["headers"]) - common <= {"accept", "content-type"}
    assert set(theirs["headers"]) - common <= {"amz-sdk-invocation-id", "amz-sdk-request"}


def test_canonical_requests_match_botocores(cli, aws, canonical, tmp_path):
    s3, lam = aws.client("s3"), aws.client("lambda")
    body = "a,b\n1,ü\n".encode()
    f = tmp_path / "q1.csv"
    f.write_bytes(body)
    for key in KEYS:
        calls = [
            (
                ["put_object", f"bucket={BUCKET}", f"key={key}", f"file=@{f}"],
                lambda key=key: s3.put_object(Bucket=BUCKET, Key=key, Body=body, ContentType="text/csv"),
            ),
            (["get_object", f"bucket={BUCKET}", f"key={key}"], lambda key=key: s3.get_object(Bucket=BUCKET, Key=key)),
            (
                ["delete_object", f"bucket={BUCKET}", f"key={key}"],
                lambda key=key: s3.delete_object(Bucket=BUCKET, Key=key),
            ),
        ]
        for args, theirs in calls:
            invoke(cli, "amazon-s3-local", *args)
            ours = canonical.last()
            theirs()
            same_request(ours, canonical.last())
        # the key's "/" stay, everything else is percent-encoded once (S3 is not double-encoded)
        assert ours["uri"] == f"/{BUCKET}/" + "/".join(quote(part, safe="") for part in key.split("/"))
        assert ours["payload"] == hashlib.sha256(b"").hexdigest()

    invoke(cli, "aws-local", "invoke_function", "function_name=resize", 'payload={"id":7}', "invocation_type=Event")
    ours = canonical.last()
    lam.invoke(FunctionName="resize", Payload=b'{"id": 7}', InvocationType="Event")
    same_request(ours, canonical.last())
    invoke(cli, "aws-local", "list_functions", "MaxItems=5")
    ours = canonical.last()
    lam.list_functions(MaxItems=5)
    same_request(ours, canonical.last())
