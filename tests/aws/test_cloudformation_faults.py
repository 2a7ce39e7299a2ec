"""What moto cannot do: failed change sets, rollbacks, root-cause events, busy stacks, termination protection.

Each test scripts CloudFormation's answers with ``botocore.stub.Stubber`` on a real boto3 client (so
requests and answers are checked against the service model) and runs the real ``Deployer`` with a
fake clock, then reads the message the user would see.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from typing import Any, Iterator, Optional

import boto3
import pytest
from botocore.stub import ANY, Stubber

from components.aws.cloudformation import Deployer, DeployRequest, Target
from components.core import stacks as core
from components.core.stacks import (
    OWNER_TAG,
    OWNERSHIP_TAG,
    Claim,
    ChangeSetFailedError,
    DeploymentError,
    DeploymentTimeoutError,
    StackDriftError,
    StackOperationFailedError,
    StackStateError,
)
from components.core.polling import Backoff
from components.core.transform import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT
from components.errors import AwsAccessError, NestingError
from conftest import FakeTime

NAME = "qsp-faults"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{NAME}/0a1b2c3d"
CHANGE_SET_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:changeSet/quicksight-promotion-x/9f8e"
T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)
TEMPLATE = (
    '{"Parameters":{"Pw":{"Type":"String","NoEcho":true},"Host":{"Type":"String"}},'
    '"Resources":{"salesds":{"Type":"AWS::QuickSight::DataSet","Properties":{"DataSetId":"sales-ds"}},'
    '"salesdash":{"Type":"AWS::QuickSight::Dashboard","Properties":{"DashboardId":"sales"}}}}'
)
ASSETS = {"salesds": {"kind": "dataset", "id": "sales-ds"}, "salesdash": {"kind": "dashboard", "id": "sales"}}
IDENTITY = "0123456789abcdef0123456789abcdef"
OWNER = "sales/prod"
OURS = [{"Key": OWNERSHIP_TAG, "Value": IDENTITY}, {"Key": OWNER_TAG, "Value": OWNER}]
THEIR_IDENTITY = "fedcba9876543210fedcba9876543210"
THEIRS = [{"Key": OWNERSHIP_TAG, "Value": THEIR_IDENTITY}, {"Key": OWNER_TAG, "Value": "team-a/prod"}]
LEGACY = [{"Key": OWNERSHIP_TAG, "Value": "CloudFormationDeployment"}]


def client(service: str) -> Any:
    return boto3.session.Session().client(
        service, region_name=REGION, aws_access_key_id="AKIASTUB", aws_secret_access_key="stub"
    )


class Scripted:
    """A stubbed CloudFormation (and S3) client, a fake clock, and the Deployer under test."""

    def __init__(self) -> None:
        self.cfn = client("cloudformation")
        self.s3 = client("s3")
        self.stub = Stubber(self.cfn)
        self.s3_stub = Stubber(self.s3)
        self.time = FakeTime()
        self.sent: dict[str, list[dict[str, Any]]] = {}
        for operation in ("CreateChangeSet", "ExecuteChangeSet", "DeleteStack", "UpdateTerminationProtection"):
            self.cfn.meta.events.register(f"before-parameter-build.cloudformation.{operation}", self._capture(operation))
        self.deployer = Deployer(
            Target(self.cfn, lambda: self.s3, ACCOUNT, REGION),
            sleep=self.time.sleep,
            clock=self.time.clock,
            draw=lambda: 0.0,
        )

    def _capture(self, operation: str) -> Any:
        def capture(params: dict[str, Any], **_: Any) -> None:
            self.sent.setdefault(operation, []).append(dict(params))

        return capture

    # --- answers ---------------------------------------------------------------------------
    def stack(
        self,
        status: Optional[str],
        *,
        ref: str = NAME,
        tags: Optional[list[dict[str, str]]] = None,
        protected: bool = False,
        parameters: Optional[list[dict[str, str]]] = None,
        reason: Optional[str] = None,
    ) -> None:
        """DescribeStacks answers ``status`` (None: the stack does not exist)."""
        if status is None:
            self.stub.add_client_error(
                "describe_stacks", "ValidationError", f"Stack with id {ref} does not exist", 400, {"StackName": ref}
            )
            return
        entry: dict[str, Any] = {
            "StackId": STACK_ID,
            "StackName": NAME,
            "CreationTime": T0,
            "StackStatus": status,
            "Tags": OURS if tags is None else tags,
            "EnableTerminationProtection": protected,
            "Parameters": parameters or [],
            "Outputs": [{"OutputKey": "DashboardArn", "OutputValue": "arn:aws:quicksight:::dashboard/sales"}],
        }
        if reason:
            entry["StackStatusReason"] = reason
        self.stub.add_response("describe_stacks", {"Stacks": [entry]}, {"StackName": ref})

    def change_set(self, *statuses: str, reason: Optional[str] = None, changes: Optional[list[Any]] = None) -> None:
        """CreateChangeSet, then one DescribeChangeSet per status."""
        self.stub.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, None)
        for status in statuses:
            answer: dict[str, Any] = {
                "ChangeSetId": CHANGE_SET_ID,
                "ChangeSetName": "quicksight-promotion-x",
                "StackId": STACK_ID,
                "StackName": NAME,
                "Status": status,
                "ExecutionStatus": "AVAILABLE" if status == "CREATE_COMPLETE" else "UNAVAILABLE",
                "CreationTime": T0 + dt.timedelta(minutes=5),
                "Changes": changes or [],
            }
            if reason:
                answer["StatusReason"] = reason
            self.stub.add_response("describe_change_set", answer, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME, "IncludePropertyValues": True})

    def events(self, *events: dict[str, Any]) -> None:
        full = [
            {"StackId": STACK_ID, "EventId": f"e{i}", "StackName": NAME, **event} for i, event in enumerate(events)
        ]
        self.stub.add_response("describe_stack_events", {"StackEvents": full}, {"StackName": STACK_ID})

    def request(self, **overrides: Any) -> DeployRequest:
        base: dict[str, Any] = {
            "stack_name": NAME,
            "template_body": TEMPLATE,
            "parameters": {"Pw": "s3cr3t-Pw", "Host": "db.example.com"},
            "timeout_seconds": 600,
            "assets": ASSETS,
            "claim": Claim(identity=IDENTITY, owner=OWNER, recorded_stack_id=STACK_ID),
            "created_stack": True,
        }
        return DeployRequest(**(base | overrides))

    def done(self) -> None:
        self.stub.assert_no_pending_responses()
        self.s3_stub.assert_no_pending_responses()


@pytest.fixture
def cfn() -> Iterator[Scripted]:
    scripted = Scripted()
    with scripted.stub, scripted.s3_stub:
        yield scripted


def event(logical_id: str, status: str, minutes: float, reason: str = "", rtype: str = "AWS::QuickSight::DataSet") -> dict[str, Any]:
    out: dict[str, Any] = {
        "LogicalResourceId": logical_id,
        "ResourceType": "AWS::CloudFormation::Stack" if logical_id == NAME else rtype,
        "Timestamp": T0 + dt.timedelta(minutes=minutes),
        "ResourceStatus": status,
    }
    if reason:
        out["ResourceStatusReason"] = reason
    return out


CHANGES = [
    {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "salesds", "ResourceType": "AWS::QuickSight::DataSet", "Replacement": "False"}},
    {"Type": "Resource", "ResourceChange": {"Action": "Add", "LogicalResourceId": "salesdash", "ResourceType": "AWS::QuickSight::Dashboard"}},
]


# --- empty and failed change sets ----------------------------------------------------------------------


def test_an_empty_change_set_is_deleted_and_is_a_no_op(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set(
        "CREATE_PENDING",
        "FAILED",
        reason="The submitted information didn't contain changes. Submit different information to create a change set.",
    )
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})

    result = cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert result.executed is False and result.change_set_id is None and result.change_summary == []
    assert result.stack_status == "UPDATE_COMPLETE"
    assert "ExecuteChangeSet" not in cfn.deployer.calls
    assert cfn.time.sleeps == [2.5, 2.5]  # the change set polls: after 2.5 s (it is never evaluated at once), then 2.5 s


def test_a_refused_update_with_no_updates_is_a_no_op(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)

    result = cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert result.executed is False and result.change_set_id is None


def test_a_failed_change_set_is_deleted_and_its_reason_reported(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("FAILED", reason="Template format error: Unresolved resource dependencies [Nope] in the Resources block")
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})

    with pytest.raises(ChangeSetFailedError) as info:
        cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert str(info.value) == (
        "CloudFormation could not create a change set for stack 'qsp-faults': Template format error: Unresolved "
        "resource dependencies [Nope] in the Resources block; nothing was changed and the change set was deleted. "
        "Fix the template or parameters, then pulumi up again"
    )


def test_a_failed_create_change_set_leaves_no_empty_stack(cfn: Scripted) -> None:
    cfn.stack(None)
    cfn.change_set("FAILED", reason="Parameters: [Pw] must have values")
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})
    cfn.stack("REVIEW_IN_PROGRESS", ref=STACK_ID)
    cfn.stub.add_response("delete_stack", {}, {"StackName": STACK_ID})

    with pytest.raises(ChangeSetFailedError) as info:
        cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert "Parameters: [Pw] must have values" in str(info.value)
    assert cfn.sent["CreateChangeSet"][0]["ChangeSetType"] == "CREATE"


EARLY_VALIDATION = (
    "The following hook(s)/validation failed: [AWS::EarlyValidation::PropertyValidation]. To troubleshoot Early "
    "Validation errors, use the DescribeEvents API for detailed failure information."
)


def test_an_early_validation_failure_names_each_property_from_describe_events(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("FAILED", reason=EARLY_VALIDATION)
    failed = {
        "EventId": "v1", "StackId": STACK_ID, "EventType": "VALIDATION_ERROR", "OperationStatus": "FAILED",
        "LogicalResourceId": "salesdash", "ResourceType": "AWS::QuickSight::Dashboard",
        "ValidationName": "AWS::EarlyValidation::PropertyValidation", "ValidationStatus": "FAILED",
        "ValidationFailureMode": "FAIL", "ValidationPath": "/Resources/salesdash/Properties/Definition/Sheets/0",
        # CloudFormation may echo a value: never quoted.
        "ValidationStatusReason": "extraneous key [db.example.com] is not permitted",
    }  # fmt: skip
    cfn.stub.add_response(
        "describe_events",
        {"OperationEvents": [failed], "NextToken": "t2"},
        {"ChangeSetName": CHANGE_SET_ID, "Filters": {"FailedEvents": True}},
    )
    cfn.stub.add_response(
        "describe_events",
        {"OperationEvents": [{**failed, "EventId": "v2", "ValidationPath": "/Resources/salesdash/Properties/Name",
                              "ValidationStatusReason": "expected maxLength: 2048"}]},
        {"ChangeSetName": CHANGE_SET_ID, "Filters": {"FailedEvents": True}, "NextToken": "t2"},
    )  # fmt: skip
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})

    with pytest.raises(ChangeSetFailedError) as info:
        cfn.deployer.deploy(cfn.request())

    cfn.done()
    fix = (
        "(the exported value does not fit CloudFormation's schema for this property: fix it in the source asset and "
        "export again, or override the property for this stage)"
    )
    assert str(info.value) == (
        f"CloudFormation could not create a change set for stack 'qsp-faults': {EARLY_VALIDATION}; failed properties: "
        "salesdash (AWS::QuickSight::Dashboard, dashboard/sales) at Properties/Definition/Sheets/0: extraneous key "
        f"[<value of parameter Host>] is not permitted {fix}; salesdash (AWS::QuickSight::Dashboard, dashboard/sales) "
        f"at Properties/Name: expected maxLength: 2048 {fix}; nothing was changed and the change set was deleted. Fix "
        "the template or parameters, then pulumi up again"
    )
    assert info.value.asset == "dashboard/sales" and info.value.stack == NAME


def test_unreadable_validation_events_leave_the_change_sets_failure_with_a_note(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("FAILED", reason=EARLY_VALIDATION)
    cfn.stub.add_client_error("describe_events", "AccessDenied", "not authorized to perform: cloudformation:DescribeEvents", 403)
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})

    with pytest.raises(ChangeSetFailedError) as info:
        cfn.deployer.deploy(cfn.request())

    cfn.done()
    message = str(info.value)
    assert message.startswith(
        f"CloudFormation could not create a change set for stack 'qsp-faults': {EARLY_VALIDATION}; the failed "
        "properties could not be read: cloudformation:DescribeEvents for CloudFormation stack 'qsp-faults'"
    )
    assert message.endswith("nothing was changed and the change set was deleted. Fix the template or parameters, then pulumi up again")


def test_a_change_sets_review_lists_each_changed_property_with_secrets_redacted(cfn: Scripted) -> None:
    details = [
        {"Target": {"Attribute": "Properties", "Name": "Name", "Path": "/Properties/Name", "RequiresRecreation": "Never",
                    "AttributeChangeType": "Modify", "BeforeValue": "Sales", "AfterValue": "Sales EU"},
         "Evaluation": "Static", "ChangeSource": "DirectModification"},
        {"Target": {"Attribute": "Properties", "Name": "Credentials", "Path": "/Properties/Credentials/CredentialPair/Password",
                    "RequiresRecreation": "Never", "AttributeChangeType": "Modify", "BeforeValue": "****", "AfterValue": "****"},
         "Evaluation": "Static", "ChangeSource": "ParameterReference", "CausingEntity": "Pw"},
        {"Target": {"Attribute": "Properties", "Name": "Host", "Path": "/Properties/Host", "RequiresRecreation": "Never",
                    "AttributeChangeType": "Modify", "BeforeValue": "old.example.com", "AfterValue": "db.example.com"},
         "Evaluation": "Static", "ChangeSource": "ParameterReference", "CausingEntity": "Host"},
    ]  # fmt: skip
    changes = [{"Type": "Resource", "ResourceChange": {**CHANGES[0]["ResourceChange"], "Details": details}}]
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=changes)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request(execute_change_set=False))

    cfn.done()
    assert [(p["path"], p["before"], p["after"]) for p in result.change_summary[0]["properties"]] == [
        ("Properties/Name", "Sales", "Sales EU"),
        ("Properties/Credentials/CredentialPair/Password", "<redacted>", "<redacted>"),
        ("Properties/Host", "<value of parameter Host>", "<value of parameter Host>"),
    ]


def test_an_execution_refused_by_the_schema_names_each_property(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_ROLLBACK_COMPLETE", ref=STACK_ID)
    reason = (
        "Properties validation failed for resource salesdash with message: [#/Definition/Sheets/0: extraneous key "
        "[Foo] is not permitted]"
    )
    cfn.events(event(NAME, "UPDATE_ROLLBACK_COMPLETE", 9), event("salesdash", "UPDATE_FAILED", 7, reason, "AWS::QuickSight::Dashboard"))

    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert (
        "root cause: salesdash (AWS::QuickSight::Dashboard, dashboard/sales) UPDATE_FAILED: Properties validation "
        "failed for resource salesdash with message: [#/Definition/Sheets/0: extraneous key [Foo] is not permitted] "
        "(failed properties: salesdash (AWS::QuickSight::Dashboard, dashboard/sales) at Properties/Definition/Sheets/0: "
        "extraneous key [Foo] is not permitted (the exported value does not fit CloudFormation's schema for this "
        "property: fix it in the source asset and export again, or override the property for this stage)); the stack "
        "was rolled back"
    ) in str(info.value)


# --- the drift guard ------------------------------------------------------------------------------------------

DETECTION = "b7a1c0de-0000-4000-8000-000000000001"
EDITED = {
    "StackId": STACK_ID, "LogicalResourceId": "salesdash", "PhysicalResourceId": "sales", "Timestamp": T0,
    "ResourceType": "AWS::QuickSight::Dashboard", "StackResourceDriftStatus": "MODIFIED",
    "PropertyDifferences": [{"PropertyPath": "/Name", "ExpectedValue": '"Sales"', "ActualValue": '"Sales (prod fix)"',
                             "DifferenceType": "NOT_EQUAL"}],
}  # fmt: skip
UNCHECKED = {"StackId": STACK_ID, "LogicalResourceId": "salesds", "PhysicalResourceId": "sales-ds", "Timestamp": T0,
             "ResourceType": "AWS::QuickSight::DataSet", "StackResourceDriftStatus": "NOT_CHECKED"}  # fmt: skip


def drift(cfn: Scripted, *drifts: dict[str, Any]) -> None:
    """DetectStackDrift, one DescribeStackDriftDetectionStatus in progress then complete, DescribeStackResourceDrifts."""
    cfn.stub.add_response("detect_stack_drift", {"StackDriftDetectionId": DETECTION}, {"StackName": STACK_ID})
    for status in ("DETECTION_IN_PROGRESS", "DETECTION_COMPLETE"):
        cfn.stub.add_response(
            "describe_stack_drift_detection_status",
            {"StackId": STACK_ID, "StackDriftDetectionId": DETECTION, "DetectionStatus": status, "Timestamp": T0},
            {"StackDriftDetectionId": DETECTION},
        )
    cfn.stub.add_response(
        "describe_stack_resource_drifts", {"StackResourceDrifts": list(drifts)}, {"StackName": STACK_ID, "MaxResults": 100}
    )


def test_drift_is_refused_naming_each_asset_and_property_and_what_was_not_checked(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    drift(cfn, EDITED, UNCHECKED)

    with pytest.raises(StackDriftError) as info:
        cfn.deployer.deploy(cfn.request(on_drift="refuse"))

    cfn.done()
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' drifted from its last deployment (edited in the target account): salesdash "
        "(AWS::QuickSight::Dashboard, dashboard/sales) MODIFIED: Name '\"Sales\"' -> '\"Sales (prod fix)\"' (not checked "
        "for drift: salesds (AWS::QuickSight::DataSet, dataset/sales-ds)); nothing was changed (on_drift=refuse). Bring "
        "the edits into the source account and promote them; or set on_drift=revert to put the deployed values back, "
        "or on_drift=warn to overwrite them with this deployment"
    )
    assert info.value.asset == "dashboard/sales"
    assert "CreateChangeSet" not in cfn.deployer.calls
    assert cfn.time.sleeps == [core.DRIFT_BACKOFF.first]  # the detection, polled again after 1 s


def test_drift_is_reverted_through_a_drift_aware_change_set(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    drift(cfn, EDITED)
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES[:1])
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request(on_drift="revert"))

    cfn.done()
    assert cfn.sent["CreateChangeSet"][0]["DeploymentMode"] == "REVERT_DRIFT"
    assert result.executed and result.drift is not None
    assert [e["logical_id"] for e in result.drift["drifted"]] == ["salesdash"]


def test_warn_goes_on_over_drift_and_over_a_detection_it_may_not_run(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_client_error("detect_stack_drift", "AccessDenied", "not authorized to perform: cloudformation:DetectStackDrift", 403)
    cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)

    result = cfn.deployer.deploy(cfn.request(on_drift="warn"))

    cfn.done()
    assert "DeploymentMode" not in cfn.sent["CreateChangeSet"][0]
    assert result.drift is not None and result.drift["drifted"] == [] and result.drift["detection"]["status"] == "NOT_RUN"
    assert result.drift["detection"]["reason"].startswith("cloudformation:DetectStackDrift for CloudFormation stack 'qsp-faults'")


def test_refuse_stops_when_drift_cannot_be_checked(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_client_error("detect_stack_drift", "AccessDenied", "not authorized to perform: cloudformation:DetectStackDrift", 403)

    with pytest.raises(StackDriftError) as info:
        cfn.deployer.deploy(cfn.request(on_drift="refuse"))

    cfn.done()
    message = str(info.value)
    assert message.startswith("CloudFormation stack 'qsp-faults': drift could not be checked (cloudformation:DetectStackDrift")
    assert message.endswith(
        "nothing was changed (on_drift=refuse). Grant the deploying role cloudformation:DetectStackDrift, "
        "DescribeStackDriftDetectionStatus and DescribeStackResourceDrifts (policies/target-deployer), or set "
        "on_drift=warn to go on without the check"
    )


def test_the_stack_wait_polls_around_the_previous_duration_and_records_this_one(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES[:1])
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)  # seen at the first poll, 60 s in
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request(expected_seconds=100.0))

    cfn.done()
    # The change set after 2.5 s; the stack first after 60 s (not 2 s): it took 100 s last time.
    assert cfn.time.sleeps == [2.5, 60.0] and result.stack_seconds == 60.0


def test_progress_is_told_at_each_poll_and_events_read_only_before_a_quiet_minute(cfn: Scripted) -> None:
    lines: list[str] = []
    cfn.deployer.progress = lines.append
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    newest = [{"StackId": STACK_ID, "StackName": NAME, "EventId": "b", **event("salesdash", "CREATE_COMPLETE", 7)}]
    older = [{"StackId": STACK_ID, "StackName": NAME, "EventId": "a", **event("salesds", "UPDATE_IN_PROGRESS", 6)}]
    # Predicted around 300 s: polls at 75 and 150 are followed by 75 s of quiet (events read), 225 by 51 s (not).
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)
    cfn.stub.add_response("describe_stack_events", {"StackEvents": older}, {"StackName": STACK_ID})
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)
    cfn.stub.add_response("describe_stack_events", {"StackEvents": newest + older}, {"StackName": STACK_ID})
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    cfn.deployer.deploy(cfn.request(expected_seconds=300.0))

    cfn.done()
    assert cfn.time.sleeps == [2.5, 75.0, 75.0, 75.0, 51.0]
    head = f"quicksight-promotion: CloudFormation stack {NAME!r} UPDATE_IN_PROGRESS: "
    assert lines == [
        head + "0 of 2 resources done, 1m15s elapsed, about 5m00s expected",
        head + "1 of 2 resources done, 2m30s elapsed, about 5m00s expected",
        head + "1 of 2 resources done, 3m45s elapsed, about 5m00s expected",
    ]


def test_an_unreadable_progress_read_is_one_attempt_and_the_wait_goes_on(cfn: Scripted) -> None:
    lines: list[str] = []
    cfn.deployer.progress = lines.append
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)
    cfn.stub.add_client_error("describe_stack_events", "AccessDenied", "not allowed", 403, expected_params={"StackName": STACK_ID})
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request(expected_seconds=300.0))

    cfn.done()
    assert result.stack_status == "UPDATE_COMPLETE"
    assert lines == [f"quicksight-promotion: CloudFormation stack {NAME!r} UPDATE_IN_PROGRESS: 0 of 2 resources done, 1m15s elapsed, about 5m00s expected"]


def test_a_first_deploy_polls_around_the_end_its_completed_resources_project(cfn: Scripted) -> None:
    lines: list[str] = []
    every_30 = Backoff(first=30.0, proportion=0.0, cap=30.0, jitter=0.0, initial=30.0)
    cfn.deployer = Deployer(Target(cfn.cfn, lambda: cfn.s3, ACCOUNT, REGION), sleep=cfn.time.sleep, clock=cfn.time.clock,
                            draw=lambda: 0.0, stack_backoff=every_30, progress=lines.append)  # fmt: skip
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)  # at 30 s: one of two resources done, so ~60 s in all
    done = [{"StackId": STACK_ID, "StackName": NAME, "EventId": "a", **event("salesds", "UPDATE_COMPLETE", 6)}]
    cfn.stub.add_response("describe_stack_events", {"StackEvents": done}, {"StackName": STACK_ID})
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)  # at 56 s: the window before the projected end
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)  # at 60 s
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request())

    cfn.done()
    # Without the projection: 30 s, 30 s (the end seen at 60 s only by luck, 30 s late otherwise).
    assert cfn.time.sleeps == [2.5, 30.0, 26.0, 4.0] and result.stack_seconds == 60.0
    assert [line.split("IN_PROGRESS: ", 1)[1] for line in lines] == [
        "1 of 2 resources done, 30s elapsed, about 1m00s expected", "1 of 2 resources done, 56s elapsed, about 1m00s expected",
    ]


# --- execution failures and their root cause ----------------------------------------------------------------


def test_a_failed_update_names_its_root_cause_not_the_cancellations(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE", parameters=[{"ParameterKey": "Pw", "ParameterValue": "****"}])
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)
    cfn.stack("UPDATE_ROLLBACK_COMPLETE", ref=STACK_ID)
    cfn.events(  # newest first, as DescribeStackEvents answers
        event(NAME, "UPDATE_ROLLBACK_COMPLETE", 9),
        event("salesdash", "CREATE_FAILED", 7, "Resource creation cancelled", "AWS::QuickSight::Dashboard"),
        event(NAME, "UPDATE_ROLLBACK_IN_PROGRESS", 7, "The following resource(s) failed to update: [salesds]."),
        event("salesds", "UPDATE_FAILED", 6.5, "Invalid request provided: DataSet sales-ds column Region not found"),
        event("salesdash", "CREATE_IN_PROGRESS", 6, rtype="AWS::QuickSight::Dashboard"),
        event("salesds", "UPDATE_IN_PROGRESS", 6),
        event(NAME, "UPDATE_IN_PROGRESS", 6, "User Initiated"),
        # An older operation's failure (before this change set was created) is not this one's cause.
        event("salesds", "UPDATE_FAILED", -60, "an old failure"),
    )

    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request(keep=frozenset({"Pw"})))

    cfn.done()
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults': the update failed (UPDATE_ROLLBACK_COMPLETE); root cause: salesds "
        "(AWS::QuickSight::DataSet, dataset/sales-ds) UPDATE_FAILED: Invalid request provided: DataSet sales-ds "
        "column Region not found; the stack was rolled back to the previous template and values. Fix the cause, "
        "then run pulumi up again"
    )
    sent = cfn.sent["CreateChangeSet"][0]
    # The unchanged NoEcho value goes as UsePreviousValue: no secret resent.
    assert sent["Parameters"] == [
        {"ParameterKey": "Host", "ParameterValue": "db.example.com"},
        {"ParameterKey": "Pw", "UsePreviousValue": True},
    ]
    assert sent["ChangeSetType"] == "UPDATE"
    assert {"Key": OWNERSHIP_TAG, "Value": IDENTITY} in sent["Tags"] and {"Key": OWNER_TAG, "Value": OWNER} in sent["Tags"]
    token = cfn.sent["ExecuteChangeSet"][0]["ClientRequestToken"]
    assert token.startswith("quicksight-promotion-")


def test_root_cause_events_are_chosen_by_client_request_token(cfn: Scripted) -> None:
    events = [
        {**event("salesds", "UPDATE_FAILED", 1, "another run's failure"), "ClientRequestToken": "other"},
        {**event("salesdash", "CREATE_FAILED", 2, "Dashboard definition invalid", "AWS::QuickSight::Dashboard"), "ClientRequestToken": "mine"},
    ]
    cfn.events(*reversed(events))
    cause = cfn.deployer.root_cause(STACK_ID, NAME, "mine", None)
    assert cause is not None and cause["LogicalResourceId"] == "salesdash"


def test_a_failed_first_create_then_up_again_deletes_and_recreates(cfn: Scripted) -> None:
    cfn.stack(None)
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES[1:])
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("ROLLBACK_COMPLETE", ref=STACK_ID)
    cfn.events(
        event(NAME, "ROLLBACK_COMPLETE", 9),
        event("salesdash", "CREATE_FAILED", 7, "User: deployer is not authorized to perform quicksight:CreateDashboard", "AWS::QuickSight::Dashboard"),
        event(NAME, "CREATE_IN_PROGRESS", 6, "User Initiated"),
    )
    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request())
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults': the create failed (ROLLBACK_COMPLETE); root cause: salesdash "
        "(AWS::QuickSight::Dashboard, dashboard/sales) CREATE_FAILED: User: deployer is not authorized to perform "
        "quicksight:CreateDashboard; the stack was rolled back and is kept empty for its events; the next pulumi up "
        "deletes it and creates it again. Fix the cause, then run pulumi up again"
    )

    # The next up: the empty ROLLBACK_COMPLETE stack (ours) is deleted, then created again.
    cfn.stack("ROLLBACK_COMPLETE")
    cfn.stub.add_response("delete_stack", {}, None)
    cfn.stack("DELETE_COMPLETE", ref=STACK_ID)
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES[1:])
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("CREATE_COMPLETE", ref=STACK_ID)
    cfn.stack("CREATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert result.stack_status == "CREATE_COMPLETE" and result.executed
    assert [s["ChangeSetType"] for s in cfn.sent["CreateChangeSet"]] == ["CREATE", "CREATE"]
    assert cfn.sent["DeleteStack"][0]["StackName"] == STACK_ID
    assert result.outputs == {"DashboardArn": "arn:aws:quicksight:::dashboard/sales"}
    assert [c["asset_id"] for c in result.change_summary] == ["sales"]


def test_a_stack_deleted_by_cloudformation_after_a_failed_create_says_so(cfn: Scripted) -> None:
    cfn.stack(None)
    cfn.change_set("CREATE_COMPLETE")
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("DELETE_COMPLETE", ref=STACK_ID)
    cfn.events(event("salesds", "CREATE_FAILED", 7, "Data source sales-src not found"))

    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request(on_failure="DELETE"))

    cfn.done()
    assert cfn.sent["CreateChangeSet"][0]["OnStackFailure"] == "DELETE"
    assert "the create failed (DELETE_COMPLETE); root cause: salesds (AWS::QuickSight::DataSet, dataset/sales-ds)" in str(info.value)
    assert "CloudFormation deleted the failed stack (on_failure DELETE); the next pulumi up creates it again" in str(info.value)


def test_a_deadline_while_cloudformation_works_says_it_goes_on(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    for _ in range(40):
        cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)

    with pytest.raises(DeploymentTimeoutError) as info:
        cfn.deployer.deploy(cfn.request(timeout_seconds=120))

    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' is still UPDATE_IN_PROGRESS after stack_timeout_seconds (120 s); CloudFormation "
        "goes on with the update without us. Run pulumi up again later: it waits for the stack and carries on "
        "(raise stack_timeout_seconds for large bundles)"
    )
    assert cfn.time.now <= 120, "the deadline bounds the whole operation"


# --- the stack's state before a deployment ------------------------------------------------------------


def test_a_busy_stack_is_waited_for_then_updated(cfn: Scripted) -> None:
    cfn.stack("UPDATE_IN_PROGRESS")
    cfn.stack("UPDATE_IN_PROGRESS", ref=STACK_ID)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)

    result = cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert result.stack_status == "UPDATE_COMPLETE"
    assert cfn.sent["CreateChangeSet"][0]["ChangeSetType"] == "UPDATE"


def test_a_stack_busy_past_the_deadline_is_refused_naming_its_status(cfn: Scripted) -> None:
    cfn.stack("UPDATE_ROLLBACK_IN_PROGRESS")
    for _ in range(30):
        cfn.stack("UPDATE_ROLLBACK_IN_PROGRESS", ref=STACK_ID)

    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request(timeout_seconds=60))

    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' is busy (UPDATE_ROLLBACK_IN_PROGRESS, another operation runs) and did not "
        "settle within stack_timeout_seconds (60 s): nothing was changed; wait for it to finish (CloudFormation console or "
        "aws cloudformation describe-stacks), then run pulumi up again"
    )
    assert "CreateChangeSet" not in cfn.deployer.calls and cfn.time.now <= 60


def test_update_rollback_failed_is_refused_with_what_to_do(cfn: Scripted) -> None:
    cfn.stack("UPDATE_ROLLBACK_FAILED")
    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request())
    cfn.done()
    assert "is UPDATE_ROLLBACK_FAILED" in str(info.value)
    assert "aws cloudformation continue-update-rollback --stack-name qsp-faults" in str(info.value)
    assert "--resources-to-skip" in str(info.value)


def test_a_delete_failed_stack_is_refused_naming_its_status(cfn: Scripted) -> None:
    cfn.stack("DELETE_FAILED")
    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request())
    assert str(info.value).startswith("CloudFormation stack 'qsp-faults' is DELETE_FAILED: this resource does not act")


def adopted_update(cfn: Scripted, tags: list[dict[str, str]], changes: list[Any], **request: Any) -> Any:
    """A stack tagged ``tags`` taken over by a change set of ``changes``, executed."""
    cfn.stack("CREATE_COMPLETE", tags=tags)
    cfn.change_set("CREATE_COMPLETE", changes=changes)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    return cfn.deployer.deploy(cfn.request(**request))


def test_a_stack_that_is_not_ours_is_refused_unless_adopted(cfn: Scripted) -> None:
    cfn.stack("CREATE_COMPLETE", tags=[{"Key": "team", "Value": "bi"}])
    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request())
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' already exists (CREATE_COMPLETE) and was not created by this library (it "
        f"has no {OWNERSHIP_TAG} tag): nothing was changed. Choose another stack_name, or set adopt_stack=true to take "
        "it over (its template and parameters will be replaced by this deployment's; run it with "
        "execute_change_set=false first to review what it removes)"
    )
    assert "CreateChangeSet" not in cfn.deployer.calls

    result = adopted_update(cfn, [{"Key": "team", "Value": "bi"}], CHANGES, claim=Claim(identity=IDENTITY, owner=OWNER, adopt_stack=True))
    cfn.done()
    assert result.stack_status == "UPDATE_COMPLETE"
    assert {"Key": OWNERSHIP_TAG, "Value": IDENTITY} in cfn.sent["CreateChangeSet"][0]["Tags"]


THEIRS_REFUSED = (
    "CloudFormation stack 'qsp-faults' already exists (CREATE_COMPLETE) and belongs to the deployment of 'team-a/prod' "
    f"({OWNERSHIP_TAG} '{THEIR_IDENTITY}'), not to this one: nothing was changed. Choose another stack_name; or, to take "
    f"it over from its owner, set adopt_stack=true and adopt_identity='{THEIR_IDENTITY}' (review first with "
    "execute_change_set=false)"
)


@pytest.mark.parametrize("adopt_identity", [None, "another-identity"])
def test_another_deployments_stack_is_refused_naming_its_owner_even_with_adopt_stack(cfn: Scripted, adopt_identity: Optional[str]) -> None:
    # Team B's first up meets team A's stack of the same default name: never updated, emptied or unprotected.
    for claim in (Claim(identity=IDENTITY, owner=OWNER), Claim(identity=IDENTITY, owner=OWNER, adopt_stack=True, adopt_identity=adopt_identity)):
        cfn.stack("CREATE_COMPLETE", tags=THEIRS, protected=True)
        with pytest.raises(StackStateError) as info:
            cfn.deployer.deploy(cfn.request(claim=claim))
        assert str(info.value) == THEIRS_REFUSED
    cfn.done()
    assert "CreateChangeSet" not in cfn.deployer.calls and "UpdateTerminationProtection" not in cfn.deployer.calls


def test_another_deployments_stack_is_adopted_when_its_identity_is_named(cfn: Scripted) -> None:
    claim = Claim(identity=IDENTITY, owner=OWNER, adopt_stack=True, adopt_identity=THEIR_IDENTITY)
    result = adopted_update(cfn, THEIRS, CHANGES, claim=claim, created_stack=False)
    cfn.done()
    assert result.executed and {"Key": OWNERSHIP_TAG, "Value": IDENTITY} in cfn.sent["CreateChangeSet"][0]["Tags"]


def test_a_stack_of_0_1_0_is_ours_only_when_our_state_records_its_id(cfn: Scripted) -> None:
    # The resource whose state holds the stack's id re-tags it with its identity...
    result = adopted_update(cfn, LEGACY, CHANGES, claim=Claim(identity=IDENTITY, owner=OWNER, recorded_stack_id=STACK_ID))
    assert result.executed and {"Key": OWNERSHIP_TAG, "Value": IDENTITY} in cfn.sent["CreateChangeSet"][0]["Tags"]
    # ...and a fresh resource (no state) meeting it treats it as another's.
    cfn.stack("CREATE_COMPLETE", tags=LEGACY)
    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request(claim=Claim(identity=IDENTITY, owner=OWNER)))
    cfn.done()
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' already exists (CREATE_COMPLETE) and belongs to a deployment of "
        f"quicksight-promotion 0.1.0 whose state does not hold this stack ({OWNERSHIP_TAG} 'CloudFormationDeployment'), "
        "not to this one: nothing was changed. Choose another stack_name; or, to take it over from its owner, set "
        "adopt_stack=true and adopt_identity='CloudFormationDeployment' (review first with execute_change_set=false)"
    )


REMOVING = [
    *CHANGES,
    {"Type": "Resource", "ResourceChange": {"Action": "Remove", "LogicalResourceId": "theirdash", "ResourceType": "AWS::QuickSight::Dashboard"}},
    {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": "theirds", "ResourceType": "AWS::QuickSight::DataSet", "Replacement": "True"}},
]


def test_an_adoption_that_removes_what_no_review_showed_is_not_executed(cfn: Scripted) -> None:
    cfn.stack("CREATE_COMPLETE", tags=[])
    cfn.change_set("CREATE_COMPLETE", changes=REMOVING)
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})
    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request(claim=Claim(identity=IDENTITY, adopt_stack=True), created_stack=False))
    cfn.done()
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' is being adopted, and its change set (1 to add, 2 to modify, 1 to remove "
        "(1 replaced)) would remove or replace theirdash (AWS::QuickSight::Dashboard), theirds (AWS::QuickSight::DataSet), "
        "which no review showed: nothing was executed and the change set was deleted. Review it first (execute_change_set=false, pulumi up, read change_summary), then set "
        "execute_change_set=true; or set adopt_allow_removals=true to accept the removals"
    )
    assert "ExecuteChangeSet" not in cfn.deployer.calls


def test_an_adoption_removes_what_its_review_showed_or_what_is_allowed(cfn: Scripted) -> None:
    adopt = Claim(identity=IDENTITY, adopt_stack=True)
    # The review: execute_change_set false leaves the change set, removals and all.
    cfn.stack("CREATE_COMPLETE", tags=[])
    cfn.change_set("CREATE_COMPLETE", changes=REMOVING)
    cfn.stack("CREATE_COMPLETE", ref=STACK_ID, tags=[])
    review = cfn.deployer.deploy(cfn.request(claim=adopt, created_stack=False, execute_change_set=False))
    assert not review.executed and core.removals(review.change_summary) == ["theirdash", "theirds"]
    # Then executed with what the review showed; or, without a review, with adopt_allow_removals.
    assert adopted_update(cfn, [], REMOVING, claim=adopt, created_stack=False, reviewed_changes=review.change_summary).executed
    assert adopted_update(cfn, [], REMOVING, claim=adopt, created_stack=False, adopt_allow_removals=True).executed
    cfn.done()


def test_termination_protection_is_never_lowered_on_a_stack_this_resource_did_not_create(cfn: Scripted) -> None:
    cfn.stack("CREATE_COMPLETE", tags=[], protected=True)
    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request(claim=Claim(identity=IDENTITY, adopt_stack=True), created_stack=False))
    cfn.done()
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' has termination protection on, and this deployment did not create it, so "
        "it does not turn it off: nothing was changed. Set termination_protection=true, or have the stack's owner turn "
        "it off (aws cloudformation update-termination-protection --no-enable-termination-protection --stack-name "
        "qsp-faults), then run pulumi up again"
    )
    assert "CreateChangeSet" not in cfn.deployer.calls


def test_a_failed_first_create_of_a_namesake_is_recreated_and_anothers_is_refused(cfn: Scripted) -> None:
    # A create that failed left no state: its retry has a new identity but the same readable owner.
    namesake = [{"Key": OWNERSHIP_TAG, "Value": THEIR_IDENTITY}, {"Key": OWNER_TAG, "Value": OWNER}]
    cfn.stack("ROLLBACK_COMPLETE", tags=namesake)
    cfn.stub.add_response("delete_stack", {}, None)
    cfn.stack(None, ref=STACK_ID)
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("CREATE_COMPLETE", ref=STACK_ID)
    cfn.stack("CREATE_COMPLETE", ref=STACK_ID)
    assert cfn.deployer.deploy(cfn.request(claim=Claim(identity=IDENTITY, owner=OWNER))).change_set_type == "CREATE"
    cfn.stack("ROLLBACK_COMPLETE", tags=THEIRS)
    with pytest.raises(StackStateError) as info:
        cfn.deployer.deploy(cfn.request(claim=Claim(identity=IDENTITY, owner=OWNER)))
    cfn.done()
    assert str(info.value) == THEIRS_REFUSED.replace("(CREATE_COMPLETE)", "(ROLLBACK_COMPLETE)")


def test_execute_false_leaves_the_change_set_for_review(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request(execute_change_set=False))

    cfn.done()
    assert result.change_set_id == CHANGE_SET_ID and result.executed is False
    assert [(c["logical_id"], c["action"], c["replacement"]) for c in result.change_summary] == [
        ("salesdash", "Add", None),
        ("salesds", "Modify", "False"),
    ]
    assert "ExecuteChangeSet" not in cfn.deployer.calls

    # The next run deletes the reviewed change set before making (and executing) a fresh one.
    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})
    cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)
    cfn.deployer.deploy(cfn.request(stale_change_set=CHANGE_SET_ID))
    cfn.done()


# --- termination protection and delete ---------------------------------------------------------------


def test_termination_protection_is_set_after_the_deployment(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)
    cfn.stub.add_response("update_termination_protection", {"StackId": STACK_ID}, None)

    result = cfn.deployer.deploy(cfn.request(termination_protection=True))

    cfn.done()
    assert result.termination_protection is True
    assert cfn.sent["UpdateTerminationProtection"] == [{"StackName": STACK_ID, "EnableTerminationProtection": True}]


def test_delete_is_refused_while_termination_protection_is_on(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID, protected=True)
    with pytest.raises(StackStateError) as info:
        cfn.deployer.delete(STACK_ID, NAME, 600)
    cfn.done()
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' has termination protection on, so it cannot be deleted: nothing was "
        "deleted. Turn it off first (termination_protection=false and pulumi up, or aws cloudformation "
        "update-termination-protection --no-enable-termination-protection --stack-name qsp-faults), then delete again"
    )
    assert "DeleteStack" not in cfn.deployer.calls


def test_delete_waits_and_a_failed_delete_names_its_root_cause(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stub.add_response("delete_stack", {}, None)
    cfn.stack("DELETE_IN_PROGRESS", ref=STACK_ID)
    cfn.stack("DELETE_FAILED", ref=STACK_ID)
    cfn.stub.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                {"StackId": STACK_ID, "EventId": "2", "StackName": NAME, "LogicalResourceId": "salesds", "ResourceType": "AWS::QuickSight::DataSet", "Timestamp": dt.datetime.now(dt.timezone.utc), "ResourceStatus": "DELETE_FAILED", "ResourceStatusReason": "DataSet is used by analysis sales-a"},
            ]
        },
        None,
    )
    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.delete(STACK_ID, NAME, 600, ASSETS)
    cfn.done()
    assert "the delete failed (DELETE_FAILED); root cause: salesds (AWS::QuickSight::DataSet, dataset/sales-ds) DELETE_FAILED: DataSet is used by analysis sales-a" in str(info.value)
    assert "ClientRequestToken" in cfn.sent["DeleteStack"][0]


def test_delete_of_a_gone_stack_is_done(cfn: Scripted) -> None:
    cfn.stack(None, ref=STACK_ID)
    assert cfn.deployer.delete(STACK_ID, NAME, 600) is False
    cfn.done()


# --- staging, access, throttling -------------------------------------------------------------------------


BIG_TEMPLATE = TEMPLATE[:-1] + ',"Description":"' + "x" * INLINE_TEMPLATE_LIMIT + '"}'


BIG_CHECKSUM = base64.b64encode(hashlib.sha256(BIG_TEMPLATE.encode()).digest()).decode()


def staged(**more: Any) -> dict[str, Any]:
    """What both staging calls send: the object, and the target account as the bucket's owner."""
    return {"Bucket": "stage", "Key": ANY, "ExpectedBucketOwner": ACCOUNT, **more}


