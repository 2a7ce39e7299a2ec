"""Opt-in checks of the deployment against real CloudFormation: skipped unless QSP_LIVE_AWS=1.

What no local tool can settle: whether resending an unchanged NoEcho value makes an empty change set
(the provider sends UsePreviousValue anyway), and CloudFormation's exact TemplateURL byte limit.
The stack holds one ``AWS::CloudFormation::WaitConditionHandle`` (free) and is deleted at the end.

    QSP_LIVE_AWS=1 QSP_TARGET_ACCOUNT_ID=999999999999 QSP_REGION=eu-west-1 QSP_STAGING_BUCKET=my-bucket \\
        .venv/bin/python -m pytest tests/test_live_deploy.py
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Iterator

import pytest
from botocore.exceptions import ClientError

from components.aws.cloudformation import Deployer, DeployRequest, connect
from components.core.stacks import staged_key, template_sha256, template_url
from components.core.transform import URL_TEMPLATE_LIMIT

pytestmark = [
    pytest.mark.live_aws,
    pytest.mark.skipif(os.environ.get("QSP_LIVE_AWS") != "1", reason="live AWS tests run only with QSP_LIVE_AWS=1"),
]

TEMPLATE = json.dumps(
    {
        "Parameters": {"Password": {"Type": "String", "NoEcho": True}},
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    }
)


@pytest.fixture
def deployer() -> Iterator[tuple[Deployer, str]]:
    target = connect(os.environ.get("QSP_REGION"), os.environ.get("QSP_ROLE_ARN"), os.environ["QSP_TARGET_ACCOUNT_ID"], "live")
    name = f"qsp-live-{secrets.token_hex(4)}"
    deployer = Deployer(target)
    try:
        yield deployer, name
    finally:
        deployer.delete(name, name, 900)


def test_an_unchanged_no_echo_value_is_an_empty_change_set(deployer: tuple[Deployer, str]) -> None:
    deploy, name = deployer
    request = DeployRequest(stack_name=name, template_body=TEMPLATE, parameters={"Password": "live-Pw-1"}, timeout_seconds=900)
    assert deploy.deploy(request).stack_status == "CREATE_COMPLETE"

    # What the provider does: UsePreviousValue for the unchanged NoEcho value.
    kept = deploy.deploy(DeployRequest(**{**request.__dict__, "keep": frozenset({"Password"})}))
    assert kept.executed is False and kept.change_set_id is None, "an empty change set, deleted"
    # A resend of the same value.
    resent = deploy.deploy(request)
    assert resent.executed is False and resent.change_set_id is None, "CloudFormation saw a change in a NoEcho resend"


def test_the_template_url_limit_is_1048576_bytes() -> None:
    target = connect(os.environ.get("QSP_REGION"), os.environ.get("QSP_ROLE_ARN"), os.environ["QSP_TARGET_ACCOUNT_ID"], "live")
    bucket = os.environ["QSP_STAGING_BUCKET"]
    s3 = target.s3()
    outcomes = {}
    for size in (URL_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT + 1):
        base = {**json.loads(TEMPLATE), "Metadata": {"Padding": ""}}
        missing = size - len(json.dumps(base, separators=(",", ":")).encode())
        base["Metadata"]["Padding"] = "x" * missing
        body = json.dumps(base, separators=(",", ":"))
        assert len(body.encode()) == size
        key = staged_key("qsp-live/", template_sha256(body))
        s3.put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
        try:
            target.cloudformation.validate_template(TemplateURL=template_url(bucket, target.region, key))
            outcomes[size] = "accepted"
        except ClientError as exc:
            outcomes[size] = exc.response["Error"]["Message"]
        finally:
            s3.delete_object(Bucket=bucket, Key=key)
    assert outcomes[URL_TEMPLATE_LIMIT] == "accepted", outcomes
    assert outcomes[URL_TEMPLATE_LIMIT + 1] != "accepted", outcomes
