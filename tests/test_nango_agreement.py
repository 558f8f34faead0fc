"""Nango keys and OAuth URLs in the manifests agree with Nango's provider catalogue (issue 6, point 3).

Nango's catalogue is ``providers.yaml`` from the npm package ``@nangohq/providers``, pinned in
``tests/npm/package-lock.json`` and installed by ``scripts/test`` (``npm ci``) into the ignored
``.test-deps/npm``; it is read there and never copied into the repository. A missing file fails
these tests: skipping would hide a catalogue that was never checked.

For every manifest (parametrized by slug, so ``pytest -k gmail`` picks one):

- ``nango.enabled: true``: ``provider_key`` is a Nango key; our ``authorization_url`` and
  ``token_url`` equal Nango's, after mapping ``${connectionConfig.X}`` to ``{Y}`` per
  ``nango.connection_config`` (``X`` maps to ``{X}`` when not listed) and taking either side of
  Nango's ``A || B``; a field may differ only when ``nango.url_differences`` gives the reason, and a
  listed difference must be real. Our auth type must also fit Nango's ``auth_mode``: a Nango
  connection must hand synthral the kind of credential the manifest injects.
- ``nango.enabled: false``: ``provider_key`` is null or not a Nango key; if Nango does have the
  provider (the key given, or a Nango key equal to our slug), ``nango.url_differences.enabled``
  says why we do not use it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"
NANGO_PACKAGE = REPO / ".test-deps" / "npm" / "node_modules" / "@nangohq" / "providers"
NANGO_FILE = NANGO_PACKAGE / "providers.yaml"
NANGO_VERSION = "0.71.10"  # the version tests/npm/package-lock.json pins

URL_FIELDS = ("authorization_url", "token_url")
DIFFERENCE_KEYS = {*URL_FIELDS, "enabled"}
# Our auth type -> the Nango auth modes whose credentials fit it (custom/none are not checked).
AUTH_MODES = {
    "oauth2": {"OAUTH2", "OAUTH2_CC", "MCP_OAUTH2", "MCP_OAUTH2_GENERIC"},
    "api_key": {"API_KEY"},
    "bearer": {"API_KEY"},
    "basic": {"BASIC"},
}
_CONNECTION_CONFIG = re.compile(r"\$\{connectionConfig\.([A-Za-z0-9_]+)\}")

SLUGS = sorted(
    p.stem for p in MANIFESTS.iterdir() if p.suffix in {".yaml", ".yml"} and not p.name.startswith(".")
)


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, Any]:
    import yaml

    if not NANGO_FILE.is_file():
        pytest.fail(
            f"Nango's provider catalogue is missing: {NANGO_FILE}. It is the reference these tests "
            "check every manifest against; `bash scripts/test` installs it (npm ci of tests/npm).",
            pytrace=False,
        )
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(NANGO_FILE.read_text(encoding="utf-8"), Loader=loader)  # noqa: S506 - a safe loader
    assert isinstance(data, dict) and len(data) > 100, f"{NANGO_FILE} is not Nango's providers.yaml"
    return data


@pytest.fixture(scope="module")
def catalogue() -> dict[str, Any]:
    return _catalogue()


def provider(catalogue: dict[str, Any], key: str) -> dict[str, Any]:
    """Nango's entry with ``alias`` resolved: a shallow merge over the aliased entry (chains too)."""
    entry = dict(catalogue[key])
    seen = {key}
    while "alias" in entry:
        base_key = entry.pop("alias")
        assert base_key not in seen, f"alias loop in Nango's catalogue at {base_key!r}"
        seen.add(base_key)
        base = dict(catalogue[base_key])
        base_alias = base.pop("alias", None)
        merged = {**base, **entry}
        if base_alias is not None:
            merged["alias"] = base_alias
        entry = merged
    return entry


def nango_urls(value: Any, mapping: dict[str, str]) -> list[str]:
    """Every URL Nango may use for a field, in our template syntax.

    ``value`` is a string (``A || B`` alternatives) or, for a few providers, a mapping of auth
    type to string; ``${connectionConfig.X}`` becomes ``{mapping.get(X, X)}``.
    """
    if value is None:
        return []
    values = list(value.values()) if isinstance(value, dict) else [value]

    def ours(m: re.Match[str]) -> str:
        return "{" + mapping.get(m.group(1), m.group(1)) + "}"

    return [_CONNECTION_CONFIG.sub(ours, alt).strip() for v in values for alt in str(v).split("||")]


def load(slug: str) -> dict[str, Any]:
    from synthral_cli.catalogue.validation import validate_file

    path = next(p for p in (MANIFESTS / f"{slug}.yaml", MANIFESTS / f"{slug}.yml") if p.exists())
    doc, problems = validate_file(path)
    if doc is None:
        pytest.fail("invalid manifest:\n" + "\n".join(problems), pytrace=False)
    return doc


