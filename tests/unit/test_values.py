"""Values that still point at the source (core.values): the rules one by one."""

from __future__ import annotations

from typing import Any

import pytest

from components.core.values import Context, regions_in, sightings, source_accounts_in, stage_words_in

DEV = "111122223333"
PROD = "777788889999"


def seen(prop: Any, value: str, **kwargs: Any) -> list[tuple[str, bool]]:
    facts = {"source_account_id": DEV, "source_region": "us-east-1", "target_region": "eu-west-1"}
    facts.update({k: kwargs.pop(k) for k in list(kwargs) if k in ("source_account_id", "source_region", "target_region", "target_account_id", "stage_words")})
    found = sightings(prop, value, Context(**facts), shown=repr(value), **kwargs)
    return [(s.rule, s.error) for s in found]


def test_a_host_equal_to_the_sources_is_an_error() -> None:
    host = "orders-dev.cluster-a1b2c3.us-east-1.rds.amazonaws.com"
    assert seen("Host", host, source_default=host) == [("source-value", True)]
    found = sightings("Host", host, Context(DEV, "us-east-1", "eu-west-1"), source_default=host, shown=repr(host))
    assert found[0].message == f"is {host!r}, the source's own Host (the export's value): this stage would use the source's resource"
    assert found[0].advice == "set this stage's own Host"


@pytest.mark.parametrize("prop", ["ManifestFileLocation.Bucket", "SubnetId0", "SecurityGroupId3"])
def test_buckets_manifests_subnets_and_security_groups_of_the_source_are_errors(prop: str) -> None:
    assert seen(prop, "dev-thing", source_default="dev-thing") == [("source-value", True)]


@pytest.mark.parametrize("prop", ["ClusterId", "InstanceId", "Database", "WorkGroup", "Catalog"])
def test_names_per_account_equal_to_the_sources_are_warnings(prop: str) -> None:
    assert seen(prop, "finance-dev", source_default="finance-dev") == [("source-name", False)]


def test_the_same_manifest_key_in_another_bucket_is_another_object() -> None:
    assert seen("ManifestFileLocation.Key", "manifests/a.json", source_default="manifests/a.json") == []


def test_a_name_per_account_in_the_source_account_itself_is_no_warning() -> None:
    assert seen("Database", "orders", source_default="orders", target_account_id=DEV) == []


def test_a_value_other_than_the_sources_is_fine() -> None:
    assert seen("Host", "orders-prod.eu-west-1.rds.amazonaws.com", source_default="orders-dev.us-east-1.rds.amazonaws.com") == []
    assert seen("Port", "5432", source_default="5432") == []


def test_an_arn_of_the_source_account_is_an_error_anywhere() -> None:
    secret = f"arn:aws:secretsmanager:eu-west-1:{DEV}:secret:orders-AbCdEf"
    assert seen("SecretArn", secret) == [("source-account", True)]
    assert seen(None, f"arn:aws:quicksight:us-east-1:{DEV}:group/default/admins", source_region=None) == [("source-account", True)]
    assert seen("RoleArn", f"arn:aws:iam::{DEV}:role/qs") == [("source-account", True)]
    assert seen("RoleArn", f"arn:aws:iam::{PROD}:role/qs") == []
    assert seen("RoleArn", f"arn:aws:iam::{DEV}:role/qs", target_account_id=DEV) == []


def test_the_source_region_in_a_stage_of_another_region_is_an_error() -> None:
    assert seen("Host", "db.abc.us-east-1.rds.amazonaws.com") == [("source-region", True)]
    assert seen("Host", "db.abc.us-east-1.rds.amazonaws.com", target_region="us-east-1") == []
    assert seen("Host", "db.abc.us-east-1.rds.amazonaws.com", target_region=None) == []
    # us-east-10 is not us-east-1.
    assert regions_in("x.us-east-10.example") == {"us-east-10"}


def test_a_value_another_stage_uses_is_a_warning_for_names_only() -> None:
    assert seen("Database", "orders", other_stages={"test": "orders"}) == [("shared-value", False)]
    assert seen("Port", "5432", other_stages={"test": "5432"}) == []


def test_a_host_carrying_another_stages_word_is_a_warning() -> None:
    assert seen("Host", "orders-dev.example.com", stage_words=("dev", "test")) == [("stage-word", False)]
    assert seen("Host", "orders-devices.example.com", stage_words=("dev",)) == []
    assert stage_words_in("ORDERS_TEST.db", ["test"]) == ["test"]


def test_source_accounts_in_reads_arn_account_fields_only() -> None:
    assert source_accounts_in(DEV, DEV)
    assert not source_accounts_in(f"db-{DEV}.example.com", DEV)
    assert source_accounts_in(f"x arn:aws-us-gov:s3:::{DEV}:y arn:aws:sts::{DEV}:assumed-role/r", DEV)


def said(prop: Any, value: str, context: Context, **kwargs: Any) -> list[str]:
    return [f"{s.message}: {s.advice}" for s in sightings(prop, value, context, shown=repr(value), **kwargs)]


def test_every_sighting_says_what_was_seen_and_what_to_do() -> None:
    prod = Context(DEV, "us-east-1", "eu-west-1", PROD, ("dev", "test"))
    assert said("ClusterId", "finance-dev", prod, source_default="finance-dev") == [
        "is 'finance-dev', the same ClusterId as the source's: right only if this account has its own by that name: "
        "check that this account's ClusterId is meant, or set this stage's own"
    ]
    role = f"arn:aws:iam::{DEV}:role/qs"
    assert said("RoleArn", role, prod) == [
        f"is {role!r}, which names the source account {DEV}: this stage would act in or read from it: name a "
        "resource of the target account"
    ]
    assert said("Host", "db.us-east-1.rds.amazonaws.com", prod) == [
        "is 'db.us-east-1.rds.amazonaws.com', which names the source region us-east-1 while this stage deploys to "
        "eu-west-1: name the eu-west-1 resource this stage should use"
    ]
    assert said("Database", "orders", prod, other_stages={"test": "orders"}) == [
        "is 'orders', the value stage 'test' uses too: two stages would share it: give each stage its own Database"
    ]
    assert said("Host", "orders-test.eu-west-1.example.com", prod) == [
        "is 'orders-test.eu-west-1.example.com', which carries the word 'test' of another stage: check that this "
        "host belongs to this stage"
    ]