def test_a_large_template_is_staged_once_and_named_by_its_version(cfn: Scripted) -> None:
    for exists in (False, True):
        cfn.stack("UPDATE_COMPLETE")
        if exists:
            answer = {"ContentLength": len(BIG_TEMPLATE), "ChecksumSHA256": BIG_CHECKSUM, "VersionId": "v1+/="}
            cfn.s3_stub.add_response("head_object", answer, staged(ChecksumMode="ENABLED"))
        else:
            cfn.s3_stub.add_client_error("head_object", "404", "Not Found", 404, expected_params=staged(ChecksumMode="ENABLED"))
            sent = staged(Body=BIG_TEMPLATE.encode(), ContentType="application/json", ChecksumAlgorithm="SHA256", ChecksumSHA256=BIG_CHECKSUM)
            cfn.s3_stub.add_response("put_object", {"VersionId": "v1+/="}, sent)
        cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)
        result = cfn.deployer.deploy(cfn.request(template_body=BIG_TEMPLATE, staging_bucket="stage", staging_prefix="qs/"))
        assert result.template_url is not None and result.template_url.startswith(f"https://stage.s3.{REGION}.amazonaws.com/qs/")
        assert result.template_url.endswith(".json?versionId=v1%2B%2F%3D"), "the version written or checked, URL-encoded"
    cfn.done()
    assert [c for c in cfn.deployer.calls if c.startswith("s3:")] == ["s3:HeadObject", "s3:PutObject", "s3:HeadObject"]
    assert all("TemplateBody" not in sent and sent["TemplateURL"] == result.template_url for sent in cfn.sent["CreateChangeSet"])


