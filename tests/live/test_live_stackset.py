"""Opt-in checks of the StackSet deployment against real CloudFormation: skipped unless QSP_LIVE_AWS=1.

What only AWS can settle: that a self-managed StackSet with the documented roles
(policies/stackset-administration, policies/stackset-execution) deploys to a target account, that ListStackInstances and ListStackSetOperationResults carry the shapes the
boundary reads, and that a missing execution role is named by account and StatusReason. The
template holds one ``AWS::CloudFormation::WaitConditionHandle`` (free); everything is deleted at the end.

    QSP_LIVE_AWS=1 QSP_TARGET_ACCOUNT_ID=<administrator account> QSP_REGION=eu-west-1 \\
        QSP_STACKSET_ACCOUNT=<target account with the execution role> \\
        QSP_STACKSET_ACCOUNT_WITHOUT_ROLE=<an account without it (optional)> \\
        .venv/bin/python -m pytest tests/live/test_live_stackset.py
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Iterator

import pytest

from components.aws.cloudformation import connect
from components.aws.stacksets import StackSetDeployer
from components.core import stacksets as sets
from components.core.polling import Deadline
from components.core.stacks import Claim
from components.errors import StackSetOperationFailedError

pytestmark = [
    pytest.mark.live_aws,
    pytest.mark.skipif(os.environ.get("QSP_LIVE_AWS") != "1", reason="live AWS tests run only with QSP_LIVE_AWS=1"),
]

TEMPLATE = json.dumps(
    {"Parameters": {"Note": {"Type": "String", "Default": "shared"}}, "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}}}
)
CLAIM = Claim(identity=secrets.token_hex(16), owner="live/test")


def inputs(name: str, accounts: list[dict[str, object]]) -> sets.StackSetInputs:
    return sets.StackSetInputs.model_validate(
        {
            "stack_set_name": name,
            "template_body": TEMPLATE,
            "stack_set_accounts": accounts,
            "stack_set_regions": [os.environ.get("QSP_REGION") or "eu-west-1"],
            "target_account_id": os.environ["QSP_TARGET_ACCOUNT_ID"],
            "max_concurrent": "100%",
            "failure_tolerance": "0",
        }
    )


@pytest.fixture
def stack_set() -> Iterator[tuple[StackSetDeployer, str]]:
    name = f"qsp-live-{secrets.token_hex(4)}"
    deadline = Deadline.after(1800)
    target = connect(os.environ.get("QSP_REGION"), os.environ.get("QSP_ROLE_ARN"), os.environ["QSP_TARGET_ACCOUNT_ID"], name, deadline=deadline)
    deployer = StackSetDeployer(target, name, deadline)
    try:
        yield deployer, name
    finally:
        deployer.delete(CLAIM, sets.operation_preferences("100%", "100%"))


def test_a_self_managed_stack_set_reaches_an_account_with_its_own_values(stack_set: tuple[StackSetDeployer, str]) -> None:
    deployer, name = stack_set
    account = os.environ["QSP_STACKSET_ACCOUNT"]
    result = deployer.deploy(inputs(name, [{"accountId": account, "parameters": {"Note": "own"}}]), CLAIM, [account], False)
    assert [(i["account_id"], i["status"]) for i in result.instances] == [(account, "CURRENT")]
    assert result.instances[0]["stack_id"]


def test_a_missing_execution_role_is_named_by_account_and_reason(stack_set: tuple[StackSetDeployer, str]) -> None:
    account = os.environ.get("QSP_STACKSET_ACCOUNT_WITHOUT_ROLE")
    if not account:
        pytest.skip("set QSP_STACKSET_ACCOUNT_WITHOUT_ROLE to an account without the execution role")
    deployer, name = stack_set
    with pytest.raises(StackSetOperationFailedError) as info:
        deployer.deploy(inputs(name, [{"accountId": account}]), CLAIM, [], False)
    assert f"{account}/" in str(info.value) and "AWSCloudFormationStackSetExecutionRole" in str(info.value)
