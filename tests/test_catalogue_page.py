"""docs/connectors.md is exactly what scripts/gen_catalogue.py generates from the manifests."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "gen_catalogue.py"
PAGE = REPO / "docs" / "connectors.md"


@pytest.fixture(scope="module")
def gen():
    spec = importlib.util.spec_from_file_location("gen_catalogue", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundled(gen):
    return gen.load_bundled()


def test_checked_in_page_matches_the_manifests(gen, bundled):
    assert PAGE.is_file(), "docs/connectors.md is missing; run: python scripts/gen_catalogue.py"
    expected = gen.render(bundled)
    assert PAGE.read_text(encoding="utf-8") == expected, (
        "docs/connectors.md is out of date; run: python scripts/gen_catalogue.py"
    )


def test_page_lists_every_bundled_connector(bundled):
    text = PAGE.read_text(encoding="utf-8")
    manifests = bundled
    assert f"{len(manifests)} connectors in " in text
    for m in manifests:
        assert f"| `{m.slug}` | " in text
    assert f"| **Total** | **{len(manifests)}** |" in text


def test_render_groups_by_category_with_counts_and_nango_keys(gen):
    from synthral_cli.catalogue.manifest import Manifest

    def manifest(slug, category, nango, auth="oauth2", name=None):
        raw = {
            "slug": slug,
            "name": name or slug.title(),
            "category": category,
            "status": "beta",
            "auth": {"type": auth},
            "nango": nango,
            "actions": [
                {"name": "test_connection", "description": "t"},
                {"name": "list", "description": "l"},
            ],
        }
        return Manifest(raw)

    page = gen.render(
        [
            manifest("zeta", "Payments", {"enabled": False, "provider_key": "zeta"}, auth="api_key"),
            manifest("alpha", "Payments", {"enabled": True, "provider_key": "alpha-v2"}, name="A | B"),
            manifest("mail", "Communication & Collaboration", {"enabled": False, "provider_key": None}),
        ]
    )
    assert "3 connectors in 2 categories" in page
    assert "| [Payments](#payments-2) | 2 |" in page
    assert "| [Communication & Collaboration](#communication--collaboration-1) | 1 |" in page
    assert "| CRM & Sales | 0 |" in page and "## CRM & Sales" not in page
    assert "| **Total** | **3** |" in page
    payments = page.split("## Payments (2)")[1]
    # Sorted by slug; a Nango key only when Nango is enabled; pipes escaped in cells.
    assert payments.index("`alpha`") < payments.index("`zeta`")
    assert "| `alpha` | A \\| B | beta | oauth2 | `alpha-v2` | `test_connection`, `list` |" in payments
    assert "| `zeta` | Zeta | beta | api_key | \u2014 | `test_connection`, `list` |" in payments
    # Categories come in the schema's order.
    assert page.index("## Communication & Collaboration") < page.index("## Payments")


def test_script_check_mode_and_output(tmp_path):
    ok = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, timeout=120, check=False
    )
    assert ok.returncode == 0, ok.stderr
    out = tmp_path / "page.md"
    wrote = subprocess.run(
        [sys.executable, str(SCRIPT), "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert wrote.returncode == 0, wrote.stderr
    assert out.read_text(encoding="utf-8") == PAGE.read_text(encoding="utf-8")
    out.write_text("stale\n", encoding="utf-8")
    stale = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert stale.returncode == 1 and "out of date" in stale.stderr and stale.stdout == ""
