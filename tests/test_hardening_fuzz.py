"""Issue 9.1 — bad input never ends in a traceback: property-based tests (hypothesis).

Every input either works or raises a ``SynthralError`` (a documented exit code and a one-line
message). Anything else — ``TypeError``, ``UnicodeEncodeError``, ``KeyError`` — is what the CLI
would turn into exit 70 ("unexpected error"), and fails these tests. Covered: the manifest
loader and validator (arbitrary YAML text, near-valid manifests mutated from bundled ones), the
``-p``/``--data`` parser, workflow interpolation, URL building (path parameters never leave
their segment, query values round-trip, ``request`` paths never change the host), header values
(CR/LF/NUL/non-ASCII never reach the wire) and response parsing (arbitrary bytes, content types
and statuses). Each test counts the examples it ran (see ``tests/hardening_support.py``).
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from synthral_cli.actions.invoke import Invocation, Options, PreparedRequest, adhoc_action
from synthral_cli.auth.credentials import Credential
from synthral_cli.basics.errors import SynthralError, UsageError
from synthral_cli.catalogue.manifest import Action, Manifest, bundled_dir
from synthral_cli.catalogue.validation import validate_dict, validate_file
from synthral_cli.wire.http import error_message, interpret, parse_body
from synthral_cli.wire.params import check_params, parse_cli_params
from synthral_cli.workflows.flow import check_flow, parse_flow
from synthral_cli.workflows.run import interpolate, parse_inputs
from tests.hardening_support import CLI_PROPERTY, PROPERTY, Counter, assert_clean_failure
from tests.invoke_support import Scripted, manifest, write_manifests

BASE = "https://api.example.test/v1"
SAMPLES = ["github", "slack", "stripe", "gmail", "http", "smtp", "postgresql", "salesforce", "shopify"]

# Text with everything that breaks naive code: controls, CR/LF, NUL, non-ASCII, and lone
# surrogates (what Python makes of non-UTF-8 bytes in argv).
ANY_CHAR = st.characters(codec=None, exclude_categories=())
NASTY = st.sampled_from(
    ["/", "..", ".", "%2F", "%", "?", "#", "&", "=", "\r\n", "\n", "\0", "\udcff", "é", "☃", "{x}", "@", " "]
)
text = st.lists(st.one_of(ANY_CHAR.map(str), NASTY), max_size=12).map("".join)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | text,
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3),
    max_leaves=8,
)


def utf8_ok(t: str) -> bool:
    try:
        t.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def one_line(message: str) -> None:
    assert "\n" not in message and "\r" not in message, repr(message)


def expect_clean(exc: BaseException) -> None:
    """The one kind of failure allowed: a SynthralError with a one-line message."""
    assert isinstance(exc, SynthralError), f"{type(exc).__name__}: {exc}"
    one_line(exc.message)


@cache
def real_manifests() -> dict[str, dict[str, Any]]:
    return {s: yaml.safe_load((bundled_dir() / f"{s}.yaml").read_text(encoding="utf-8")) for s in SAMPLES}


# ---------------------------------------------------------------------------------------------
# Manifest loader and validator


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _nodes(v, (*path, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _nodes(v, (*path, i))
    return out


@st.composite
def near_valid(draw: Any) -> dict[str, Any]:
    """A bundled manifest with one to three mutations: delete, replace, retype, add, duplicate."""
    doc = copy.deepcopy(real_manifests()[draw(st.sampled_from(SAMPLES))])
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_nodes(doc)[1:]))
        parent = doc
        for part in path[:-1]:
            parent = parent[part]
        key = path[-1]
        op = draw(st.sampled_from(["delete", "replace", "retype", "add", "duplicate", "tweak"]))
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(json_values)
        elif op == "retype":
            old = parent[key]
            parent[key] = [old] if not isinstance(old, list) else {"x": old}
        elif op == "add" and isinstance(parent[key], dict):
            parent[key][draw(st.sampled_from(["x-extra", "extra", "in", "type", "path"]) | text)] = draw(
                json_values
            )
        elif op == "duplicate" and isinstance(parent, list):
            parent.append(copy.deepcopy(parent[key]))
        elif op == "tweak" and isinstance(parent[key], str):
            parent[key] = parent[key] + draw(NASTY)
    return doc


def _dry_run_each_action(doc: dict[str, Any]) -> None:
    """A manifest the validator accepts must never crash the invoker either."""
    m = Manifest(doc)
    m.summary(), m.to_dict()
    json.dumps(doc)  # what the catalogue cache writes
    if m.transport != "http":
        return
    fields = {f["name"]: f"<{f['name']}>" for f in m.auth.get("fields", [])}
    fields.update({k: f"<{k}>" for k in ("access_token", "token", "api_key", "username", "password")})
    cred = Credential(m.slug, "default", m.auth_type, fields, {}, None, "placeholder")
    samples = {
        "string": "x",
        "integer": 1,
        "number": 1.5,
        "boolean": True,
        "array": ["a"],
        "object": {"k": "v"},
    }
    for action in m.actions:
        if any(p.type == "file" for p in action.parameters):
            continue
        values = {p.name: samples[p.type] for p in action.parameters if p.required}
        try:
            params = check_params(action, values, m.slug)
            Invocation(m, action, params, cred, Options(dry_run=True)).prepare(dry_run=True).render()
        except Exception as exc:  # noqa: BLE001 - the property: only SynthralError
            expect_clean(exc)


@PROPERTY
@given(doc=near_valid())
def test_near_valid_manifests_are_rejected_cleanly_or_work(doc):
    count()
    problems = validate_dict(doc)
    for p in problems:
        one_line(p)
    if not problems:
        _dry_run_each_action(doc)


def _mutate_text(source: str, edits: list[tuple[int, int, str]]) -> str:
    lines = source.splitlines()
    for kind, where, token in edits:
        i = where % max(len(lines), 1)
        if kind == 0 and lines:
            del lines[i]
        elif kind == 1:
            lines.insert(i, token)
        elif kind == 2 and lines:
            lines[i] = lines[i] + token
        elif kind == 3 and lines:
            lines[i] = lines[i][: len(lines[i]) // 2]
    return "\n".join(lines) + "\n"


YAML_TOKENS = st.sampled_from(
    [
        "  - 2024-01-01",
        "x-when: 2024-01-01",
        "default: 2024-01-01 10:00:00",
        ": :",
        "? [a, b]\n: c",
        "&a [*a]",
        "*undefined",
        "!!python/object:os.system ls",
        "!!binary aGVsbG8=",
        "\t- tab",
        "key: [unclosed",
        "'unterminated",
        "---\n---",
        "%YAML 1.1",
        "1: numeric key",
        "null: ~",
        "- .nan",
        "{",
        "\udcff",
        "\x00",
        "description: |\n  multi\n  line",
    ]
)


@PROPERTY
@given(
    sample=st.sampled_from(SAMPLES),
    edits=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 10_000), YAML_TOKENS | text), max_size=4),
    raw=st.none() | text,
)
def test_arbitrary_yaml_text_is_a_problem_list_never_a_crash(tmp_path_factory, sample, edits, raw):
    count()
    source = (bundled_dir() / f"{sample}.yaml").read_text(encoding="utf-8")
    body = raw if raw is not None else _mutate_text(source, edits)
    folder = tmp_path_factory.mktemp("y")
    path = folder / f"{sample}.yaml"
    path.write_bytes(
        body.encode("utf-8", "surrogateescape") if raw is None else body.encode("utf-8", "replace")
    )
    doc, problems = validate_file(path)
    assert (doc is None) == bool(problems)
    for p in problems:
        one_line(p)
        assert p.startswith(str(path))
    if doc is not None:
        _dry_run_each_action(doc)


@CLI_PROPERTY
@given(doc=near_valid(), date=st.booleans())
def test_cli_validate_and_list_with_a_broken_user_manifest(cli, tmp_path_factory, monkeypatch, doc, date):
    """``connectors validate`` exits 0 or 2; a broken user manifest never breaks ``list``."""
    count()
    folder = tmp_path_factory.mktemp("um")
    slug = doc.get("slug") if isinstance(doc.get("slug"), str) and doc["slug"].isidentifier() else "mut"
    text_ = yaml.safe_dump(doc, allow_unicode=True)
    if date:  # YAML timestamps are not JSON: they must be reported, not crash the cache
        text_ += "x-released: 2024-01-01\n"
    (folder / f"{slug}.yaml").write_text(text_, encoding="utf-8", errors="surrogateescape")
    r = cli("connectors", "validate", str(folder))
    assert_clean_failure(r, {0, 2})
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    r = cli("connectors", "list", "--json")
    assert_clean_failure(r, {0})
    json.loads(r.stdout)


# ---------------------------------------------------------------------------------------------
# The -p / --data parser


PARAMS = [
    {"name": "id", "in": "path", "type": "string", "required": True},
    {"name": "n", "in": "query", "type": "integer"},
    {"name": "ratio", "in": "query", "type": "number"},
    {"name": "flag", "in": "query", "type": "boolean"},
    {"name": "tags", "in": "query", "type": "array"},
    {"name": "color", "in": "query", "type": "string", "enum": ["red", "blue"]},
    {"name": "X-Trace", "in": "header", "type": "string"},
    {"name": "meta", "in": "body", "type": "object"},
    {"name": "title", "in": "body", "type": "string", "default": "untitled"},
]
ACTION = Action(
    {"name": "thing", "description": "d", "method": "POST", "path": "/a/{id}/b", "parameters": PARAMS}
)
NAMES = [p["name"] for p in PARAMS]


def fuzz_manifest() -> Manifest:
    doc = manifest("fuzz", BASE, [ACTION.raw])
    assert validate_dict(doc) == []
    return Manifest(doc)


def _prepare(m: Manifest, action: Action, params: dict[str, Any], token: str = "tok-123") -> PreparedRequest:
    from synthral_cli.auth.binding import origin

    # bound as an environment token is: to the manifest's own origin (a dry run checks it too)
    cred = Credential(m.slug, "default", "bearer", {"token": token}, {}, None, "environment", [origin(BASE)])
    return Invocation(m, action, params, cred, Options(dry_run=True)).prepare(dry_run=True)


pair = st.one_of(
    st.tuples(
        st.sampled_from([*NAMES, "nope"]) | text,
        st.sampled_from(["=", ":="]),
        text | json_values.map(json.dumps),
    ).map(lambda t: "".join(t)),
    text,
)


def _check_wire(req: PreparedRequest) -> None:
    """What reaches httpx can always be encoded, and no header can carry a line break."""
    for k, v in req.headers:
        assert not set(k + v) & {"\r", "\n", "\0"}, (k, v)
        k.encode("ascii"), v.encode("ascii")
    req.url.encode("ascii")
    httpx.Request(req.method, req.url, headers=req.headers, content=req.content)


@PROPERTY
@given(
    pairs=st.lists(pair, max_size=6),
    data=st.none() | text | st.dictionaries(text, json_values).map(json.dumps),
)
def test_parameter_parser_types_or_refuses(tmp_path, monkeypatch, pairs, data):
    count()
    monkeypatch.chdir(tmp_path)  # a random @FILE can only name something in an empty folder
    m = fuzz_manifest()
    try:
        values = parse_cli_params(ACTION, pairs, data, strict=True, slug="fuzz")
        params = check_params(ACTION, values, "fuzz")
        req = _prepare(m, ACTION, params)
    except Exception as exc:  # noqa: BLE001 - the property: only SynthralError
        expect_clean(exc)
        return
    _check_wire(req)
    assert set(params) >= {"id", "title"}


@CLI_PROPERTY
@given(pairs=st.lists(pair.filter(lambda s: "\0" not in s), max_size=4))
def test_cli_invoke_with_arbitrary_parameters_exits_cleanly(cli, tmp_path_factory, monkeypatch, pairs):
    count()
    folder = write_manifests(tmp_path_factory.mktemp("m"), manifest("fuzz", BASE, [ACTION.raw]))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    args = [a for p in pairs for a in ("-p", p)]
    r = cli("invoke", "fuzz", "thing", *args, "--dry-run", "--json")
    assert_clean_failure(r, {0, 2})
    if r.exit_code == 0:
        json.loads(r.stdout)


# ---------------------------------------------------------------------------------------------
# URL building: path parameters stay in their segment, query values round-trip


@PROPERTY
@given(ident=text, q=st.lists(text, max_size=3), n=st.integers(), flag=st.booleans())
def test_path_parameter_never_leaves_its_segment_and_query_round_trips(ident, q, n, flag):
    count()
    m = fuzz_manifest()
    utf8 = all(utf8_ok(t) for t in (ident, *q))
    try:
        params = check_params(ACTION, {"id": ident, "tags": q, "n": n, "flag": flag}, "fuzz")
        req = _prepare(m, ACTION, params)
    except Exception as exc:  # noqa: BLE001
        expect_clean(exc)
        assert not utf8, f"refused valid text {ident!r} {q!r}: {exc}"  # only lone surrogates fail
        return
    assert utf8
    _check_wire(req)
    url = httpx.URL(req.url)
    parts = urlsplit(req.url)
    assert (url.scheme, url.host) == ("https", "api.example.test")
    assert parts.fragment == ""
    segments = parts.path.split("/")
    assert segments[:3] == ["", "v1", "a"] and segments[-1] == "b" and len(segments) == 5
    assert unquote(segments[3], errors="surrogatepass") == ident
    # httpx (what sends) sees the same path: no ".." was resolved, no segment added
    assert url.raw_path.split(b"?")[0].decode() == parts.path
    expected = [("n", str(n)), ("flag", "true" if flag else "false"), *(("tags", t) for t in q)]
    assert sorted(parse_qsl(parts.query, keep_blank_values=True)) == sorted(expected)


@PROPERTY
@given(path=text, value=text)
def test_request_paths_never_change_the_host(path, value):
    """``synthral request SLUG GET PATH``: whatever PATH is, the request goes to the base URL's host."""
    count()
    m = fuzz_manifest()
    try:
        action = adhoc_action(m, "GET", "/" + path.lstrip("/") if path[:1] != "?" else path, {"v": value})
        req = _prepare(m, action, check_params(action, {"v": value}, "fuzz"))
    except Exception as exc:  # noqa: BLE001
        expect_clean(exc)
        return
    _check_wire(req)
    url = httpx.URL(req.url)
    assert (url.scheme, url.host, url.port) == ("https", "api.example.test", None)
    assert urlsplit(req.url).path.startswith("/v1")  # dot segments are the caller's own business
    assert ("v", value) in parse_qsl(urlsplit(req.url).query, keep_blank_values=True)


