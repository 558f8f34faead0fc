"""The catalogue checked against the providers' own machine-readable API descriptions (pinned
npm and PyPI packages, installed by scripts/test): every action's method and path, its
parameters, the base URL and the API version pin. A difference on purpose is recorded in the
manifest under ``deviations`` with its reason; anything else fails naming file and field."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import yaml

from .check import Checker
from .model import REPO
from .providers import LOADERS, VERSION_ONLY, description

pytestmark = pytest.mark.xdist_group("truth")  # one worker loads each description once


def load(slug: str) -> dict[str, Any]:
    return yaml.safe_load((REPO / "manifests" / f"{slug}.yaml").read_text(encoding="utf-8"))


def problems(slug: str, raw: dict[str, Any] | None = None) -> list[str]:
    return Checker(f"manifests/{slug}.yaml", raw or load(slug), description(slug)).run()


@pytest.mark.parametrize("slug", sorted(LOADERS))
def test_manifest_agrees_with_the_providers_description(slug: str) -> None:
    assert problems(slug) == []


@pytest.mark.parametrize("slug", sorted(VERSION_ONLY))
def test_version_pin_is_one_the_provider_lists(slug: str) -> None:
    checker = Checker(f"manifests/{slug}.yaml", load(slug), description(slug))
    assert description(slug).versions, f"{description(slug).source} names no version"
    checker.check_version(load(slug).get("deviations") or {})
    assert checker.problems == []


def test_at_least_25_providers_are_covered() -> None:
    assert len(LOADERS) >= 25
    assert all((REPO / "manifests" / f"{slug}.yaml").is_file() for slug in LOADERS)


def test_docs_list_covered_providers_with_source_and_version() -> None:
    text = (REPO / "docs" / "connectors.md").read_text(encoding="utf-8")
    section = text.split("## Checked against the providers' own descriptions", 1)[1].split("\n## ", 1)[0]
    from .packages import PACKAGES
    from .packages import VERSION_ONLY as PINS_ONLY

    assert set(PACKAGES) == set(LOADERS) and set(PINS_ONLY) == set(VERSION_ONLY)
    for slug in [*LOADERS, *VERSION_ONLY]:
        source = description(slug).source
        assert re.search(rf"^\| `{re.escape(slug)}` \| {re.escape(source)} \|", section, re.M), (
            f"docs/connectors.md lists no row `| `{slug}` | {source} |`"
        )


# --- the checker can fail: each kind of mistake, planted in a real manifest -------------------


def mutated(slug: str, action: str, change: Any) -> list[str]:
    raw = copy.deepcopy(load(slug))
    change(next(a for a in raw["actions"] if a["name"] == action))
    return problems(slug, raw)


def test_an_invented_body_parameter_is_reported() -> None:
    """The audit's GitLab finding, replayed on GitHub: a body field the API does not have."""
    out = mutated(
        "github",
        "create_issue",
        lambda a: a["parameters"].append({"name": "draft", "in": "body", "type": "boolean"}),
    )
    assert out == [
        "manifests/github.yaml: actions[create_issue].parameters[draft]: POST /repos/{owner}/{repo}/issues "
        "has no body parameter 'draft' [npm @octokit/openapi 23.0.2]"
    ]


def test_a_wrong_path_method_place_and_type_are_reported() -> None:
    typo = mutated("gmail", "list_messages", lambda a: a.update(path=a["path"].replace("messages", "mesages")))
    assert len(typo) == 1 and typo[0].startswith("manifests/gmail.yaml: actions[list_messages].path: GET ")
    assert any(".path: DELETE" in p for p in mutated("stripe", "list_customers", lambda a: a.update(method="DELETE")))
    moved = mutated(
        "google-calendar",
        "list_events",
        lambda a: next(p for p in a["parameters"] if p["in"] == "query").update({"in": "body"}),
    )
    assert any("is a query parameter there" in p or "has no body parameter" in p for p in moved)
    typed = mutated(
        "google-calendar",
        "list_events",
        lambda a: next(p for p in a["parameters"] if p["name"] == "max_results").update(type="object"),
    )
    assert any(".type: 'maxResults' is integer there, not object" in p for p in typed)


def test_a_required_parameter_left_out_is_reported() -> None:
    out = mutated(
        "github", "create_issue", lambda a: a.update(parameters=[p for p in a["parameters"] if p["name"] != "title"])
    )
    assert any("requires body parameter 'title'" in p for p in out)


def test_a_recorded_deviation_is_accepted_and_needs_its_reason() -> None:
    def plant(a: dict[str, Any]) -> None:
        a["parameters"].append({"name": "draft", "in": "body", "type": "boolean"})
        a["deviations"] = {"parameters.draft": "accepted by the API though not described (source ...)"}

    assert mutated("github", "create_issue", plant) == []


def test_a_stale_version_pin_is_reported() -> None:
    raw = load("stripe")
    raw.pop("deviations")  # without its recorded reason, stripe's own older pin fails too
    raw["api_version"] = "2020-08-27"
    out = problems("stripe", raw)
    current = description("stripe").versions[0]
    assert out == [
        f"manifests/stripe.yaml: api_version: '2020-08-27' is older than {current!r}, the only version "
        "the description lists; move the pin or record why under deviations.api_version [npm stripe 23.2.0]"
    ]
    raw = load("google-drive")
    raw["api_version"] = "v1"
    raw["base_url"] = raw["base_url"].replace("v3", "v1")
    assert any(
        "api_version: 'v1' is not a version the description lists (v2, v3)" in p for p in problems("google-drive", raw)
    )


def test_each_description_loads_quickly_once() -> None:
    """Loaders are cached: the whole module reads each package once."""
    assert description("github") is description("github")


def test_requiring_what_the_provider_makes_optional_is_reported() -> None:
    """The audit's OpenAI finding: ``input`` required by the manifest, optional in the API."""

    def require_input(a: dict[str, Any]) -> None:
        next(p for p in a["parameters"] if p["name"] == "input")["required"] = True

    assert mutated("openai", "create_response", require_input) == [
        "manifests/openai.yaml: actions[create_response].parameters[input].required: 'input' is optional there "
        "[npm openai 6.49.0]"
    ]
