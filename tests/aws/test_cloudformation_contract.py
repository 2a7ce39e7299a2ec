"""What QuickSightBundleStack hands its CloudFormationDeployment is what CloudFormation accepts (moto).

Each test runs the component under Pulumi mocks (a fresh ``RecordingMocks``), takes the recorded
inputs of the ``CloudFormationDeployment`` and runs the real ``CloudFormationDeploymentProvider``
with them (as the engine would, secrets unwrapped) against a loopback moto server: account guard
(STS), the staged template for one over 51,200 bytes (S3 HeadObject/PutObject), CreateChangeSet,
DescribeChangeSet, ExecuteChangeSet and DescribeStacks.

What moto checks and what it does not (moto 5.x):
- it resolves ``TemplateURL`` from its own S3 backend, parsing ``https://<bucket>.s3.<region>.amazonaws.com/<key>``;
- it rejects a parameter without Default and without value (``ValidationError: Missing parameter X``);
- it does NOT enforce the 51,200-byte TemplateBody or the 1 MB TemplateURL limits, nor reject
  parameters that the template does not declare: those are asserted here on what was sent;
- it skips resource types it does not model (every ``AWS::QuickSight::*``): stacks reach
  ``CREATE_COMPLETE`` with no QuickSight asset behind them; it does not mask NoEcho values.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import urllib.parse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.core.stacks import OWNER_TAG, OWNERSHIP_TAG, template_sha256
from tools.generator import generate_bundle
from components.core.principals import find_principals, principalize
from components.core.transform import deployable
from components.deployment import CloudFormationDeploymentProvider
from components.errors import PromotionCheckError
from components.core.transform import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT
from components.stack import QuickSightBundleStack, QuickSightBundleStackArgs
from conftest import sample_template
from mocks import TARGET_ACCOUNT, TARGET_REGION, Failure, RecordingMocks, export_outputs, install, run_failing_program
from moto_server import (  # noqa: F401  (fixtures)
    DEFAULT_ACCOUNT,
    REGION,
    MotoServer,
    ensure_bucket,
    moto,
    moto_env,
    moto_server,
    stack_description,
    stack_parameters,
    stack_template,
    unwrap_secrets,
)

ROOT = Path(__file__).resolve().parents[2]
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
        "source_account_id": "111122223333",
        "export_job_id": "sales-release-42",
        "stack_name": STACK,
        "parameters": stage_values(),
    }
    return QuickSightBundleStackArgs(**(base | overrides))


@dataclass
class Recorded:
    """What one run of the component under mocks handed its deployment."""

    mocks: RecordingMocks
    inputs: dict[str, Any]
    outputs: dict[str, Any]

    @property
    def parameters(self) -> dict[str, str]:
        return unwrap_secrets(self.inputs.get("parameters")) or {}

    def sent(self, **overrides: Any) -> dict[str, Any]:
        """The inputs as the engine hands them to the provider: secrets unwrapped, nulls dropped.

        The mocks answer getCallerIdentity with their own target account; moto acts as its default
        account, so the account guard is pointed at that one.
        """
        plain = {k: v for k, v in unwrap_secrets(self.inputs).items() if v is not None}
        plain["target_account_id"] = DEFAULT_ACCOUNT
        return plain | overrides


def record(template: dict[str, Any], **overrides: Any) -> Recorded:
    """Run QuickSightBundleStack under fresh mocks for ``template`` and return its deployment's inputs."""
    mocks = install(RecordingMocks(template=template))
    outputs: dict[str, Any] = {}

    def program() -> pulumi.Output:
        component = QuickSightBundleStack("sales", args(**with_principals(template, overrides)))
        return pulumi.Output.all(component.stack.urn, component.template_sha256).apply(
            lambda v: outputs.update(urn=v[0], template_sha256=v[1])
        )

    pulumi.runtime.test(program)()
    (deployment,) = mocks.by_type("quicksight:CloudFormationDeployment")
    assert mocks.by_type("cloudformation/stack:Stack") == [] and mocks.by_type("BucketObjectv2") == []
    return Recorded(mocks, dict(deployment.inputs), outputs)


def refused(template: dict[str, Any], **overrides: Any) -> tuple[Failure, RecordingMocks]:
    """Run the component for a template it must refuse; return what it raised and the mocks."""
    mocks = install(RecordingMocks(template=template))

    def program() -> pulumi.Output:
        return QuickSightBundleStack("sales", args(**with_principals(template, overrides))).stack.urn

    return run_failing_program(program), mocks


