"""Pure tests of the deployed template: NoEcho on credentials, and its size as pulumi-aws sends it."""

from __future__ import annotations

import hashlib
import json

from components.core.bundle import compact_json
from components.core.catalog import build_catalog
from tools.generator import generate_bundle
from components.core.principals import principalize
from components.core.transform import URL_TEMPLATE_LIMIT, deployable, inline_size
from conftest import CALC_EXPRESSION, oversized_template, sample_template


def catalog_of(template: dict) -> list[dict]:
    return [entry.model_dump() for entry in build_catalog(template)]


def test_inline_size_is_the_utf8_bytes_boto3_sends() -> None:
    assert inline_size('{"a":"x"}') == 9
    # No Go escapes any more: the deployment sends the body through boto3 unchanged.
    assert inline_size('{"a":"x < y && z > 1"}') == len('{"a":"x < y && z > 1"}')
    assert inline_size('{"a":"売"}') == len('{"a":"売"}'.encode("utf-8")) == 11


def test_password_and_username_become_no_echo_and_nothing_else_changes() -> None:
    template = generate_bundle()
    body = compact_json(template)
    catalog = catalog_of(template)
    result = deployable(body, catalog)
    deployed = json.loads(result.body)
    # Besides NoEcho, the deployed template is the export with its principals made parameters.
    expected = principalize(template).document
    credentials = sorted(e["name"] for e in catalog if e["credential"] and e["property"] in ("Password", "Username"))
    assert credentials and list(result.hidden) == credentials
    assert list(deployed["Parameters"]) == list(expected["Parameters"])
    # A SecretArn is an ARN, no secret: it stays visible.
    secret_arns = [e["name"] for e in catalog if e.get("property") == "SecretArn"]
    assert secret_arns and all("NoEcho" not in deployed["Parameters"][name] for name in secret_arns)
    for name, spec in deployed["Parameters"].items():
        assert spec.get("NoEcho") is (True if name in credentials else None)
        assert {k: v for k, v in spec.items() if k != "NoEcho"} == expected["Parameters"][name]
    assert deployed["Resources"] == expected["Resources"]
    assert result.sha256 == hashlib.sha256(result.body.encode("utf-8")).hexdigest()
    assert result.size == len(result.body.encode("utf-8"))


def test_a_template_without_credentials_or_source_principals_is_deployed_byte_for_byte() -> None:
    template = sample_template()
    # A principal that already is a template parameter is kept as exported.
    template["Parameters"]["OwnerArn"] = {"Type": "String"}
    dashboard = template["Resources"]["salesdashboardAB12CD"]["Properties"]
    dashboard["Permissions"] = [{"Principal": {"Ref": "OwnerArn"}, "Actions": ["quicksight:DescribeDashboard"]}]
    body = compact_json(template)
    result = deployable(body, catalog_of(template))
    assert result.body is body and result.hidden == ()
    assert CALC_EXPRESSION in result.body


def test_no_echo_already_set_is_left_alone() -> None:
    template = generate_bundle()
    catalog = catalog_of(template)
    once = deployable(compact_json(template), catalog)
    again = deployable(once.body, catalog)
    assert again.body == once.body and again.hidden == ()


def test_placement_follows_cloudformations_limits() -> None:
    small = deployable(compact_json(sample_template()), catalog_of(sample_template()))
    assert small.inline and small.deployable
    big = generate_bundle(scale=14)
    huge = deployable(compact_json(big), catalog_of(big))
    # Over one stack's bytes: deployed as nested stacks (core.nesting), so nothing is exceeded.
    assert not huge.inline and huge.size > URL_TEMPLATE_LIMIT == 1_000_000
    assert huge.nested and huge.deployable and huge.exceeded() == []
    assert huge.nesting[0] is not None and len(huge.nesting[0].nested) == 6


def test_a_template_that_cannot_be_split_exceeds_the_limit_naming_why() -> None:
    big = oversized_template()
    huge = deployable(compact_json(big), catalog_of(big))
    (exceeded,) = huge.exceeded()
    resources = len(big["Resources"])
    assert exceeded.startswith(
        f"{huge.size:,} bytes compact with {resources} resources, over one stack's limits (1,000,000 bytes, 500 resources)"
    )
    assert "and it cannot be split into nested stacks: resource 'salesdashboardAB12CD' (AWS::QuickSight::Dashboard) is " in exceeded
