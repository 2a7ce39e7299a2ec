"""The StackSet decisions of the pure core (``components/core/stacksets.py``): no AWS, no Pulumi."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from components.core import stacksets as sets

TEMPLATE = json.dumps({"Parameters": {"Host": {"Type": "String"}}, "Resources": {}})


def inputs(**overrides: Any) -> sets.StackSetInputs:
    return sets.StackSetInputs.model_validate(
        {"stack_set_name": "s", "template_body": TEMPLATE, "target_account_id": "123456789012", **overrides}
    )


@pytest.mark.parametrize(
    ("concurrent", "tolerance", "expected"),
    [
        ("1", "0", {"MaxConcurrentCount": 1, "FailureToleranceCount": 0}),
        ("25%", "10%", {"MaxConcurrentPercentage": 25, "FailureTolerancePercentage": 10}),
        ("10", "100%", {"MaxConcurrentCount": 10, "FailureTolerancePercentage": 100}),
    ],
)
def test_max_concurrent_and_failure_tolerance_read_as_cloudformation_preferences(concurrent: str, tolerance: str, expected: dict[str, int]) -> None:
    assert sets.operation_preferences(concurrent, tolerance) == expected


def test_a_count_or_percentage_is_all_they_take() -> None:
    assert inputs(max_concurrent=5.0, failure_tolerance=2).max_concurrent == "5"
    for bad in ("101%", "-1", "ten", "", True):
        with pytest.raises(ValidationError) as info:
            inputs(max_concurrent=bad)
        assert "must be a count (\"10\") or a percentage (\"25%\", at most 100%)" in str(info.value)


def test_each_problem_of_a_plan_is_named_once() -> None:
    self_managed = inputs(stack_set_accounts=[{"accountId": "111111111111"}, {"accountId": "111111111111"}], deployment_targets=["ou-ab12-abcdefgh"])
    assert sets.plan_problems(self_managed) == [
        "stack_set_accounts lists account(s) 111111111111 more than once",
        "deployment_targets (Organizations OUs) need permission_model SERVICE_MANAGED",
        "account(s) 111111111111 have no region: set stack_set_regions or their regions",
    ]
    service = inputs(permission_model="SERVICE_MANAGED", stack_set_accounts=[{"accountId": "111111111111"}], execution_role_name="X")
    assert sets.plan_problems(service) == [
        "deployment_targets is empty: a SERVICE_MANAGED stack set deploys to Organizations OUs",
        "stack_set_regions is empty: a SERVICE_MANAGED stack set deploys to these regions of its OUs",
        "stack_set_accounts (per-account values) need permission_model SELF_MANAGED",
        "administration_role_arn and execution_role_name are for SELF_MANAGED only",
    ]
    with pytest.raises(ValidationError):
        inputs(deployment_targets=["not-an-ou"])


def test_per_account_values_must_be_parameters_of_the_template() -> None:
    given = inputs(stack_set_accounts=[{"accountId": "111111111111", "parameters": {"Host": "a", "Nope": 1.0}}])
    assert given.stack_set_accounts[0].parameters == {"Host": "a", "Nope": "1"}
    assert sets.unknown_overrides(given) == ["111111111111: Nope"]


def test_accounts_sharing_regions_and_values_are_one_call() -> None:
    given = inputs(
        stack_set_regions=["eu-west-1"],
        stack_set_accounts=[
            {"accountId": "111111111111"},
            {"accountId": "222222222222"},
            {"accountId": "333333333333", "parameters": {"Host": "c"}},
            {"accountId": "444444444444", "regions": ["us-east-1", "eu-west-1"]},
        ],
    )
    wanted = sets.wanted_instances(given)
    assert wanted["444444444444"] == ["eu-west-1", "us-east-1"]
    assert sets.groups(given, list(wanted), wanted) == [
        sets.Group(("111111111111", "222222222222"), ("eu-west-1",), ()),
        sets.Group(("333333333333",), ("eu-west-1",), (("Host", "c"),)),
        sets.Group(("444444444444",), ("eu-west-1", "us-east-1"), ()),
    ]


def test_the_plan_creates_the_missing_deletes_the_unwanted_and_updates_changed_values() -> None:
    wanted = {"111111111111": ["eu-west-1", "us-east-1"], "222222222222": ["eu-west-1"]}
    existing = [("111111111111", "eu-west-1"), ("333333333333", "eu-west-1"), ("222222222222", "eu-west-1")]
    found = sets.plan(wanted, existing, ["222222222222", "222222222222", "333333333333", "111111111111"])
    assert found == sets.Plan(
        create={"111111111111": ["us-east-1"]}, delete={"333333333333": ["eu-west-1"]}, override=["222222222222"]
    )


def test_an_operation_failure_names_each_account_region_and_root_cause() -> None:
    results = [
        {"Account": "111111111111", "Region": "eu-west-1", "Status": "SUCCEEDED"},
        {"Account": "222222222222", "Region": "eu-west-1", "Status": "FAILED", "StatusReason": "No role\x1b[31m"},
        {"Account": "333333333333", "Region": "eu-west-1", "Status": "CANCELLED"},
    ]
    failures = sets.failed_results(results)
    assert failures == ["222222222222/eu-west-1: No role\\x1b[31m", "333333333333/eu-west-1: no reason given"]
    error = sets.operation_failed("s", {"OperationId": "op-1", "Action": "CREATE", "Status": "STOPPED"}, failures, "222222222222")
    assert str(error) == (
        "CloudFormation StackSet 's': its CREATE operation op-1 ended STOPPED: 222222222222/eu-west-1: No role\\x1b[31m; "
        "333333333333/eu-west-1: no reason given. Mend the cause in the accounts named (their stack's events tell more), "
        "then run pulumi up again: it carries on from the stack instances' state"
    )
    assert error.evidence == {"stack": "s", "account": "222222222222", "operation": "cloudformation:DescribeStackSetOperation"}


def test_an_instance_summary_is_plain_and_clean() -> None:
    entry = {"Account": "1", "Region": "r", "Status": "OUTDATED", "StatusReason": "x\ny", "StackInstanceStatus": {"DetailedStatus": "FAILED"}}
    assert sets.instance_summary(entry) == {
        "account_id": "1",
        "region": "r",
        "organizational_unit_id": None,
        "status": "OUTDATED",
        "detailed_status": "FAILED",
        "status_reason": "x\\x0ay",
        "stack_id": None,
    }


def test_instances_are_deleted_in_calls_that_name_no_instance_that_is_not_there() -> None:
    regions_of = {"2": ["us-east-1", "eu-west-1"], "1": ["eu-west-1"], "3": ["eu-west-1"], "4": []}
    assert sets.region_groups(regions_of) == [(("1", "3"), ("eu-west-1",)), (("2",), ("eu-west-1", "us-east-1"))]
