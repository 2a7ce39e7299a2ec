"""QuickSightBundleStackSet under Pulumi mocks: each account judged as a stage, one StackSet deployed."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.errors import InputError, PromotionCheckError
from components.core.fanout import merged
from components.fanout import QuickSightBundleStackSet, QuickSightBundleStackSetArgs, StackSetAccountArgs, split_values
from components.program import parse_config
from mocks import TARGET_ACCOUNT, RecordingMocks, install, run_failing_program
from test_stack_mocks import BIG, PRINCIPALS, REDSHIFT, SECRET_SIG, stage_values

STACK_SET = "quicksight:CloudFormationStackSetDeployment"
UNIT_A, UNIT_B = "222222222222", "333333333333"


def args(accounts: list[StackSetAccountArgs], **overrides: Any) -> QuickSightBundleStackSetArgs:
    base: dict[str, Any] = {
        "source_account_id": "111122223333",
        "export_job_id": "sales-release-42",
        "parameters": stage_values(),
        "principals": PRINCIPALS,
        "stack_set_name": "sales-fanout",
        "stack_set_accounts": accounts,
        "stack_set_regions": ["eu-west-1"],
        "max_concurrent": "25%",
    }
    return QuickSightBundleStackSetArgs(**(base | overrides))


def test_values_shared_by_every_account_are_parameters_and_the_rest_each_accounts_own() -> None:
    assert merged({"a": {"Host": "h", "Port": 1}, "b": 2}, {"a": {"Host": "x"}}) == {"a": {"Host": "x", "Port": 1}, "b": 2}
    shared, own = split_values({"1": {"P": "p", "H": "a"}, "2": {"P": "p", "H": "b"}, "3": {"P": "p", "H": "b"}})
    assert (shared, own) == ({"P": "p", "H": "b"}, {"1": {"H": "a"}, "2": {}, "3": {}})
    # A tie: the first account's value.
    assert split_values({"1": {"H": "a"}, "2": {"H": "b"}}) == ({"H": "a"}, {"1": {}, "2": {"H": "b"}})


@pulumi.runtime.test
def test_each_account_is_judged_and_its_own_values_are_its_overrides() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    accounts = [
        StackSetAccountArgs(UNIT_A),
        StackSetAccountArgs(UNIT_B, ("eu-west-1", "us-east-1"), {REDSHIFT: {"Host": "redshift.unit-b.example.com"}}),
    ]
    component = QuickSightBundleStackSet("sales", args(accounts))

    def check(_: Any) -> None:
        (stack_set,) = mocks.by_type(STACK_SET)
        assert mocks.by_type("quicksight:CloudFormationDeployment") == []
        inputs = stack_set.inputs
        assert (inputs["stack_set_name"], inputs["target_account_id"], inputs["max_concurrent"]) == ("sales-fanout", TARGET_ACCOUNT, "25%")
        # Both are secrets (the mocks see the engine's wrapper): every value, shared or an account's own.
        assert inputs["parameters"][SECRET_SIG] == inputs["stack_set_accounts"][SECRET_SIG]
        shared = inputs["parameters"]["value"]
        (a, b) = inputs["stack_set_accounts"]["value"]
        assert (a["accountId"], b["accountId"], b["regions"]) == (UNIT_A, UNIT_B, ["eu-west-1", "us-east-1"])
        # Principals resolve to each account's own ARNs: B's overrides; the host only B changes: B's override.
        assert any(f":{UNIT_A}:group/default/bi-admins" in value for value in shared.values())
        assert any(f":{UNIT_B}:group/default/bi-admins" in value for value in b["parameters"].values())
        assert "redshift.unit-b.example.com" in b["parameters"].values()
        assert "redshift.unit-b.example.com" not in a["parameters"].values() and "redshift.unit-b.example.com" not in shared.values()
        # Every parameter has a stack-set value (the first account's on a tie): A's own are none.
        assert a["parameters"] == {} and set(b["parameters"]) <= set(shared)
        assert "hunter2-prod" in shared.values(), "a credential every account shares is a (secret) shared parameter"

    return component.stack_set_id.apply(check)


def test_one_failing_account_fails_the_preview_naming_it_and_nothing_is_deployed() -> None:
    mocks = install(RecordingMocks(template=BIG))
    bad = StackSetAccountArgs(UNIT_B, (), {REDSHIFT: {"Hots": "redshift.unit-b.example.com"}})

    def program() -> pulumi.Output:
        return QuickSightBundleStackSet("sales", args([StackSetAccountArgs(UNIT_A), bad])).stack_set_id

    error = run_failing_program(program)
    assert PromotionCheckError in error.types
    assert error.message.count("account ") >= 1 and f"account {UNIT_B} in eu-west-1: " in error.message, error.message
    assert f"account {UNIT_A}:" not in error.message
    assert "cannot be deployed to every account of the StackSet" in error.message
    assert "unknown property 'Hots'" in error.message and "hunter2-prod" not in error.message
    assert mocks.by_type(STACK_SET) == []
    assert json.dumps([r.inputs for r in mocks.resources]).count("redshift.unit-b") == 0


@pulumi.runtime.test
def test_the_program_deploys_a_stack_set_when_the_stage_names_one() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    pulumi.runtime.set_all_config(
        {
            "quicksight-promotion:sourceAccountId": "111122223333",
            "quicksight-promotion:exportJobId": "sales-release-42",
            "quicksight-promotion:parameters": json.dumps(stage_values()),
            "quicksight-promotion:principals": json.dumps(PRINCIPALS),
            "quicksight-promotion:stackSetName": "sales-fanout",
            "quicksight-promotion:stackSetRegions": json.dumps(["eu-west-1"]),
            "quicksight-promotion:stackSetAccounts": json.dumps(
                [{"accountId": UNIT_A}, {"accountId": UNIT_B, "parameters": {REDSHIFT: {"Host": "db.b.example.com"}}}]
            ),
            "quicksight-promotion:maxConcurrent": "10",
            "quicksight-promotion:failureTolerance": "20%",
            "quicksight-promotion:stackTimeoutSeconds": "900",
        },
        [],
    )
    from components.program import run

    bundle = run()

    def check(_: Any) -> None:
        (stack_set,) = mocks.by_type(STACK_SET)
        assert mocks.by_type("quicksight:CloudFormationDeployment") == []
        inputs = stack_set.inputs
        assert (inputs["stack_set_name"], inputs["max_concurrent"], inputs["failure_tolerance"]) == ("sales-fanout", "10", "20%")
        assert inputs["stack_timeout_seconds"] == 900 and inputs["permission_model"] == "SELF_MANAGED"
        assert [a["accountId"] for a in inputs["stack_set_accounts"]["value"]] == [UNIT_A, UNIT_B]

    return bundle.stack_set_id.apply(check)


def test_stack_set_settings_without_a_stack_set_name_are_refused() -> None:
    with pytest.raises(InputError) as info:
        parse_config({"sourceAccountId": "111122223333", "exportJobId": "j", "stackSetAccounts": [{"accountId": UNIT_A}]})
    assert str(info.value) == (
        "invalid stack configuration: quicksight-promotion:stackSetAccounts set without quicksight-promotion:stackSetName: "
        "name the StackSet to deploy the release as (docs/stacksets.md), or remove them"
    )


def test_an_account_is_judged_in_every_region_it_deploys_to_and_the_failing_one_named() -> None:
    install(RecordingMocks(template=BIG))
    # A host in the source region is fine in us-east-1 and an error in eu-west-1, B's second region.
    own = {REDSHIFT: {"Host": "finance-b.abc.us-east-1.redshift.amazonaws.com"}}
    accounts = [StackSetAccountArgs(UNIT_A), StackSetAccountArgs(UNIT_B, ("us-east-1", "eu-west-1"), own)]

    def program() -> pulumi.Output:
        return QuickSightBundleStackSet("sales", args(accounts, source_region="us-east-1")).stack_set_id

    error = run_failing_program(program)
    assert PromotionCheckError in error.types
    # The stage's values hold a credential: they are a secret, and no value is quoted.
    assert (
        f"1 error(s): account {UNIT_B} in eu-west-1: {REDSHIFT}.Host is <hidden>, which names the source region "
        "us-east-1 while this stage deploys to eu-west-1: name the eu-west-1 resource this stage should use; "
    ) in error.message
    assert f"account {UNIT_B} in us-east-1:" not in error.message and f"account {UNIT_A}" not in error.message
    assert "finance-b.abc" not in error.message
