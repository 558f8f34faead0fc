"""Route tables read out of official SDKs on npm: the method and path of every call the SDK can
make (and its parameters where the SDK's table has them: Bitbucket, Notion). Each reader is a
regular expression over the SDK's generated JavaScript, which is how the generator wrote it."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from .model import Description, Operation, Param, npm_package, read_text

_INTERP = re.compile(r"\$\{[^}]*\}")


def _files(folder: Path, pattern: str = "*.js") -> Iterable[Path]:
    return sorted(p for p in folder.rglob(pattern) if "node_modules" not in p.relative_to(folder).parts)


def _template(path: str) -> str:
    """``/v1/customers/${encodeURIComponent(id)}`` -> ``/v1/customers/{}``."""
    return _INTERP.sub("{}", path)


def scan(
    package: str,
    pattern: re.Pattern[str],
    *,
    under: str = "",
    glob: str = "*.js",
    method_after: re.Pattern[str] | None = None,
    window: int = 2500,
) -> tuple[list[Operation], str]:
    """Every (method, path) ``pattern`` finds in the package's files. Groups: ``method`` and
    ``path``; without a method group, the first ``method_after`` match after the path."""
    folder, source = npm_package(package)
    ops: list[Operation] = []
    seen: set[tuple[str, str]] = set()
    for file in _files(folder / under, glob):
        text = read_text(file)
        for m in pattern.finditer(text):
            path = _template(m.group("path").split("#")[0])
            if "method" in pattern.groupindex and m.group("method"):
                method = m.group("method")
            elif method_after is not None:
                after = method_after.search(text, m.end(), m.end() + window)
                if after is None:
                    continue
                method = next(g for g in after.groups() if g)
            else:
                method = "ANY"
            method = {"GETAPILIST": "GET"}.get(method.upper(), method.upper())
            if (method, path) not in seen:
                seen.add((method, path))
                ops.append(Operation(method, path))
    if not ops:
        raise AssertionError(f"{source}: no routes found; has the SDK's layout changed?")
    return ops, source


# Stainless-generated SDKs (openai, @anthropic-ai/sdk, cloudflare): this._client.post(path`...`)
STAINLESS = re.compile(
    r"_client\.(?P<method>get|post|put|patch|delete|getAPIList)\(\s*(?:path\s*|\(0,\s*[\w$.]+\)\s*)?"
    r"[`'\"](?P<path>/[^`'\"]*)[`'\"]"
)
# stripe-node: this._makeRequest('GET', `/v1/customers/${...}`
STRIPE = re.compile(r"_makeRequest\('(?P<method>[A-Z]+)',\s*[`'](?P<path>/[^`']*)[`']")
# Fern-generated SDKs (square, intercom-client, cohere-ai): handleNonStatusCodeError(..., "GET", "/v2/x")
FERN = re.compile(r"handleNonStatusCodeError\)\([^()]*?,\s*\"(?P<method>[A-Z]+)\",\s*\"(?P<path>/[^\"]*)\"\)")
# Speakeasy-generated SDKs (@mistralai/mistralai, @vercel/sdk): pathToFunc("/v1/x")(...) ... method: "POST"
SPEAKEASY = re.compile(r"pathToFunc\(\"(?P<path>/[^\"]*)\"")
SPEAKEASY_METHOD = re.compile(r"method:\s*\"([A-Z]+)\"")
# OpenAPI Generator (typescript) SDKs (@hubspot/api-client, pipedrive, xero-node, @datadog/...)
GENERATOR = re.compile(r"localVarPath\s*=\s*(?:this\.basePath\s*\+\s*)?['\"`](?P<path>/[^'\"`]*)['\"`]")
GENERATOR_METHOD = re.compile(r"HttpMethod\.([A-Z]+)|method:\s*['\"]([A-Z]+)['\"]")
# asana: this.apiClient.callApi('/tasks/{task_gid}', 'GET', ...)
ASANA = re.compile(r"'(?P<path>/[^']*)',\s*'(?P<method>GET|POST|PUT|PATCH|DELETE)'")
# box-typescript-sdk-gen: url: ''.concat(this.networkSession.baseUrls.baseUrl, '/2.0/files/', id, ...)
BOX = re.compile(
    r"url:\s*''\.concat\(this\.networkSession\.baseUrls\.(?P<base>baseUrl|uploadUrl),\s*(?P<args>[^;]*?)\),"
    r"\s*method:\s*'(?P<method>[A-Z]+)'"
)


def stainless(package: str, servers: list[str]) -> Description:
    ops, source = scan(package, STAINLESS, glob="*.mjs")
    return Description(source, servers, ops)


def stripe() -> Description:
    ops, source = scan("stripe", STRIPE, under="cjs/resources")
    folder, _ = npm_package("stripe")
    m = re.search(r"ApiVersion = '([^']+)'", read_text(folder / "cjs" / "apiVersion.js"))
    versions = [m.group(1)] if m else []
    return Description(source, ["https://api.stripe.com"], ops, versions, True, "Stripe-Version")


def fern(package: str, servers: list[str], header: str | None = None) -> Description:
    ops, source = scan(package, FERN)
    versions: list[str] = []
    if header:
        folder, _ = npm_package(package)
        for file in _files(folder, "BaseClient.js"):
            m = re.search(rf'"{header}": \(_a = [^;]*?: "([^"]+)"', read_text(file))
            if m:
                versions = [m.group(1)]
                break
    return Description(source, servers, ops, versions, True, header)


def speakeasy(package: str, servers: list[str]) -> Description:
    ops, source = scan(package, SPEAKEASY, method_after=SPEAKEASY_METHOD, under="esm", window=6000)
    return Description(source, servers, ops)


def generator(package: str, servers: list[str], under: str = "") -> Description:
    ops, source = scan(package, GENERATOR, method_after=GENERATOR_METHOD, under=under, window=6000)
    return Description(source, servers, ops)


def graph_version() -> Description:
    """facebook-nodejs-business-sdk: only the Graph API version it pins (FacebookAdsApi.VERSION)."""
    folder, source = npm_package("facebook-nodejs-business-sdk")
    m = re.search(r"get VERSION\(\)[^{]*\{\s*return '(v[\d.]+)'", read_text(folder / "src" / "api.js"))
    return Description(source, [], [], [m.group(1)] if m else [], True)


def pipedrive() -> Description:
    """Two generated clients: v1 (https://api.pipedrive.com/v1, which Pipedrive also serves as
    /api/v1 on the company domain, the form its API reference shows) and v2 (/api/v2)."""
    v1, source = scan("pipedrive", GENERATOR, method_after=GENERATOR_METHOD, under="dist/versions/v1", window=6000)
    v2, _ = scan("pipedrive", GENERATOR, method_after=GENERATOR_METHOD, under="dist/versions/v2", window=6000)
    ops = [Operation(o.method, prefix + o.path) for o in v1 for prefix in ("/v1", "/api/v1")]
    ops += [Operation(o.method, "/api/v2" + o.path) for o in v2]
    return Description(source, ["https://api.pipedrive.com"], ops)


def xero() -> Description:
    """The generated accounting API, plus the connections (tenants) calls XeroClient makes."""
    ops, source = scan("xero-node", GENERATOR, method_after=GENERATOR_METHOD, under="dist/gen/api", window=6000)
    folder, _ = npm_package("xero-node")
    client = read_text(folder / "dist" / "XeroClient.js")
    ops = [Operation(o.method, "/api.xro/2.0" + o.path) for o in ops]
    ops += [
        Operation(method, _template(path))
        for method, path in re.findall(r"queryApi\('([A-Z]+)', [`']https://api\.xero\.com(/[^`']*)[`']", client)
    ]
    return Description(source, ["https://api.xero.com"], ops)


def asana() -> Description:
    ops, source = scan("asana", ASANA, under="src/api")
    return Description(source, ["https://app.asana.com/api/1.0"], ops)


def box() -> Description:
    folder, source = npm_package("box-typescript-sdk-gen")
    ops: list[Operation] = []
    for file in _files(folder / "lib" / "managers"):
        for m in BOX.finditer(read_text(file)):
            parts = [a.strip() for a in re.split(r",\s*(?![^()]*\))", m.group("args"))]
            path = "".join(p[1:-1] if p.startswith("'") else "{}" for p in parts)
            prefix = "/api" if m.group("base") == "uploadUrl" else ""  # https://upload.box.com/api
            ops.append(Operation(m.group("method"), prefix + path))
    return Description(source, ["https://api.box.com", "https://upload.box.com"], ops)


def dropbox() -> Description:
    folder, source = npm_package("dropbox")
    text = read_text(folder / "cjs" / "lib" / "routes.js")
    ops = [
        Operation("POST", f"/2/{m.group(1)}")
        for m in re.finditer(r"this\.request\('([^']+)', (?:arg|null), '[^']*', '(?:api|content)'", text)
    ]
    return Description(source, ["https://api.dropboxapi.com", "https://content.dropboxapi.com"], ops)


def slack() -> Description:
    folder, source = npm_package("@slack/web-api")
    text = read_text(folder / "dist" / "methods.js")
    names = sorted(set(re.findall(r"bindApiCall(?:WithOptionalArgument)?\(this, '([\w.]+)'\)", text)))
    return Description(source, ["https://slack.com"], [Operation("ANY", f"/api/{n}") for n in names])


def discord() -> Description:
    """discord-api-types documents each route helper with the routes it serves:
    ``- GET `/channels/{channel.id}/messages` ``."""
    folder, source = npm_package("discord-api-types")
    text = read_text(folder / "rest" / "v10" / "index.js")
    ops = [
        Operation(method, "/api/v{}" + re.sub(r"\{[^}]*\}", "{}", path))
        for method, path in set(re.findall(r"- +(GET|POST|PUT|PATCH|DELETE) +`(/[^`]+)`", text))
    ]
    version = re.search(r"APIVersion = ['\"](\d+)['\"]", text)
    versions = [f"v{version.group(1)}"] if version else []
    return Description(source, ["https://discord.com"], ops, versions, True)


def twitter() -> Description:
    folder, source = npm_package("twitter-api-sdk")
    text = read_text(folder / "dist" / "gen" / "openapi-types.d.ts")
    ops: list[Operation] = []
    for m in re.finditer(r'^    "(/[^"]+)": \{(.*?)^    \};', text, re.M | re.S):
        for method in re.findall(r"^        (get|post|put|patch|delete): operations", m.group(2), re.M):
            ops.append(Operation(method.upper(), m.group(1)))
    return Description(source, ["https://api.x.com", "https://api.twitter.com"], ops)


_BB = re.compile(r'method:"(\w+)"(?:,params:\{((?:[\w$]+:\{[^{}]*\},?)*)\})?(?:,\w+:"[^"]*")*,url:"([^"]+)"')
# Bitbucket documents these on every list endpoint (pagination, filtering and partial responses).
_BB_COMMON = ("page", "pagelen", "q", "sort", "fields")


def bitbucket() -> Description:
    folder, source = npm_package("bitbucket")
    ops: list[Operation] = []
    for method, params, url in _BB.findall(read_text(folder / "lib" / "index.js")):
        found: dict[str, Param] = {n: Param(n, "query") for n in _BB_COMMON}
        for name, spec in re.findall(r"([\w$]+):\{([^{}]*)\}", params):
            kind = re.search(r'type:"(\w+)"', spec)
            where = "path" if "{" + name + "}" in url else "body" if name == "_body" else "query"
            found[name] = Param(name, where, kind.group(1) if kind else None, "required:!0" in spec, True)
        op = Operation(method, "/2.0" + url, found)
        ops.append(op)
    return Description(source, ["https://api.bitbucket.org"], ops)


_NOTION = re.compile(
    r"exports\.\w+ = \{\s*method: \"(\w+)\",\s*pathParams: \[([^\]]*)\],\s*queryParams: \[([^\]]*)\],"
    r"\s*bodyParams: \[([^\]]*)\],(?:\s*formDataParams: \[([^\]]*)\],)?\s*path: \([^)]*\) => `([^`]*)`",
    re.S,
)


def notion() -> Description:
    folder, source = npm_package("@notionhq/client")
    ops: list[Operation] = []
    for file in _files(folder / "build" / "src" / "api-endpoints"):
        for method, _path_params, query, body, form, path in _NOTION.findall(read_text(file)):
            params = {n: Param(n, "query") for n in re.findall(r'"(\w+)"', query)}
            params |= {n: Param(n, "body") for n in re.findall(r'"(\w+)"', body + (form or ""))}
            ops.append(Operation(method.upper(), "/v1/" + _template(path), params))
    m = re.search(r'defaultNotionVersion = "([^"]+)"', read_text(folder / "build" / "src" / "Client.js"))
    return Description(source, ["https://api.notion.com"], ops, [m.group(1)] if m else [], True, "Notion-Version")


_JIRA = re.compile(
    r"url: [`'](?P<path>/rest/api/3/[^`']*)[`'],\s*method: '(?P<method>[A-Z]+)',(?P<rest>.*?)sendRequest\(", re.S
)


def jira() -> Description:
    """jira.js: each call's config names its url, method, query ``params`` and body ``data``."""
    folder, source = npm_package("jira.js")
    ops: list[Operation] = []
    for file in _files(folder / "dist" / "esm" / "version3", "*.mjs"):
        for m in _JIRA.finditer(read_text(file)):
            params: dict[str, Param] = {}
            for block, where in (("params", "query"), ("data", "body")):
                found = re.search(rf"^( +){block}: \{{\n(.*?)\n\1\}}", m.group("rest"), re.S | re.M)
                if found:
                    indent = len(found.group(1)) + 4
                    for name in re.findall(rf"^ {{{indent}}}(\w+)[:,]", found.group(2), re.M):
                        params[name] = Param(name, where)
                elif re.search(rf"\b{block}: ", m.group("rest")):
                    params["_body" if block == "data" else "_query"] = Param("_body", "body")
            ops.append(Operation(m.group("method"), _template(m.group("path")), params))
    return Description(source, ["https://api.atlassian.com/ex/jira/{cloudId}", "https://{site}.atlassian.net"], ops)


