"""core.fanout: each (account, region) of a stack set judged as a stage, on the example bundle and prod stage."""

from __future__ import annotations

from typing import Any

from components.core.fanout import Account, instance_regions, judge_accounts, merged
from components.core.judge import Target
from test_judge import BUNDLE, CATALOG, DEV_ACCOUNT, REDSHIFT, prod_stage

UNIT_A, UNIT_B = "222222222222", "333333333333"
ADMIN = Target(account_id="777788889999", region="eu-west-1", partition="aws")


def fanout(accounts: list[Account], regions: tuple[str, ...] = ("eu-west-1",), **stage: Any) -> Any:
    return judge_accounts(BUNDLE, CATALOG, prod_stage(**stage), ADMIN, accounts, regions)


def test_an_accounts_values_are_its_own_laid_over_the_shared_ones() -> None:
    assert merged({"a": {"Host": "h", "Port": 1}, "b": 2}, {"a": {"Host": "x"}}) == {"a": {"Host": "x", "Port": 1}, "b": 2}
    assert merged({"a": 1}, None) == {"a": 1}
    # Its own regions, else the stack set's, else the administrator's; each once.
    assert instance_regions(Account(UNIT_A, ("us-east-1", "eu-west-1", "us-east-1")), ("ap-south-1",), "x") == ["us-east-1", "eu-west-1"]
    assert instance_regions(Account(UNIT_A), ("ap-south-1",), "x") == ["ap-south-1"]
    assert instance_regions(Account(UNIT_A), (), "eu-central-1") == ["eu-central-1"]


def test_one_accounts_bad_override_is_named_with_its_region_and_the_other_passes() -> None:
    dev_host = "finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com"
    verdict = fanout([Account(UNIT_A), Account(UNIT_B, (), {REDSHIFT: {"Host": dev_host}})])
    assert {(f.account, f.region) for f in verdict.errors} == {(UNIT_B, "eu-west-1")}
    host = next(f for f in verdict.errors if f.property == "Host")
    assert host.describe().startswith(f"account {UNIT_B} in eu-west-1: {REDSHIFT}.Host is '{dev_host}', the source's own Host")
    assert host.as_dict()["account"] == UNIT_B and host.as_dict()["region"] == "eu-west-1"
    # Only the account without an error has values; each value resolved for its own account.
    assert list(verdict.values) == [UNIT_A]
    assert any(f":{UNIT_A}:group/default/" in value for value in verdict.values[UNIT_A].values())


def test_every_region_of_an_account_is_judged_once() -> None:
    # A host in the source region (us-east-1) is fine there and an error in eu-west-1 only.
    host = "finance-b.abc.us-east-1.redshift.amazonaws.com"
    twice = Account(UNIT_B, ("us-east-1", "eu-west-1", "us-east-1"), {REDSHIFT: {"Host": host}})
    verdict = fanout([Account(UNIT_A), twice, Account(UNIT_A)])
    assert [(f.account, f.region, f.rule, f.property) for f in verdict.errors] == [(UNIT_B, "eu-west-1", "source-region", "Host")]
    assert "names the source region us-east-1 while this stage deploys to eu-west-1" in verdict.errors[0].describe()
    # A warning every (account, region) has is said once, without a prefix.
    literal = [(f.account, f.region) for f in verdict.warnings if f.rule == "literal" and f.property == "SecurityGroupIds"]
    assert literal == [(None, None)]


def test_a_finding_some_instances_have_keeps_their_prefix_and_one_all_have_is_said_once() -> None:
    from components.core.fanout import _shared_once
    from components.core.judge import Finding

    instances = {(UNIT_A, "eu-west-1"), (UNIT_B, "eu-west-1")}
    everywhere = [Finding("warning", "literal", "vpc", "shared", property="SubnetIds", account=a, region=r) for a, r in sorted(instances)]
    only_b = Finding("error", "source-region", "ds", "dev's host", property="Host", account=UNIT_B, region="eu-west-1")
    kept = _shared_once([*everywhere, only_b], instances)
    assert [(f.account, f.region, f.rule) for f in kept] == [(None, None, "literal"), (UNIT_B, "eu-west-1", "source-region")]
    assert kept[0].describe() == "vpc.SubnetIds shared"
    # One instance: nothing to fold.
    assert _shared_once(everywhere[:1], {(UNIT_A, "eu-west-1")}) == everywhere[:1]


def test_values_that_resolve_otherwise_in_another_region_are_an_error_naming_them() -> None:
    # Without IdentityRegion, principal names resolve in the region deployed to: one account, two values.
    stage = prod_stage()
    values = {key: value for key, value in stage.values.items() if key != "IdentityRegion"}
    verdict = fanout([Account(UNIT_A, ("eu-west-1", "eu-central-1"))], values=values)
    (error,) = verdict.errors
    assert (error.rule, error.account, error.region) == ("stack-set-region", UNIT_A, "eu-central-1")
    assert error.describe().startswith(f"account {UNIT_A} in eu-central-1: parameters Principal")
    assert "resolve otherwise than in eu-west-1, and a stack set gives an account one value per parameter" in error.message
    assert "set IdentityRegion" in error.advice and DEV_ACCOUNT not in error.describe()
    assert verdict.values == {}


def test_the_targets_account_is_judged_in_each_region_and_stage_values_that_are_no_mapping_named() -> None:
    # A service-managed stack set (no accounts listed), or preflight of one: the target's account per region.
    values = prod_stage().values
    host = "finance-b.abc.us-east-1.redshift.amazonaws.com"
    offline = judge_accounts(
        BUNDLE, CATALOG, prod_stage(values={**values, REDSHIFT: {**values[REDSHIFT], "Host": host}}), Target(region="eu-west-1"),
        [Account("")], ("us-east-1", "eu-central-1"),
    )  # fmt: skip
    (error,) = offline.errors
    assert error.describe().startswith(f"region eu-central-1: {REDSHIFT}.Host is '{host}', which names the source region us-east-1")
    assert error.as_dict()["account"] is None and error.as_dict()["region"] == "eu-central-1"
    broken = fanout([Account(UNIT_A, (), {REDSHIFT: {"Port": "5439"}})], values=["not", "a", "mapping"])
    assert [f.describe() for f in broken.errors] == [
        "account 222222222222 in eu-west-1: setting parameters is not a mapping: write asset -> property -> value"
    ]