@pytest.mark.parametrize("stored", [{"ChecksumSHA256": base64.b64encode(hashlib.sha256(b"other").digest()).decode()}, {}])
def test_a_staged_object_of_other_bytes_or_no_checksum_is_never_trusted_by_its_name(cfn: Scripted, stored: dict[str, str]) -> None:
    # Someone who may write to the staging bucket replaced <prefix><sha256>.json (with an IAM role, say):
    # the name still says our sha256, the stored checksum does not (or there is none to tell).
    cfn.stack("UPDATE_COMPLETE")
    cfn.s3_stub.add_response("head_object", {"ContentLength": 9, "VersionId": "theirs", **stored}, staged(ChecksumMode="ENABLED"))
    sent = staged(Body=BIG_TEMPLATE.encode(), ContentType="application/json", ChecksumAlgorithm="SHA256", ChecksumSHA256=BIG_CHECKSUM)
    cfn.s3_stub.add_response("put_object", {"VersionId": "ours"}, sent)
    cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)
    result = cfn.deployer.deploy(cfn.request(template_body=BIG_TEMPLATE, staging_bucket="stage", staging_prefix="qs/"))
    cfn.done()
    assert result.template_url is not None and result.template_url.endswith("?versionId=ours")
    assert cfn.sent["CreateChangeSet"][0]["TemplateURL"] == result.template_url


