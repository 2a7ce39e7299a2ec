"""Whose a stack is, as `pulumi up` meets it: engine harness -> provider -> loopback CloudFormation.

Two teams (or two forks of this program) with the same default stack name; adoption of another
deployment's stack, reviewed; a state written by 0.1.0 (no identity) and its stack's fixed tag.
"""

from __future__ import annotations

import json
from typing import Any

import grpc
import pytest

from cfn_emulator import ACCOUNT, CloudFormationEmulator
from components.core.stacks import LEGACY_OWNERSHIP_VALUE, OWNER_TAG, OWNERSHIP_TAG
from engine import EngineHarness, ResourceState, user_error

PASSWORD = "Owned-Pa55word!"
TEMPLATE = {
    "Parameters": {"DbPassword": {"Type": "String", "NoEcho": True}, "Host": {"Type": "String"}},
    "Resources": {
        "salesds": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": "sales-ds"}},
        "salesdash": {"Type": "AWS::QuickSight::Dashboard", "Properties": {"DashboardId": "sales"}},
    },
}
# Team B's bundle: another dashboard, and not team A's.
THEIRS = {
    **TEMPLATE,
    "Resources": {
        "salesds": TEMPLATE["Resources"]["salesds"],
        "opsdash": {"Type": "AWS::QuickSight::Dashboard", "Properties": {"DashboardId": "ops"}},
    },
}


def inputs(name: str, owner: str, template: dict[str, Any] = TEMPLATE, **overrides: Any) -> dict[str, Any]:
    base = {
        "stack_name": name,
        "template_body": json.dumps(template),
        "parameters": {"DbPassword": PASSWORD, "Host": "db.example.com"},
        "target_account_id": ACCOUNT,
        "target_region": "eu-west-1",
        "stack_timeout_seconds": 120,
        "owner": owner,
    }
    return base | overrides


@pytest.fixture(scope="module")
def engine(cfn_engine: EngineHarness) -> EngineHarness:
    return cfn_engine  # the deployment provider against the loopback CloudFormation (tests/conftest.py)


def refusal(engine: EngineHarness, props: dict[str, Any], state: Any = None) -> str:
    with pytest.raises(grpc.RpcError) as info:
        engine.up(props, state)
    return user_error(info.value)


