"""The stack inputs QuickSightBundleStack produces are what CloudFormation accepts (moto on loopback).

Each test runs the component under Pulumi mocks (a fresh ``RecordingMocks``), takes the recorded
inputs of the ``aws.cloudformation.Stack`` (and, for a template over 51,200 bytes, of the staged
``aws.s3.BucketObjectv2``) and replays them against moto the way pulumi-aws (the Terraform AWS
provider) would: PutObject for the staged template, then CreateStack/UpdateStack with the same
name, TemplateBody (as the provider normalises it) or TemplateURL, Parameters, OnFailure, Tags,
TimeoutInMinutes, NotificationARNs and RoleARN (see ``moto_server.stack_request``).

What moto checks and what it does not (moto 5.x):
- it resolves ``TemplateURL`` from its own S3 backend, parsing ``https://<bucket>.s3.<region>.amazonaws.com/<key>``
  (``moto.cloudformation.utils.get_stack_from_s3_url``: bucket = first label of the host, key = path);
- it rejects a parameter without Default and without value (``ValidationError: Missing parameter X``);
- it does NOT enforce the 51,200-byte TemplateBody or the 1 MB TemplateURL limits, nor reject
  parameters that the template does not declare: those are asserted here on the recorded inputs;
- it skips resource types it does not model (every ``AWS::QuickSight::*``): stacks reach
  ``CREATE_COMPLETE`` with no QuickSight asset behind them.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import pulumi
import pytest
import yaml
from botocore.exceptions import ClientError

from components.core.generator import generate_bundle
from components.core.principals import find_principals, principalize
from components.core.transform import deployable
from components.errors import ParameterError
from components.stack import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT, QuickSightBundleStack, QuickSightBundleStackArgs
from conftest import sample_template
from mocks import TARGET_REGION, Failure, RecordingMocks, export_outputs, install, run_failing_program
from moto_server import (  # noqa: F401  (fixtures)
    REGION,
    MotoServer,
    ensure_bucket,
    is_secret,
    moto,
    moto_server,
    put_staged_object,
    stack_description,
    stack_parameters,
    stack_request,
    stack_template,
    unwrap_secrets,
    update_request,
)

ROOT = Path(__file__).resolve().parent.parent
TEST_STAGE = yaml.safe_load((ROOT / "examples" / "Pulumi.test.yaml").read_text(encoding="utf-8"))["config"]
REDSHIFT = "datasource/e87a1613-e443-4f78-9558-867f5ba91faf"
ATHENA = "datasource/82e2e662-f728-44fa-8248-5e3a0a5d2f34"
PASSWORD = "hunter2-contract-Pw"
STACK = "quicksight-sales-test"
BIG = generate_bundle()
# Friendly key ("datasource/<id>.WorkGroup") -> CloudFormation parameter name, read from the catalog.
PARAMETER = {entry["key"]: entry["name"] for entry in export_outputs(BIG)["parameter_catalog"]}
# https://<bucket>.s3.<region>.amazonaws.com/<key>: the URL form the component gives CloudFormation.
VIRTUAL_HOSTED = re.compile(r"^https://(?P<bucket>[a-z0-9][a-z0-9-]{1,61}[a-z0-9])\.s3\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<key>.+)$")

assert TARGET_REGION == REGION, "the mocks' target region and moto's region must agree"


def stage_values(**redshift: Any) -> dict[str, Any]:
    """The test stage's parameters (examples/Pulumi.test.yaml) plus the credentials set with --secret."""
    values = copy.deepcopy(TEST_STAGE["quicksight-promotion:parameters"])
    values[REDSHIFT].update({"Username": "qs_reader", "Password": PASSWORD} | redshift)
    return values


