"""Verification after a deploy: each dashboard and analysis described through the call layer (Stubber)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from components.aws.cloudformation import Target
from components.aws.verify import verify_assets
from components.core.polling import Deadline
from components.core.review import NOT_VERIFIED
from conftest import FakeTime

ACCOUNT = "123456789012"


def test_each_asset_is_described_a_missing_one_fails_and_a_refused_one_is_not_verified() -> None:
    client = boto3.session.Session().client("quicksight", region_name="eu-west-1", aws_access_key_id="A", aws_secret_access_key="s")
    time = FakeTime()
    with Stubber(client) as stub:
        stub.add_response(
            "describe_dashboard",
            {"Dashboard": {"DashboardId": "prod-sales", "Version": {"Status": "CREATION_SUCCESSFUL"}}, "Status": 200},
            {"AwsAccountId": ACCOUNT, "DashboardId": "prod-sales"},
        )
        stub.add_client_error("describe_analysis", "ResourceNotFoundException", "not found", 404, expected_params={"AwsAccountId": ACCOUNT, "AnalysisId": "prod-gone"})
        stub.add_client_error("describe_analysis", "AccessDeniedException", "not authorized", 403, expected_params={"AwsAccountId": ACCOUNT, "AnalysisId": "prod-secret"})
        targets = [
            {"logical_id": "d", "kind": "dashboard", "id": "prod-sales"},
            {"logical_id": "a", "kind": "analysis", "id": "prod-gone"},
            {"logical_id": "b", "kind": "analysis", "id": "prod-secret"},
        ]
        target = Target(None, lambda: None, ACCOUNT, "eu-west-1", quicksight=lambda: client)

        statuses = verify_assets(target, "qsp", targets, Deadline.after(60, time.clock), sleep=time.sleep)

    assert [(s["id"], s["status"], s["errors"]) for s in statuses] == [
        ("prod-sales", "CREATION_SUCCESSFUL", []),
        ("prod-gone", "NOT_FOUND", ["QuickSight does not know it in the target account"]),
        ("prod-secret", NOT_VERIFIED, []),
    ]
    assert statuses[2]["reason"].startswith("quicksight:DescribeAnalysis on analysis 'prod-secret' for CloudFormation stack 'qsp'")