def test_reference_file_is_present():
    import json

    assert NANGO_FILE.is_file(), f"missing {NANGO_FILE}"
    assert "google-mail" in _catalogue()
    # The installed package is the pinned one (a stale .test-deps would check against other data).
    installed = json.loads((NANGO_PACKAGE / "package.json").read_text(encoding="utf-8"))
    assert (installed["name"], installed["version"]) == ("@nangohq/providers", NANGO_VERSION)
    lock = json.loads((REPO / "tests" / "npm" / "package-lock.json").read_text(encoding="utf-8"))
    assert lock["packages"]["node_modules/@nangohq/providers"]["version"] == NANGO_VERSION


def test_nango_urls_maps_templates_and_alternatives():
    value = "https://${connectionConfig.hostname}/oauth/authorize || https://login.example.com/authorize"
    assert nango_urls(value, {"hostname": "instance"}) == [
        "https://{instance}/oauth/authorize",
        "https://login.example.com/authorize",
    ]
    assert nango_urls("https://${connectionConfig.shop}.ex.com/t", {}) == ["https://{shop}.ex.com/t"]
    assert nango_urls({"OAUTH2": "https://a/t", "APP": "https://b/t"}, {}) == ["https://a/t", "https://b/t"]
    assert nango_urls(None, {}) == []


def test_alias_resolution_is_shallow_and_chained(catalogue):
    gmail = provider(catalogue, "google-mail")
    assert "alias" not in gmail
    assert gmail["authorization_url"] == "https://accounts.google.com/o/oauth2/v2/auth"
    # The alias entry's own proxy block replaces the base one as a whole (shallow merge).
    assert gmail["proxy"] == catalogue["google-mail"]["proxy"]


def agreement_problems(slug: str, doc: dict[str, Any], catalogue: dict[str, Any]) -> list[str]:
    """Every way one manifest's ``nango`` block and OAuth URLs disagree with Nango's catalogue."""
    nango = doc["nango"]
    key = nango.get("provider_key")
    differences = nango.get("url_differences") or {}
    problems = []

    unknown = sorted(set(differences) - DIFFERENCE_KEYS)
    if unknown:
        allowed = sorted(DIFFERENCE_KEYS)
        problems.append(f"{slug}: nango.url_differences may only name {allowed}, not {unknown}")
    for field, reason in differences.items():
        if not str(reason).strip():
            problems.append(f"{slug}: nango.url_differences.{field} needs a one-line reason")

    if not nango["enabled"]:
        nango_has_it = key is not None and key in catalogue
        same_name = key is None and slug in catalogue
        if (nango_has_it or same_name) and "enabled" not in differences:
            which = key if nango_has_it else slug
            problems.append(
                f"{slug}: Nango has a provider {which!r} but nango.enabled is false; say why in "
                "nango.url_differences.enabled (or enable it"
                + (", or set provider_key" if same_name else "")
                + ")"
            )
        return problems

    if "enabled" in differences:
        problems.append(f"{slug}: nango.url_differences.enabled is stale: Nango is enabled")
    if key not in catalogue:
        return [*problems, f"{slug}: nango.provider_key {key!r} is not a key of Nango's catalogue"]
    entry = provider(catalogue, key)
    mapping = nango.get("connection_config") or {}

    ours_type = doc["auth"]["type"]
    if ours_type in AUTH_MODES and entry.get("auth_mode") not in AUTH_MODES[ours_type]:
        problems.append(
            f"{slug}: auth.type {ours_type} does not fit Nango's {key} auth_mode {entry.get('auth_mode')}; "
            "a Nango connection would hand over the wrong kind of credential"
        )

    for field in URL_FIELDS:
        ours = doc["auth"].get(field)
        theirs = nango_urls(entry.get(field), mapping)
        agree = ours in theirs if theirs else ours is None
        if field in differences and agree:
            problems.append(f"{slug}: nango.url_differences.{field} is listed but the URLs agree; remove it")
        elif field not in differences and not agree:
            problems.append(
                f"{slug}: auth.{field} {ours!r} differs from Nango's {key} {' or '.join(theirs) or 'none'}; "
                f"fix it, map variables in nango.connection_config, or give the reason in "
                f"nango.url_differences.{field}"
            )
    return problems


@pytest.mark.parametrize("slug", SLUGS)
def test_nango_agreement(slug, catalogue):
    problems = agreement_problems(slug, load(slug), catalogue)
    assert not problems, "\n".join(problems)


# -- the checker itself catches each kind of disagreement ------------------------------------------

