# ruff: noqa: E501 - whole terminal screens, 200 columns wide
"""Issue 15, items 4, 8 and 13: what a person sees about an action on a terminal (80 and 200
columns, through a pty): where it goes, its parameters' types, required, allowed values,
defaults and descriptions; identifiers never wrap; manifest text is never Rich markup; and the
JSON names every action's effective base URL."""

from __future__ import annotations

import json
import re

import pytest

from tests.firsthour_support import on_terminal, write_demo

ACTIONS_80 = """\
3 actions (synthral invoke zz-demo ACTION -p NAME=VALUE ...)

test_connection  GET https://api.example.com/v1/me
  Who am I.

create_invoice_item_for_a_customer  POST https://api.example.com/v1/invoiceitems
  Add a line item to the customer's next invoice; metadata becomes
  metadata[key]=value and [bold]this[/bold] stays as written.
    customer           string, required  Customer id (cus_...) to bill.
    collection_method  string            How the invoice is paid. One of:
                                         charge_automatically, send_invoice.
                                         Default: charge_automatically.
    quantity           integer           How many. Default: 1.
    metadata           object            Key/value pairs, sent as
                                         metadata[key]=value.

upload_file  POST https://upload.example.com/v1/files
  Upload a file.
    file  file, required  The file to upload (-p file=@path).
"""

ACTIONS_200 = """\
3 actions (synthral invoke zz-demo ACTION -p NAME=VALUE ...)

test_connection  GET https://api.example.com/v1/me
  Who am I.

create_invoice_item_for_a_customer  POST https://api.example.com/v1/invoiceitems
  Add a line item to the customer's next invoice; metadata becomes metadata[key]=value and [bold]this[/bold] stays as written.
    customer           string, required  Customer id (cus_...) to bill.
    collection_method  string            How the invoice is paid. One of: charge_automatically, send_invoice. Default: charge_automatically.
    quantity           integer           How many. Default: 1.
    metadata           object            Key/value pairs, sent as metadata[key]=value.

upload_file  POST https://upload.example.com/v1/files
  Upload a file.
    file  file, required  The file to upload (-p file=@path).
"""


@pytest.mark.parametrize(("columns", "expected"), [(80, ACTIONS_80), (200, ACTIONS_200)])
def test_actions_on_a_terminal_show_how_to_use_each_action(config_dir, columns, expected):
    write_demo(config_dir)
    shown = on_terminal("connectors", "actions", "zz-demo", columns=columns)
    assert (shown.exit_code, shown.stderr) == (0, "")
    assert shown.screen == expected
    assert max(len(line) for line in shown.screen.splitlines()) <= columns


def test_show_on_a_terminal_ends_with_the_same_actions(config_dir):
    write_demo(config_dir)
    shown = on_terminal("show", "zz-demo", columns=80)
    assert (shown.exit_code, shown.stderr) == (0, "")
    panel, actions = shown.screen.split("╯\n", 1)
    assert actions == ACTIONS_80
    assert "│ base url     https://api.example.com/v1" in panel


def test_piped_actions_are_the_same_blocks_unwrapped(sh, config_dir):
    write_demo(config_dir)
    r = sh("connectors", "actions", "zz-demo")
    assert (r.exit_code, r.stderr) == (0, "")
    assert r.stdout == ACTIONS_200  # piped: no wrapping at all, whatever COLUMNS says


def test_invoke_without_an_action_lists_them_and_exits_2(sh, config_dir):
    """Like a missing argument anywhere (git exits 129, Click 2): nothing ran, so a script that
    lost its action name fails; the list is the hint, on stderr."""
    write_demo(config_dir)
    r = sh("invoke", "zz-demo", env={"COLUMNS": "80"})
    assert (r.exit_code, r.stdout) == (2, "")
    assert r.stderr == (
        "error: Missing argument 'ACTION': which action of zz-demo?\n"
        "  synthral invoke zz-demo ACTION, where ACTION is one of:\n"
        "    test_connection                     Who am I.\n"
        "    create_invoice_item_for_a_customer  Add a line item to the customer's next…\n"
        "    upload_file                         Upload a file.\n"
        "  Details: synthral connectors actions zz-demo\n"
    )


@pytest.mark.parametrize("columns", [80, 200])
def test_slugs_never_wrap_in_the_catalogue_table(sh, columns):
    slugs = [c["slug"] for c in json.loads(sh("list", "--json").stdout)["connectors"]]
    shown = on_terminal("list", columns=columns)
    assert shown.exit_code == 0, shown.stderr
    rows = [line for line in shown.screen.splitlines() if line.startswith("│")]
    first_cells = [row.split("│")[1].strip() for row in rows]
    assert [c for c in first_cells if c] == slugs  # each whole, in order, on one line
    assert max(len(line) for line in shown.screen.splitlines()) <= columns


def test_action_names_of_a_real_connector_never_wrap(sh):
    names = [a["name"] for a in json.loads(sh("connectors", "actions", "stripe", "--json").stdout)["actions"]]
    shown = on_terminal("connectors", "actions", "stripe", columns=80)
    assert shown.exit_code == 0
    headings = [line.split("  ")[0] for line in shown.screen.splitlines() if line and not line.startswith(" ")]
    assert headings[1:] == names  # create_invoice_item, create_payment_intent: whole
    assert "metadata[key]=value" in shown.screen  # text, not markup


# -- item 13: where each action goes ---------------------------------------------------------------


def test_json_gives_every_action_its_effective_base_url(sh):
    show = json.loads(sh("connectors", "show", "box", "--json").stdout)
    actions = json.loads(sh("connectors", "actions", "box", "--json").stdout)["actions"]
    assert show["actions"] == actions
    by_name = {a["name"]: a["base_url"] for a in actions}
    assert by_name["upload_file"] == "https://upload.box.com/api/2.0"
    assert by_name["list_folder_items"] == show["base_url"] == "https://api.box.com/2.0"
    shown = on_terminal("connectors", "actions", "box", columns=200)
    assert "upload_file  POST https://upload.box.com/api/2.0/files/content" in shown.screen.splitlines()


def test_every_bundled_http_action_has_a_base_url(sh):
    slugs = [c["slug"] for c in json.loads(sh("list", "--json").stdout)["connectors"]]
    from synthral_cli.api import Synthral

    sy = Synthral()
    overriding = set()
    for slug in slugs:
        manifest = sy.connector(slug)
        for action in manifest.to_dict()["actions"]:
            if manifest.transport == "http":
                assert re.match(r"https://|\{", action["base_url"]), (slug, action["name"])
            if action["base_url"] != manifest.base_url:
                overriding.add(f"{slug}.{action['name']}")
    # the ones the issue names go where their own base URL says
    assert {"box.upload_file", "dropbox.upload_file"} <= overriding