def test_a_bucket_without_versioning_is_named_without_a_version(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.s3_stub.add_client_error("head_object", "404", "Not Found", 404, expected_params=staged(ChecksumMode="ENABLED"))
    cfn.s3_stub.add_response("put_object", {}, staged(Body=BIG_TEMPLATE.encode(), ContentType="application/json", ChecksumAlgorithm="SHA256", ChecksumSHA256=BIG_CHECKSUM))
    cfn.stub.add_client_error("create_change_set", "ValidationError", "No updates are to be performed.", 400)
    result = cfn.deployer.deploy(cfn.request(template_body=BIG_TEMPLATE, staging_bucket="stage", staging_prefix="qs/"))
    cfn.done()
    assert result.template_url is not None and result.template_url.endswith(".json") and "versionId" not in result.template_url


def test_a_staging_bucket_of_another_account_is_refused_with_its_object_named(cfn: Scripted) -> None:
    # S3 answers 403 to a request whose ExpectedBucketOwner is not the bucket's owner.
    cfn.stack("UPDATE_COMPLETE")
    cfn.s3_stub.add_client_error("head_object", "403", "Forbidden", 403, expected_params=staged(ChecksumMode="ENABLED"))
    with pytest.raises(AwsAccessError) as info:
        cfn.deployer.deploy(cfn.request(template_body=BIG_TEMPLATE, staging_bucket="stage", staging_prefix="qs/"))
    assert str(info.value).startswith("s3:HeadObject on s3://stage/qs/")
    assert "s3:PutObject" not in cfn.deployer.calls and "CreateChangeSet" not in cfn.deployer.calls


def test_a_large_template_without_a_staging_bucket_is_refused(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    with pytest.raises(DeploymentError) as info:
        cfn.deployer.deploy(cfn.request(template_body=BIG_TEMPLATE))
    assert "over CloudFormation's 51,200-byte TemplateBody limit and must be staged in S3, but no staging_bucket is set" in str(info.value)


def test_access_denied_names_the_call_and_what_to_do(cfn: Scripted) -> None:
    cfn.stub.add_client_error("describe_stacks", "AccessDenied", "User: x is not authorized to perform: cloudformation:DescribeStacks", 403)
    with pytest.raises(AwsAccessError) as info:
        cfn.deployer.deploy(cfn.request())
    assert str(info.value) == (
        "cloudformation:DescribeStacks for CloudFormation stack 'qsp-faults': AWS denied the call (AccessDenied: User: x "
        "is not authorized to perform: cloudformation:DescribeStacks): give the deploying credentials (or "
        "target_role_arn) this permission in the target account"
    )
    assert (info.value.stack, info.value.operation, info.value.code) == (NAME, "cloudformation:DescribeStacks", "AccessDenied")
    assert (info.value.account, info.value.region) == (ACCOUNT, REGION)


def test_throttling_during_a_wait_does_not_end_it(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stub.add_client_error("describe_stacks", "Throttling", "Rate exceeded", 400)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)

    result = cfn.deployer.deploy(cfn.request())

    cfn.done()
    assert result.stack_status == "UPDATE_COMPLETE" and result.executed


# --- the remaining error paths -------------------------------------------------------------------------


def test_a_change_set_still_evaluating_at_the_deadline(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set(*(["CREATE_IN_PROGRESS"] * 40))
    with pytest.raises(DeploymentTimeoutError) as info:
        cfn.deployer.deploy(cfn.request(timeout_seconds=30))
    assert str(info.value) == (
        "the change set for CloudFormation stack 'qsp-faults' was still CREATE_IN_PROGRESS after stack_timeout_seconds "
        "(30 s): nothing was executed; CloudFormation goes on evaluating it. Run pulumi up again (raise "
        "stack_timeout_seconds)"
    )
    assert cfn.time.now <= 30
    # Change sets are polled after 2.5 s, then at ~5 s, then every 5 s.
    assert cfn.time.sleeps[:4] == [2.5, 2.5, 5.0, 5.0] and max(cfn.time.sleeps) <= 5.0


def test_a_change_set_deleted_while_evaluated(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("DELETE_COMPLETE")
    with pytest.raises(ChangeSetFailedError) as info:
        cfn.deployer.deploy(cfn.request())
    cfn.done()
    assert "was deleted while it was evaluated (DELETE_COMPLETE): nothing was executed" in str(info.value)


def test_a_template_that_cannot_be_split_is_never_sent(cfn: Scripted) -> None:
    cfn.stack(None)
    huge = TEMPLATE[:-1] + ',"Description":"' + "x" * 1_048_576 + '"}'
    with pytest.raises(NestingError) as info:
        cfn.deployer.deploy(cfn.request(template_body=huge, staging_bucket="stage"))
    assert str(info.value).startswith(
        f"the template for CloudFormation stack 'qsp-faults' is over one stack's limits ({URL_TEMPLATE_LIMIT:,} bytes, "
        "500 resources) and cannot be split into nested stacks: the parent template is 1,04"
    )
    assert str(info.value).endswith(
        "its parameters, outputs or description are that large; shorten them; nothing was deployed"
    )
    assert info.value.stack == "qsp-faults"
    assert "CreateChangeSet" not in cfn.deployer.calls and "PutObject" not in cfn.deployer.calls


def test_a_refused_upload_names_the_object(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.s3_stub.add_client_error("head_object", "404", "Not Found", 404)
    cfn.s3_stub.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
    with pytest.raises(AwsAccessError) as info:
        cfn.deployer.deploy(cfn.request(template_body=BIG_TEMPLATE, staging_bucket="stage", staging_prefix="qs/"))
    assert str(info.value).startswith("s3:PutObject on s3://stage/qs/")
    assert "for CloudFormation stack 'qsp-faults': AWS denied the call (AccessDenied: Access Denied)" in str(info.value)
    assert "give the deploying credentials (or target_role_arn) this permission in the target account" in str(info.value)


def test_a_failed_update_whose_rollback_failed_says_what_to_run(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_ROLLBACK_FAILED", ref=STACK_ID, reason="The following resource(s) failed to update: [salesds]")
    cfn.events()
    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request())
    cfn.done()
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults': the update failed (UPDATE_ROLLBACK_FAILED); CloudFormation gave no failed "
        "resource event (The following resource(s) failed to update: [salesds]); the rollback failed too: run aws "
        "cloudformation continue-update-rollback --stack-name qsp-faults once the cause is fixed. Fix the cause, then "
        "run pulumi up again"
    )


def test_a_delete_past_the_deadline_says_cloudformation_goes_on(cfn: Scripted) -> None:
    cfn.stack("CREATE_COMPLETE", ref=STACK_ID)
    cfn.stub.add_response("delete_stack", {}, None)
    for _ in range(30):
        cfn.stack("DELETE_IN_PROGRESS", ref=STACK_ID)
    with pytest.raises(DeploymentTimeoutError) as info:
        cfn.deployer.delete(STACK_ID, NAME, 60)
    assert str(info.value) == (
        "CloudFormation stack 'qsp-faults' is still DELETE_IN_PROGRESS after stack_timeout_seconds (60 s); CloudFormation "
        "goes on deleting it without us. Run the command again later"
    )


def test_a_stack_that_disappears_during_the_deployment(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_COMPLETE", ref=STACK_ID)
    cfn.stack(None, ref=STACK_ID)
    with pytest.raises(DeploymentError) as info:
        cfn.deployer.deploy(cfn.request())
    assert "disappeared during the deployment (deleted by someone else?); run pulumi up again to create it" in str(info.value)


def test_an_unreachable_endpoint_is_retried_until_the_deadline_and_named(cfn: Scripted) -> None:
    from botocore.exceptions import EndpointConnectionError

    calls = []

    def broken(**_: Any) -> Any:
        calls.append(1)
        raise EndpointConnectionError(endpoint_url="https://cloudformation.eu-west-1.amazonaws.com/")

    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, None)
    cfn.cfn.describe_change_set = broken  # type: ignore[method-assign]
    with pytest.raises(DeploymentTimeoutError) as info:
        cfn.deployer.deploy(cfn.request(timeout_seconds=60))
    message = str(info.value)
    assert message.startswith(
        "the change set for CloudFormation stack 'qsp-faults' was still being created after stack_timeout_seconds (60 s); "
        "last fault: cloudformation:DescribeChangeSet for CloudFormation stack 'qsp-faults': cannot reach CloudFormation "
        "(EndpointConnectionError: Could not connect"
    ), message
    assert "check the network and region of the process that runs pulumi" in message
    assert "nothing was executed" in message
    assert len(calls) > 5 and cfn.time.now <= 60, "retried on the change set schedule, within the deadline"


# --- bounded, escaped messages; malformed answers (issue 10) ----------------------------------------------


def test_thousands_of_failed_events_give_the_root_cause_a_few_others_and_a_count(cfn: Scripted) -> None:
    cfn.stack(None)
    cfn.change_set("CREATE_COMPLETE")
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("ROLLBACK_COMPLETE", ref=STACK_ID)
    failed = [event(f"asset{i:04d}", "CREATE_FAILED", 7 + i / 10_000, f"definition error {i} " + "x" * 300) for i in range(3000)]
    cfn.events(*reversed(failed))
    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request())
    message = str(info.value)
    assert "root cause: asset0000 (AWS::QuickSight::DataSet) CREATE_FAILED: definition error 0 " in message
    assert "(other resources failed too: asset0001 (AWS::QuickSight::DataSet), asset0002" in message
    assert "and 2,994 more)" in message
    assert len(message) < 3000, len(message)


def test_terminal_escapes_in_cloudformation_text_are_escaped(cfn: Scripted) -> None:
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("FAILED", reason="bad\x1b[2K\r\x1b[32mINFO all good\x1b[0m\nnext line")
    cfn.stub.add_response("delete_change_set", {}, {"ChangeSetName": CHANGE_SET_ID, "StackName": NAME})
    with pytest.raises(ChangeSetFailedError) as info:
        cfn.deployer.deploy(cfn.request())
    message = str(info.value)
    assert "bad\\x1b[2K\\x0d\\x1b[32mINFO all good\\x1b[0m\\x0anext line; nothing was changed" in message
    assert "\x1b" not in message and "\n" not in message and "\r" not in message


def test_a_change_set_answer_without_a_status_fails_at_once(cfn: Scripted) -> None:
    from components.core.stacks import MalformedStackAnswerError

    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID}, None)
    cfn.stub.add_response("describe_change_set", {"ChangeSetId": CHANGE_SET_ID, "Changes": []}, None)
    with pytest.raises(MalformedStackAnswerError) as info:
        cfn.deployer.deploy(cfn.request())
    cfn.done()
    assert str(info.value).startswith(
        "cloudformation:DescribeChangeSet for CloudFormation stack 'qsp-faults': CloudFormation's answer is not of the "
        "documented shape (Status is missing): this is not the documented answer: check AWS_ENDPOINT_URL_CLOUDFORMATION"
    )
    assert cfn.time.now == core.CHANGE_SET_BACKOFF.initial, "not waited on past the first poll"


def test_a_refusal_quoting_the_password_is_redacted_and_its_chain_cut(cfn: Scripted) -> None:
    import traceback

    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_client_error("create_change_set", "ValidationError", "Parameter value s3cr3t-Pw for parameter name Pw is bad", 400)
    with pytest.raises(DeploymentError) as info:
        cfn.deployer.deploy(cfn.request())
    assert str(info.value) == (
        "cloudformation:CreateChangeSet for CloudFormation stack 'qsp-faults': CloudFormation refused the call "
        "(ValidationError: Parameter value <value of parameter Pw> for parameter name Pw is bad): fix what it names, "
        "then run pulumi up again"
    )
    shown = "".join(traceback.format_exception(info.value))
    assert "s3cr3t-Pw" not in shown


def test_a_template_that_is_no_json_has_every_value_hidden_and_is_left_to_cloudformation(cfn: Scripted) -> None:
    # No NoEcho can be told apart: every value of at least MIN_HIDDEN_NO_ECHO characters is hidden, this short one too.
    cfn.stack("UPDATE_COMPLETE")
    cfn.stub.add_client_error("create_change_set", "ValidationError", "Template format error; value Ab12 of X", 400)
    with pytest.raises(DeploymentError) as info:
        cfn.deployer.deploy(cfn.request(template_body="{not json", parameters={"X": "Ab12"}))
    assert str(info.value) == (
        "cloudformation:CreateChangeSet for CloudFormation stack 'qsp-faults': CloudFormation refused the call "
        "(ValidationError: Template format error; value <value of parameter X> of X): fix what it names, "
        "then run pulumi up again"
    )
    assert cfn.sent["CreateChangeSet"][0]["TemplateBody"] == "{not json"
    assert "IncludeNestedStacks" not in cfn.sent["CreateChangeSet"][0]
    cfn.done()


class _Answers:
    """A CloudFormation stand-in answering DescribeStacks with a fixed (malformed) object: shapes botocore's parser never makes."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def describe_stacks(self, **_: Any) -> Any:
        return self.answer


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ({"Stacks": "not a list"}, "Stacks is not a list"),
        ({"Stacks": ["text"]}, "Stacks[0] is not an object"),
        ({"Stacks": [{"StackName": NAME, "StackStatus": "CREATE_COMPLETE", "Tags": 7}]}, "Stacks[0].Tags is not a list"),
        ("<html>", "is not an object"),
    ],
)
def test_a_describe_stacks_answer_of_the_wrong_shape_fails_at_once(answer: Any, said: str) -> None:
    from components.core.stacks import MalformedStackAnswerError

    time = FakeTime()
    deployer = Deployer(Target(_Answers(answer), lambda: None, ACCOUNT, REGION), sleep=time.sleep, clock=time.clock)
    with pytest.raises(MalformedStackAnswerError) as info:
        deployer.deploy(DeployRequest(stack_name=NAME, template_body=TEMPLATE, parameters={"Pw": "s3cr3t-Pw"}))
    assert said in str(info.value) and f"'{NAME}'" in str(info.value) and "check AWS_ENDPOINT_URL" in str(info.value)
    assert time.sleeps == [], "a malformed answer is not retried"


def test_a_hanging_s3_ends_the_staging_at_the_deadline() -> None:
    """A real S3 client fitted to the deadline (BudgetedClients) against a loopback socket that never answers."""
    import socket
    import time as wall

    from botocore.config import Config as BotoConfig

    from components.aws.session import BudgetedClients

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections complete in the backlog; nothing is ever read or answered
    try:
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        session = boto3.session.Session(aws_access_key_id="AKIASTUB", aws_secret_access_key="stub", region_name=REGION)
        s3 = BudgetedClients(lambda config: session.client("s3", endpoint_url=endpoint, config=config.merge(BotoConfig(s3={"addressing_style": "path"}))))
        cfn = client("cloudformation")
        stub = Stubber(cfn)
        stub.add_response(
            "describe_stacks",
            {"Stacks": [{"StackId": STACK_ID, "StackName": NAME, "CreationTime": T0, "StackStatus": "UPDATE_COMPLETE", "Tags": OURS}]},
            {"StackName": NAME},
        )
        deployer = Deployer(Target(cfn, lambda: s3, ACCOUNT, REGION))
        started = wall.monotonic()
        with stub, pytest.raises(DeploymentTimeoutError) as info:
            deployer.deploy(
                DeployRequest(stack_name=NAME, template_body=BIG_TEMPLATE, parameters={"Pw": "s3cr3t-Pw"}, timeout_seconds=2, staging_bucket="stage", claim=Claim(identity=IDENTITY))
            )
        took = wall.monotonic() - started
    finally:
        silent.close()
    message = str(info.value)
    assert message.startswith(f"s3:HeadObject on s3://stage/quicksight-promotion/") and ": no usable answer within stack_timeout_seconds (2 s)" in message
    assert "nothing was deployed" in message and "s3cr3t-Pw" not in message
    assert took < 2 + 1 + 3, f"a 2 s deadline took {took:.1f} s"


def test_change_sets_are_first_polled_after_aws_evaluates_them_or_at_once_on_a_loopback_endpoint(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from components.aws.cloudformation import LOOPBACK_CLOUDFORMATION_SWITCH, change_set_schedule

    monkeypatch.delenv(LOOPBACK_CLOUDFORMATION_SWITCH, raising=False)
    assert change_set_schedule() is core.CHANGE_SET_BACKOFF and core.CHANGE_SET_BACKOFF.initial == 2.5
    monkeypatch.setenv(LOOPBACK_CLOUDFORMATION_SWITCH, "1")
    assert change_set_schedule().initial == 0.0 and change_set_schedule().cap == core.CHANGE_SET_BACKOFF.cap


NESTED_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{NAME}-Dashboards-ABC/0f0f"


def nested_failure(cfn: Scripted) -> None:
    """An update whose Dashboards nested stack failed (the parent's events name it, with its stack id)."""
    cfn.stack("UPDATE_COMPLETE")
    cfn.change_set("CREATE_COMPLETE", changes=CHANGES)
    cfn.stub.add_response("execute_change_set", {}, None)
    cfn.stack("UPDATE_ROLLBACK_COMPLETE", ref=STACK_ID)
    failed = event(
        "Dashboards", "UPDATE_FAILED", 7, f"Embedded stack {NESTED_ID} was not successfully updated", "AWS::CloudFormation::Stack"
    )
    cfn.events(event(NAME, "UPDATE_ROLLBACK_COMPLETE", 9), {**failed, "PhysicalResourceId": NESTED_ID}, event(NAME, "UPDATE_IN_PROGRESS", 6))


def test_a_failed_nested_stack_names_the_root_cause_inside_it(cfn: Scripted) -> None:
    nested_failure(cfn)
    inside = event("salesdash", "UPDATE_FAILED", 6.5, "Invalid request provided: the data set was not found", "AWS::QuickSight::Dashboard")
    cfn.stub.add_response(
        "describe_stack_events",
        {"StackEvents": [{"StackId": NESTED_ID, "EventId": "n1", "StackName": f"{NAME}-Dashboards-ABC", **inside}]},
        {"StackName": NESTED_ID},
    )
    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request())
    assert "root cause (in nested stack Dashboards): salesdash (AWS::QuickSight::Dashboard, dashboard/sales) UPDATE_FAILED: " in str(info.value)
    assert "the data set was not found" in str(info.value)


def test_a_nested_stack_whose_events_cannot_be_read_is_named_as_the_cause(cfn: Scripted) -> None:
    nested_failure(cfn)
    cfn.stub.add_client_error("describe_stack_events", "AccessDenied", "not allowed", 403, expected_params={"StackName": NESTED_ID})
    with pytest.raises(StackOperationFailedError) as info:
        cfn.deployer.deploy(cfn.request())
    assert (
        "root cause: Dashboards (AWS::CloudFormation::Stack) UPDATE_FAILED: Embedded stack "
        f"{NESTED_ID} was not successfully updated;"
    ) in str(info.value)