_TWILIO_URI = re.compile(r"(?:this|instance)\._uri = `(?P<path>/[^`]*)`")
_TWILIO_METHOD = re.compile(r"method: \"(get|post|delete|put|patch)\"")


def twilio() -> Description:
    """twilio: each resource class sets its ``_uri`` and calls it with the methods it has."""
    folder, source = npm_package("twilio")
    ops: list[Operation] = []
    for file in _files(folder / "lib" / "rest" / "api" / "v2010"):
        text = read_text(file)
        for cls in re.split(r"\n(?:class|function) ", text)[1:]:
            uri = _TWILIO_URI.search(cls)
            if uri:
                for method in sorted(set(_TWILIO_METHOD.findall(cls))):
                    ops.append(Operation(method.upper(), "/2010-04-01" + _template(uri.group("path"))))
    return Description(source, ["https://api.twilio.com"], ops)


_SENTRY = re.compile(
    r"\)\.(?P<method>get|post|put|patch|delete)\(\{\s*(?:security: \[[^\]]*\],\s*)?url: \"(?P<path>/[^\"]+)\""
)


def sentry() -> Description:
    ops, source = scan("@sentry/api", _SENTRY, under="dist", glob="index.js")
    return Description(source, ["https://sentry.io", "https://{region}.sentry.io", "https://{hostname}"], ops)


