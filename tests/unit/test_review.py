"""Review at the level of properties: failed validations named at the property, property-level change summaries."""

from __future__ import annotations

import hashlib
from typing import Any

from components.core import review
from components.core.stacks import redact

ASSETS = {"salesdash": {"kind": "dashboard", "id": "sales"}, "salesds": {"kind": "datasource", "id": "pg"}}


def validation_event(logical_id: str, path: str, message: str, **extra: Any) -> dict[str, Any]:
    return {
        "EventType": "VALIDATION_ERROR",
        "OperationStatus": "FAILED",
        "LogicalResourceId": logical_id,
        "ResourceType": "AWS::QuickSight::Dashboard",
        "ValidationName": "AWS::EarlyValidation::PropertyValidation",
        "ValidationStatus": "FAILED",
        "ValidationFailureMode": "FAIL",
        "ValidationStatusReason": message,
        "ValidationPath": path,
        **extra,
    }


# --- failures named at the property ------------------------------------------------------------------


def test_early_validation_is_told_by_the_change_sets_reason() -> None:
    assert review.names_early_validation(
        "The following hook(s)/validation failed: [AWS::EarlyValidation::PropertyValidation]. To troubleshoot Early "
        "Validation errors, use the DescribeEvents API for detailed failure information."
    )
    assert not review.names_early_validation("Template format error: Unresolved resource dependencies [Nope]")
    assert not review.names_early_validation(None)


def test_failed_validations_are_read_from_describe_events_and_warnings_left_out() -> None:
    events = [
        validation_event("salesdash", "/Resources/salesdash/Properties/Definition/Sheets/0", "extraneous key [Foo] is not permitted"),
        validation_event("salesdash", "/Resources/salesdash/Properties/Name", "too long", ValidationFailureMode="WARN"),
        {"EventType": "STACK_EVENT", "LogicalResourceId": "salesdash", "ResourceStatus": "CREATE_FAILED"},
        "not an event",
    ]

    assert review.validation_failures(events) == [  # type: ignore[arg-type]
        review.PropertyFailure(
            logical_id="salesdash",
            resource_type="AWS::QuickSight::Dashboard",
            path="Properties/Definition/Sheets/0",
            message="extraneous key [Foo] is not permitted",
            check="AWS::EarlyValidation::PropertyValidation",
        )
    ]


def test_each_failed_property_is_named_with_its_asset_path_message_and_what_to_do() -> None:
    failures = review.validation_failures(
        [
            validation_event("salesdash", "/Resources/salesdash/Properties/Definition", "extraneous key [X] is not permitted"),
            validation_event("salesds", "/Resources/salesds", "Resource with identifier 'pg' already exists.",
                             ResourceType="AWS::QuickSight::DataSource",
                             ValidationName="AWS::EarlyValidation::ResourceExistenceCheck"),
            validation_event("salesdash", "/Resources/salesdash/Properties/Name", "bad\x1b[31m name"),
        ]
    )  # fmt: skip

    assert review.describe_failures(failures, ASSETS) == (
        "salesdash (AWS::QuickSight::Dashboard, dashboard/sales) at Properties/Definition: extraneous key [X] is not "
        "permitted (the exported value does not fit CloudFormation's schema for this property: fix it in the source "
        "asset and export again, or override the property for this stage); "
        "salesdash (AWS::QuickSight::Dashboard, dashboard/sales) at Properties/Name: bad\\x1b[31m name (the exported "
        "value does not fit CloudFormation's schema for this property: fix it in the source asset and export again, or "
        "override the property for this stage); "
        "salesds (AWS::QuickSight::DataSource, datasource/pg): Resource with identifier 'pg' already exists. (an asset "
        "with this id already exists in the target account outside this stack: delete it there, adopt it, or deploy "
        "with another ResourceIdPrefixForAllResources)"
    )
    assert review.first_asset(failures, ASSETS) == "dashboard/sales"
    assert review.first_asset(failures[:0], ASSETS) is None


def test_a_long_list_of_failures_is_bounded() -> None:
    failures = review.validation_failures(
        [validation_event("salesdash", f"/Resources/salesdash/Properties/P{i}", "refused") for i in range(25)]
    )

    text = review.describe_failures(failures, ASSETS)

    assert text.count("refused") == review.MAX_FAILURES and text.endswith("and 15 more")


def test_a_missing_reference_is_told_to_be_deployed_or_mapped_first() -> None:
    failure = review.PropertyFailure("salesdash", None, "Properties/ThemeArn", "Theme 'x' does not exist")

    assert review.describe_failure(failure, {}) == (
        "salesdash at Properties/ThemeArn: Theme 'x' does not exist (what it refers to is missing in the target "
        "account: deploy or map it first (stage parameters))"
    )


