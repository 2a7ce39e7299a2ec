"""Opt-in checks of the deploy review against real CloudFormation and QuickSight: skipped unless QSP_LIVE_AWS=1.

What the loopback CloudFormation (tests/harness/cfn_emulator.py) only imitates, and only AWS can settle:

- early validation of a QuickSight resource: its ``DescribeEvents`` details (``VALIDATION_ERROR`` events
  with a ``ValidationPath``) reach the error as the failed property;
- ``DescribeChangeSet`` with ``IncludePropertyValues`` on a QuickSight resource: before and after values
  per property;
- drift detection of a QuickSight type: whether CloudFormation checks it (``IN_SYNC``) or reports it
  ``NOT_CHECKED`` (listed as not checked, never as clean).

The stack holds one QuickSight theme (no charge; the account must have QuickSight) and is deleted
at the end. Print what AWS answered with ``-s``.

    QSP_LIVE_AWS=1 QSP_TARGET_ACCOUNT_ID=999999999999 QSP_REGION=eu-west-1 \\
        .venv/bin/python -m pytest -s tests/live/test_live_deploy_review.py
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any, Iterator

import pytest

from components.aws.cloudformation import Deployer, DeployRequest, connect
from components.errors import ChangeSetFailedError

pytestmark = [
    pytest.mark.live_aws,
    pytest.mark.skipif(os.environ.get("QSP_LIVE_AWS") != "1", reason="live AWS tests run only with QSP_LIVE_AWS=1"),
]


def theme_template(theme_id: str, name: str, **extra: Any) -> str:
    properties = {
        "AwsAccountId": {"Ref": "AWS::AccountId"},
        "ThemeId": theme_id,
        "Name": name,
        "BaseThemeId": "CLASSIC",
        "Configuration": {"UIColorPalette": {"PrimaryForeground": "#111111"}},
        **extra,
    }
    return json.dumps({"Resources": {"livetheme": {"Type": "AWS::QuickSight::Theme", "Properties": properties}}})


@pytest.fixture
def deployer() -> Iterator[tuple[Deployer, str]]:
    target = connect(os.environ.get("QSP_REGION"), os.environ.get("QSP_ROLE_ARN"), os.environ["QSP_TARGET_ACCOUNT_ID"], "live")
    name = f"qsp-live-review-{secrets.token_hex(4)}"
    deployer = Deployer(target, progress=print)
    try:
        yield deployer, name
    finally:
        deployer.delete(name, name, 900)


def test_early_validation_of_a_quicksight_property_names_it_from_describe_events(deployer: tuple[Deployer, str]) -> None:
    deploy, name = deployer
    # An extraneous key inside the theme's Configuration: the type's schema refuses it.
    body = theme_template(name, "qsp live", Configuration={"UIColorPalette": {"PrimaryForeground": "#111111"}, "Foo": 1})
    request = DeployRequest(stack_name=name, template_body=body, parameters={}, timeout_seconds=900,
                            assets={"livetheme": {"kind": "theme", "id": name}})  # fmt: skip

    with pytest.raises(ChangeSetFailedError) as info:
        deploy.deploy(request)

    print(info.value)
    assert "failed properties: livetheme (AWS::QuickSight::Theme, theme/" in str(info.value), "DescribeEvents gave no ValidationPath"
    assert "Configuration" in str(info.value)


def test_a_quicksight_change_is_reviewed_per_property_and_its_drift_checked(deployer: tuple[Deployer, str]) -> None:
    deploy, name = deployer
    assets = {"livetheme": {"kind": "theme", "id": name}}
    first = DeployRequest(stack_name=name, template_body=theme_template(name, "qsp live A"), parameters={}, timeout_seconds=900, assets=assets)
    assert deploy.deploy(first).stack_status == "CREATE_COMPLETE"

    review = deploy.deploy(
        DeployRequest(**{**first.__dict__, "template_body": theme_template(name, "qsp live B"), "execute_change_set": False, "on_drift": "warn"})
    )

    print(json.dumps(review.change_summary, indent=1, default=str), json.dumps(review.drift, indent=1, default=str))
    (change,) = review.change_summary
    names = [p for p in change.get("properties", []) if p["path"] == "Properties/Name"]
    assert names and names[0]["before"] == "qsp live A" and names[0]["after"] == "qsp live B", "no IncludePropertyValues values"
    assert review.drift is not None and review.drift["detection"]["status"] == "DETECTION_COMPLETE"
    assert review.drift["drifted"] == [], "nothing was edited, yet CloudFormation reports drift"
    # Settled here: whether CloudFormation checks a QuickSight theme (absent) or cannot (listed, NOT_CHECKED).
    assert [e["status"] for e in review.drift["not_checked"]] in ([], ["NOT_CHECKED"])