def test_a_second_team_with_the_same_stack_name_is_refused_and_touches_nothing(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    name = "qsp-shared-name"
    team_a = engine.up(inputs(name, "team-a/prod", termination_protection=True))
    identity = team_a.outputs["owner_identity"]
    assert cfn.stack(name).tags == {OWNERSHIP_TAG: identity, OWNER_TAG: "team-a/prod"}
    before = (cfn.stack(name).template, cfn.stack(name).tags, cfn.stack(name).status, cfn.stack(name).protected)
    mark = len(cfn.actions)

    # Team B's first up, same name, no adoption; then with adopt_stack alone: both refused.
    for extra in ({}, {"adopt_stack": True}):
        line = refusal(engine, inputs(name, "team-b/prod", THEIRS, **extra))
        assert line == (
            f"components.errors.StackStateError: CloudFormation stack '{name}' already exists (CREATE_COMPLETE) and belongs "
            f"to the deployment of 'team-a/prod' ({OWNERSHIP_TAG} '{identity}'), not to this one: nothing was changed. "
            "Choose another stack_name; or, to take it over from its owner, set adopt_stack=true and "
            f"adopt_identity='{identity}' (review first with execute_change_set=false)"
        ), line

    assert cfn.actions[mark:] == ["GetCallerIdentity", "DescribeStacks"] * 2
    assert (cfn.stack(name).template, cfn.stack(name).tags, cfn.stack(name).status, cfn.stack(name).protected) == before
    # Team A's own next up is still its own.
    assert engine.up(inputs(name, "team-a/prod", termination_protection=True, stack_timeout_seconds=300), team_a.state).action == "same"


def test_another_deployments_stack_is_adopted_by_identity_after_a_review(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    name = "qsp-adopted"
    team_a = engine.up(inputs(name, "team-a/prod", termination_protection=True))
    adopt = {"adopt_stack": True, "adopt_identity": team_a.outputs["owner_identity"], "termination_protection": True}

    # Executed at once, the adoption would remove team A's dashboard: refused, nothing executed.
    mark = len(cfn.actions)
    line = refusal(engine, inputs(name, "team-b/prod", THEIRS, **adopt))
    assert line.startswith(
        f"components.errors.StackStateError: CloudFormation stack '{name}' is being adopted, and its change set (1 to add, "
        "1 to modify, 1 to remove) would remove or replace salesdash (AWS::QuickSight::Dashboard), which no review "
        "showed: nothing was executed and the change set was deleted. Review it first (execute_change_set=false, pulumi "
        "up, read change_summary), then set execute_change_set=true; or set adopt_allow_removals=true to accept the "
        "removals"
    ), line
    assert "ExecuteChangeSet" not in cfn.actions[mark:] and cfn.change_sets == {}
    assert cfn.stack(name).template == TEMPLATE

    # The review, then the execution of what it showed.
    review = engine.up(inputs(name, "team-b/prod", THEIRS, execute_change_set=False, **adopt))
    assert review.action == "create" and review.outputs["executed"] is False
    assert {(c["logical_id"], c["action"]) for c in review.outputs["change_summary"]} == {("opsdash", "Add"), ("salesds", "Modify"), ("salesdash", "Remove")}
    adopted = engine.up(inputs(name, "team-b/prod", THEIRS, **adopt), review.state)
    assert adopted.action == "update" and adopted.outputs["executed"] is True
    assert cfn.stack(name).template == THEIRS
    identity = adopted.outputs["owner_identity"]
    assert identity == review.outputs["owner_identity"] != team_a.outputs["owner_identity"], "kept from the first create"
    assert cfn.stack(name).tags == {OWNERSHIP_TAG: identity, OWNER_TAG: "team-b/prod"}
    assert adopted.outputs["stack_created"] is False

    # Adopted, not created: its termination protection is never turned off by this resource.
    line = refusal(engine, inputs(name, "team-b/prod", THEIRS, **{**adopt, "termination_protection": False}), adopted.state)
    assert line.startswith(
        f"components.errors.StackStateError: CloudFormation stack '{name}' has termination protection on, and this "
        "deployment did not create it, so it does not turn it off: nothing was changed."
    ), line
    assert cfn.stack(name).protected


def test_an_adoption_allowed_to_remove_needs_no_review(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    name = "qsp-adopt-allowed"
    team_a = engine.up(inputs(name, "team-a/prod"))
    adopt = {"adopt_stack": True, "adopt_identity": team_a.outputs["owner_identity"], "adopt_allow_removals": True}
    adopted = engine.up(inputs(name, "team-b/prod", THEIRS, **adopt))
    assert adopted.outputs["executed"] is True and cfn.stack(name).template == THEIRS
    assert cfn.stack(name).tags[OWNERSHIP_TAG] == adopted.outputs["owner_identity"]


def legacy(state: ResourceState) -> ResourceState:
    """The state as 0.1.0 wrote it: no identity, no stack_created."""
    outputs = {k: v for k, v in state.outputs.items() if k not in ("owner_identity", "stack_created", "owner")}
    inputs = {k: v for k, v in state.inputs.items() if k != "owner"}
    return ResourceState(state.id, inputs, outputs)


def test_a_0_1_0_state_and_stack_are_re_tagged_by_their_resource_and_by_no_other(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    name = "qsp-legacy"
    created = engine.up(inputs(name, "sales/prod"))
    old = legacy(created.state)
    cfn.stack(name).tags = {OWNERSHIP_TAG: LEGACY_OWNERSHIP_VALUE}

    # Unchanged inputs over the old state: no change, no AWS call.
    mark = len(cfn.actions)
    assert engine.up(inputs(name, "sales/prod"), old).action == "same"
    assert cfn.actions[mark:] == []

    # A fresh resource (another program, no state) meeting the 0.1.0 stack: not its own.
    line = refusal(engine, inputs(name, "other/prod"))
    whose = f"a deployment of quicksight-promotion 0.1.0 whose state does not hold this stack ({OWNERSHIP_TAG} '{LEGACY_OWNERSHIP_VALUE}')"
    assert f"already exists (CREATE_COMPLETE) and belongs to {whose}, not to this one: nothing was changed." in line, line
    assert cfn.stack(name).tags == {OWNERSHIP_TAG: LEGACY_OWNERSHIP_VALUE}

    # The next update of the resource whose state holds the stack's id mints the identity and re-tags it.
    updated = engine.up(inputs(name, "sales/prod", parameters={"DbPassword": PASSWORD, "Host": "db2.example.com"}), old)
    assert updated.action == "update" and updated.outputs["executed"] is True
    identity = updated.outputs["owner_identity"]
    assert len(identity) == 32 and identity != LEGACY_OWNERSHIP_VALUE
    assert cfn.stack(name).tags == {OWNERSHIP_TAG: identity, OWNER_TAG: "sales/prod"}
    assert updated.outputs["stack_created"] is False, "0.1.0 did not record whether it created the stack"
    # And keeps it.
    again = engine.up(inputs(name, "sales/prod", parameters={"DbPassword": PASSWORD, "Host": "db3.example.com"}), updated.state)
    assert again.outputs["owner_identity"] == identity
