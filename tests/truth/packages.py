"""Where each covered provider's description comes from: registry, package, and what in it is
read. scripts/gen_catalogue.py reads this module (by path, without importing the tests) and the
pinned versions (tests/npm/package-lock.json, pyproject's test extra) for docs/connectors.md."""

from __future__ import annotations

OPENAPI = "OpenAPI description"
DISCOVERY = "discovery document"
ROUTES = "SDK route table"

PACKAGES: dict[str, tuple[str, str, str]] = {
    "github": ("npm", "@octokit/openapi", OPENAPI),
    "netlify": ("npm", "@netlify/open-api", OPENAPI + " (Swagger 2.0)"),
    "gmail": ("PyPI", "google-api-python-client", DISCOVERY + " gmail v1"),
    "google-drive": ("PyPI", "google-api-python-client", DISCOVERY + " drive v3"),
    "google-calendar": ("PyPI", "google-api-python-client", DISCOVERY + " calendar v3"),
    "youtube": ("PyPI", "google-api-python-client", DISCOVERY + " youtube v3"),
    "google-analytics": ("PyPI", "google-api-python-client", DISCOVERY + "s analyticsdata and analyticsadmin v1beta"),
    "google-cloud-storage": ("PyPI", "google-api-python-client", DISCOVERY + " storage v1"),
    "bigquery": ("PyPI", "google-api-python-client", DISCOVERY + " bigquery v2"),
    "bitbucket": ("npm", "bitbucket", ROUTES + " with parameters"),
    "notion": ("npm", "@notionhq/client", ROUTES + " with parameters"),
    "openai": ("npm", "openai", ROUTES),
    "anthropic": ("npm", "@anthropic-ai/sdk", ROUTES),
    "cloudflare": ("npm", "cloudflare", ROUTES),
    "stripe": ("npm", "stripe", ROUTES + " and API version"),
    "dropbox": ("npm", "dropbox", ROUTES),
    "slack": ("npm", "@slack/web-api", "SDK method list"),
    "discord": ("npm", "discord-api-types", ROUTES + " and API version"),
    "twitter": ("npm", "twitter-api-sdk", "SDK OpenAPI types (paths)"),
    "asana": ("npm", "asana", ROUTES),
    "box": ("npm", "box-typescript-sdk-gen", ROUTES),
    "square": ("npm", "square", ROUTES + " and Square-Version"),
    "intercom": ("npm", "intercom-client", ROUTES + " and Intercom-Version"),
    "cohere": ("npm", "cohere-ai", ROUTES),
    "mistral": ("npm", "@mistralai/mistralai", ROUTES),
    "vercel": ("npm", "@vercel/sdk", ROUTES),
    "hubspot": ("npm", "@hubspot/api-client", ROUTES),
    "pipedrive": ("npm", "pipedrive", ROUTES),
    "xero": ("npm", "xero-node", ROUTES),
    "datadog": ("npm", "@datadog/datadog-api-client", ROUTES),
    "jira": ("npm", "jira.js", ROUTES + " with parameters (REST v3)"),
    "twilio": ("npm", "twilio", ROUTES + " (API 2010-04-01)"),
    "sentry": ("npm", "@sentry/api", ROUTES),
    "gitlab": ("npm", "@gitbeaker/core", ROUTES),
}

# Packages that only name the API version their provider currently serves: the pin is checked.
VERSION_ONLY: dict[str, tuple[str, str, str]] = {
    "facebook": ("npm", "facebook-nodejs-business-sdk", "Graph API version only"),
    "instagram": ("npm", "facebook-nodejs-business-sdk", "Graph API version only"),
}
