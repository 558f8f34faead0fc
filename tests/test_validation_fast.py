"""jsonschema-rs (the fast check of a manifest's schema) and jsonschema (which words every
problem) agree on what is valid: on every bundled manifest and on broken variants of them."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from synthral_cli.catalogue import validation
from synthral_cli.catalogue.manifest import _manifest_files, bundled_dir
from synthral_cli.catalogue.syntax import _yaml_load

BUNDLED = [_yaml_load(Path(e.path).read_text(encoding="utf-8")) for e in _manifest_files(bundled_dir())]


def _set(doc: dict[str, Any], path: list[Any], value: Any) -> None:
    node: Any = doc
    for part in path[:-1]:
        node = node[part]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value


MUTATIONS: list[tuple[list[Any], Any]] = [
    (["slug"], KeyError), (["slug"], 1), (["slug"], "Bad Slug"), (["slug"], "../etc"), (["name"], ""),
    (["category"], "Nope"), (["status"], "gone"), (["version"], 1.5), (["schema_version"], 2),
    (["docs_url"], 3), (["auth"], KeyError), (["auth", "type"], "magic"), (["auth"], []),
    (["actions"], "x"), (["actions"], []), (["actions", 0, "method"], "FETCH"), (["actions", 0, "name"], None),
    (["actions", 0, "path"], 5), (["actions", 0, "unknown_field"], 1), (["unknown_top"], True),
    (["nango"], "yes"), (["nango", "enabled"], "yes"), (["base_url"], ["x"]),
    (["actions", 0, "parameters"], [{"name": "x", "in": "cookie", "type": "string"}]),
    (["actions", 0, "parameters"], [{"name": "x", "in": "query", "type": "decimal"}]),
    (["actions", 0, "parameters"], [{"in": "query", "type": "string"}]),
    (["actions", 0, "body"], "xml-ish"), (["actions", 0, "idempotent"], "sometimes"),
]


def agree(doc: Any) -> bool:
    fast = validation._fast_validator().is_valid(doc)
    slow = not list(validation._schema_validator().iter_errors(doc))
    return fast == slow


def test_jsonschema_rs_is_installed():
    assert validation._fast_validator() is not None


@pytest.mark.parametrize("doc", BUNDLED, ids=[d["slug"] for d in BUNDLED])
def test_both_validators_accept_every_bundled_manifest(doc):
    assert validation._fast_validator().is_valid(doc)
    assert agree(doc)


def test_both_validators_refuse_the_same_broken_manifests():
    checked = 0
    for doc in BUNDLED:
        for path, value in MUTATIONS:
            broken = copy.deepcopy(doc)
            try:
                _set(broken, path, value)
            except (KeyError, IndexError, TypeError):
                continue
            assert agree(broken), (doc["slug"], path, value)
            checked += 1
    assert checked > 20 * len(BUNDLED)


def test_the_problems_are_worded_by_jsonschema_either_way(monkeypatch):
    broken = json.loads(json.dumps(BUNDLED[0]))
    broken["status"] = "gone"
    with_fast = validation.validate_dict(broken)
    monkeypatch.setattr(validation, "_fast", [None])
    assert validation.validate_dict(broken) == with_fast and with_fast
    assert validation.validate_dict(BUNDLED[0]) == []


def test_text_jsonschema_rs_cannot_take_goes_to_jsonschema():
    """A lone surrogate (undecodable bytes in a file) is refused by jsonschema-rs's encoder; the
    slow path then decides, as it would without jsonschema-rs."""
    doc = json.loads(json.dumps(BUNDLED[0]))
    doc["slug"] = "github\udcff"
    problems = validation.validate_dict(doc)
    assert problems and all("\n" not in p for p in problems)