_GITBEAKER = re.compile(r"RequestHelper\.(?P<method>get|post|put|del)\(\)\(\s*this,\s*endpoint`(?P<path>[^`]*)`")


def gitlab() -> Description:
    """@gitbeaker/core: RequestHelper.get()(this, endpoint`projects/${projectId}/issues`)."""
    folder, source = npm_package("@gitbeaker/core")
    text = read_text(folder / "dist" / "index.js")
    seen: set[tuple[str, str]] = set()
    for m in _GITBEAKER.finditer(text):
        method = {"DEL": "DELETE"}.get(m.group("method").upper(), m.group("method").upper())
        seen.add((method, "/api/v4/" + _template(m.group("path")).lstrip("/")))
    for m in re.finditer(r"RequestHelper\.(get|post|put|del)\(\)\(\s*this,\s*\"([^\"]+)\"", text):
        method = {"DEL": "DELETE"}.get(m.group(1).upper(), m.group(1).upper())
        seen.add((method, "/api/v4/" + m.group(2).lstrip("/")))
    for m in re.finditer(r"(url\d*) = endpoint`([^`]*)`", text):  # if (projectId) url = ...
        call = re.compile(rf"RequestHelper\.(get|post|put|del)\(\)\(\s*this,\s*{m.group(1)}\b")
        after = call.search(text, m.end(), m.end() + 1500)
        if after:
            method = {"DEL": "DELETE"}.get(after.group(1).upper(), after.group(1).upper())
            seen.add((method, "/api/v4/" + _template(m.group(2)).lstrip("/")))
    ops = [Operation(method, path) for method, path in sorted(seen)]
    return Description(source, ["https://gitlab.com", "https://{host}"], ops)
