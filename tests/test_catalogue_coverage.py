"""The catalogue covers what issue 6 promises: category minimums, the named services, and for every
manifest a valid file with ``test_connection`` plus at least three other actions.

Named services are matched by slug; where a service could reasonably be given more than one slug
(Amazon S3, Twitter / X), any of the listed alternatives counts.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
MANIFESTS = REPO / "manifests"

# Issue 6, "Coverage": at least this many connectors per category.
MINIMUMS = {
    "Communication & Collaboration": 15,
    "CRM & Sales": 10,
    "Project Management": 10,
    "File Storage & Cloud": 10,
    "E-commerce & Payments": 10,
    "Social Media": 10,
    "Analytics & Data": 10,
    "Development & Code": 11,
    "AI & Machine Learning": 6,
    "Productivity & Notes": 2,
    "Calendar & Scheduling": 4,
    "Payments": 1,
}

# The services issue 6 names in each category: name -> accepted slugs.
NAMED_IN_CATEGORY: dict[str, dict[str, tuple[str, ...]]] = {
    "Communication & Collaboration": {
        "Gmail": ("gmail",),
        "Microsoft Teams": ("microsoft-teams",),
        "Discord": ("discord",),
        "Zoom": ("zoom",),
        "Slack": ("slack",),
        "Outlook mail": ("outlook", "outlook-mail"),
    },
    "CRM & Sales": {
        "Salesforce": ("salesforce",),
        "HubSpot": ("hubspot",),
        "Pipedrive": ("pipedrive",),
    },
    "Project Management": {
        "Asana": ("asana",),
        "Trello": ("trello",),
        "Jira": ("jira",),
        "Linear": ("linear",),
    },
    "File Storage & Cloud": {
        "Google Drive": ("google-drive",),
        "Dropbox": ("dropbox",),
        "Amazon S3": ("amazon-s3", "s3", "aws-s3"),
        "OneDrive": ("onedrive",),
        "Box": ("box",),
    },
    "E-commerce & Payments": {
        "Shopify": ("shopify",),
        "PayPal": ("paypal",),
        "Square": ("square",),
        "WooCommerce": ("woocommerce",),
    },
    "Social Media": {
        "Twitter / X": ("twitter", "x", "twitter-x"),
        "Facebook": ("facebook",),
        "LinkedIn": ("linkedin",),
    },
    "Analytics & Data": {
        "Google Analytics": ("google-analytics",),
        "Mixpanel": ("mixpanel",),
        "Snowflake": ("snowflake",),
    },
    "Development & Code": {
        "GitHub": ("github",),
        "GitLab": ("gitlab",),
        "CircleCI": ("circleci",),
        "AWS": ("aws",),
    },
    "AI & Machine Learning": {
        "OpenAI": ("openai",),
        "Anthropic": ("anthropic",),
        "Google AI (Gemini)": ("google-gemini", "gemini", "google-ai"),
    },
    # When2Meet has no public API; issue 6 allows an honest manifest or a comparable replacement,
    # so only the category minimum stands for it.
    "Productivity & Notes": {"Notion": ("notion",)},
    "Calendar & Scheduling": {
        "Google Calendar": ("google-calendar",),
        "Outlook Calendar": ("outlook-calendar",),
    },
    "Payments": {"Stripe": ("stripe",)},
}

# Named too, each "in its best-fitting category".
NAMED_ANYWHERE: dict[str, tuple[str, ...]] = {
    "Xero": ("xero",),
    "Sage": ("sage", "sage-accounting"),
    "QuickBooks": ("quickbooks",),
    "Square": ("square",),
    "WooCommerce": ("woocommerce",),
    "PostgreSQL": ("postgresql", "postgres"),
    "SMTP": ("smtp",),
    "generic HTTP": ("http",),
}

FILES = sorted(
    p for p in MANIFESTS.iterdir() if p.suffix in {".yaml", ".yml"} and not p.name.startswith(".")
)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Any]:
    """slug -> Manifest for every valid bundled manifest, through the package's loader."""
    from synthral_cli.catalogue.loading import load_catalogue

    return {m.slug: m for m in load_catalogue([], None)}


def by_category() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for slug, m in catalogue().items():
        out.setdefault(m.category, []).append(slug)
    return out


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_manifest_is_valid_with_test_connection_and_three_more_actions(path):
    from synthral_cli.catalogue.validation import validate_file

    doc, problems = validate_file(path)
    assert doc is not None, "\n".join(problems)
    names = [a["name"] for a in doc["actions"]]
    assert "test_connection" in names
    others = [n for n in names if n != "test_connection"]
    assert len(others) >= 3, f"{path.stem} has {len(others)} actions besides test_connection: {others}"


@pytest.mark.parametrize("category", list(MINIMUMS))
def test_category_minimum(category):
    have = sorted(by_category().get(category, []))
    assert len(have) >= MINIMUMS[category], (
        f"{category}: {len(have)} connectors, issue 6 asks for at least {MINIMUMS[category]}: {have}"
    )


NAMED_CASES = [
    (category, name, slugs) for category, names in NAMED_IN_CATEGORY.items() for name, slugs in names.items()
]


@pytest.mark.parametrize(("category", "name", "slugs"), NAMED_CASES, ids=[c[1] for c in NAMED_CASES])
def test_named_service_in_its_category(category, name, slugs):
    found = [s for s in slugs if s in catalogue()]
    assert found, f"{name} is missing: no manifest with slug {' or '.join(slugs)}"
    assert catalogue()[found[0]].category == category, (
        f"{name} ({found[0]}) is in {catalogue()[found[0]].category!r}; issue 6 lists it under {category!r}"
    )


@pytest.mark.parametrize(("name", "slugs"), list(NAMED_ANYWHERE.items()), ids=list(NAMED_ANYWHERE))
def test_named_service_present(name, slugs):
    assert any(s in catalogue() for s in slugs), f"{name} is missing (slug {' or '.join(slugs)})"


def test_minimums_cover_every_category():
    from synthral_cli.catalogue.manifest import CATEGORIES

    assert set(MINIMUMS) == set(CATEGORIES) == set(NAMED_IN_CATEGORY)


def test_every_file_is_in_the_catalogue():
    assert sorted(catalogue()) == sorted(p.stem for p in FILES)
