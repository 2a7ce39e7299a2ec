"""One release to many accounts, as `pulumi up` meets it: engine harness -> StackSet provider -> loopback CloudFormation.

Check, Diff, Create, Update and Delete over gRPC against ``stackset_emulator.StackSetEmulator``:
instances per (account, region) with each account's own values, an unchanged `up` that makes no
call, per-instance status and root cause as outputs, a failed account named, a stack set of
another deployment refused by name.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import grpc
import pytest

from cfn_emulator import ACCOUNT
from components.core.stacks import OWNER_TAG, OWNERSHIP_TAG
from components.stackset import CloudFormationStackSetProvider
from engine import UNKNOWN, CheckFailedError, EngineHarness, user_error
from stackset_emulator import StackSetEmulator

STACK_SET_TYPE = "pulumi-python:dynamic/quicksight:CloudFormationStackSetDeployment"
PASSWORD = "Shared-Pa55word!"
TEMPLATE = {
    "Parameters": {"DbPassword": {"Type": "String", "NoEcho": True}, "Host": {"Type": "String"}},
    "Resources": {"salesds": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": "sales-ds"}}},
}
UNIT_A, UNIT_B, UNIT_C = "222222222222", "333333333333", "444444444444"


def inputs(name: str, accounts: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    base = {
        "stack_set_name": name,
        "template_body": json.dumps(TEMPLATE),
        "parameters": {"DbPassword": PASSWORD, "Host": "db.shared.example.com"},
        "stack_set_accounts": accounts,
        "stack_set_regions": ["eu-west-1"],
        "target_account_id": ACCOUNT,
        "target_region": "eu-west-1",
        "stack_timeout_seconds": 60,
        "max_concurrent": "25%",
        "failure_tolerance": 0,
        "owner": "bu/prod",
    }
    return base | overrides


ACCOUNTS = [
    {"accountId": UNIT_A, "parameters": {"Host": "db.a.example.com"}},
    {"accountId": UNIT_B, "regions": ["eu-west-1", "us-east-1"]},
]


@pytest.fixture(scope="module")
def cfn() -> Iterator[StackSetEmulator]:
    with StackSetEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def engine(cfn: StackSetEmulator) -> Iterator[EngineHarness]:
    with EngineHarness(env=cfn.env(), provider=CloudFormationStackSetProvider(), name="fanout", resource_type=STACK_SET_TYPE) as harness:
        yield harness


def test_a_release_reaches_every_account_with_its_own_values_and_an_unchanged_up_makes_no_call(
    cfn: StackSetEmulator, engine: EngineHarness
) -> None:
    first = engine.up(inputs("qsp-fanout", ACCOUNTS))
    assert first.action == "create"
    stack_set = cfn.stack_set("qsp-fanout")
    identity = first.outputs["owner_identity"]
    assert stack_set.tags == {OWNERSHIP_TAG: identity, OWNER_TAG: "bu/prod"}
    assert stack_set.parameters == {"DbPassword": PASSWORD, "Host": "db.shared.example.com"}
    assert stack_set.settings["ExecutionRoleName"] == "AWSCloudFormationStackSetExecutionRole"
    assert {key: i.overrides for key, i in stack_set.instances.items()} == {
        (UNIT_A, "eu-west-1"): {"Host": "db.a.example.com"},
        (UNIT_B, "eu-west-1"): {},
        (UNIT_B, "us-east-1"): {},
    }
    # Two groups (other regions, other values): two CreateStackInstances, each with its own OperationId.
    creates = cfn.sent_for("CreateStackInstances")
    assert [(f["Accounts.member.1"], f.get("OperationPreferences.MaxConcurrentPercentage")) for f in creates] == [
        (UNIT_A, "25"),
        (UNIT_B, "25"),
    ]
    assert len({f["OperationId"] for f in creates}) == 2 and first.outputs["operation_ids"] == [f["OperationId"] for f in creates]
    assert [(i["account_id"], i["region"], i["status"], i["detailed_status"]) for i in first.outputs["instances"]] == [
        (UNIT_A, "eu-west-1", "CURRENT", "SUCCEEDED"),
        (UNIT_B, "eu-west-1", "CURRENT", "SUCCEEDED"),
        (UNIT_B, "us-east-1", "CURRENT", "SUCCEEDED"),
    ]
    # No value in the outputs, only keyed digests.
    assert PASSWORD not in json.dumps(first.outputs) and "db.a.example.com" not in json.dumps(first.outputs)

    mark = len(cfn.actions)
    again = engine.up(inputs("qsp-fanout", ACCOUNTS, stack_timeout_seconds=120, max_concurrent="5"), first.state)
    assert again.action == "same" and cfn.actions[mark:] == []

    # One account's own value changes: only its instances are updated (no UpdateStackSet).
    changed = [{**ACCOUNTS[0], "parameters": {"Host": "db2.a.example.com"}}, ACCOUNTS[1]]
    updated = engine.up(inputs("qsp-fanout", changed), again.state)
    assert updated.action == "update" and updated.diff is not None
    assert "UpdateStackSet" not in cfn.actions[mark:]
    assert [f["Accounts.member.1"] for f in cfn.sent_for("UpdateStackInstances")] == [UNIT_A]
    assert stack_set.instances[(UNIT_A, "eu-west-1")].overrides == {"Host": "db2.a.example.com"}

    # A new account, one removed, a new shared value: UpdateStackSet, then the instances.
    mark = len(cfn.actions)
    moved = [changed[0], {"accountId": UNIT_C}]
    last = engine.up(inputs("qsp-fanout", moved, parameters={"DbPassword": PASSWORD, "Host": "db.new.example.com"}), updated.state)
    assert [a for a in cfn.actions[mark:] if a.endswith(("StackSet", "StackInstances")) and not a.startswith("List")] == [
        "DescribeStackSet", "UpdateStackSet", "DeleteStackInstances", "CreateStackInstances",
    ]  # fmt: skip
    assert sorted(stack_set.instances) == [(UNIT_A, "eu-west-1"), (UNIT_C, "eu-west-1")]
    assert stack_set.parameters["Host"] == "db.new.example.com"

    engine.delete(last.id or "", last.outputs)
    assert cfn.stack_sets["qsp-fanout"].status == "DELETED" and cfn.stack_sets["qsp-fanout"].instances == {}


def test_a_failing_account_is_named_with_its_root_cause(cfn: StackSetEmulator, engine: EngineHarness) -> None:
    cfn.fail_account(UNIT_B, "Account 333333333333 should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role 'AWSCloudFormationStackSetAdministrationRole'.")
    try:
        with pytest.raises(grpc.RpcError) as info:
            engine.up(inputs("qsp-failing", ACCOUNTS))
    finally:
        cfn.heal()
    line = user_error(info.value)
    assert line.startswith("components.errors.StackSetOperationFailedError: CloudFormation StackSet 'qsp-failing': its CREATE operation qsp-"), line
    cause = (
        "Account 333333333333 should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role "
        "'AWSCloudFormationStackSetAdministrationRole'."
    )
    assert line.endswith(
        f"ended FAILED (The Operation failed: the failure tolerance was exceeded): 333333333333/eu-west-1: {cause}; "
        f"333333333333/us-east-1: {cause}. Mend the cause in the accounts named (their stack's events tell more), then "
        "run pulumi up again: it carries on from the stack instances' state"
    ), line

    # Mended, the next up carries on: the stack set its failed create left is taken (same owner) and tagged anew.
    again = engine.up(inputs("qsp-failing", ACCOUNTS))
    assert again.action == "create"
    assert cfn.stack_set("qsp-failing").tags[OWNERSHIP_TAG] == again.outputs["owner_identity"]
    assert {(i["account_id"], i["region"]): i["status"] for i in again.outputs["instances"]} == {
        (UNIT_A, "eu-west-1"): "CURRENT",
        (UNIT_B, "eu-west-1"): "CURRENT",
        (UNIT_B, "us-east-1"): "CURRENT",
    }


def test_a_stack_set_of_another_deployment_is_refused_by_name(cfn: StackSetEmulator, engine: EngineHarness) -> None:
    theirs = engine.up(inputs("qsp-theirs", ACCOUNTS[:1], owner="team-a/prod"))
    mark = len(cfn.actions)
    with pytest.raises(grpc.RpcError) as info:
        engine.up(inputs("qsp-theirs", ACCOUNTS[:1], owner="team-b/prod"))
    assert user_error(info.value) == (
        "components.errors.StackStateError: CloudFormation StackSet 'qsp-theirs' already exists and belongs to the "
        f"deployment of 'team-a/prod' ({OWNERSHIP_TAG} '{theirs.outputs['owner_identity']}'), not to this one: nothing "
        "was changed. Choose another stackSetName, or delete that stack set first if it is yours to delete"
    )
    assert cfn.actions[mark:] == ["GetCallerIdentity", "DescribeStackSet"]


def test_check_names_each_bad_input_and_a_rename_is_refused(cfn: StackSetEmulator, engine: EngineHarness) -> None:
    with pytest.raises(CheckFailedError) as info:
        engine.up(inputs("qsp-bad", [{"accountId": "12"}], max_concurrent="150%"))
    assert {prop for prop, _ in info.value.failures} == {"stack_set_accounts.0.accountId", "max_concurrent"}
    with pytest.raises(grpc.RpcError) as refused:
        engine.up(inputs("qsp-bad", [{"accountId": UNIT_A, "parameters": {"Nope": "x"}}]))
    assert user_error(refused.value) == (
        "components.errors.InputError: invalid CloudFormationStackSetDeployment inputs for StackSet 'qsp-bad': "
        f"per-account values for parameters the template does not declare: {UNIT_A}: Nope; fix them in the Pulumi "
        "program (or the stage file's stackSet settings)"
    )
    # The rules across inputs, at preview already.
    with pytest.raises(CheckFailedError) as across:
        engine.preview(inputs("qsp-bad", ACCOUNTS, permission_model="SERVICE_MANAGED"))
    assert across.value.failures == [
        ("deployment_targets", "deployment_targets is empty: a SERVICE_MANAGED stack set deploys to Organizations OUs"),
        ("stack_set_accounts", "stack_set_accounts (per-account values) need permission_model SELF_MANAGED"),
    ]
    first = engine.up(inputs("qsp-named", ACCOUNTS[:1]))
    with pytest.raises(grpc.RpcError) as moved:
        engine.preview(inputs("qsp-renamed", ACCOUNTS[:1]), first.state)
    assert "changing stack_name 'qsp-named' -> 'qsp-renamed' would replace the deployment" in user_error(moved.value)


def test_organizations_ous_a_preview_with_unknowns_and_a_refresh(cfn: StackSetEmulator, engine: EngineHarness) -> None:
    cfn.organization = {"ou-ab12-abcdefgh": [UNIT_A, UNIT_C]}
    service = inputs("qsp-org", [], permission_model="SERVICE_MANAGED", deployment_targets=["ou-ab12-abcdefgh"])
    del service["stack_set_accounts"]
    first = engine.up(service)
    stack_set = cfn.stack_set("qsp-org")
    assert stack_set.permission_model == "SERVICE_MANAGED" and "ExecutionRoleName" not in stack_set.settings
    assert stack_set.settings["AutoDeployment.Enabled"] == "true"
    assert [(i["account_id"], i["organizational_unit_id"]) for i in first.outputs["instances"]] == [
        (UNIT_A, "ou-ab12-abcdefgh"),
        (UNIT_C, "ou-ab12-abcdefgh"),
    ]
    # A value not known yet (preview): an update is shown, no AWS call made.
    mark = len(cfn.actions)
    assert engine.preview({**service, "template_body": UNKNOWN}, first.state).action == "update"
    assert engine.preview({**service, "parameters": UNKNOWN}, first.state).action == "update"
    assert cfn.actions[mark:] == []
    # A refresh reads the instances' status and root cause; a stack set deleted outside is gone.
    stack_set.instances[(UNIT_C, "eu-west-1")].status = "OUTDATED"
    stack_set.instances[(UNIT_C, "eu-west-1")].reason = "Stack was deleted outside of StackSets"
    _, refreshed = engine.read(first.id or "", first.outputs)
    assert [(i["account_id"], i["status"], i["status_reason"]) for i in refreshed["instances"]][1] == (
        UNIT_C, "OUTDATED", "Stack was deleted outside of StackSets",
    )  # fmt: skip
    stack_set.status = "DELETED"
    gone_id, gone = engine.read(first.id or "", first.outputs)
    assert gone_id == "" and set(gone) <= {"__provider"}
