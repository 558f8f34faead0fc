"""Which description checks which manifest. Each loader reads one pinned package (npm
packages: tests/npm/package-lock.json; PyPI: pyproject's test extra) and is called once."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from . import routes, specs, stainless
from .model import Description

LOADERS: dict[str, Callable[[], Description]] = {
    "github": specs.github,
    "netlify": specs.netlify,
    "gmail": lambda: specs.google("gmail", "v1"),
    "google-drive": lambda: specs.google("drive", "v3"),
    "google-calendar": lambda: specs.google("calendar", "v3"),
    "youtube": lambda: specs.google("youtube", "v3"),
    "google-analytics": lambda: specs.google("analyticsdata", "v1beta", ("analyticsadmin", "v1beta")),
    "google-cloud-storage": lambda: specs.google("storage", "v1"),
    "bigquery": lambda: specs.google("bigquery", "v2"),
    "bitbucket": routes.bitbucket,
    "notion": routes.notion,
    "openai": lambda: stainless.stainless("openai", ["https://api.openai.com/v1"]),
    "anthropic": lambda: stainless.stainless("@anthropic-ai/sdk", ["https://api.anthropic.com"]),
    "cloudflare": lambda: stainless.stainless("cloudflare", ["https://api.cloudflare.com/client/v4"]),
    "stripe": routes.stripe,
    "dropbox": routes.dropbox,
    "slack": routes.slack,
    "discord": routes.discord,
    "twitter": routes.twitter,
    "asana": routes.asana,
    "box": routes.box,
    "square": lambda: routes.fern("square", ["https://connect.squareup.com"], "Square-Version"),
    "intercom": lambda: routes.fern(
        "intercom-client",
        ["https://api.intercom.io", "https://api.eu.intercom.io", "https://api.au.intercom.io"],
        "Intercom-Version",
    ),
    "cohere": lambda: routes.fern("cohere-ai", ["https://api.cohere.com"]),
    "mistral": lambda: routes.speakeasy("@mistralai/mistralai", ["https://api.mistral.ai"]),
    "vercel": lambda: routes.speakeasy("@vercel/sdk", ["https://api.vercel.com"]),
    "hubspot": lambda: routes.generator("@hubspot/api-client", ["https://api.hubapi.com"], "lib/codegen"),
    "pipedrive": routes.pipedrive,
    "xero": routes.xero,
    "datadog": lambda: routes.generator(
        "@datadog/datadog-api-client", ["https://api.datadoghq.com", "https://api.{site}"], "dist/packages"
    ),
    "jira": routes.jira,
    "twilio": routes.twilio,
    "sentry": routes.sentry,
    "gitlab": routes.gitlab,
}


# Descriptions that only name the current API version: the pins of these manifests are checked.
VERSION_ONLY: dict[str, Callable[[], Description]] = {
    "facebook": routes.graph_version,
    "instagram": routes.graph_version,
}


@cache
def description(slug: str) -> Description:
    return (LOADERS | VERSION_ONLY)[slug]()
