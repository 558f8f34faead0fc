"""Issue 8: the workflow engine itself — structure checks, references, interpolation, stopping.

Steps are performed by a recording runner here; the end-to-end tests against real servers are
in test_workflow_run.py.
"""

from __future__ import annotations

import json

import pytest

from synthral_cli.basics.errors import ProviderError, UsageError
from synthral_cli.workflows.flow import check_flow, parse_flow
from synthral_cli.workflows.run import interpolate, parse_inputs, run_flow


class Recorder:
    def __init__(self, outputs=None, fail=None):
        self.calls = []
        self.outputs = outputs or {}
        self.fail = fail or {}

    def run_connector(self, slug, action, params, connection, *, dry_run):
        self.calls.append(("connector", slug, action, params, connection, dry_run))
        if (slug, action) in self.fail:
            raise self.fail[(slug, action)]
        return self.outputs.get((slug, action), {"ok": True})

    def run_http(self, request, *, dry_run):
        self.calls.append(("http", request, dry_run))
        return self.outputs.get("http", {"status": 200, "headers": {}, "data": {}})

    def check_connector(self, slug, action, params):
        if slug == "nope":
            raise UsageError("Unknown connector 'nope'.", None)


CHAIN = {
    "steps": [
        {"name": "fetch_data", "type": "http_request",
         "config": {"method": "GET", "url": "https://api.example.com/users/123"}},
        {"name": "send_email", "type": "connector",
         "config": {"connectorType": "smtp", "action": "send_email", "credentialId": "cred_smtp",
                    "to": "{{fetch_data.data.email}}", "subject": "Hello {{fetch_data.data.name}}",
                    "html": "<p>Your account balance is ${{fetch_data.data.balance}}</p>",
                    "tags": "{{fetch_data.data.tags}}", "first_tag": "{{ fetch_data.data.tags[0] }}",
                    "second": "{{fetch_data.data.tags.1}}"}},
    ]
}


def test_interpolation_keeps_types_and_surrounding_text():
    rec = Recorder(outputs={"http": {"status": 200, "headers": {}, "data": {
        "email": "a@example.com", "name": "Ada", "balance": 12.5, "tags": ["x", "y"]}}})
    result = run_flow(parse_flow(CHAIN), {}, rec)
    assert result.success
    kind, slug, action, params, connection, dry = rec.calls[1]
    assert (slug, action, connection) == ("smtp", "send_email", "cred_smtp")
    assert params == {
        "to": "a@example.com",
        "subject": "Hello Ada",
        "html": "<p>Your account balance is $12.5</p>",
        "tags": ["x", "y"],
        "first_tag": "x",
        "second": "y",
    }


def test_input_references_and_default_credential():
    flow = parse_flow({"steps": [{"name": "s", "type": "connector", "config": {
        "connectorType": "stripe", "action": "create_customer", "email": "{{input.email}}",
        "n": "{{input.count}}"}}]})
    rec = Recorder()
    run_flow(flow, parse_inputs(["email=a@b.c", "count:=3"]), rec)
    assert rec.calls[0][3] == {"email": "a@b.c", "n": 3}
    assert rec.calls[0][4] == "default"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"to": "{{ghost.id}}"}, "step 'b': {{ghost.id}} refers to an unknown step 'ghost'."),
        ({"to": "{{c.id}}"}, "step 'b': {{c.id}} refers to step 'c', which runs later."),
        ({"to": "{{input.missing}}"}, "step 'b': {{input.missing}} needs the input 'missing', which was not given."),
        ({"to": "{{a..b}}"}, "step 'b': {{a..b}} is not a valid reference."),
    ],
)
def test_bad_references_fail_before_anything_runs(config, message):
    flow = parse_flow({"steps": [
        {"name": "a", "type": "http_request", "config": {"url": "https://x.test/"}},
        {"name": "b", "type": "connector", "config": {"connectorType": "slack", "action": "send_message", **config}},
        {"name": "c", "type": "http_request", "config": {"url": "https://x.test/"}},
    ]})
    rec = Recorder()
    with pytest.raises(UsageError) as info:
        run_flow(flow, {}, rec)
    assert info.value.message == message
    assert rec.calls == []


def test_missing_path_at_runtime_names_step_and_expression():
    flow = parse_flow({"steps": [
        {"name": "a", "type": "http_request", "config": {"url": "https://x.test/"}},
        {"name": "b", "type": "connector", "config": {"connectorType": "slack", "action": "send_message",
                                                      "text": "{{a.data.items[3].id}}"}},
    ]})
    result = run_flow(flow, {}, Recorder(outputs={"http": {"status": 200, "headers": {}, "data": {"items": []}}}))
    assert not result.success
    failed = result.steps[-1]
    assert failed.name == "b" and failed.exit_code == 2
    assert failed.error == "step 'b': {{a.data.items[3].id}} does not resolve (a.data.items has no such key or index)."


def test_first_failure_stops_unless_continue_on_error():
    steps = [
        {"name": "a", "type": "connector", "config": {"connectorType": "stripe", "action": "create_customer"}},
        {"name": "b", "type": "connector", "config": {"connectorType": "slack", "action": "send_message"}},
    ]
    fail = {("stripe", "create_customer"): ProviderError("card declined", status=402)}
    result = run_flow(parse_flow({"steps": steps}), {}, Recorder(fail=fail))
    assert [s.name for s in result.steps] == ["a"]
    assert result.steps[0].exit_code == 1 and result.steps[0].error == "card declined"
    steps[0]["continue_on_error"] = True
    result = run_flow(parse_flow({"steps": steps}), {}, Recorder(fail=fail))
    assert [(s.name, s.success) for s in result.steps] == [("a", False), ("b", True)]


def test_dry_run_shows_placeholders_for_earlier_outputs():
    rec = Recorder()
    rec.run_connector = lambda slug, action, params, connection, dry_run: {"params": params}  # type: ignore[method-assign]
    result = run_flow(parse_flow(CHAIN), {}, rec, dry_run=True)
    req = result.steps[1].request
    assert req["params"]["to"] == "<fetch_data.data.email>"
    assert req["params"]["subject"] == "Hello <fetch_data.data.name>"
    assert json.dumps(result.to_dict())


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({}, "steps: a flow is an object with a non-empty list 'steps'"),
        ({"steps": [{"name": "a", "type": "shell", "config": {}}]}, "steps[a].type: must be one of"),
        ({"steps": [{"name": "a", "type": "connector", "config": {"action": "x"}}]},
         "steps[a].config.connectorType: required"),
        ({"steps": [{"name": "a", "type": "http_request", "config": {"url": "u", "verb": "GET"}}]},
         "unknown keys ['verb']"),
        ({"steps": [{"name": "a", "type": "http_request", "config": {"url": "u"}},
                    {"name": "a", "type": "http_request", "config": {"url": "u"}}]}, "duplicate step name 'a'"),
    ],
)
def test_structure_errors(doc, message):
    with pytest.raises(UsageError) as info:
        parse_flow(doc, "f.json")
    assert message in info.value.message


def test_check_reports_unknown_connector_with_step_name():
    step = {"name": "a", "type": "connector", "config": {"connectorType": "nope", "action": "x"}}
    flow = parse_flow({"steps": [step]})
    with pytest.raises(UsageError) as info:
        check_flow(flow, {}, Recorder())
    assert info.value.message == "step 'a': Unknown connector 'nope'."


def test_interpolate_leaves_plain_values_alone():
    plain = {"a": 1, "b": [True, None], "c": "no refs"}
    assert interpolate(plain, {}, "s") == plain
