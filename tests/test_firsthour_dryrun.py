"""``--dry-run`` shows the exact request (issue 15, item 5): the credential is masked where it
is placed (its header, query parameter, basic pair) and wherever the whole secret stands alone,
never inside unrelated text because the secret is short. The installed ``synthral`` runs as a
subprocess; nothing is sent.
"""

from __future__ import annotations

import json

import pytest

STRIPE = (
    "POST https://api.stripe.com/v1/customers\n"
    "User-Agent: synthral/0.1.0\n"
    "Accept: application/json\n"
    "Stripe-Version: 2025-03-31.basil\n"
    "Authorization: Bearer ***\n"
    "Content-Type: application/x-www-form-urlencoded\n"
    "\n"
)


@pytest.mark.parametrize("token", ["test", "t", "s", "p", "api", "tps", "ample"])
def test_a_short_token_is_masked_where_it_is_placed_and_nowhere_inside_other_text(token, sh):
    env = {"SYNTHRAL_STRIPE_TOKEN": token}
    args = ("invoke", "stripe", "create_customer", "-p", "email=test@example.com", "-p", "description=latest")
    r = sh(*args, "--dry-run", env=env)
    assert (r.exit_code, r.stderr) == (0, ""), r.stderr
    assert r.stdout == STRIPE + "email=test%40example.com&description=latest\n"
    r = sh(*args, "--dry-run", "--json", env=env)
    assert json.loads(r.stdout) == {
        "method": "POST",
        "url": "https://api.stripe.com/v1/customers",
        "headers": {
            "User-Agent": "synthral/0.1.0",
            "Accept": "application/json",
            "Stripe-Version": "2025-03-31.basil",
            "Authorization": "Bearer ***",
            "Content-Type": "application/x-www-form-urlencoded",
        },
        "body": "email=test%40example.com&description=latest",
    }


def test_the_whole_secret_elsewhere_is_still_masked(sh):
    env = {"SYNTHRAL_STRIPE_TOKEN": "test"}
    r = sh("invoke", "stripe", "create_customer", "-p", "description=test", "-p", "name=a test b", "--dry-run", env=env)
    assert r.exit_code == 0, r.stderr
    assert r.stdout == STRIPE + "name=a+***+b&description=***\n"
    long_token = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
    r = sh("invoke", "stripe", "create_customer", "-p", f"description=key{long_token}x", "--dry-run",
           env={"SYNTHRAL_STRIPE_TOKEN": long_token})
    assert r.stdout == STRIPE + "description=key***x\n"  # a long secret is masked even inside text


def test_a_query_parameter_credential_and_a_basic_pair(sh):
    r = sh("authorize", "trello", "--with-token", input="key=k\ntoken=t\n")
    assert r.exit_code == 0, r.stderr
    r = sh("invoke", "trello", "test_connection", "--dry-run")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "GET https://api.trello.com/1/members/me?fields=id,username,fullName,url&key=k&token=***\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: application/json\n"
    )
    r = sh("authorize", "mailgun", "--with-token", input="username=api\npassword=p\n")
    assert r.exit_code == 0, r.stderr
    r = sh("invoke", "mailgun", "test_connection", "--dry-run")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == (
        "GET https://api.mailgun.net/v4/domains?limit=1\n"
        "User-Agent: synthral/0.1.0\n"
        "Accept: application/json\n"
        "Authorization: Basic ***\n"
    )
