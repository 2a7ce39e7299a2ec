"""The deployment's failure paths as `pulumi up` meets them: engine harness -> provider -> scripted CloudFormation.

moto cannot roll a stack back or protect it from deletion; ``cfn_emulator.CloudFormationEmulator``
can, on loopback, speaking the query protocol to the provider process's real boto3 clients.
"""

from __future__ import annotations

import json
import re
from typing import Any

import grpc
import pytest

from cfn_emulator import ACCOUNT, CloudFormationEmulator
from engine import EngineHarness, user_error

STACK = "qsp-emulated"
PASSWORD = "Emulated-Pa55word!"
TEMPLATE = {
    "Parameters": {"DbPassword": {"Type": "String", "NoEcho": True}, "Host": {"Type": "String"}},
    "Resources": {
        "salesds": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": {"Fn::Sub": "${ResourceIdPrefixForAllResources}sales-ds"}}},
        "salesdash": {"Type": "AWS::QuickSight::Dashboard", "Properties": {"DashboardId": "sales"}},
    },
}


def inputs(**overrides: Any) -> dict[str, Any]:
    base = {
        "stack_name": STACK,
        "template_body": json.dumps(TEMPLATE),
        "parameters": {"DbPassword": PASSWORD, "Host": "db.example.com"},
        "target_account_id": ACCOUNT,
        "target_region": "eu-west-1",
        "stack_timeout_seconds": 120,
        "owner": "sales/prod",
    }
    return base | overrides


@pytest.fixture(scope="module")
def engine(cfn_engine: EngineHarness) -> EngineHarness:
    return cfn_engine  # the deployment provider against the loopback CloudFormation (tests/conftest.py)