# ---------------------------------------------------------------------------------------------
# Headers: CR/LF/NUL and non-ASCII never reach the wire


@PROPERTY
@given(value=text, token=text, name=st.sampled_from(["X-Custom", "X-A", "Content-Type"]) | text)
def test_header_values_cannot_inject_headers(value, token, name):
    count()
    m = fuzz_manifest()
    http = Manifest(yaml.safe_load((bundled_dir() / "http.yaml").read_text(encoding="utf-8")))
    for uses_token, build in (
        (True, lambda: _prepare(
            m, ACTION, check_params(ACTION, {"id": "1", "X-Trace": value}, "fuzz"), token=token or "t"
        )),
        (False, lambda: Invocation(
            http,
            http.action("request"),
            check_params(http.action("request"), {"url": BASE, "headers": {name: value}}, "http"),
            None,
            Options(dry_run=True),
        ).prepare(dry_run=True)),
    ):
        try:
            req = build()
        except Exception as exc:  # noqa: BLE001
            expect_clean(exc)
            if uses_token:  # a refused credential is not echoed (a bad header *name* may be)
                assert token not in exc.message or len(token) < 4
            continue
        _check_wire(req)
        assert len([k for k, _ in req.headers if k.lower() == "authorization"]) <= 1


# ---------------------------------------------------------------------------------------------
# Workflow interpolation