def test_a_schema_refusal_of_an_execution_names_each_property() -> None:
    event = {
        "LogicalResourceId": "salesdash",
        "ResourceType": "AWS::QuickSight::Dashboard",
        "ResourceStatusReason": (
            "Properties validation failed for resource salesdash with message: [#/Definition/Sheets/0/Visuals/3: "
            "extraneous key [Foo] is not permitted, #/Definition/Options: expected type: JSONObject, found: JSONArray]"
        ),
    }

    assert [(f.path, f.message) for f in review.schema_failures(event)] == [
        ("Properties/Definition/Sheets/0/Visuals/3", "extraneous key [Foo] is not permitted"),
        ("Properties/Definition/Options", "expected type: JSONObject, found: JSONArray"),
    ]
    assert review.schema_failures({"ResourceStatusReason": "Invalid DataSetId"}) == []


# --- property-level review ------------------------------------------------------------------------------


def detail(path: str, before: Any, after: Any, source: str = "DirectModification", causing: str = "") -> dict[str, Any]:
    target = {"Attribute": "Properties", "Name": path.split("/")[2], "Path": path, "RequiresRecreation": "Never",
              "AttributeChangeType": "Modify", "BeforeValue": before, "AfterValue": after}  # fmt: skip
    out: dict[str, Any] = {"Target": target, "Evaluation": "Static", "ChangeSource": source}
    if causing:
        out["CausingEntity"] = causing
    return out


def test_each_changed_property_is_listed_with_before_and_after_and_secrets_redacted() -> None:
    hidden = {"db.internal.example.com": "Host"}
    change = {
        "Action": "Modify",
        "LogicalResourceId": "salesds",
        "ResourceType": "AWS::QuickSight::DataSource",
        "Replacement": "False",
        "Details": [
            detail("/Properties/Name", "Sales", "Sales EU"),
            detail("/Properties/Credentials/CredentialPair/Password", "old-pw", "new-pw"),
            detail("/Properties/Token", "****", "****", "ParameterReference", "Pw"),
            detail("/Properties/DataSourceParameters/PostgreSqlParameters/Host", "old.example.com", "db.internal.example.com",
                   "ParameterReference", "Host"),
            detail("/Properties/Description", "uses old.example.com", "uses db.internal.example.com"),
        ],
    }  # fmt: skip

    listed, left_off = review.property_changes(change, lambda text: redact(text, hidden))

    assert left_off == 0
    assert [(e["path"], e["before"], e["after"], e["source"]) for e in listed] == [
        ("Properties/Name", "Sales", "Sales EU", "DirectModification"),
        ("Properties/Credentials/CredentialPair/Password", "<redacted>", "<redacted>", "DirectModification"),
        ("Properties/Token", "<value of parameter Pw>", "<value of parameter Pw>", "ParameterReference Pw"),
        ("Properties/DataSourceParameters/PostgreSqlParameters/Host", "<value of parameter Host>",
         "<value of parameter Host>", "ParameterReference Host"),
        ("Properties/Description", "uses old.example.com", "uses <value of parameter Host>", "DirectModification"),
    ]  # fmt: skip
    assert listed[0]["change"] == "Modify" and listed[0]["recreation"] == "Never"


def test_a_long_value_is_shortened_with_a_digest_of_what_is_shown() -> None:
    long = '{"Sheets":[' + ",".join(f'{{"SheetId":"s{i}"}}' for i in range(100)) + "]}"

    shown = review.shown_value(long)

    digest = hashlib.sha256(long.encode()).hexdigest()[:12]
    assert shown == f"{long[:100]}... ({len(long):,} chars, sha256 {digest})"
    assert review.shown_value("a\x07b") == "a\\x07b" and review.shown_value(None) is None


def test_properties_past_the_bound_are_counted_not_listed() -> None:
    change = {"Details": [detail(f"/Properties/P{i}", "a", "b") for i in range(review.MAX_PROPERTIES + 7)]}

    listed, left_off = review.property_changes(change)

    assert len(listed) == review.MAX_PROPERTIES and left_off == 7


