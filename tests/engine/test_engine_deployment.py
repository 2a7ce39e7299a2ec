"""CloudFormationDeployment driven as `pulumi up` drives it: the engine harness over gRPC, moto behind it.

The provider process (``python -u -m pulumi.dynamic``) gets its AWS chain from the environment
(``moto_server.aws_env``): STS, CloudFormation and S3 all answer from the loopback moto server.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import grpc
import pytest

from components.core.stacks import OWNER_TAG, OWNERSHIP_TAG
from components.deployment import CloudFormationDeploymentProvider
from engine import DEPLOYMENT_TYPE, UNKNOWN, EngineHarness, user_error
from moto_server import (  # noqa: F401  (fixtures)
    DEFAULT_ACCOUNT,
    NOWHERE,
    REGION,
    MotoServer,
    aws_env,
    moto,
    moto_server,
    stack_description,
    stack_parameters,
    stack_template,
)

STACK = "qsp-engine"
PASSWORD = "Engine-Pa55word!"


def template(extra_output: bool = False) -> str:
    document: dict[str, Any] = {
        "Parameters": {
            "DbPassword": {"Type": "String", "NoEcho": True},
            "DbUsername": {"Type": "String", "NoEcho": True},
            "TopicName": {"Type": "String"},
            "Port": {"Type": "Number", "Default": 5432},
        },
        "Resources": {
            "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Ref": "TopicName"}}},
            "salesdashboard": {"Type": "AWS::QuickSight::Dashboard", "Properties": {"DashboardId": "sales"}},
        },
    }
    if extra_output:
        document["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "qsp-engine-q"}}
    return json.dumps(document, separators=(",", ":"))


def inputs(**overrides: Any) -> dict[str, Any]:
    base = {
        "stack_name": STACK,
        "template_body": template(),
        "parameters": {"DbPassword": PASSWORD, "DbUsername": "reader", "TopicName": "qsp-topic", "Port": 5432},
        "target_account_id": DEFAULT_ACCOUNT,
        "target_region": REGION,
        "stack_timeout_seconds": 120,
        "owner": "sales/prod",
    }
    return base | overrides


def harness(env: dict[str, str], **kwargs: Any) -> EngineHarness:
    return EngineHarness(
        env=env,
        provider=CloudFormationDeploymentProvider(),
        name="deployment",
        resource_type=DEPLOYMENT_TYPE,
        **kwargs,
    )


@pytest.fixture
def engine(moto: MotoServer) -> Iterator[EngineHarness]:
    with harness(aws_env(moto.default)) as running:
        yield running




def test_up_unchanged_up_changed_value_changed_template_refresh_and_delete(
    moto: MotoServer, engine: EngineHarness
) -> None:
    cfn = moto.cloudformation
    first = engine.up(inputs())
    assert first.action == "create"
    assert first.id == first.outputs["stack_id"] == stack_description(cfn, STACK)["StackId"]
    assert first.outputs["stack_status"] == "CREATE_COMPLETE"
    assert first.outputs["account_id"] == DEFAULT_ACCOUNT and first.outputs["target_region"] == REGION
    assert stack_parameters(cfn, STACK)["DbPassword"] == PASSWORD
    tags = {t["Key"]: t["Value"] for t in stack_description(cfn, STACK)["Tags"]}
    assert tags == {OWNERSHIP_TAG: first.outputs["owner_identity"], OWNER_TAG: "sales/prod"}
    assert len(first.outputs["owner_identity"]) == 32 and first.outputs["stack_created"] is True
    # Digests only: no value in the outputs, nor the salt in plain sight of a reader who greps for it.
    assert PASSWORD not in json.dumps(first.outputs)
    assert set(first.outputs["parameter_digests"]) == {"DbPassword", "DbUsername", "TopicName", "Port"}
    assert "parameters" not in first.outputs and "template_body" not in first.outputs
    summary = {c["logical_id"]: c for c in first.outputs["change_summary"]}
    assert summary["salesdashboard"] == {
        "logical_id": "salesdashboard",
        "type": "AWS::QuickSight::Dashboard",
        "action": "Add",
        "replacement": None,
        "asset_kind": "dashboard",
        "asset_id": "sales",
    }

    # Unchanged, credentials included: no change, and no AWS call (a provider that can reach no
    # endpoint decides it just the same).
    with harness(NOWHERE) as offline:
        again = offline.up(inputs(), first.state)
        assert again.action == "same"
        # A preview with an unknown template (the export not read yet) is a change, still without AWS.
        preview = offline.preview(inputs(template_body=UNKNOWN), first.state)
        assert preview.action == "update" and not preview.diff.replace
        new = offline.preview(inputs(template_body=UNKNOWN, parameters=UNKNOWN))
        assert new.action == "create" and new.check.failures == []

    # A changed value: an update in place, the NoEcho values unchanged (sent as UsePreviousValue).
    changed = engine.up(inputs(parameters={**inputs()["parameters"], "TopicName": "qsp-topic-2"}), first.state)
    assert changed.action == "update"
    assert changed.outputs["stack_status"] == "UPDATE_COMPLETE"
    assert stack_parameters(cfn, STACK)["TopicName"] == "qsp-topic-2"
    assert stack_parameters(cfn, STACK)["DbPassword"] == PASSWORD
    digests = changed.outputs["parameter_digests"]
    assert digests["DbPassword"] == first.outputs["parameter_digests"]["DbPassword"]
    assert digests["TopicName"] != first.outputs["parameter_digests"]["TopicName"]

    # A changed template: an update; moto creates the new resource.
    grown = engine.up(
        inputs(template_body=template(extra_output=True), parameters=changed.state.inputs["parameters"]), changed.state
    )
    assert grown.action == "update"
    assert "Queue" in stack_template(cfn, STACK)["Resources"]
    assert grown.outputs["template_sha256"] != first.outputs["template_sha256"]

    # Refresh reads status and outputs; parameter values are never read back.
    refreshed_id, refreshed = engine.read(grown.id, grown.outputs)
    assert refreshed_id == grown.id
    assert refreshed["stack_status"] == "UPDATE_COMPLETE"
    assert refreshed["parameter_digests"] == grown.outputs["parameter_digests"]

    # Delete removes the stack and waits for it.
    engine.delete(grown.id, grown.outputs)
    assert cfn.describe_stacks()["Stacks"] == []
    # A stack deleted out of band is reported gone by a refresh.
    gone_id, gone = engine.read(grown.id, grown.outputs)
    assert gone_id == "" and set(gone) <= {"__provider"}


def test_a_failed_first_create_is_repaired_by_the_next_up(moto: MotoServer, engine: EngineHarness) -> None:
    missing = {"DbPassword": PASSWORD, "DbUsername": "reader"}  # no TopicName: moto refuses at execution
    with pytest.raises(grpc.RpcError) as info:
        engine.up(inputs(parameters=missing))
    line = user_error(info.value)
    assert line.startswith("components.errors.DeploymentError: cloudformation:ExecuteChangeSet"), line
    assert "Missing parameter TopicName" in line and PASSWORD not in line
    # Pulumi recorded nothing; CloudFormation kept the stack of the change set (REVIEW_IN_PROGRESS).
    assert stack_description(moto.cloudformation, STACK)["StackStatus"] == "REVIEW_IN_PROGRESS"

    again = engine.up(inputs())

    assert again.action == "create"
    assert again.outputs["stack_status"] == "CREATE_COMPLETE"
    # (moto makes a new stack for the second CREATE change set; CloudFormation reuses the REVIEW_IN_PROGRESS one)
    assert stack_description(moto.cloudformation, again.id)["StackStatus"] == "CREATE_COMPLETE"


def test_check_reports_every_bad_input(engine: EngineHarness) -> None:
    outcome = engine.check(
        None,
        {
            "stack_name": "1-not-a-name",
            "template_body": "{not json",
            "parameters": {"DbPassword": PASSWORD},
            "target_account_id": "12345",
            "capabilities": ["CAPABILITY_EVERYTHING"],
            "stack_tags": {"aws:owner": "x"},
            "stack_timeout_seconds": 0,
        },
    )
    failures = dict(outcome.failures)
    assert set(failures) >= {
        "stack_name", "template_body", "target_account_id", "capabilities.0", "stack_tags", "stack_timeout_seconds"
    }
    assert "String should match pattern" in failures["stack_name"]
    assert "is not JSON" in failures["template_body"]
    assert "reserved" in failures["stack_tags"]
    assert PASSWORD not in json.dumps(outcome.failures)
    missing = dict(engine.check(None, {"parameters": {}}).failures)
    assert missing["stack_name"] == "stack_name is required"
    assert missing["template_body"] == "template_body is required"


def test_a_changed_stack_name_or_account_is_refused_before_anything_is_deleted(
    moto: MotoServer, engine: EngineHarness
) -> None:
    first = engine.up(inputs())

    for change, shown in (
        ({"stack_name": "qsp-other"}, "stack_name 'qsp-engine' -> 'qsp-other'"),
        ({"target_account_id": "210987654321"}, f"account {DEFAULT_ACCOUNT} -> 210987654321"),
        ({"target_region": "us-east-1"}, "region eu-west-1 -> us-east-1"),
    ):
        with pytest.raises(grpc.RpcError) as info:
            engine.up(inputs(**change), first.state)
        line = user_error(info.value)
        assert line.startswith("components.errors.StackStateError: CloudFormation stack 'qsp-engine': changing "), line
        assert shown in line
        assert "would replace the deployment" in line and "nothing was changed or deleted" in line
    assert stack_description(moto.cloudformation, STACK)["StackStatus"] == "CREATE_COMPLETE"


def test_the_account_guard_refuses_other_credentials(moto: MotoServer, engine: EngineHarness) -> None:
    with pytest.raises(grpc.RpcError) as info:
        engine.up(inputs(target_account_id="210987654321"))
    line = user_error(info.value)
    assert line.startswith("components.errors.AccountMismatchError: CloudFormation stack 'qsp-engine': "), line
    assert f"the credentials act in account {DEFAULT_ACCOUNT}, not the expected account 210987654321" in line
    assert "nothing was deployed" in line
    assert moto.cloudformation.describe_stacks()["Stacks"] == []


def test_configure_hands_the_stack_configuration_to_the_provider(moto: MotoServer) -> None:
    """What the SDK's servicer does with Configure: its args reach configure(); aws:region is used."""
    env = {k: v for k, v in aws_env(moto.default).items() if k not in ("AWS_REGION", "AWS_DEFAULT_REGION")}
    without_region = {k: v for k, v in inputs().items() if k != "target_region"}
    with harness(env, config={"aws:region": REGION, "quicksight-promotion:stackName": "ignored"}) as configured:
        created = configured.up(without_region)
    assert created.outputs["target_region"] == REGION
    assert stack_description(moto.cloudformation, STACK)["StackStatus"] == "CREATE_COMPLETE"
    # Without it (an engine that hands nothing over) and without a region anywhere: one clear error.
    with harness(env) as bare:
        with pytest.raises(grpc.RpcError) as info:
            bare.up({**without_region, "stack_name": "qsp-no-region"})
    assert (
        "components.errors.DeploymentError: no AWS region for CloudFormation stack 'qsp-no-region': set the resource's "
        "target_region input, AWS_REGION, or aws:region in the stack configuration"
    ) == user_error(info.value)