EXPR = st.lists(
    st.sampled_from(["input", "s1", "data", "items", "[0]", "[99]", ".", "x", "0", "{", "}", " "]) | text,
    max_size=5,
).map("".join)
TEMPLATE = st.lists(st.one_of(text, EXPR.map(lambda e: "{{" + e + "}}")), max_size=4).map("".join)
TEMPLATES = st.recursive(
    TEMPLATE, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(text, kids, max_size=3), max_leaves=6
)


@PROPERTY
@given(value=TEMPLATES, inputs=st.dictionaries(text, json_values, max_size=4), out=json_values)
def test_interpolation_resolves_or_names_the_reference(value, inputs, out):
    count()
    context = {"input": inputs, "s1": out}
    try:
        result = interpolate(value, context, "s2")
    except Exception as exc:  # noqa: BLE001
        expect_clean(exc)
        assert isinstance(exc, UsageError) and "s2" in exc.message
        return
    json.dumps(result)  # still plain JSON data


@PROPERTY
@given(secret=text)
def test_interpolated_values_are_not_interpolated_again(secret):
    """A provider's answer that holds ``{{input.x}}`` is data, never a template."""
    count()
    context = {"input": {"evil": "{{input.secret}}", "secret": secret}}
    assert interpolate("{{input.evil}}", context, "s") == "{{input.secret}}"
    assert interpolate("a {{input.evil}} b", context, "s") == "a {{input.secret}} b"


