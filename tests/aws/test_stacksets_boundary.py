"""The StackSet boundary (``components/aws/stacksets.py``) in-process, against the loopback CloudFormation.

Real boto3 clients on ``stackset_emulator.StackSetEmulator``: every request is built from botocore's
model and every answer parsed by it. What a retry sends again (the same OperationId), a lost
answer, a malformed one, an operation that outlives the deadline, and the refusal of a stack set
that is not ours, each read from the message a user sees.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Iterator

import boto3
import pytest

from components.aws.cloudformation import Target
from components.aws.stacksets import StackSetDeployer
from components.core import stacksets as sets
from components.core.polling import Backoff, Deadline
from components.core.stacks import OWNER_TAG, OWNERSHIP_TAG, Claim
from components.errors import DeploymentError, DeploymentTimeoutError, MalformedStackAnswerError, StackSetOperationFailedError, StackStateError
from components.core.stacks import template_sha256
from moto_server import MotoServer, ensure_bucket, moto, moto_server  # noqa: F401  (fixtures)
from stackset_emulator import StackSetEmulator

ACCOUNT = "123456789012"
REGION = "eu-west-1"
NAME = "qsp-boundary"
IDENTITY = "0123456789abcdef0123456789abcdef"
CLAIM = Claim(identity=IDENTITY, owner="bu/prod")
TEMPLATE = {"Parameters": {"Host": {"Type": "String"}}, "Resources": {"d": {"Type": "AWS::QuickSight::DataSet"}}}
FAST = Backoff(first=0.05, proportion=0.2, cap=0.1, jitter=0.0)


def inputs(**overrides: Any) -> sets.StackSetInputs:
    return sets.StackSetInputs.model_validate(
        {
            "stack_set_name": NAME,
            "template_body": json.dumps(TEMPLATE),
            "parameters": {"Host": "db.example.com"},
            "stack_set_accounts": [{"accountId": "222222222222"}, {"accountId": "333333333333", "parameters": {"Host": "b"}}],
            "stack_set_regions": [REGION],
            "target_account_id": ACCOUNT,
            "max_concurrent": "2",
            "failure_tolerance": "10%",
            **overrides,
        }
    )


@pytest.fixture
def cfn() -> Iterator[StackSetEmulator]:
    with StackSetEmulator() as emulator:
        yield emulator


def deployer(cfn: StackSetEmulator, seconds: float = 30.0) -> tuple[StackSetDeployer, list[dict[str, Any]]]:
    client = boto3.session.Session().client(
        "cloudformation", region_name=REGION, endpoint_url=cfn.endpoint, aws_access_key_id="AKIAX", aws_secret_access_key="x"
    )
    sent: list[dict[str, Any]] = []
    client.meta.events.register(
        "before-parameter-build.cloudformation.CreateStackInstances", lambda params, **_: sent.append(dict(params))
    )
    target = Target(client, lambda: None, ACCOUNT, REGION)
    return StackSetDeployer(target, NAME, Deadline.after(seconds), backoff=FAST, sleep=lambda _s: None), sent


def test_a_lost_answer_is_retried_with_the_same_operation_id_and_one_operation_is_made(cfn: StackSetEmulator) -> None:
    cfn.lose_answer("CreateStackInstances")
    aws, sent = deployer(cfn)
    result = aws.deploy(inputs(), CLAIM, ["222222222222", "333333333333"], update_set=False)
    # The first group's call reached CloudFormation, its answer was lost: the retry sends the same id,
    # CloudFormation answers that it exists, and the operation is waited for, not made twice.
    first, retry, second = (form["OperationId"] for form in cfn.sent_for("CreateStackInstances"))
    assert first == retry != second and len(sent) == 2, "one call of ours per group; botocore resent the first"
    assert sorted(cfn.operations) == sorted({first, second}) and result.operations == [first, second]
    assert [(i["account_id"], i["status"]) for i in result.instances] == [("222222222222", "CURRENT"), ("333333333333", "CURRENT")]
    assert cfn.stack_set(NAME).tags == {OWNERSHIP_TAG: IDENTITY, OWNER_TAG: "bu/prod"}
    assert cfn.sent_for("CreateStackInstances")[0]["OperationPreferences.FailureTolerancePercentage"] == "10"

    aws.delete(CLAIM, sets.operation_preferences("2", "0"))
    assert cfn.stack_sets[NAME].status == "DELETED"
    assert [a for a in cfn.actions if a.startswith("Delete")] == ["DeleteStackInstances", "DeleteStackSet"]


def test_an_operation_that_outlives_the_deadline_is_named(cfn: StackSetEmulator) -> None:
    cfn.operation_seconds = 30.0
    aws, _ = deployer(cfn, seconds=0.3)
    with pytest.raises(DeploymentTimeoutError) as info:
        aws.deploy(inputs(), CLAIM, [], update_set=False)
    operation = next(iter(cfn.operations))
    assert str(info.value) == (
        f"CloudFormation StackSet '{NAME}': operation {operation} was still RUNNING after stack_timeout_seconds "
        "(0.3 s); CloudFormation goes on with it. Raise stack_timeout_seconds, or wait for it (aws cloudformation "
        "describe-stack-set-operation), then run pulumi up again"
    )
    assert info.value.evidence["operation"] == "cloudformation:DescribeStackSetOperation"

    # The next up meets the operation still running: refused, with what to do.
    again, _ = deployer(cfn)
    with pytest.raises(DeploymentError) as busy:
        again.deploy(inputs(stack_set_regions=["eu-west-1", "us-east-1"]), CLAIM, [], update_set=False)
    assert str(busy.value).startswith(f"cloudformation:CreateStackInstances for CloudFormation StackSet '{NAME}': "), str(busy.value)
    assert str(busy.value).endswith(
        "another operation runs on the stack set (a previous pulumi up that timed out, or someone else's): wait for it to "
        "end (aws cloudformation list-stack-set-operations), then run pulumi up again"
    ), str(busy.value)
    assert busy.value.evidence["code"] == "OperationInProgressException"


def test_a_malformed_answer_is_ours(cfn: StackSetEmulator) -> None:
    cfn.misbehave(cfn.body("DescribeStackSet", "<StackSet><StackSetName>x</StackSetName></StackSet>"), action="DescribeStackSet")
    aws, _ = deployer(cfn)
    with pytest.raises(MalformedStackAnswerError) as info:
        aws.deploy(inputs(), CLAIM, [], update_set=False)
    assert str(info.value) == (
        f"cloudformation:DescribeStackSet for CloudFormation StackSet '{NAME}': CloudFormation's answer is not of the "
        "documented shape (StackSet.StackSetId is missing): this is not the documented answer: check "
        "AWS_ENDPOINT_URL_CLOUDFORMATION, proxies (HTTPS_PROXY) and the region, then run pulumi up again"
    )


def test_a_stack_set_that_is_not_ours_is_neither_updated_nor_deleted(cfn: StackSetEmulator) -> None:
    aws, _ = deployer(cfn)
    aws.deploy(inputs(), CLAIM, [], update_set=False)
    mark = len(cfn.actions)
    stranger = Claim(identity="f" * 32, owner="other/prod", recorded_stack_id="x")
    for attempt in (lambda: aws.deploy(inputs(), stranger, [], update_set=True), lambda: aws.delete(stranger, {})):
        with pytest.raises(StackStateError) as info:
            attempt()
        assert str(info.value) == (
            f"CloudFormation StackSet '{NAME}' already exists and belongs to the deployment of 'bu/prod' ({OWNERSHIP_TAG} "
            f"'{IDENTITY}'), not to this one: nothing was changed. Choose another stackSetName, or delete that stack set "
            "first if it is yours to delete"
        )
    assert cfn.actions[mark:] == ["DescribeStackSet", "DescribeStackSet"]


def test_an_untagged_stack_set_is_nobodys_we_know_and_refused(cfn: StackSetEmulator) -> None:
    cfn.handle({"Action": "CreateStackSet", "StackSetName": NAME, "TemplateBody": json.dumps(TEMPLATE)})
    aws, _ = deployer(cfn)
    with pytest.raises(StackStateError) as info:
        aws.deploy(inputs(), CLAIM, [], update_set=True)
    assert str(info.value) == (
        f"CloudFormation StackSet '{NAME}' already exists and belongs to nobody this library knows (no ownership tag), not "
        "to this one: nothing was changed. Choose another stackSetName, or delete that stack set first if it is yours to delete"
    )


def test_an_operation_answered_with_another_id_is_malformed(cfn: StackSetEmulator) -> None:
    cfn.misbehave(cfn.body("CreateStackInstances", "<OperationId>someone-elses</OperationId>"), action="CreateStackInstances")
    aws, _ = deployer(cfn)
    with pytest.raises(MalformedStackAnswerError) as info:
        aws.deploy(inputs(), CLAIM, [], update_set=False)
    assert str(info.value).startswith(
        f"cloudformation:CreateStackInstances for CloudFormation StackSet '{NAME}': CloudFormation's answer is not of the "
        "documented shape (OperationId is not the one sent)"
    ), str(info.value)


def test_an_update_rolls_out_and_a_failed_account_is_read_from_the_operation_results(cfn: StackSetEmulator) -> None:
    aws, _ = deployer(cfn)
    admin = "arn:aws:iam::123456789012:role/qsp-stackset-admin"
    aws.deploy(inputs(administration_role_arn=admin), CLAIM, [], update_set=False)
    changed = inputs(
        administration_role_arn=admin,
        stack_set_accounts=[{"accountId": "222222222222"}, {"accountId": "333333333333", "parameters": {"Host": "c"}}],
    )
    mark = len(cfn.actions)
    result = aws.deploy(changed, CLAIM, ["333333333333"], update_set=True)
    assert [a for a in cfn.actions[mark:] if a.startswith(("Update", "Create"))] == ["UpdateStackSet", "UpdateStackInstances"]
    assert cfn.stack_set(NAME).settings["AdministrationRoleARN"] == admin
    assert cfn.stack_set(NAME).instances[("333333333333", REGION)].overrides == {"Host": "c"}
    assert len(result.operations) == 2

    cfn.fail_account("333333333333", "Stack StackSet-x is in UPDATE_ROLLBACK_COMPLETE: Invalid DataSetId")
    with pytest.raises(StackSetOperationFailedError) as info:
        aws.deploy(changed, CLAIM, [], update_set=True)
    assert "333333333333/eu-west-1: Stack StackSet-x is in UPDATE_ROLLBACK_COMPLETE: Invalid DataSetId" in str(info.value)
    assert info.value.evidence["account"] == "333333333333"
    assert "ListStackSetOperationResults" in cfn.actions


def test_a_template_over_the_url_limit_is_refused_before_any_stack_set_is_made(cfn: StackSetEmulator) -> None:
    big = {**TEMPLATE, "Description": "x" * 1_000_001}
    aws, _ = deployer(cfn)
    with pytest.raises(DeploymentError) as info:
        aws.deploy(inputs(template_body=json.dumps(big)), CLAIM, [], update_set=False)
    assert str(info.value) == (
        f"the template for CloudFormation StackSet '{NAME}' is 1,000,122 bytes, over CloudFormation's 1,000,000-byte "
        "TemplateURL limit, and a StackSet's template is not split into nested stacks: nothing was deployed. Deploy fewer "
        "assets per release (releaseDashboards, releaseAnalyses), or deploy the release to each account as one stack "
        "(stackName) where nested stacks apply"
    )
    assert cfn.actions == ["DescribeStackSet"] and cfn.stack_sets == {}


def test_a_template_over_51200_bytes_is_staged_as_the_deployment_stages_one(cfn: StackSetEmulator, moto: MotoServer) -> None:
    cfn.s3 = moto.s3  # the loopback reads the TemplateURL from moto's S3
    ensure_bucket(moto.s3, "qsp-staging")
    moto.s3.put_bucket_versioning(Bucket="qsp-staging", VersioningConfiguration={"Status": "Enabled"})
    aws, _ = deployer(cfn)
    aws = StackSetDeployer(replace(aws.target, s3=lambda: moto.s3), NAME, Deadline.after(30), backoff=FAST, sleep=lambda _s: None)
    large = json.dumps({**TEMPLATE, "Description": "x" * 60_000})
    aws.deploy(inputs(template_body=large, staging_bucket="qsp-staging"), CLAIM, [], update_set=False)
    (created,) = cfn.sent_for("CreateStackSet")
    key = f"quicksight-promotion/{template_sha256(large)}.json"
    assert "TemplateBody" not in created
    assert created["TemplateURL"].startswith(f"https://qsp-staging.s3.{REGION}.amazonaws.com/{key}?versionId=")
    assert moto.s3.get_object(Bucket="qsp-staging", Key=key)["Body"].read().decode() == large
    assert cfn.stack_set(NAME).template == json.loads(large)