def deploy(moto: MotoServer, recorded: Recorded, **overrides: Any) -> dict[str, Any]:
    """Create the stack with the real provider, as `pulumi up` would; the recorded outputs."""
    sent = recorded.sent(**overrides)
    if sent.get("staging_bucket"):
        # The component's staging bucket (a pulumi-aws resource) exists before the deployment runs.
        ensure_bucket(moto.s3, sent["staging_bucket"])
    result = CloudFormationDeploymentProvider().create(sent)
    return result.outs


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


def test_small_template_goes_inline_and_cloudformation_creates_the_stack(moto_env: MotoServer) -> None:
    moto = moto_env
    topic = moto.sns.create_topic(Name="stack-events")["TopicArn"]
    role = f"arn:aws:iam::{moto.default.account_id}:role/cfn-quicksight"
    recorded = record(
        sample_template(),
        parameters=None,
        stack_tags={"stage": "test", "owner": "analytics-platform"},
        stack_timeout_seconds=30 * 60,
        cloudformation_role_arn=role,
        notification_arns=(topic,),
    )
    assert recorded.inputs["target_account_id"] == TARGET_ACCOUNT  # from the aws provider's getCallerIdentity
    assert recorded.inputs["target_region"] == TARGET_REGION == REGION

    outputs = deploy(moto, recorded)

    assert outputs["template_url"] is None, "inline: nothing staged"
    stack = stack_description(moto.cloudformation, STACK)
    assert stack["StackStatus"] == outputs["stack_status"] == "CREATE_COMPLETE"
    assert stack["StackId"] == outputs["stack_id"]
    # Every parameter the component resolved, the untouched default included, and nothing else.
    assert stack_parameters(moto.cloudformation, STACK) == recorded.parameters == {"salesdashboardAB12CDName": "Ventes 売上"}
    assert set(recorded.parameters) <= set(sample_template()["Parameters"])
    assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {
        "stage": "test",
        "owner": "analytics-platform",
        OWNERSHIP_TAG: outputs["owner_identity"],
        OWNER_TAG: "quicksight-promotion/test",
    }
    assert re.fullmatch(r"[0-9a-f]{32}", outputs["owner_identity"]), "minted at the first create"
    assert outputs["stack_created"] is True
    assert stack["RoleARN"] == role
    assert stack["NotificationARNs"] == [topic]
    assert stack_template(moto.cloudformation, STACK) == sample_template()
    assert outputs["stack_timeout_seconds"] == 30 * 60
    assert [(c["logical_id"], c["action"], c["asset_kind"], c["asset_id"]) for c in outputs["change_summary"]] == [
        ("salesdashboardAB12CD", "Add", "dashboard", "sales-dashboard")
    ]
    assert "parameters" not in outputs and set(outputs["parameter_digests"]) == set(recorded.parameters)


def test_large_template_is_created_from_the_staged_object(moto_env: MotoServer) -> None:
    moto = moto_env
    expected = export_outputs(BIG)
    assert expected["template_size"] > INLINE_TEMPLATE_LIMIT
    recorded = record(BIG)
    deployed = deployable(expected["template_body"], expected["parameter_catalog"])
    assert recorded.inputs["template_body"] == deployed.body

    outputs = deploy(moto, recorded)

    url = outputs["template_url"]
    match = VIRTUAL_HOSTED.match(url)
    assert match, url
    assert (match["bucket"], match["region"]) == (recorded.inputs["staging_bucket"], TARGET_REGION)
    # Content-addressed by the deployed template: the export's, credentials marked NoEcho.
    assert match["key"] == f"quicksight-promotion/{deployed.sha256}.json" == f"quicksight-promotion/{outputs['template_sha256']}.json"
    staged = moto.s3.get_object(Bucket=match["bucket"], Key=match["key"])
    assert staged["Body"].read() == deployed.body.encode("utf-8")
    assert staged["ContentType"] == "application/json"
    assert json.loads(deployed.body)["Resources"] == principalize(BIG).document["Resources"]

    stack = stack_description(moto.cloudformation, STACK)
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert stack_parameters(moto.cloudformation, STACK) == recorded.parameters
    expected = set(principalize(BIG).document["Parameters"])
    assert set(recorded.parameters) == expected, "every template parameter, the principal ones included, and only those"
    assert recorded.parameters[PARAMETER[f"{ATHENA}.WorkGroup"]] == "analytics-test"
    assert recorded.parameters["ResourceIdPrefixForAllResources"] == "test-"
    template = stack_template(moto.cloudformation, STACK)
    assert template["Resources"] == principalize(BIG).document["Resources"]
    assert template["Parameters"][PARAMETER[f"{REDSHIFT}.Password"]]["NoEcho"] is True
    # No credential in any output.
    assert PASSWORD not in json.dumps(outputs)