@PROPERTY
@given(
    doc=json_values
    | st.fixed_dictionaries(
        {
            "steps": st.lists(
                st.dictionaries(
                    st.sampled_from(["name", "type", "config", "continue_on_error"]), json_values | TEMPLATES
                ),
                max_size=3,
            )
        }
    ),
    items=st.lists(text, max_size=3),
)
def test_flow_structure_and_inputs_are_checked_cleanly(doc, items):
    count()
    try:
        flow = parse_flow(doc, "flow.json")
        check_flow(flow, parse_inputs(items), None)
    except Exception as exc:  # noqa: BLE001
        expect_clean(exc)


# ---------------------------------------------------------------------------------------------
# Response parsing


CTYPES = st.sampled_from(
    [
        "",
        "application/json",
        "application/json; charset=utf-16",
        "text/plain; charset=bogus",
        "text/html",
        "application/xml",
        "application/octet-stream",
        "application/problem+json",
        "image/png",
        "text/plain; charset=latin-1",
    ]
) | text.filter(lambda s: s.isascii() and not set(s) & {"\r", "\n", "\0", "\v", "\f"})  # (not in HTTP headers)
BODIES = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            b"<html><body>Bad gateway</body></html>",
            b"<Error><Code>NoSuchKey</Code><Message>gone &amp; lost</Message></Error>",
            b'{"error": {"message": "line one\\nline two"}}',
            b"first line\nsecond line\r\nthird",
            b'{"error": "' + b"x" * 5000 + b'"}',
            b"\xff\xfe\x00\x00",
            b'{"errors": [{"message": 3}]}',
            b'{"ok": false}',
            b'{"\\uda00": "lone surrogate, valid JSON"}',
        ]
    ),
)


