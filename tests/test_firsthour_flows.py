"""The README's own workflows preview (issue 15, item 2): whatever ``run --check`` accepts,
``run --dry-run`` previews. An earlier step's output stands for a value of the type the
parameter takes (it is not type-checked as a literal), and a step whose connection or setting
is missing shows what it would need instead of failing. The installed ``synthral`` runs with no
connection at all, and nothing is sent (every host in these flows is unreachable from the tests).
"""

from __future__ import annotations

import json
import re

import pytest
import yaml

from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples").iterdir())
INPUTS = ("--input", "email=ada@example.com", "--input", "name=Ada")


def progress(stderr: str) -> list[str]:
    return re.sub(r" \(\d+\.\d\d s\)", "", stderr).splitlines()


def stable(text: str) -> str:
    """The MIME boundary of an email is random; everything else is as printed."""
    for boundary in set(re.findall(r'boundary="([^"]+)"', text)):
        text = text.replace(boundary, "BOUNDARY")
    return text


@pytest.mark.parametrize("flow", EXAMPLES, ids=lambda p: p.name)
def test_every_example_checks_and_previews(flow, sh):
    r = sh("run", "--check", str(flow), *INPUTS)
    assert (r.exit_code, r.stdout) == (0, ""), r.stderr
    steps = len(yaml.safe_load(flow.read_text(encoding="utf-8"))["steps"])
    assert r.stderr == f"{flow}: {steps} step(s) valid.\n"
    r = sh("run", str(flow), *INPUTS, "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert all(line.endswith(": resolved") for line in progress(r.stderr)), r.stderr
    assert len(progress(r.stderr)) == steps
    r = sh("run", str(flow), *INPUTS, "--dry-run", "--json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["success"] is True and all(s["success"] and s["request"] for s in out["steps"])


def test_fetch_and_email_previews_with_placeholders_for_the_earlier_output(sh):
    r = sh("run", str(REPO / "examples" / "fetch-and-email.json"), "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert progress(r.stderr) == ["[1/2] fetch_data: resolved", "[2/2] send_email: resolved"]
    assert r.stdout == (
        "# step fetch_data (http_request)\n"
        "GET https://api.example.com/users/123\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: */*\n"
        "# step send_email (connector)\n"
        "# note: no smtp connection 'cred_smtp' yet: credentials are placeholders\n"
        "# note: the sender is not known: give the parameter 'from' (you@example.com) or set 'from' at "
        "authorization.\n"
        "SMTP smtp://<host>:587\n"
        "Mail-From: <from>\n"
        "Rcpt-To: <fetch_data.data.email>\n"
        "Security: starttls\n"
        "\n"
        "From: <from>\n"
        "To: <fetch_data.data.email>\n"
        "Subject: Hello <fetch_data.data.name>\n"
        'Content-Type: text/html; charset="utf-8"\n'
        "Content-Transfer-Encoding: 7bit\n"
        "MIME-Version: 1.0\n"
        "\n"
        "<p>Your account balance is $<fetch_data.data.balance></p>\n"
        "\n"
    )


def test_new_customer_previews_all_three_steps_json_and_yaml_alike(sh):
    outs = []
    for name in ("new-customer.json", "new-customer.yaml"):
        r = sh("run", str(REPO / "examples" / name), *INPUTS, "--dry-run")
        assert r.exit_code == 0, r.stderr
        assert progress(r.stderr) == [
            "[1/3] create_stripe_customer: resolved",
            "[2/3] send_slack_alert: resolved",
            "[3/3] send_welcome_email: resolved",
        ]
        outs.append(stable(r.stdout))
    assert outs[0] == outs[1]
    assert outs[0].startswith(
        "# step create_stripe_customer (connector)\n"
        "# note: no stripe connection 'default' yet: credentials are placeholders\n"
        "POST https://api.stripe.com/v1/customers\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: application/json\n"
        "Stripe-Version: 2025-03-31.basil\n"
        "Authorization: Bearer ***\n"
        "Content-Type: application/x-www-form-urlencoded\n"
        "\n"
        "email=ada%40example.com&name=Ada&metadata[source]=synthral\n"
        "# step send_slack_alert (connector)\n"
        "# note: no slack connection 'default' yet: credentials are placeholders\n"
        "POST https://slack.com/api/chat.postMessage\n"
    )
    assert '"text": "New customer created: <create_stripe_customer.id>"' in outs[0]
    assert "Rcpt-To: ada@example.com\n" in outs[0] and "Subject: Welcome, Ada!\n" in outs[0]
    assert "Hi Ada, your customer id is <create_stripe_customer.id>." in outs[0]


TYPED = """\
steps:
  - name: repo
    type: http_request
    config: {method: GET, url: "https://api.example.com/repo"}
  - name: list
    type: connector
    config:
      connectorType: github
      action: list_repos
      per_page: "{{repo.data.page_size}}"
      sort: "{{repo.data.sort}}"
  - name: zendesk
    type: connector
    config: {connectorType: zendesk, action: test_connection}
"""


def test_placeholders_stand_for_typed_values_and_missing_settings_are_shown(sh, tmp_path):
    flow = tmp_path / "typed.yaml"
    flow.write_text(TYPED, encoding="utf-8")
    assert sh("run", "--check", str(flow)).exit_code == 0
    r = sh("run", str(flow), "--dry-run")
    assert r.exit_code == 0, r.stderr
    assert r.stdout == (
        "# step repo (http_request)\n"
        "GET https://api.example.com/repo\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: */*\n"
        "# step list (connector)\n"
        "# note: no github connection 'default' yet: credentials are placeholders\n"
        "GET https://api.github.com/user/repos?sort=%3Crepo.data.sort%3E&per_page=%3Crepo.data.page_size%3E\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: application/vnd.github+json\n"
        "X-GitHub-Api-Version: 2022-11-28\n"
        "Authorization: Bearer ***\n"
        "# step zendesk (connector)\n"
        "# note: no zendesk connection 'default' yet: credentials are placeholders\n"
        "# note: zendesk needs the connection setting 'subdomain' (Your Zendesk subdomain, the part before "
        ".zendesk.com.). Run: synthral authorize zendesk --config subdomain=mycompany (or set "
        "SYNTHRAL_ZENDESK_SUBDOMAIN)\n"
        "GET https://<subdomain>.zendesk.com/api/v2/users/me\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: application/json\n"
        "Authorization: Bearer ***\n"
    )