def with_principals(template: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """The test stage's principals mapping when the template grants to source users (BIG does)."""
    if "principals" in overrides or not any(p.parameter for p in find_principals(template)):
        return overrides
    return {**overrides, "principals": TEST_STAGE["quicksight-promotion:principals"]}


def args(**overrides: Any) -> QuickSightBundleStackArgs:
    base: dict[str, Any] = {
        "aws_account_id": "111122223333",
        "export_job_id": "sales-release-42",
        "stack_name": STACK,
        "parameters": stage_values(),
    }
    return QuickSightBundleStackArgs(**(base | overrides))


@dataclass
class Recorded:
    """What one run of the component under mocks would have sent to AWS."""

    mocks: RecordingMocks
    stack: dict[str, Any]
    staged: Optional[dict[str, Any]]
    outputs: dict[str, Any]

    @property
    def parameters(self) -> dict[str, str]:
        return unwrap_secrets(self.stack.get("parameters")) or {}


def record(template: dict[str, Any], **overrides: Any) -> Recorded:
    """Run QuickSightBundleStack under fresh mocks for ``template`` and return its recorded inputs."""
    mocks = install(RecordingMocks(template=template))
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output:
        component = QuickSightBundleStack("sales", args(**with_principals(template, overrides)))
        return pulumi.Output.all(component.stack.urn, component.template_sha256).apply(
            lambda v: outputs.update(urn=v[0], template_sha256=v[1])
        )

    pulumi.runtime.test(program)()
    (stack,) = mocks.by_type("cloudformation/stack:Stack")
    staged = mocks.by_type("BucketObjectv2")
    assert len(staged) <= 1
    return Recorded(mocks, dict(stack.inputs), dict(staged[0].inputs) if staged else None, outputs)


def refused(template: dict[str, Any], **overrides: Any) -> tuple[Failure, RecordingMocks]:
    """Run the component for a template it must refuse; return what it raised and the mocks."""
    mocks = install(RecordingMocks(template=template))

    def program() -> pulumi.Output:
        return QuickSightBundleStack("sales", args(**with_principals(template, overrides))).stack.urn

    return run_failing_program(program), mocks


def deploy(moto: MotoServer, recorded: Recorded) -> dict[str, Any]:
    """Replay a recorded run: stage the template if the component did, then CreateStack."""
    if recorded.staged is not None:
        ensure_bucket(moto.s3, recorded.staged["bucket"])
        put_staged_object(moto.s3, recorded.staged)
    request = stack_request(recorded.stack)
    moto.cloudformation.create_stack(**request)
    return request


def sized_template(compact_bytes: int, filler: str = "x") -> dict[str, Any]:
    """The small sample template padded (inside a calculated field) to exactly ``compact_bytes``."""
    template = sample_template()
    fields = template["Resources"]["salesdashboardAB12CD"]["Properties"]["Definition"]["CalculatedFields"]
    fields.append({"Name": "padding", "Expression": ""})
    size = export_outputs(template)["template_size"]
    missing = compact_bytes - size
    assert missing >= 0, (compact_bytes, size)
    fields[-1]["Expression"] = (filler * (missing // len(filler) + 1))[:missing]
    assert export_outputs(template)["template_size"] == compact_bytes
    return template


# --- inline template ---------------------------------------------------------------------------------


def test_small_template_goes_inline_and_cloudformation_creates_the_stack(moto: MotoServer) -> None:
    topic = moto.sns.create_topic(Name="stack-events")["TopicArn"]
    role = f"arn:aws:iam::{moto.default.account_id}:role/cfn-quicksight"
    recorded = record(
        sample_template(),
        parameters=None,
        tags={"stage": "test", "owner": "analytics-platform"},
        timeout_in_minutes=30,
        iam_role_arn=role,
        notification_arns=(topic,),
    )
    assert recorded.staged is None and "templateUrl" not in recorded.stack
    assert is_secret(recorded.stack["parameters"]) is False  # no secret given: none to keep

    request = deploy(moto, recorded)

    # The provider sends Go-normalised JSON; it is still the same template.
    assert json.loads(request["TemplateBody"]) == sample_template()
    stack = stack_description(moto.cloudformation, STACK)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    # Every parameter the component resolved, the untouched default included, and nothing else.
    assert stack_parameters(moto.cloudformation, STACK) == recorded.parameters == {"salesdashboardAB12CDName": "Ventes 売上"}
    assert set(recorded.parameters) <= set(sample_template()["Parameters"])
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {"stage": "test", "owner": "analytics-platform"}
    assert stack["TimeoutInMinutes"] == 30
    assert stack["RoleARN"] == role
    assert stack["NotificationARNs"] == [topic]
    assert stack_template(moto.cloudformation, STACK) == sample_template()


# --- staged template ---------------------------------------------------------------------------------


def test_large_template_is_created_from_the_staged_object_at_the_components_url(moto: MotoServer) -> None:
    expected = export_outputs(BIG)
    assert expected["template_size"] > INLINE_TEMPLATE_LIMIT
    recorded = record(BIG)
    assert recorded.staged is not None and "templateBody" not in recorded.stack
    url = recorded.stack["templateUrl"]

    request = deploy(moto, recorded)

    assert request["TemplateURL"] == url and "TemplateBody" not in request
    # The URL names exactly the object the component staged, in the target region.
    match = VIRTUAL_HOSTED.match(url)
    assert match, url
    assert (match["bucket"], match["key"], match["region"]) == (
        recorded.staged["bucket"],
        recorded.staged["key"],
        TARGET_REGION,
    )
    # Content-addressed by the deployed template: the export's, credentials marked NoEcho.
    deployed = deployable(expected["template_body"], expected["parameter_catalog"])
    assert match["key"] == f"quicksight-promotion/{deployed.sha256}.json"
    staged = moto.s3.get_object(Bucket=match["bucket"], Key=match["key"])
    body = staged["Body"].read()
    assert body == deployed.body.encode("utf-8")
    assert staged["ContentType"] == "application/json"
    assert json.loads(body)["Resources"] == principalize(BIG).document["Resources"]

    stack = stack_description(moto.cloudformation, STACK)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack_parameters(moto.cloudformation, STACK) == recorded.parameters
    expected = set(principalize(BIG).document["Parameters"])
    assert set(recorded.parameters) == expected, "every template parameter, the principal ones included, and only those"
    assert recorded.parameters[PARAMETER[f"{ATHENA}.WorkGroup"]] == "analytics-test"
    assert recorded.parameters["ResourceIdPrefixForAllResources"] == "test-"
    deployed = stack_template(moto.cloudformation, STACK)
    assert deployed["Resources"] == principalize(BIG).document["Resources"]
    assert deployed["Parameters"][PARAMETER[f"{REDSHIFT}.Password"]]["NoEcho"] is True


def test_changed_stage_values_update_the_stack_in_place(moto: MotoServer) -> None:
    first = record(BIG)
    deploy(moto, first)
    changed = stage_values()
    changed[ATHENA]["WorkGroup"] = "analytics-test-v2"

    second = record(BIG, parameters=changed)

    # The same template: the same staged object (no S3 call), only the parameters differ.
    assert second.staged == first.staged
    assert second.stack["templateUrl"] == first.stack["templateUrl"]
    workgroup = PARAMETER[f"{ATHENA}.WorkGroup"]
    assert {k for k in second.parameters if second.parameters[k] != first.parameters[k]} == {workgroup}
    moto.cloudformation.update_stack(**update_request(second.stack))

    stack = stack_description(moto.cloudformation, STACK)
    assert stack["StackStatus"] == "UPDATE_COMPLETE"
    assert stack_parameters(moto.cloudformation, STACK) == second.parameters
    assert stack_parameters(moto.cloudformation, STACK)[workgroup] == "analytics-test-v2"


# --- a missing required parameter --------------------------------------------------------------------


def test_cloudformation_rejects_a_stack_without_the_password(moto: MotoServer) -> None:
    recorded = record(BIG)
    ensure_bucket(moto.s3, recorded.staged["bucket"])
    put_staged_object(moto.s3, recorded.staged)
    request = stack_request(recorded.stack)
    password = PARAMETER[f"{REDSHIFT}.Password"]
    assert "Default" not in BIG["Parameters"][password]
    request["Parameters"] = [p for p in request["Parameters"] if p["ParameterKey"] != password]

    with pytest.raises(ClientError) as info:
        moto.cloudformation.create_stack(**request)

    # moto enforces it (real CloudFormation: "Parameters: [<name>] must have values").
    assert info.value.response["Error"]["Code"] == "ValidationError"
    assert password in info.value.response["Error"]["Message"]
    assert moto.cloudformation.describe_stacks()["Stacks"] == []


def test_the_component_refuses_a_missing_password_before_any_deploy() -> None:
    values = stage_values()
    del values[REDSHIFT]["Password"]

    error, mocks = refused(BIG, parameters=values)

    # The SDK re-raises it as a ValueError naming the input chain; the ParameterError is its cause.
    assert any(issubclass(t, ParameterError) for t in error.types), error.types
    assert "1 problem with the stage's CloudFormation parameter values: " in str(error)
    assert f"{REDSHIFT}.Password has no source default and no value" in str(error)
    assert mocks.by_type("cloudformation/stack:Stack") == []
    assert PASSWORD not in str(error)


def test_credential_parameters_are_deployed_no_echo() -> None:
    recorded = record(BIG)
    deployed = json.loads(recorded.staged["content"])
    credentials = [e["name"] for e in export_outputs(BIG)["parameter_catalog"] if e.get("credential")]
    assert PARAMETER[f"{REDSHIFT}.Password"] in credentials
    assert {name: deployed["Parameters"][name].get("NoEcho") for name in credentials} == dict.fromkeys(credentials, True)


# --- CloudFormation's size limits, which moto does not enforce ---------------------------------------------


@pytest.mark.parametrize("scale", [1, 5, 13])
def test_generated_bundles_stay_within_cloudformations_limits(scale: int) -> None:
    template = generate_bundle(scale=scale)
    outputs = export_outputs(template)
    size = deployable(outputs["template_body"], outputs["parameter_catalog"]).size
    recorded = record(template)

    assert "templateBody" not in recorded.stack, "over 51,200 bytes: never inline"
    assert recorded.staged is not None
    assert len(recorded.staged["content"].encode("utf-8")) == size <= URL_TEMPLATE_LIMIT


def test_template_over_one_megabyte_is_never_sent() -> None:
    template = generate_bundle(scale=14)
    assert export_outputs(template)["template_size"] > URL_TEMPLATE_LIMIT

    error, mocks = refused(template)

    assert f"over the {URL_TEMPLATE_LIMIT:,}-byte limit for TemplateURL" in str(error)
    assert mocks.by_type("BucketObjectv2") == [] and mocks.by_type("cloudformation/stack:Stack") == []


@pytest.mark.parametrize(("size", "inline"), [(INLINE_TEMPLATE_LIMIT, True), (INLINE_TEMPLATE_LIMIT + 1, False)])
def test_the_inline_limit_is_51200_bytes_of_utf8(size: int, inline: bool) -> None:
    template = sized_template(size)
    recorded = record(template, parameters=None)

    assert ("templateBody" in recorded.stack) is inline
    assert (recorded.staged is None) is inline
    if inline:
        sent = stack_request(recorded.stack)["TemplateBody"]
        assert len(sent.encode("utf-8")) <= INLINE_TEMPLATE_LIMIT


def test_the_body_sent_inline_is_within_51200_bytes_after_the_providers_normalisation() -> None:
    # 100 bytes under the limit, with one comparison per 500 bytes: generate_bundle() has one per ~540
    # ('<' and '>' are ordinary in calculated fields and conditional formatting).
    template = sized_template(INLINE_TEMPLATE_LIMIT - 100, filler="x" * 499 + ">")
    recorded = record(template, parameters=None)
    if "templateBody" not in recorded.stack:
        return  # staged: nothing inline to measure (what a fixed component would do here)

    sent = stack_request(recorded.stack)["TemplateBody"]
    assert len(sent.encode("utf-8")) <= INLINE_TEMPLATE_LIMIT, f"{len(sent.encode('utf-8')):,} bytes sent inline"


def test_what_moto_does_not_enforce(moto: MotoServer) -> None:
    """Why the size and parameter-name checks above are ours: moto accepts what CloudFormation refuses."""
    oversized = sized_template(INLINE_TEMPLATE_LIMIT + 10_000)
    moto.cloudformation.create_stack(
        StackName="oversized-and-undeclared",
        TemplateBody=json.dumps(oversized, ensure_ascii=False, separators=(",", ":")),
        Parameters=[{"ParameterKey": "NotInTheTemplate", "ParameterValue": "x"}],
    )
    stack = stack_description(moto.cloudformation, "oversized-and-undeclared")
    assert stack["StackStatus"] == "CREATE_COMPLETE"