@PROPERTY
@given(status=st.integers(100, 999), ctype=CTYPES, body=BODIES, ok_path=st.booleans())
def test_any_answer_parses_or_is_a_one_line_provider_error(status, ctype, body, ok_path):
    count()
    extra = {"errors": {"ok_path": "ok", "message_paths": ["detail", "errors[0].message"]}} if ok_path else {}
    m = Manifest(manifest("fuzz", BASE, [ACTION.raw], **extra))
    inv = Invocation(m, ACTION, {"id": "1"}, None, Options())
    resp = httpx.Response(
        status,
        headers={"Content-Type": ctype} if ctype else {},
        content=body,
        request=httpx.Request("GET", BASE),
    )
    value, binary = parse_body(resp)
    msg = error_message(inv, value)
    assert msg is None or (isinstance(msg, str) and "\n" not in msg and len(msg) <= 1000)
    try:
        out = interpret(inv, resp)
    except Exception as exc:  # noqa: BLE001
        expect_clean(exc)
        assert exc.exit_code in (1, 3)
        return
    assert out.success and 200 <= status < 300
    json.dumps(out.to_dict())


@CLI_PROPERTY
@given(
    status=st.sampled_from([200, 201, 204, 400, 401, 404, 418, 500, 503, 299, 599]), ctype=CTYPES, body=BODIES
)
def test_cli_against_a_server_answering_anything(cli, tmp_path_factory, monkeypatch, status, ctype, body):
    count()
    peer = SERVER()
    folder = write_manifests(tmp_path_factory.mktemp("m"), manifest("any", peer.url, []))
    monkeypatch.setenv("SYNTHRAL_MANIFESTS_PATH", str(folder))
    monkeypatch.setenv("SYNTHRAL_ANY_TOKEN", "any-token-1")
    peer.add("/get", (status, {"Content-Type": ctype} if ctype else {}, body))
    r = cli("invoke", "any", "test_connection", "--json", "--retries", "0")
    assert_clean_failure(r, {0, 1, 3})
    if r.stdout.strip():
        json.loads(r.stdout)
    assert "any-token-1" not in r.stdout + r.stderr


# ---------------------------------------------------------------------------------------------
# Plumbing: one Scripted server for the CLI property above, and per-test example counters.

_server: list[Scripted] = []


def SERVER() -> Scripted:  # noqa: N802 - reads like a constant at the call site
    if not _server:
        _server.append(Scripted())
    return _server[0]


@pytest.fixture(scope="module", autouse=True)
def _close_server():
    yield
    while _server:
        _server.pop().close()


_counter: list[Counter] = []


def count() -> None:
    _counter[-1]()


@pytest.fixture(autouse=True)
def _count_examples(request):
    c = Counter(f"{Path(__file__).name}::{request.node.name}")
    _counter.append(c)
    yield
    _counter.pop()
    c.done(minimum=20)