def test_unreachable_aws_is_retried_until_the_deadline_then_one_clear_error() -> None:
    import time

    with harness(NOWHERE) as offline:
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as info:
            offline.up(inputs(stack_timeout_seconds=3))
        took = time.monotonic() - started
    line = user_error(info.value)
    assert line.startswith(
        "components.errors.DeploymentTimeoutError: sts:GetCallerIdentity for CloudFormation stack 'qsp-engine': no usable "
        "answer within stack_timeout_seconds (3 s) ("
    ), line
    assert "last fault: cannot reach STS (EndpointConnectionError: Could not connect to the endpoint URL" in line
    assert "check the network and region of the process that runs pulumi" in line
    assert line.endswith(
        "; nothing was deployed: raise stack_timeout_seconds, or mend the last fault, then run pulumi up again (it "
        "carries on from the stack's state)"
    ), line
    assert took < 3 + 1 + 5, f"a 3 s deadline took {took:.1f} s"


def test_invalid_inputs_at_create_are_one_message(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from components.errors import InputError

    with pytest.raises(InputError) as info:
        CloudFormationDeploymentProvider().create(
            inputs(template_body='{"NoResources":{}}', stack_timeout_seconds=-1, parameters={"DbPassword": PASSWORD})
        )
    message = str(info.value)
    assert message.startswith("invalid CloudFormationDeployment inputs for stack 'qsp-engine': template_body: ")
    assert "is not a CloudFormation template (a JSON object with Resources)" in message
    assert "stack_timeout_seconds: Input should be greater than or equal to 1;" in message
    assert "-1" not in message  # no input's value is quoted
    assert PASSWORD not in message


def test_a_region_or_account_moved_by_the_aws_chain_is_refused(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in aws_env(moto.default).items():
        monkeypatch.setenv(key, value)
    provider = CloudFormationDeploymentProvider()
    chains_region = {k: v for k, v in inputs().items() if k != "target_region"}
    created = provider.create(chains_region).outs
    recorded_elsewhere = {**created, "account_id": "210987654321", "target_account_id": None}

    with pytest.raises(Exception) as info:
        provider.update(created["stack_id"], recorded_elsewhere, chains_region)

    assert type(info.value).__name__ == "StackStateError"
    assert f"changing account 210987654321 -> {DEFAULT_ACCOUNT} would replace the deployment" in str(info.value)
    assert stack_description(moto.cloudformation, STACK)["StackStatus"] == "CREATE_COMPLETE"


def test_configure_aws_profile_is_used_when_handed_over(moto: MotoServer, tmp_path: Any) -> None:
    (tmp_path / "config").write_text(f"[profile stage-target]\nregion = {REGION}\n", encoding="utf-8")
    (tmp_path / "credentials").write_text(
        "[stage-target]\naws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = profile-secret\n",
        encoding="utf-8",
    )
    env = {
        "AWS_ENDPOINT_URL": moto.endpoint,
        "AWS_CONFIG_FILE": str(tmp_path / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    without_region = {k: v for k, v in inputs().items() if k != "target_region"}
    with harness(env, config={"aws:profile": "stage-target"}) as configured:
        created = configured.up(without_region)
    assert created.outputs["target_region"] == REGION and created.outputs["stack_status"] == "CREATE_COMPLETE"
    # The same process environment without the profile has no credentials and no region at all.
    with harness(env) as bare:
        with pytest.raises(grpc.RpcError) as info:
            bare.up({**without_region, "stack_name": "qsp-no-profile"})
    assert "no AWS region" in user_error(info.value)


def test_the_provider_pickles_to_its_public_class_path_and_holds_nothing() -> None:
    import base64

    from engine import serialized_provider

    raw = base64.b64decode(serialized_provider(CloudFormationDeploymentProvider()))
    assert b"components.deployment" in raw and b"CloudFormationDeploymentProvider" in raw
    assert len(raw) < 200, "a class reference, no client, session or credential"


# --- the account guard is required ------------------------------------------------------------------------


def test_a_missing_target_account_is_refused_in_check_saying_why(engine: EngineHarness, moto: MotoServer) -> None:
    unguarded = {k: v for k, v in inputs().items() if k != "target_account_id"}
    failures = engine.check(None, unguarded).failures
    assert [name for name, _ in failures] == ["target_account_id"], failures
    reason = failures[0][1]
    assert reason.startswith("target_account_id is required: the account guard refuses to deploy into any other account")
    assert "aws.get_caller_identity_output()" in reason
    with pytest.raises(grpc.RpcError) as caught:
        engine.create(unguarded)
    assert "target_account_id: target_account_id is required: the account guard" in user_error(caught.value)
    assert moto.cloudformation.list_stacks()["StackSummaries"] == []


def test_a_state_recorded_without_the_account_guard_refreshes_and_deletes_with_its_account(
    engine: EngineHarness, moto: MotoServer
) -> None:
    created = engine.up(inputs())
    # As a state written while target_account_id was optional holds it: absent, the account acted in recorded.
    legacy = {k: v for k, v in created.outputs.items() if k != "target_account_id"}
    assert legacy["account_id"] == DEFAULT_ACCOUNT

    stack_id, refreshed = engine.read(created.id, legacy)
    assert stack_id == created.id and refreshed["stack_status"] == "CREATE_COMPLETE"
    # The recorded account is the guard: a state that acted elsewhere is refused before any stack call.
    with pytest.raises(grpc.RpcError) as caught:
        engine.delete(created.id, {**legacy, "account_id": "210987654321"})
    assert f"the credentials act in account {DEFAULT_ACCOUNT}, not the expected account 210987654321" in user_error(caught.value)
    assert stack_description(moto.cloudformation, STACK)["StackStatus"] == "CREATE_COMPLETE"

    engine.delete(created.id, legacy)
    assert moto.cloudformation.describe_stacks()["Stacks"] == []