def test_a_failed_first_create_names_its_root_cause_and_the_next_up_creates_it(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    cfn.fail_next_execution("salesds", "Invalid request provided: DataSet sales-ds column Region not found")
    with pytest.raises(grpc.RpcError) as info:
        engine.up(inputs())
    line = user_error(info.value)
    assert line == (
        "components.errors.StackOperationFailedError: CloudFormation stack 'qsp-emulated': the create failed "
        "(ROLLBACK_COMPLETE); root cause: salesds (AWS::QuickSight::DataSet, dataset/sales-ds) CREATE_FAILED: Invalid "
        "request provided: DataSet sales-ds column Region not found; the stack was rolled back and is kept empty for its "
        "events; the next pulumi up deletes it and creates it again. Fix the cause, then run pulumi up again"
    )
    assert cfn.stack(STACK).status == "ROLLBACK_COMPLETE"
    failed_id = cfn.stack(STACK).stack_id

    # Pulumi recorded nothing: the next `up` is a create again, and repairs the stack.
    mark = len(cfn.actions)
    again = engine.up(inputs())

    assert again.action == "create" and again.outputs["stack_status"] == "CREATE_COMPLETE"
    assert again.id != failed_id and cfn.stack(STACK).stack_id == again.id
    assert cfn.actions[mark:] == [
        "GetCallerIdentity",
        "DescribeStacks",
        "DeleteStack",
        "DescribeStacks",
        "CreateChangeSet",
        "DescribeChangeSet",
        "ExecuteChangeSet",
        "DescribeStacks",
        "DescribeStacks",
    ]
    assert again.outputs["outputs"] == {"Deployed": STACK}

    # A changed template with the password unchanged: the password goes as UsePreviousValue, never resent.
    grown = {**TEMPLATE, "Resources": {**TEMPLATE["Resources"], "extra": {"Type": "AWS::QuickSight::Theme", "Properties": {"ThemeId": "t"}}}}
    mark = len(cfn.sent)
    updated = engine.up(inputs(template_body=json.dumps(grown)), again.state)
    assert updated.action == "update" and updated.outputs["stack_status"] == "UPDATE_COMPLETE"
    (sent,) = [form for form in cfn.sent[mark:] if form["Action"] == "CreateChangeSet"]
    assert PASSWORD not in json.dumps(sent)
    assert {k: v for k, v in sent.items() if k.startswith("Parameters.member.")} == {
        "Parameters.member.1.ParameterKey": "DbPassword",
        "Parameters.member.1.UsePreviousValue": "true",
        "Parameters.member.2.ParameterKey": "Host",
        "Parameters.member.2.ParameterValue": "db.example.com",
    }
    assert cfn.stack(STACK).parameters["DbPassword"] == PASSWORD
    assert [(c["logical_id"], c["action"], c["asset_kind"], c["asset_id"]) for c in updated.outputs["change_summary"]] == [
        ("extra", "Add", "theme", "t"),
        ("salesdash", "Modify", "dashboard", "sales"),
        ("salesds", "Modify", "dataset", "sales-ds"),
    ]

    # A failed update rolls back; the state keeps the previous deployment.
    cfn.fail_next_execution("extra", "Theme t: access denied")
    with pytest.raises(grpc.RpcError) as info:
        engine.up(inputs(template_body=json.dumps(grown), parameters={"DbPassword": PASSWORD, "Host": "db2"}), updated.state)
    assert "the update failed (UPDATE_ROLLBACK_COMPLETE); root cause: extra (AWS::QuickSight::Theme, theme/t) UPDATE_FAILED: Theme t: access denied" in user_error(info.value)
    assert "the stack was rolled back to the previous template and values" in user_error(info.value)

    # An unchanged up after the rollback: an empty change set, deleted, no execution.
    mark = len(cfn.actions)
    engine.up(inputs(template_body=json.dumps(grown), parameters={"DbPassword": PASSWORD, "Host": "db.example.com"}), updated.state)
    assert cfn.actions[mark:] == []  # Diff: no change, no call
    forced = engine.update(updated.id, updated.outputs, inputs(template_body=json.dumps(grown)))
    assert forced.get("change_set_id") is None and forced["executed"] is False
    assert "ExecuteChangeSet" not in cfn.actions[mark:] and "DeleteChangeSet" in cfn.actions[mark:]
    assert cfn.change_sets == {}, "no leftover change set"


def test_termination_protection_blocks_the_delete_until_turned_off(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    name = "qsp-protected"
    created = engine.up(inputs(stack_name=name, termination_protection=True))
    assert created.outputs["termination_protection"] is True and cfn.stack(name).protected

    with pytest.raises(grpc.RpcError) as info:
        engine.delete(created.id, created.outputs)
    line = user_error(info.value)
    assert line.startswith(
        "components.errors.StackStateError: CloudFormation stack 'qsp-protected' has termination protection on, "
        "so it cannot be deleted: nothing was deleted"
    ), line
    assert cfn.stack(name).status == "CREATE_COMPLETE"

    off = engine.up(inputs(stack_name=name, termination_protection=False), created.state)
    assert off.action == "update" and not cfn.stack(name).protected
    engine.delete(off.id, off.outputs)
    assert [s.status for s in cfn.stacks if s.name == name] == ["DELETE_COMPLETE"]


def test_execute_false_leaves_a_change_set_for_review_then_executes(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    name = "qsp-review"
    review = engine.up(inputs(stack_name=name, execute_change_set=False))
    assert review.action == "create"
    assert review.outputs["stack_status"] == "REVIEW_IN_PROGRESS" and review.outputs["executed"] is False
    pending = review.outputs["change_set_id"]
    assert pending in cfn.change_sets
    assert [(c["logical_id"], c["action"]) for c in review.outputs["change_summary"]] == [("salesdash", "Add"), ("salesds", "Add")]
    # Reviewed, unchanged: nothing to do.
    assert engine.up(inputs(stack_name=name, execute_change_set=False), review.state).action == "same"

    executed = engine.up(inputs(stack_name=name), review.state)

    assert executed.action == "update" and executed.outputs["stack_status"] == "CREATE_COMPLETE"
    assert executed.id == review.id, "the REVIEW_IN_PROGRESS stack is the one created"
    assert pending not in cfn.change_sets and cfn.change_sets == {}
    assert cfn.stack(name).parameters["DbPassword"] == PASSWORD


def test_a_validation_failure_names_the_property_and_a_review_lists_each_changed_property(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    name = "qsp-property-review"
    created = engine.up(inputs(stack_name=name))
    changed = json.loads(json.dumps(TEMPLATE))
    changed["Resources"]["salesdash"]["Properties"].update({"Name": "Sales EU", "ThemeArn": {"Ref": "Host"}})
    cfn.fail_next_validation(("salesdash", "Properties/Name", "expected maxLength: 2048"))

    with pytest.raises(grpc.RpcError) as info:
        engine.up(inputs(stack_name=name, template_body=json.dumps(changed)), created.state)

    assert user_error(info.value) == (
        "components.errors.ChangeSetFailedError: CloudFormation could not create a change set for stack "
        "'qsp-property-review': The following hook(s)/validation failed: [AWS::EarlyValidation::PropertyValidation]. "
        "To troubleshoot Early Validation errors, use the DescribeEvents API for detailed failure information.; failed "
        "properties: salesdash (AWS::QuickSight::Dashboard, dashboard/sales) at Properties/Name: expected maxLength: "
        "2048 (the exported value does not fit CloudFormation's schema for this property: fix it in the source asset "
        "and export again, or override the property for this stage); nothing was changed and the change set was "
        "deleted. Fix the template or parameters, then pulumi up again"
    )

    review = engine.up(inputs(stack_name=name, template_body=json.dumps(changed), execute_change_set=False), created.state)

    dashboard = next(c for c in review.outputs["change_summary"] if c["logical_id"] == "salesdash")
    assert dashboard["properties"] == [
        {"path": "Properties/Name", "change": "Add", "before": None, "after": "Sales EU", "recreation": "Never",
         "source": "DirectModification"},
        {"path": "Properties/ThemeArn", "change": "Add", "before": None, "after": "<value of parameter Host>",
         "recreation": "Never", "source": "ParameterReference Host"},
    ]  # fmt: skip
    assert cfn.sent_for("DescribeChangeSet")[-1]["IncludePropertyValues"] == "true"


def test_drift_in_a_protected_stack_is_refused_by_default_and_reverted_on_request(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    name = "qsp-drift"
    created = engine.up(inputs(stack_name=name, termination_protection=True))
    cfn.edit(name, "salesdash", "/DashboardId", "sales-fixed-in-prod")
    cfn.unchecked_types.add("AWS::QuickSight::DataSet")
    changed = inputs(stack_name=name, termination_protection=True, parameters={"DbPassword": PASSWORD, "Host": "db2.example.com"})

    with pytest.raises(grpc.RpcError) as info:
        engine.up(changed, created.state)

    assert user_error(info.value) == (
        "components.errors.StackDriftError: CloudFormation stack 'qsp-drift' drifted from its last deployment (edited in "
        "the target account): salesdash (AWS::QuickSight::Dashboard, dashboard/sales) MODIFIED: DashboardId "
        "'\"sales\"' -> '\"sales-fixed-in-prod\"' (not checked for drift: salesds (AWS::QuickSight::DataSet, "
        "dataset/sales-ds)); nothing was changed (on_drift=refuse). Bring the edits into the source account and promote "
        "them; or set on_drift=revert to put the deployed values back, or on_drift=warn to overwrite them with this "
        "deployment"
    )
    assert "CreateChangeSet" not in cfn.actions[-4:]

    reverted = engine.up({**changed, "on_drift": "revert"}, created.state)

    assert reverted.outputs["drift"]["drifted"][0]["logical_id"] == "salesdash"
    # The stack operation's duration is recorded: the next wait polls around it.
    assert isinstance(created.outputs["stack_seconds"], float) and created.outputs["stack_seconds"] >= 0
    assert cfn.sent_for("CreateChangeSet")[-1]["DeploymentMode"] == "REVERT_DRIFT"
    assert cfn.stack(name).drift == {} and cfn.stack(name).parameters["Host"] == "db2.example.com"


def test_each_dashboard_is_verified_after_the_deploy_and_its_status_is_an_output(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    name = "qsp-verified"
    cfn.fail_asset("dashboard", "prod-sales", "CREATION_FAILED", ("DATA_SET_NOT_FOUND", "Data set prod-sales-ds not found"))
    template = json.loads(json.dumps(TEMPLATE))
    template["Parameters"]["ResourceIdPrefixForAllResources"] = {"Type": "String"}
    template["Resources"]["salesdash"]["Properties"]["DashboardId"] = {"Fn::Sub": "${ResourceIdPrefixForAllResources}sales"}
    parameters = {"DbPassword": PASSWORD, "Host": "db.example.com", "ResourceIdPrefixForAllResources": "prod-"}

    created = engine.up(inputs(stack_name=name, template_body=json.dumps(template), parameters=parameters))

    assert created.outputs["verification"] == [
        {"logical_id": "salesdash", "kind": "dashboard", "id": "prod-sales", "status": "CREATION_FAILED",
         "errors": ["DATA_SET_NOT_FOUND: Data set prod-sales-ds not found"]},
    ]  # fmt: skip
    assert cfn.asset_reads[-1] == f"/accounts/{ACCOUNT}/dashboards/prod-sales"


def test_the_stack_wait_tells_its_progress_on_stderr_one_line_per_poll(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    name = "qsp-progress"
    cfn.slow_next_execution(1)  # one DescribeStacks answers CREATE_IN_PROGRESS, salesdash done, salesds not yet

    engine.up(inputs(stack_name=name))

    lines = [line for line in engine.stderr_text().splitlines() if f"stack {name!r}" in line]
    assert len(lines) == 1, lines  # one poll in progress: one line (the poll that saw the end tells nothing)
    assert re.fullmatch(
        rf"quicksight-promotion: CloudFormation stack '{name}' CREATE_IN_PROGRESS: 1 of 2 resources done, [0-9]s elapsed",
        lines[0],
    ), lines[0]
    # The count came from this operation's events, read once at that poll (a loopback endpoint: every poll).
    executed = len(cfn.actions) - 1 - cfn.actions[::-1].index("ExecuteChangeSet")
    assert cfn.actions[executed:].count("DescribeStackEvents") == 1, cfn.actions[executed:]


def test_a_spice_data_sets_first_ingestion_is_reported_when_the_stage_waits_for_it(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    name = "qsp-ingested"
    cfn.ingest("prod-sales-ds", "FAILED", error=("SPICE_TABLE_NOT_FOUND", "Table sales\x1b[2J not found"))
    template = json.loads(json.dumps(TEMPLATE))
    template["Parameters"]["ResourceIdPrefixForAllResources"] = {"Type": "String"}
    template["Resources"]["salesds"]["Properties"]["ImportMode"] = "SPICE"
    parameters = {"DbPassword": PASSWORD, "Host": "db.example.com", "ResourceIdPrefixForAllResources": "prod-"}

    created = engine.up(inputs(stack_name=name, template_body=json.dumps(template), parameters=parameters, wait_for_ingestion=True))

    assert created.outputs["verification"][-1] == {
        "logical_id": "salesds", "kind": "dataset", "id": "prod-sales-ds", "status": "INGESTION_FAILED",
        "errors": ["SPICE_TABLE_NOT_FOUND: Table sales\\x1b[2J not found"], "ingestion_id": "first",
    }  # fmt: skip
    assert cfn.asset_reads[-1] == f"/accounts/{ACCOUNT}/data-sets/prod-sales-ds/ingestions"