def test_changed_stage_values_update_the_stack_in_place(moto_env: MotoServer) -> None:
    moto = moto_env
    first = record(BIG)
    outputs = deploy(moto, first)
    changed = stage_values()
    changed[ATHENA]["WorkGroup"] = "analytics-test-v2"
    second = record(BIG, parameters=changed)
    provider = CloudFormationDeploymentProvider()
    workgroup = PARAMETER[f"{ATHENA}.WorkGroup"]
    assert {k for k in second.parameters if second.parameters[k] != first.parameters[k]} == {workgroup}

    diff = provider.diff(outputs["stack_id"], outputs, second.sent())
    assert diff.changes is True and not diff.replaces
    updated = provider.update(outputs["stack_id"], outputs, second.sent()).outs

    assert updated["template_url"] == outputs["template_url"], "the same staged object"
    stack = stack_description(moto.cloudformation, STACK)
    assert stack["StackStatus"] == updated["stack_status"] == "UPDATE_COMPLETE"
    assert stack_parameters(moto.cloudformation, STACK) == second.parameters
    assert {k for k in updated["parameter_digests"] if updated["parameter_digests"][k] != outputs["parameter_digests"][k]} == {
        workgroup
    }
    # The same inputs again: no change, decided without AWS.
    assert provider.diff(updated["stack_id"], updated, second.sent()).changes is False


def test_a_staged_template_replaced_by_another_writer_is_never_deployed(moto_env: MotoServer) -> None:
    moto = moto_env
    first = record(BIG)
    bucket = first.inputs["staging_bucket"]
    ensure_bucket(moto.s3, bucket)
    moto.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    outputs = deploy(moto, first)
    match = VIRTUAL_HOSTED.match(outputs["template_url"].split("?")[0])
    assert match and "?versionId=" in outputs["template_url"], "a versioned bucket: the URL names the version written"
    # Another writer of the shared bucket replaces the object under the same name with its own template.
    role = {"Resources": {"Takeover": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {}}}}}
    moto.s3.put_object(Bucket=bucket, Key=match["key"], Body=json.dumps(role).encode())

    changed = stage_values()
    changed[ATHENA]["WorkGroup"] = "analytics-test-v2"
    second = record(BIG, parameters=changed)
    updated = CloudFormationDeploymentProvider().update(outputs["stack_id"], outputs, second.sent()).outs

    assert stack_description(moto.cloudformation, STACK)["StackStatus"] == "UPDATE_COMPLETE"
    template = stack_template(moto.cloudformation, STACK)
    assert "Takeover" not in template["Resources"] and template["Resources"] == principalize(BIG).document["Resources"]
    # Their bytes did not match the checksum: a new version of ours was written, and the URL names it.
    version = urllib.parse.unquote(updated["template_url"].split("?versionId=")[1])
    assert updated["template_url"] != outputs["template_url"]
    staged = moto.s3.get_object(Bucket=bucket, Key=match["key"], VersionId=version)
    assert staged["Body"].read() == record(BIG, parameters=changed).inputs["template_body"].encode("utf-8")


def test_cloudformation_rejects_a_stack_without_the_password(moto_env: MotoServer) -> None:
    recorded = record(BIG)
    password = PARAMETER[f"{REDSHIFT}.Password"]
    assert "Default" not in BIG["Parameters"][password]
    parameters = {k: v for k, v in recorded.parameters.items() if k != password}

    with pytest.raises(Exception) as info:
        deploy(moto_env, recorded, parameters=parameters)

    # moto enforces it at ExecuteChangeSet (real CloudFormation, at CreateChangeSet: "Parameters: [<name>] must have values").
    assert (
        "cloudformation:ExecuteChangeSet for CloudFormation stack 'quicksight-sales-test': CloudFormation refused the call "
        "(ValidationError: Missing parameter"
    ) in str(info.value)
    assert password in str(info.value)


