"""The release's AWS boundary (aws.release_cut) against the loopback emulator with real boto3.

Pre-flight (each problem's message), the request sent to StartAssetBundleExportJob, the job id
and its conflicts, and the waits for ConflictException / LimitExceededException on a fake clock.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from conftest import FakeTime
from emulator import ACCOUNT, QuickSightEmulator, arn_of
from components.aws.release_cut import ReleaseRequest, cut_release, prepare_release, start_release
from components.core.catalog import build_catalog
from components.errors import (
    AwsAccessError,
    ExportTimeoutError,
    InputError,
    ReleaseConflictError,
    ReleaseError,
    ReleasePreflightError,
    ServiceUnavailableError,
    ThrottledError,
)


def sales(emulator: QuickSightEmulator) -> None:
    """Two data sources (PostgreSQL in a VPC, Athena), a SPICE data set with a schedule, a dashboard and an analysis."""
    assets = emulator.assets
    assets.add_data_source(
        "pg", "POSTGRESQL", {"PostgreSqlParameters": {"Host": "dev-db", "Port": 5432, "Database": "sales"}},
        vpc_connection_id="vpc-dev",
    )  # fmt: skip
    assets.add_data_source("ath", "ATHENA", {"AthenaParameters": {"WorkGroup": "analytics-dev"}})
    assets.add_data_set("orders", ("pg",), import_mode="SPICE", schedule_ids=("nightly",))
    assets.add_data_set("web", ("ath",), parent_set_ids=("orders",))
    assets.add_dashboard("sales-dashboard", ("web",), theme_id="brand")
    assets.add_analysis("sales-analysis", ("orders",))


def request(**extra: Any) -> ReleaseRequest:
    values: dict[str, Any] = {"source_account_id": ACCOUNT, "release_name": "sales-42", "dashboard_ids": ("sales-dashboard",),
                              "export_timeout_seconds": 600}  # fmt: skip
    values.update(extra)
    return ReleaseRequest(**values)


def cut(req: ReleaseRequest, time: FakeTime | None = None) -> Any:
    time = time or FakeTime()
    return cut_release(req, sleep=time.sleep, clock=time.clock, draw=lambda: 0.0)


def test_a_release_starts_the_export_with_generated_overrides(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    result = cut(request(analysis_ids=(arn_of("analysis", "sales-analysis"),), include_tags=True))

    (body,) = emulator.assets.started
    assert body["AssetBundleExportJobId"] == "sales-42" == result.prepared.ref.job_id
    assert body["ResourceArns"] == [arn_of("dashboard", "sales-dashboard"), arn_of("analysis", "sales-analysis")]
    assert body["IncludeAllDependencies"] is True and body["ExportFormat"] == "CLOUDFORMATION_JSON"
    assert body["IncludeTags"] is True and body["IncludePermissions"] is False
    assert body["ValidationStrategy"] == {"StrictModeForAllResources": True}
    overrides = body["CloudFormationOverridePropertyConfiguration"]
    assert overrides == result.prepared.overrides
    sources = {e["Arn"]: e["Properties"] for e in overrides["DataSources"]}
    assert sources == {
        arn_of("datasource", "ath"): ["Name", "WorkGroup"],
        arn_of("datasource", "pg"): ["Name", "Host", "Port", "Database", "Username", "Password"],
    }
    # The data set built on another one, the schedule of the SPICE one, the custom theme, the VPC connection.
    # Only the SPICE data set is refreshed: a stage may turn its refresh-failure alerts on or off.
    assert overrides["DataSets"] == [
        {"Arn": arn_of("dataset", "orders"), "Properties": ["Name", "RefreshFailureEmailAlertStatus"]},
        {"Arn": arn_of("dataset", "web"), "Properties": ["Name"]},
    ]
    assert "Folders" not in overrides and "TopicsV2" not in overrides  # a release exports neither
    assert overrides["RefreshSchedules"][0]["Arn"] == arn_of("dataset", "orders") + "/refresh-schedule/nightly"
    assert overrides["Themes"] == [{"Arn": arn_of("theme", "brand"), "Properties": ["Name"]}]
    assert overrides["VPCConnections"] == [{"Arn": arn_of("vpcConnection", "vpc-dev"), "Properties": ["Name", "RoleArn"]}]
    assert overrides["ResourceIdOverrideConfiguration"] == {"PrefixForAllResources": True}
    assert result.started is True
    # The template came through the export path, and its parameters map back to the assets.
    keys = {entry.key for entry in build_catalog(result.fetched.template.document)}
    assert {"datasource/pg.Host", "datasource/ath.WorkGroup", "dashboard/sales-dashboard.Name",
            "ResourceIdPrefixForAllResources"} <= keys  # fmt: skip
    # Pre-flight ran before the job was started; the download came last.
    operations = [r["operation"] for r in emulator.requests]
    assert operations.index("StartAssetBundleExportJob") > operations.index("DescribeDataSource")
    assert operations[-1] == "Download"


def test_preflight_reports_every_problem_in_one_message_and_starts_nothing(emulator: QuickSightEmulator) -> None:
    assets = emulator.assets
    assets.add_data_source("sf", "SALESFORCE", {})
    assets.add_data_source("bq", "BIGQUERY", {"BigQueryParameters": {"ProjectId": "p", "DataSetRegion": "EU"}})
    assets.add_data_set("crm", ("sf", "bq"))
    assets.add_data_set("uploaded", file_upload=True)
    assets.add_data_set("orphan", ("gone-source",))
    assets.add_dashboard(
        "broken",
        ("crm", "uploaded", "orphan", "missing-set"),
        errors=[{"Type": "COLUMN_TYPE_MISMATCH", "Message": "Column amount changed type",
                 "ViolatedEntities": [{"Path": "sheet/1/visual/2"}]}],  # fmt: skip
    )
    with pytest.raises(ReleasePreflightError) as caught:
        cut(request(dashboard_ids=("broken", "no-such-dashboard"), analysis_ids=("no-such-analysis",)))

    message = str(caught.value)
    assert "release 'sales-42' (sales-42) in account 111111111111 (us-east-1) cannot start" in message
    assert "no export job was started" in message
    expected = [
        "dashboard 'broken' has 1 definition error(s): COLUMN_TYPE_MISMATCH: Column amount changed type (at sheet/1/visual/2)",
        "dashboard 'no-such-dashboard' was not found in account 111111111111 (us-east-1)",
        "analysis 'no-such-analysis' was not found",
        "data source 'sf' is of type SALESFORCE, which cannot be promoted: asset bundle exports do not support it; "
        "replace it (used by data set 'crm')",
        "data source 'bq' is of type BIGQUERY (BigQueryParameters), which cannot be promoted: AWS::QuickSight::DataSource "
        "cannot express it (CloudFormation's DataSourceParameters has no such member), so the stack would fail at deploy "
        "(cloudformation-coverage-roadmap#2366); replace it",
        "data set 'uploaded' reads an uploaded file",
        "data source 'gone-source' (read by data set 'orphan') was not found",
        "data set 'missing-set' (used by the release) was not found",
    ]
    for text in expected:
        assert text in message, text
    assert len(caught.value.problems) == len(expected)
    assert emulator.calls("StartAssetBundleExportJob") == []


def test_more_than_100_assets_are_refused_before_any_call(emulator: QuickSightEmulator) -> None:
    ids = tuple(f"d{i}" for i in range(101))
    with pytest.raises(ReleasePreflightError) as caught:
        cut(request(dashboard_ids=ids))
    assert "101 dashboards and analyses, more than the 100 ResourceArns one export takes" in str(caught.value)
    assert emulator.requests == []


def test_an_arn_of_another_account_is_a_preflight_problem(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    other = "arn:aws:quicksight:us-east-1:222222222222:dashboard/sales-dashboard"
    with pytest.raises(ReleasePreflightError) as caught:
        cut(request(dashboard_ids=("sales-dashboard", other)))
    assert "a dashboard ARN given is in account 222222222222 (us-east-1), not the release's account" in str(caught.value)
    assert other not in str(caught.value)  # a configuration value is never echoed
    assert emulator.calls("StartAssetBundleExportJob") == []


def test_running_the_same_release_again_adopts_its_job(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    first = cut(request())
    again = cut(request())
    assert first.started and not again.started
    assert len(emulator.calls("StartAssetBundleExportJob")) == 1
    assert again.fetched.sha256 == first.fetched.sha256


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"analysis_ids": ("sales-analysis",)}, "ResourceArns differ (the job lacks arn:aws:quicksight:us-east-1:111111111111:analysis/sales-analysis)"),
        ({"include_permissions": True}, "IncludePermissions is False, the release asks True"),
        ({"strict_validation": False}, "StrictModeForAllResources is True"),
        ({"id_prefix": False}, "the override configuration differs"),
    ],
)
def test_the_same_name_with_other_assets_or_options_is_refused(
    emulator: QuickSightEmulator, change: dict[str, Any], said: str
) -> None:
    sales(emulator)
    cut(request())
    with pytest.raises(ReleaseConflictError) as caught:
        cut(request(**change))
    message = str(caught.value)
    assert "export job 'sales-42' in account 111111111111" in message and said in message
    assert "give this release a new release_name" in message
    assert len(emulator.calls("StartAssetBundleExportJob")) == 1


def test_a_failed_job_of_the_same_release_is_started_again(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    emulator.assets.job_statuses = ["FAILED"]
    with pytest.raises(Exception, match="FAILED"):
        cut(request())
    emulator.assets.job_statuses = ["IN_PROGRESS", "SUCCESSFUL"]
    assert cut(request()).started
    assert len(emulator.calls("StartAssetBundleExportJob")) == 2


@pytest.mark.parametrize("code", ["ConflictException", "LimitExceededException"])
def test_conflicts_and_the_concurrency_limit_are_waited_out(emulator: QuickSightEmulator, code: str) -> None:
    sales(emulator)
    if code == "ConflictException":
        emulator.assets.conflict_next = 3
    else:
        emulator.assets.limit_next = 3
    time = FakeTime()
    result = cut(request(), time)
    assert result.started
    assert len(emulator.calls("StartAssetBundleExportJob")) == 4
    assert len(time.sleeps) >= 3 and time.now < 600


def test_the_limit_counts_running_exports_of_the_account(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    for i in range(5):
        emulator.add_job(f"busy-{i}", statuses=["IN_PROGRESS"])
    time = FakeTime()
    with pytest.raises(ExportTimeoutError) as caught:
        cut(request(export_timeout_seconds=120), time)
    message = str(caught.value)
    assert "export job 'sales-42'" in message and "could not start within 120 s" in message
    assert "LimitExceededException" in message and "raise export_timeout_seconds" in message
    assert time.now <= 120


# --- more paths: resuming, limits, call errors -----------------------------------------------------


def test_an_interrupted_release_resumes_on_its_running_job(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    emulator.assets.job_statuses = ["IN_PROGRESS"] * 6 + ["SUCCESSFUL"]
    with pytest.raises(ExportTimeoutError, match="did not finish within"):
        cut(request(export_timeout_seconds=3))
    resumed = cut(request())
    assert resumed.started is False
    assert len(emulator.calls("StartAssetBundleExportJob")) == 1
    assert resumed.fetched.description.status == "SUCCESSFUL"


def test_an_analysis_with_definition_errors_is_named(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    emulator.assets.add_analysis(
        "draft", ("orders",), errors=[{"Type": "DATA_SET_NOT_FOUND", "Message": "Data set gone"}, {"Type": "PARAMETER_NOT_FOUND", "Message": "p"}]
    )
    with pytest.raises(ReleasePreflightError) as caught:
        cut(request(analysis_ids=("draft",)))
    assert caught.value.problems == (
        "analysis 'draft' has 2 definition error(s): DATA_SET_NOT_FOUND: Data set gone, PARAMETER_NOT_FOUND: p: "
        "fix them in QuickSight (exports fail on definition errors)",
    )


def test_more_than_50_data_sets_is_a_preflight_problem(emulator: QuickSightEmulator) -> None:
    emulator.assets.add_data_source("ath", "ATHENA", {"AthenaParameters": {"WorkGroup": "w"}})
    sets = tuple(f"s{i}" for i in range(51))
    for set_id in sets:
        emulator.assets.add_data_set(set_id, ("ath",))
    emulator.assets.add_dashboard("wide", sets)
    with pytest.raises(ReleasePreflightError) as caught:
        cut(request(dashboard_ids=("wide",)))
    assert "DataSets (51)" in str(caught.value) and "split the dashboards and analyses" in str(caught.value)
    assert emulator.calls("StartAssetBundleExportJob") == []


def test_a_release_of_nothing_is_refused(emulator: QuickSightEmulator) -> None:
    with pytest.raises(InputError, match="release 'sales-42' names no dashboard or analysis"):
        cut(request(dashboard_ids=()))


def test_access_denied_names_the_call_and_the_asset(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    emulator.fail_account(401, "AccessDeniedException", "User is not authorized")
    with pytest.raises(AwsAccessError) as caught:
        cut(request())
    message = str(caught.value)
    assert message.startswith(f"quicksight:DescribeDashboard on dashboard 'sales-dashboard' for export job 'sales-42' in account {ACCOUNT}")
    assert "AWS denied the call (AccessDeniedException: User is not authorized)" in message
    assert "or set source_role_arn to a role in the source account that has it" in message


def stubbed() -> tuple[Any, Stubber]:
    client = boto3.client(
        "quicksight", region_name="us-east-1", aws_access_key_id="AKIA0", aws_secret_access_key="s",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )  # fmt: skip
    return client, Stubber(client)


@pytest.mark.parametrize(
    ("code", "status", "error", "said"),
    [
        ("ThrottlingException", 429, ThrottledError, "quicksight:DescribeDashboard on dashboard 'd' for export job 'sales-42' in account 111111111111 (us-east-1): QuickSight throttled the call"),
        ("UnsupportedUserEditionException", 403, AwsAccessError, "asset bundle exports need QuickSight Enterprise edition"),
        # A 5xx is transient: raised as such (the release retries it until its deadline, see test_release_faults).
        ("InternalFailureException", 500, ServiceUnavailableError, "quicksight:DescribeDashboard on dashboard 'd' for export job 'sales-42' in account 111111111111 (us-east-1): QuickSight answered HTTP 500"),
        ("InvalidParameterValueException", 400, ReleaseError, "quicksight:DescribeDashboard on dashboard 'd' for export job 'sales-42' in account 111111111111 (us-east-1): QuickSight refused the call"),
    ],
)
def test_describe_errors_are_translated(code: str, status: int, error: type, said: str) -> None:
    client, stub = stubbed()
    stub.add_client_error("describe_dashboard", service_error_code=code, service_message="nope", http_status_code=status)
    with stub, pytest.raises(error) as caught:
        prepare_release(client, request(dashboard_ids=("d",)), "us-east-1")
    assert said in str(caught.value) and "nope" in str(caught.value)


def prepared_for(emulator: QuickSightEmulator) -> Any:
    sales(emulator)
    client = boto3.client("quicksight", region_name="us-east-1")
    return prepare_release(client, request(), "us-east-1")


@pytest.mark.parametrize(
    ("code", "status", "error", "said"),
    [
        ("InvalidParameterValueException", 400, ReleaseError, "quicksight:StartAssetBundleExportJob for export job 'sales-42' in account 111111111111 (us-east-1): QuickSight refused the call"),
        ("AccessDeniedException", 401, AwsAccessError, "quicksight:StartAssetBundleExportJob for export job 'sales-42' in account 111111111111 (us-east-1): AWS denied the call"),
    ],
)
def test_start_errors_are_translated(emulator: QuickSightEmulator, code: str, status: int, error: type, said: str) -> None:
    prepared = prepared_for(emulator)
    describer = boto3.client("quicksight", region_name="us-east-1")
    starter, stub = stubbed()
    stub.add_client_error("start_asset_bundle_export_job", service_error_code=code, service_message="bad", http_status_code=status)
    time = FakeTime()
    with stub, pytest.raises(error) as caught:
        start_release(describer, prepared, timeout=60, sleep=time.sleep, clock=time.clock, starter=starter)
    assert said in str(caught.value) and "bad" in str(caught.value)


def test_throttled_starts_are_retried_within_the_deadline(emulator: QuickSightEmulator) -> None:
    prepared = prepared_for(emulator)
    describer = boto3.client("quicksight", region_name="us-east-1")
    starter, stub = stubbed()
    stub.add_client_error("start_asset_bundle_export_job", service_error_code="ThrottlingException", http_status_code=429)
    stub.add_response(
        "start_asset_bundle_export_job",
        {"Arn": "arn:aws:quicksight:us-east-1:111111111111:asset-bundle-export-job/sales-42",
         "AssetBundleExportJobId": "sales-42", "RequestId": "r", "Status": 202},
        prepared.body,
    )  # fmt: skip
    time = FakeTime()
    with stub:
        assert start_release(describer, prepared, timeout=60, sleep=time.sleep, clock=time.clock, starter=starter)
    stub.assert_no_pending_responses()
    assert len(time.sleeps) == 1 and time.now <= 60


def test_a_malformed_answer_is_a_problem_naming_the_field(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    emulator.assets.add_dashboard("odd", ("orders",), errors=[{"Type": 5, "Message": "typed wrong"}])
    with pytest.raises(ReleasePreflightError) as caught:
        cut(request(dashboard_ids=("odd",)))
    (problem,) = caught.value.problems
    assert problem.startswith("dashboard 'odd': QuickSight's description of it is malformed (Errors.0.Type: ")
    assert emulator.calls("StartAssetBundleExportJob") == []


def test_a_data_source_used_twice_is_described_once(emulator: QuickSightEmulator) -> None:
    sales(emulator)
    emulator.assets.add_data_set("orders-2", ("pg", "gone"))
    emulator.assets.add_data_set("orders-3", ("pg", "gone"))
    emulator.assets.add_dashboard("two", ("orders-2", "orders-3"))
    with pytest.raises(ReleasePreflightError) as caught:
        cut(request(dashboard_ids=("two",)))
    assert caught.value.problems == ("data source 'gone' (read by data set 'orders-2') was not found in account 111111111111",)
    assert len([r for r in emulator.calls("DescribeDataSource") if r["path"].endswith("/pg")]) == 1
