"""Verification after a deploy: each dashboard and analysis described through the call layer (Stubber)."""

from __future__ import annotations

import boto3
from botocore.stub import Stubber

from components.aws.cloudformation import Target
import datetime as dt

from components.aws.verify import verify_assets, wait_for_ingestions
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


def ingestion(status: str, minutes: int, **extra: object) -> dict[str, object]:
    created = dt.datetime(2026, 12, 6, 12, minutes, tzinfo=dt.timezone.utc)
    return {"Arn": f"arn:aws:quicksight:eu-west-1:{ACCOUNT}:dataset/x/ingestion/{minutes}", "IngestionId": str(minutes),
            "IngestionStatus": status, "CreatedTime": created, **extra}  # fmt: skip


def test_the_first_ingestion_is_waited_for_and_a_failed_one_reported_with_its_error() -> None:
    client = boto3.session.Session().client("quicksight", region_name="eu-west-1", aws_access_key_id="A", aws_secret_access_key="s")
    time = FakeTime()
    listing = {"AwsAccountId": ACCOUNT, "DataSetId": "prod-sales-ds", "MaxResults": 100}
    with Stubber(client) as stub:
        # Newest first, the way QuickSight lists them: a later refresh never hides the first.
        stub.add_response("list_ingestions", {"Ingestions": [ingestion("RUNNING", 9), ingestion("QUEUED", 5)]}, listing)
        stub.add_response("list_ingestions", {"Ingestions": [ingestion("RUNNING", 9), ingestion("RUNNING", 5)]}, listing)
        failed = ingestion("FAILED", 5, ErrorInfo={"Type": "SPICE_TABLE_NOT_FOUND", "Message": "table\x1b[2J sales is gone"})
        stub.add_response("list_ingestions", {"Ingestions": [ingestion("COMPLETED", 9), failed]}, listing)
        stub.add_client_error("list_ingestions", "ResourceNotFoundException", "not found", 404, expected_params={**listing, "DataSetId": "prod-gone"})
        stub.add_response("list_ingestions", {"Ingestions": []}, {**listing, "DataSetId": "prod-empty"})
        target = Target(None, lambda: None, ACCOUNT, "eu-west-1", quicksight=lambda: client)
        targets = [{"logical_id": n, "kind": "dataset", "id": f"prod-{n}"} for n in ("sales-ds", "gone", "empty")]

        statuses = wait_for_ingestions(target, "qsp", targets, Deadline.after(600, time.clock), sleep=time.sleep, clock=time.clock)

    assert [(s["id"], s["status"], s["errors"]) for s in statuses] == [
        ("prod-sales-ds", "INGESTION_FAILED", ["SPICE_TABLE_NOT_FOUND: table\\x1b[2J sales is gone"]),
        ("prod-gone", "NOT_FOUND", ["QuickSight does not know it in the target account"]),
        ("prod-empty", NOT_VERIFIED, []),
    ]
    assert statuses[2]["reason"] == "QuickSight lists no ingestion of it"
    assert len(time.sleeps) == 2 and time.sleeps[0] <= 2.0


def test_an_ingestion_still_running_at_the_deadline_is_not_verified_and_the_wait_ends_on_it() -> None:
    client = boto3.session.Session().client("quicksight", region_name="eu-west-1", aws_access_key_id="A", aws_secret_access_key="s")
    time = FakeTime()
    with Stubber(client) as stub:
        for _ in range(40):
            stub.add_response("list_ingestions", {"Ingestions": [ingestion("RUNNING", 5)]}, None)
        target = Target(None, lambda: None, ACCOUNT, "eu-west-1", quicksight=lambda: client)

        statuses = wait_for_ingestions(
            target, "qsp", [{"logical_id": "s", "kind": "dataset", "id": "prod-s"}], Deadline.after(120, time.clock),
            sleep=time.sleep, clock=time.clock,
        )  # fmt: skip

    assert statuses == [{"logical_id": "s", "kind": "dataset", "id": "prod-s", "status": NOT_VERIFIED, "errors": [],
                         "ingestion_id": "5", "reason": "the first ingestion is still INGESTION_RUNNING at the deadline"}]  # fmt: skip
    assert time.now <= 120.0