def test_the_component_refuses_a_missing_password_before_any_deploy() -> None:
    values = stage_values()
    del values[REDSHIFT]["Password"]

    error, mocks = refused(BIG, parameters=values)

    # The SDK re-raises it as a ValueError naming the input chain; the judge's error is its cause.
    assert any(issubclass(t, PromotionCheckError) for t in error.types), error.types
    assert "cannot be deployed by this stage: 1 error(s): " in str(error)
    assert f"{REDSHIFT}.Password has no source default and no value" in str(error)
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []
    assert PASSWORD not in str(error)


def test_password_and_username_are_deployed_no_echo_and_secret_arn_is_not() -> None:
    recorded = record(BIG)
    deployed = json.loads(recorded.inputs["template_body"])
    catalog = export_outputs(BIG)["parameter_catalog"]
    secrets = [e["name"] for e in catalog if e.get("property") in ("Password", "Username")]
    arns = [e["name"] for e in catalog if e.get("property") == "SecretArn"]
    assert PARAMETER[f"{REDSHIFT}.Password"] in secrets and arns
    assert {name: deployed["Parameters"][name].get("NoEcho") for name in secrets} == dict.fromkeys(secrets, True)
    assert all("NoEcho" not in deployed["Parameters"][name] for name in arns)


# --- CloudFormation's size limits, which moto does not enforce ---------------------------------------------


@pytest.mark.parametrize("scale", [1, 5, 13])
def test_generated_bundles_stay_within_cloudformations_limits(scale: int) -> None:
    template = generate_bundle(scale=scale)
    outputs = export_outputs(template)
    size = deployable(outputs["template_body"], outputs["parameter_catalog"]).size
    recorded = record(template)

    assert len(recorded.inputs["template_body"].encode("utf-8")) == size
    assert INLINE_TEMPLATE_LIMIT < size <= URL_TEMPLATE_LIMIT, "staged, and within the TemplateURL limit"


def test_a_template_over_one_megabyte_is_staged_as_nested_templates_and_a_parent(moto_env: MotoServer) -> None:
    # moto cannot execute nested stacks of QuickSight resources (it validates outputs of types it
    # does not know); the change set is left for review, and what it names is read back.
    template = generate_bundle(scale=14)
    assert export_outputs(template)["template_size"] > URL_TEMPLATE_LIMIT
    recorded = record(template)

    outputs = deploy(moto_env, recorded, execute_change_set=False)

    assert outputs["template_sha256"] == template_sha256(recorded.inputs["template_body"])
    # The parent holds the parameters and six stacks: small enough to be sent inline.
    assert outputs["template_url"] is None and outputs["change_set_id"]
    bucket = recorded.sent()["staging_bucket"]
    listed = moto_env.s3.list_object_versions(Bucket=bucket, Prefix="quicksight-promotion/")["Versions"]
    held = []
    for item in listed:
        # Each nested template staged once by its sha256, with S3's stored checksum of it.
        stored = moto_env.s3.get_object(Bucket=bucket, Key=item["Key"], VersionId=item["VersionId"], ChecksumMode="ENABLED")
        body = stored["Body"].read()
        assert item["Key"] == f"quicksight-promotion/{hashlib.sha256(body).hexdigest()}.json"
        assert base64.b64decode(stored["ChecksumSHA256"]) == hashlib.sha256(body).digest()
        assert len(body) <= URL_TEMPLATE_LIMIT
        held.extend(json.loads(body)["Resources"])
    assert len(listed) == 6
    assert sorted(held) == sorted(json.loads(recorded.inputs["template_body"])["Resources"])


def test_template_that_cannot_be_split_is_never_sent() -> None:
    from conftest import oversized_template

    error, mocks = refused(oversized_template())

    assert "and it cannot be split into nested stacks: resource 'salesdashboardAB12CD'" in str(error)
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []


@pytest.mark.parametrize(("size", "inline"), [(INLINE_TEMPLATE_LIMIT, True), (INLINE_TEMPLATE_LIMIT + 1, False)])
def test_the_inline_limit_is_51200_bytes_of_utf8(moto_env: MotoServer, size: int, inline: bool) -> None:
    # boto3 sends TemplateBody form-encoded as it is: CloudFormation counts its UTF-8 bytes (no Go escapes now).
    template = sized_template(size, filler="x" * 499 + ">")
    recorded = record(template, parameters=None)
    assert len(recorded.inputs["template_body"].encode("utf-8")) == size

    outputs = deploy(moto_env, recorded)

    assert (outputs["template_url"] is None) is inline
    assert stack_template(moto_env.cloudformation, STACK) == template
    assert outputs["template_sha256"] == template_sha256(recorded.inputs["template_body"])


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