FAKE_CATALOGUE = {
    "acme": {
        "auth_mode": "OAUTH2",
        "authorization_url": "https://${connectionConfig.subdomain}.acme.test/oauth/authorize",
        "token_url": "https://${connectionConfig.subdomain}.acme.test/oauth/token || https://acme.test/token",
    },
    "acme-alias": {"alias": "acme", "token_url": "https://other.acme.test/token"},
    "keyed": {"auth_mode": "API_KEY"},
}


def fake(nango: dict[str, Any], **auth: Any) -> dict[str, Any]:
    base = {
        "type": "oauth2",
        "authorization_url": "https://{sub}.acme.test/oauth/authorize",
        "token_url": "https://acme.test/token",
    }
    return {"auth": {**base, **auth}, "nango": nango}


def test_checker_accepts_mapped_templates_and_alternatives():
    doc = fake({"enabled": True, "provider_key": "acme", "connection_config": {"subdomain": "sub"}})
    assert agreement_problems("acme", doc, FAKE_CATALOGUE) == []
    doc = fake(
        {"enabled": True, "provider_key": "acme", "connection_config": {"subdomain": "sub"}},
        token_url="https://{sub}.acme.test/oauth/token",
    )
    assert agreement_problems("acme", doc, FAKE_CATALOGUE) == []


def test_checker_rejects_a_differing_url_without_reason_and_a_stale_reason():
    mapped = {"enabled": True, "provider_key": "acme", "connection_config": {"subdomain": "sub"}}
    v2 = "https://acme.test/v2/token"
    [problem] = agreement_problems("acme", fake(mapped, token_url=v2), FAKE_CATALOGUE)
    assert "auth.token_url" in problem and "url_differences.token_url" in problem
    # Unmapped variable names do not match ours.
    [problem] = agreement_problems("acme", fake({"enabled": True, "provider_key": "acme"}), FAKE_CATALOGUE)
    assert "auth.authorization_url" in problem
    with_reason = {**mapped, "url_differences": {"token_url": "v2 is the documented endpoint"}}
    assert agreement_problems("acme", fake(with_reason, token_url=v2), FAKE_CATALOGUE) == []
    [problem] = agreement_problems("acme", fake(with_reason), FAKE_CATALOGUE)
    assert "listed but the URLs agree" in problem
    empty_reason = {**mapped, "url_differences": {"token_url": " "}}
    problems = agreement_problems("acme", fake(empty_reason), FAKE_CATALOGUE)
    assert any("needs a one-line reason" in p for p in problems)


def test_checker_follows_aliases():
    doc = fake(
        {"enabled": True, "provider_key": "acme-alias", "connection_config": {"subdomain": "sub"}},
        token_url="https://other.acme.test/token",
    )
    assert agreement_problems("acme", doc, FAKE_CATALOGUE) == []


def test_checker_rejects_unknown_keys_and_mismatched_auth_modes():
    [problem] = agreement_problems("x", fake({"enabled": True, "provider_key": "nope"}), FAKE_CATALOGUE)
    assert "'nope' is not a key" in problem
    doc = {"auth": {"type": "oauth2"}, "nango": {"enabled": True, "provider_key": "keyed"}}
    [problem] = agreement_problems("keyed", doc, FAKE_CATALOGUE)
    assert "auth_mode API_KEY" in problem
    doc = {"auth": {"type": "api_key"}, "nango": {"enabled": True, "provider_key": "keyed"}}
    assert agreement_problems("keyed", doc, FAKE_CATALOGUE) == []


def test_checker_disabled_needs_a_reason_only_when_nango_has_the_provider():
    assert agreement_problems("zzz", fake({"enabled": False, "provider_key": None}), FAKE_CATALOGUE) == []
    assert agreement_problems("zzz", fake({"enabled": False, "provider_key": "zzz"}), FAKE_CATALOGUE) == []
    [problem] = agreement_problems("x", fake({"enabled": False, "provider_key": "acme"}), FAKE_CATALOGUE)
    assert "Nango has a provider 'acme'" in problem
    [problem] = agreement_problems("acme", fake({"enabled": False, "provider_key": None}), FAKE_CATALOGUE)
    assert "or set provider_key" in problem
    reason = {"enabled": False, "provider_key": "acme", "url_differences": {"enabled": "needs a bot token"}}
    assert agreement_problems("x", fake(reason), FAKE_CATALOGUE) == []
    stale = {"enabled": True, "provider_key": "acme", "connection_config": {"subdomain": "sub"},
             "url_differences": {"enabled": "old"}}
    [problem] = agreement_problems("acme", fake(stale), FAKE_CATALOGUE)
    assert "stale" in problem
    typo = {**reason, "url_differences": {"enabled": "needs a bot token", "tokn_url": "typo"}}
    [problem] = agreement_problems("x", fake(typo), FAKE_CATALOGUE)
    assert "may only name" in problem
