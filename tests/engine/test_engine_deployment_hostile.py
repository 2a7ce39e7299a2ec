"""The deployment under broken networks, broken answers and hostile text, as ``pulumi up`` meets them (issue 10).

Every test drives the real provider process over gRPC (tests/engine.py) against the scripted
loopback CloudFormation (tests/cfn_emulator.py) told to misbehave: 5xx, resets, hanging and
trickling answers, HTML pages, answers without a StackStatus, events with bad timestamps, and
CloudFormation text that echoes a parameter value or carries terminal escapes. Deadlines are small
(3 s), so that "returns within the deadline" is checked for real, with generous bounds.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import grpc
import pytest

from cfn_emulator import ACCOUNT, NAMESPACE, CloudFormationEmulator
from components.deployment import CloudFormationDeploymentProvider
from engine import CheckFailedError, EngineHarness, error_text, user_error

# In the NoEcho password and in the (plain) host: neither may reach any text the provider sends.
MARKER = "MARKERz9Q"
PASSWORD = f"{MARKER}-Pa55word!"
HOST = f"{MARKER}.db.example.com"
DEADLINE = 3
# A call ends within the deadline plus one short request timeout (1 s); the rest is slack for a
# loaded machine (the process, botocore, the harness).
BOUND = DEADLINE + 1 + 4
TEMPLATE = {
    "Parameters": {"DbPassword": {"Type": "String", "NoEcho": True}, "Host": {"Type": "String"}},
    "Resources": {
        "salesds": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": "sales-ds"}},
        "salesdash": {"Type": "AWS::QuickSight::Dashboard", "Properties": {"DashboardId": "sales"}},
    },
}


def inputs(name: str, **overrides: Any) -> dict[str, Any]:
    base = {
        "stack_name": name,
        "template_body": json.dumps(TEMPLATE),
        "parameters": {"DbPassword": PASSWORD, "Host": HOST},
        "target_account_id": ACCOUNT,
        "target_region": "eu-west-1",
        "stack_timeout_seconds": 60,
    }
    return base | overrides


@pytest.fixture(scope="module")
def engine(cfn_engine: EngineHarness) -> EngineHarness:
    return cfn_engine  # the deployment provider against the loopback CloudFormation (tests/conftest.py)


@pytest.fixture(autouse=True)
def well_behaved_again(cfn: CloudFormationEmulator) -> Iterator[None]:
    yield
    cfn.faults.clear()


def failing_up(engine: EngineHarness, props: dict[str, Any]) -> tuple[str, float]:
    """Run ``pulumi up`` expecting a failure; (the user's line, seconds taken). No marker anywhere in the text."""
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        engine.up(props)
    took = time.monotonic() - started
    text = error_text(caught.value)
    assert MARKER not in text, f"a parameter value leaked into: {text[-3000:]}"
    return user_error(caught.value), took


def error_body(code: str, message: str, status: int = 400) -> tuple[str, int, str, bytes]:
    xml = (
        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message>'
        "</Error><RequestId>r-1</RequestId></ErrorResponse>"
    )
    return ("body", status, "text/xml", xml.encode())


# --- transient faults retried, permanent ones at once -----------------------------------------------


@pytest.mark.parametrize("fault", [500, 503, "reset"])
def test_transient_faults_of_every_call_are_retried_within_the_deadline(
    cfn: CloudFormationEmulator, engine: EngineHarness, fault: Any
) -> None:
    name = f"qsp-transient-{fault}"
    for action in ("GetCallerIdentity", "DescribeStacks", "CreateChangeSet", "DescribeChangeSet", "ExecuteChangeSet"):
        cfn.misbehave(fault, action=action)
    created = engine.up(inputs(name))
    assert created.action == "create" and created.outputs["stack_status"] == "CREATE_COMPLETE"
    assert cfn.faults == [], "every scripted fault was met"
    assert [s.name for s in cfn.stacks].count(name) == 1
    assert len([f for f in cfn.sent_for("CreateChangeSet") if f["StackName"] == name]) == 1, "one change set"


def test_a_refused_change_set_fails_at_once_with_its_reason(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    cfn.misbehave(error_body("ValidationError", "Template format error: Unresolved resource dependencies [Nope]"), action="CreateChangeSet")
    mark = len(cfn.actions)
    line, took = failing_up(engine, inputs("qsp-refused"))
    assert line == (
        "components.errors.DeploymentError: cloudformation:CreateChangeSet for CloudFormation stack 'qsp-refused': "
        "CloudFormation refused the call (ValidationError: Template format error: Unresolved resource dependencies "
        "[Nope]): fix what it names, then run pulumi up again"
    )
    assert cfn.actions[mark:].count("CreateChangeSet") == 1 and took < BOUND


# --- every wait bounded in wall time ----------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["hang", "trickle"])
@pytest.mark.parametrize("action", ["GetCallerIdentity", "DescribeStacks", "DescribeChangeSet"])
def test_a_hanging_or_trickling_answer_ends_at_the_deadline(
    cfn: CloudFormationEmulator, engine: EngineHarness, fault: str, action: str
) -> None:
    name = f"qsp-stalled-{action.lower()}-{fault}"
    cfn.misbehave(*[fault] * 40, action=action)
    line, took = failing_up(engine, inputs(name, stack_timeout_seconds=DEADLINE))
    assert took < BOUND, f"a {DEADLINE} s deadline took {took:.1f} s"
    assert line.startswith("components.errors.DeploymentTimeoutError: "), line
    assert f"'{name}'" in line and f"({DEADLINE} s)" in line and "last fault:" in line
    if action == "GetCallerIdentity":
        assert f"sts:GetCallerIdentity for CloudFormation stack '{name}': no usable answer within stack_timeout_seconds" in line
    elif action == "DescribeStacks":
        assert "cloudformation:DescribeStacks for CloudFormation stack" in line
    else:
        assert "the change set for CloudFormation stack" in line and "nothing was executed" in line


# --- malformed answers -----------------------------------------------------------------------------------


def test_an_html_page_instead_of_cloudformation_is_one_of_our_errors(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    cfn.misbehave("html", action="DescribeStacks")
    line, took = failing_up(engine, inputs("qsp-html"))
    assert line.startswith(
        "components.errors.MalformedStackAnswerError: cloudformation:DescribeStacks for CloudFormation stack 'qsp-html': "
        "CloudFormation's answer is not of the documented shape (KeyError"
    ), line
    assert "this is not the documented answer: check AWS_ENDPOINT_URL" in line and took < BOUND


def test_a_stack_without_a_status_is_one_of_our_errors(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    cfn.misbehave(cfn.body("DescribeStacks", "<Stacks><member><StackName>qsp-nostatus</StackName></member></Stacks>"), action="DescribeStacks")
    line, _ = failing_up(engine, inputs("qsp-nostatus"))
    assert line == (
        "components.errors.MalformedStackAnswerError: cloudformation:DescribeStacks for CloudFormation stack "
        "'qsp-nostatus': CloudFormation's answer is not of the documented shape (Stacks[0].StackStatus is missing): this "
        "is not the documented answer: check AWS_ENDPOINT_URL_CLOUDFORMATION, proxies (HTTPS_PROXY) and the region, "
        "then run pulumi up again"
    )


def test_events_with_a_bad_timestamp_still_report_the_failure(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    cfn.fail_next_execution("salesds", "Invalid DataSetId")
    bad = (
        "<StackEvents><member><StackId>x</StackId><EventId>1</EventId><StackName>qsp-badtime</StackName>"
        "<LogicalResourceId>salesds</LogicalResourceId><Timestamp>yesterday-ish</Timestamp>"
        "<ResourceStatus>CREATE_FAILED</ResourceStatus></member></StackEvents>"
    )
    cfn.misbehave(cfn.body("DescribeStackEvents", bad), action="DescribeStackEvents")
    line, _ = failing_up(engine, inputs("qsp-badtime"))
    assert line.startswith(
        "components.errors.StackOperationFailedError: CloudFormation stack 'qsp-badtime': the create failed "
        "(ROLLBACK_COMPLETE); CloudFormation gave no failed resource event (no reason); its events could not be read: "
        "cloudformation:DescribeStackEvents for CloudFormation stack 'qsp-badtime': CloudFormation's answer is not of "
        "the documented shape (ValueError: Invalid timestamp"
    ), line
    assert "the next pulumi up deletes it and creates it again" in line


# --- no parameter value in any message, and no forged log lines ------------------------------------------


def test_a_failed_change_set_echoing_a_value_is_redacted(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    cfn.fail_next_change_set(f"Parameter value {PASSWORD} for parameter name DbPassword, and host {HOST}, are invalid")
    line, _ = failing_up(engine, inputs("qsp-echo-cs"))
    assert line == (
        "components.errors.ChangeSetFailedError: CloudFormation could not create a change set for stack "
        "'qsp-echo-cs': Parameter value <value of parameter DbPassword> for parameter name DbPassword, and host "
        "<value of parameter Host>, are invalid; nothing was changed and the change set was deleted. Fix the template "
        "or parameters, then pulumi up again"
    )


def test_a_refusal_echoing_a_value_is_redacted_and_its_chain_cut(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    cfn.misbehave(error_body("ValidationError", f"Parameter value {PASSWORD} for parameter name DbPassword does not exist"), action="CreateChangeSet")
    line, _ = failing_up(engine, inputs("qsp-echo-refusal"))
    assert line == (
        "components.errors.DeploymentError: cloudformation:CreateChangeSet for CloudFormation stack "
        "'qsp-echo-refusal': CloudFormation refused the call (ValidationError: Parameter value <value of parameter "
        "DbPassword> for parameter name DbPassword does not exist): fix what it names, then run pulumi up again"
    )


def test_transient_faults_echoing_a_value_until_the_deadline_are_redacted(cfn: CloudFormationEmulator, engine: EngineHarness) -> None:
    cfn.misbehave(*[error_body("InternalFailure", f"could not read {PASSWORD}", 500)] * 60, action="CreateChangeSet")
    line, took = failing_up(engine, inputs("qsp-echo-transient", stack_timeout_seconds=DEADLINE))
    assert line.startswith("components.errors.DeploymentTimeoutError: cloudformation:CreateChangeSet for "), line
    assert "last fault:" in line and "could not read <value of parameter DbPassword>" in line
    assert took < BOUND


def test_a_root_cause_echoing_a_value_and_escapes_is_redacted_and_escaped(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    # XML carries no ESC character (the Stubber test has ANSI escapes); a newline and a bidi override it does.
    cfn.fail_next_execution("salesds", f"cannot connect to {HOST} with {PASSWORD}\nERROR forged line \u202edesrever")
    line, _ = failing_up(engine, inputs("qsp-echo-event"))
    assert (
        "root cause: salesds (AWS::QuickSight::DataSet, dataset/sales-ds) CREATE_FAILED: cannot connect to "
        "<value of parameter Host> with <value of parameter DbPassword>\\x0aERROR forged line \\u202edesrever;"
    ) in line, line


def test_check_never_quotes_a_parameter_value(engine: EngineHarness) -> None:
    for parameters in (PASSWORD, {"DbPassword": [PASSWORD]}, {"DbPassword": {"nested": PASSWORD}}):
        with pytest.raises(CheckFailedError) as caught:
            engine.up(inputs("qsp-check", parameters=parameters, stack_name=f"bad name {MARKER}"[:2] + "!"))
        failures = caught.value.failures
        assert {prop.split(".")[0] for prop, _ in failures} == {"parameters", "stack_name"}, failures
        assert MARKER not in json.dumps(failures), failures


def test_refresh_and_delete_retry_transient_faults_and_end_at_the_deadline(
    cfn: CloudFormationEmulator, engine: EngineHarness
) -> None:
    name = "qsp-refresh-delete"
    created = engine.up(inputs(name))
    cfn.misbehave(500, "reset", action="DescribeStacks")
    refreshed_id, refreshed = engine.read(created.id, created.outputs)
    assert refreshed_id == created.id and refreshed["stack_status"] == "CREATE_COMPLETE"

    # A delete whose DescribeStacks hangs ends at the (short) deadline, naming the call and the stack.
    cfn.misbehave(*["hang"] * 40, action="DescribeStacks")
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        engine.delete(created.id, {**created.outputs, "stack_timeout_seconds": DEADLINE})
    assert time.monotonic() - started < BOUND
    line = user_error(caught.value)
    assert line.startswith(
        f"components.errors.DeploymentTimeoutError: cloudformation:DescribeStacks for CloudFormation stack '{name}': "
        f"no usable answer within stack_timeout_seconds ({DEADLINE} s)"
    ), line
    assert cfn.stack(name).status == "CREATE_COMPLETE"

    cfn.faults.clear()
    cfn.misbehave(503, "reset", action="DeleteStack")
    engine.delete(created.id, created.outputs)
    assert [s.status for s in cfn.stacks if s.name == name] == ["DELETE_COMPLETE"]


def test_create_refuses_bad_inputs_without_quoting_a_value() -> None:
    from components.errors import InputError

    provider = CloudFormationDeploymentProvider()
    with pytest.raises(InputError) as caught:
        provider.create(inputs("qsp-create-check", parameters={"DbPassword": {"v": PASSWORD}}, stack_tags={"team": [HOST]}, stack_timeout_seconds=0))
    message = str(caught.value)
    assert message.startswith("invalid CloudFormationDeployment inputs for stack 'qsp-create-check': ")
    assert "parameters.DbPassword: Input should be a valid string" in message
    assert "stack_timeout_seconds: Input should be greater than or equal to 1" in message and "(got" not in message
    assert MARKER not in message