def test_the_review_adds_properties_to_the_resource_summary() -> None:
    changes = [
        {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "salesdash",
                                                 "ResourceType": "AWS::QuickSight::Dashboard", "Replacement": "False",
                                                 "Details": [detail("/Properties/Name", "A", "B")]}},
        {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "salesds",
                                                 "ResourceType": "AWS::QuickSight::DataSource"}},
    ]  # fmt: skip

    assert review.review_changes(changes, ASSETS) == [
        {"logical_id": "salesdash", "type": "AWS::QuickSight::Dashboard", "action": "Modify", "replacement": "False",
         "asset_kind": "dashboard", "asset_id": "sales",
         "properties": [{"path": "Properties/Name", "change": "Modify", "before": "A", "after": "B",
                         "recreation": "Never", "source": "DirectModification"}]},
        {"logical_id": "salesds", "type": "AWS::QuickSight::DataSource", "action": "Add", "replacement": None,
         "asset_kind": "datasource", "asset_id": "pg"},
    ]  # fmt: skip


# --- drift guard ------------------------------------------------------------------------------------------


def test_the_drift_mode_defaults_to_refuse_for_a_protected_stage_else_warn() -> None:
    assert review.drift_mode(None, protected=True) == "refuse"
    assert review.drift_mode(None, protected=False) == "warn"
    assert review.drift_mode("ignore", protected=True) == "ignore"


DRIFTS = [
    {"LogicalResourceId": "salesdash", "ResourceType": "AWS::QuickSight::Dashboard", "StackResourceDriftStatus": "MODIFIED",
     "PropertyDifferences": [{"PropertyPath": "/Name", "ExpectedValue": '"Sales"', "ActualValue": '"Sales (fixed)"',
                              "DifferenceType": "NOT_EQUAL"},
                             {"PropertyPath": "/Credentials/CredentialPair/Password", "ExpectedValue": "a",
                              "ActualValue": "b", "DifferenceType": "NOT_EQUAL"}]},
    {"LogicalResourceId": "salesds", "ResourceType": "AWS::QuickSight::DataSource", "StackResourceDriftStatus": "IN_SYNC"},
    {"LogicalResourceId": "topic", "ResourceType": "AWS::QuickSight::Topic", "StackResourceDriftStatus": "NOT_CHECKED"},
    {"LogicalResourceId": "theme", "ResourceType": "AWS::QuickSight::Theme", "StackResourceDriftStatus": "UNKNOWN"},
]  # fmt: skip


def test_drift_lists_each_drifted_property_and_what_was_not_checked_never_as_clean() -> None:
    report = review.summarize_drift(DRIFTS, ASSETS, detection={"DetectionStatus": "DETECTION_COMPLETE"})

    assert report["drifted"] == [
        {"logical_id": "salesdash", "type": "AWS::QuickSight::Dashboard", "asset_kind": "dashboard", "asset_id": "sales",
         "status": "MODIFIED",
         "properties": [{"path": "Name", "difference": "NOT_EQUAL", "expected": '"Sales"', "actual": '"Sales (fixed)"'},
                        {"path": "Credentials/CredentialPair/Password", "difference": "NOT_EQUAL",
                         "expected": "<redacted>", "actual": "<redacted>"}]},
    ]  # fmt: skip
    assert [(e["logical_id"], e["status"]) for e in report["not_checked"]] == [("theme", "UNKNOWN"), ("topic", "NOT_CHECKED")]
    assert report["detection"] == {"status": "DETECTION_COMPLETE", "reason": None}
    assert review.describe_drift(report, ASSETS) == (
        "salesdash (AWS::QuickSight::Dashboard, dashboard/sales) MODIFIED: Name '\"Sales\"' -> '\"Sales (fixed)\"', "
        "Credentials/CredentialPair/Password '<redacted>' -> '<redacted>' (not checked for drift: theme "
        "(AWS::QuickSight::Theme), topic (AWS::QuickSight::Topic))"
    )


def test_a_credential_drift_shows_an_absent_value_as_absent_and_a_present_one_redacted() -> None:
    removed = {"PropertyPath": "/Credentials/CredentialPair/Username", "ExpectedValue": "admin", "DifferenceType": "REMOVE"}
    drift = {"LogicalResourceId": "salesds", "ResourceType": "AWS::QuickSight::DataSource",
             "StackResourceDriftStatus": "MODIFIED", "PropertyDifferences": [removed]}  # fmt: skip
    (entry,) = review.summarize_drift([drift], ASSETS)["drifted"]
    # As a change set review and the diff command show it: None is absent, never a redacted value.
    assert entry["properties"] == [
        {"path": "Credentials/CredentialPair/Username", "difference": "REMOVE", "expected": "<redacted>", "actual": None}
    ]


def test_the_drift_decision_follows_the_mode_only_when_something_drifted() -> None:
    drifted = review.summarize_drift(DRIFTS, ASSETS)
    clean = review.summarize_drift(DRIFTS[1:], ASSETS)

    assert [review.drift_decision(mode, drifted) for mode in review.DRIFT_MODES] == ["refuse", "go", "revert", "go"]
    assert {review.drift_decision(mode, clean) for mode in review.DRIFT_MODES} == {"go"}


# --- verification after deploy -------------------------------------------------------------------------------


def test_dashboards_and_analyses_are_verified_under_their_deployed_ids() -> None:
    assets = {**ASSETS, "an": {"kind": "analysis", "id": "a1"}, "broken": {"kind": "dashboard", "id": None}}

    assert review.verification_targets(assets, "prod-") == [
        {"logical_id": "an", "kind": "analysis", "id": "prod-a1"},
        {"logical_id": "salesdash", "kind": "dashboard", "id": "prod-sales"},
    ]


def test_a_failed_version_or_definition_errors_make_a_failed_asset() -> None:
    dashboard = review.asset_status(
        "dashboard",
        {"Dashboard": {"Version": {"Status": "CREATION_FAILED", "Errors": [{"Type": "DATA_SET_NOT_FOUND", "Message": "gone\x1b"}]}}},
    )
    analysis = review.asset_status("analysis", {"Analysis": {"Status": "UPDATE_SUCCESSFUL", "Errors": []}})
    statuses = [
        {"kind": "dashboard", "id": "d", **dashboard},
        {"kind": "analysis", "id": "a", **analysis},
        {"kind": "analysis", "id": "b", "status": "UPDATE_SUCCESSFUL", "errors": ["PARAMETER_NOT_FOUND: p"]},
        {"kind": "analysis", "id": "c", "status": review.NOT_VERIFIED, "errors": []},
    ]

    assert dashboard == {"status": "CREATION_FAILED", "errors": ["DATA_SET_NOT_FOUND: gone\\x1b"]}
    assert [s["id"] for s in review.failed_assets(statuses)] == ["d", "b"]
    assert review.describe_verification(statuses) == (
        "dashboard 'd' CREATION_FAILED: DATA_SET_NOT_FOUND: gone\\x1b; analysis 'b' UPDATE_SUCCESSFUL: PARAMETER_NOT_FOUND: p"
    )
    assert review.asset_status("analysis", {"Analysis": "not an object"}) == {"status": None, "errors": []}


def test_ingestion_targets_are_the_spice_data_sets_with_their_deployed_ids() -> None:
    document = {
        "Resources": {
            "spice": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": "sales", "ImportMode": "SPICE"}},
            "direct": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": "live", "ImportMode": "DIRECT_QUERY"}},
            "param": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": "p", "ImportMode": {"Ref": "Mode"}}},
            "dash": {"Type": "AWS::QuickSight::Dashboard", "Properties": {"DashboardId": "d", "ImportMode": "SPICE"}},
        }
    }
    assert review.ingestion_targets(document, "prod-") == [{"logical_id": "spice", "kind": "dataset", "id": "prod-sales"}]


def test_a_first_ingestion_is_the_earliest_and_a_cancelled_one_fails() -> None:
    first = {"IngestionId": "1", "IngestionStatus": "CANCELLED", "CreatedTime": 1.0}
    assert review.first_ingestion([{"IngestionId": "2", "CreatedTime": 9.0}, first, "junk"]) is first
    assert review.first_ingestion([{"CreatedTime": 1.0}, {"CreatedTime": "x"}]) is None  # a broken answer
    status = review.ingestion_status(first)
    assert status["status"] == "INGESTION_CANCELLED" and review.failed_assets([status]) == [status]
    assert review.failed_assets([review.ingestion_status({"IngestionStatus": "COMPLETED"})]) == []


def test_the_advice_for_failed_assets_says_where_each_is_fixed() -> None:
    from components.core.review import verification_advice

    dashboard = {"kind": "dashboard", "id": "d", "status": "CREATION_FAILED", "errors": ["x"]}
    ingestion = {"kind": "dataset", "id": "s", "status": "INGESTION_FAILED", "errors": ["y"]}
    assert verification_advice([dashboard]) == "fix the dashboard or analysis in the source account and promote it again"
    assert verification_advice([ingestion]) == (
        "check the data set's data source in the target account (host, credentials, network) and the tables it reads, "
        "then refresh the data set"
    )
    assert verification_advice([dashboard, ingestion]).count("; ") == 1
    assert verification_advice([]) == "nothing failed"
