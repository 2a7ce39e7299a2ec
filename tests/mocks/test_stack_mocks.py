"""QuickSightBundleStack and the program under Pulumi mocks: the resource graph `pulumi up` would build."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pulumi_aws as aws
import pytest
import yaml

from tools.generator import generate_bundle
from components.core.transform import deployable
from components.errors import AssetVerificationError, InputError, ParameterError, QuickSightPromotionError
from components.stack import QuickSightBundleStack, QuickSightBundleStackArgs
from components.errors import PromotionCheckError
from components.core.principals import principalize
from conftest import oversized_template, sample_template
from mocks import (
    TARGET_ACCOUNT,
    TARGET_REGION,
    RecordingMocks,
    export_outputs,
    install,
    run_failing_program,
    tls_only_statement,
)

ROOT = Path(__file__).resolve().parents[2]
SECRET_SIG = "4dabf18193072939515e22adb298388d"
BIG = generate_bundle()
REQUIRED = yaml.safe_load((ROOT / "examples" / "Pulumi.test.yaml").read_text(encoding="utf-8"))["config"][
    "quicksight-promotion:parameters"
]
REDSHIFT = "datasource/e87a1613-e443-4f78-9558-867f5ba91faf"
# The generated bundles grant their assets to two source users: the test stage maps them to groups.
PRINCIPALS = yaml.safe_load((ROOT / "examples" / "Pulumi.test.yaml").read_text(encoding="utf-8"))["config"][
    "quicksight-promotion:principals"
]


def stage_values(**credentials: Any) -> dict[str, Any]:
    values = json.loads(json.dumps(REQUIRED))
    values[REDSHIFT].update({"Username": "qs_reader", "Password": "hunter2-prod"} | credentials)
    return values


def args(**overrides: Any) -> QuickSightBundleStackArgs:
    base: dict[str, Any] = {"source_account_id": "111122223333", "export_job_id": "sales-release-42"}
    if "parameters" in overrides:
        # Stage values are those of the generated bundle (BIG), which grants its assets to two source users.
        base["principals"] = PRINCIPALS
    return QuickSightBundleStackArgs(**(base | overrides))


DEPLOYMENT = "quicksight:CloudFormationDeployment"


def stack_inputs(mocks: RecordingMocks) -> dict[str, Any]:
    (stack,) = mocks.by_type(DEPLOYMENT)
    assert mocks.by_type("cloudformation/stack:Stack") == [], "the component deploys only through CloudFormationDeployment"
    return stack.inputs


def test_args_reject_unknown_modes() -> None:
    with pytest.raises(Exception) as info:
        args(on_failure="ROLLBACK_PLEASE")
    assert "on_failure is not one of DELETE, ROLLBACK, DO_NOTHING" in str(info.value)
    assert "ROLLBACK_PLEASE" not in str(info.value)  # a configuration value is never echoed
    with pytest.raises(Exception) as info:
        args(template_validation="strict")
    assert "template_validation is not one of error, warning, off" in str(info.value)
    assert "'strict'" not in str(info.value)
    with pytest.raises(Exception) as info:
        args(template_repair="fix-it")
    assert str(info.value) == "template_repair is not one of report, repair, off: set one of them"


@pulumi.runtime.test
def test_small_template_goes_inline_and_children_are_parented() -> pulumi.Output:
    mocks = install(RecordingMocks(template=sample_template()))
    component = QuickSightBundleStack("sales", args())

    def check(values: list[Any]) -> None:
        export_urn, stack_urn = values
        inputs = stack_inputs(mocks)
        assert json.loads(inputs["template_body"]) == sample_template()
        assert mocks.by_type("BucketObjectv2") == []
        assert inputs["on_failure"] == "DELETE"
        assert inputs["wait_for_ingestion"] is False  # SPICE ingestions are waited for only when the stage asks
        # Children carry the component in their URN's type chain.
        assert "quicksight-promotion:quicksight:BundleStack$pulumi-python:dynamic/quicksight:AssetBundleExport" in export_urn
        assert (
            "quicksight-promotion:quicksight:BundleStack$pulumi-python:dynamic/quicksight:CloudFormationDeployment"
            in stack_urn
        )
        # Always a secret input (the provider records digests only).
        assert inputs["parameters"][SECRET_SIG] and inputs["parameters"]["value"] == {"salesdashboardAB12CDName": "Ventes 売上"}

    return pulumi.Output.all(component.export.urn, component.stack.urn).apply(check)


@pulumi.runtime.test
def test_large_template_is_staged_in_s3_by_content_address() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))
    expected = export_outputs(BIG)

    deployed = deployable(expected["template_body"], expected["parameter_catalog"])

    def check(_: Any) -> None:
        assert deployed.size > 51_200
        # No S3 object resource (none inside an apply): the deployment stages the template itself.
        assert mocks.by_type("BucketObjectv2") == []
        inputs = stack_inputs(mocks)
        assert inputs["template_body"] == deployed.body
        assert json.loads(deployed.body)["Resources"] == principalize(BIG).document["Resources"]
        assert inputs["staging_bucket"] == "sales-staging-1a2b3c"
        assert inputs["staging_prefix"] == "quicksight-promotion/"
        assert inputs["target_region"] == TARGET_REGION

    return component.stack.urn.apply(check)


def test_the_graph_is_the_same_for_small_and_large_templates() -> None:
    shapes = []
    for template, values in ((sample_template(), None), (BIG, stage_values())):
        mocks = install(RecordingMocks(template=template))

        def program(values: Any = values) -> pulumi.Output:
            # The generated bundle (BIG) grants its assets to two source users; the sample to nobody.
            principals = PRINCIPALS if template is BIG else None
            return QuickSightBundleStack("sales", args(parameters=values, principals=principals)).stack.urn

        pulumi.runtime.test(program)()
        shapes.append(sorted((r.typ, r.name) for r in mocks.resources))
    assert shapes[0] == shapes[1]
    assert ("pulumi-python:dynamic/quicksight:CloudFormationDeployment", "sales-stack") in shapes[0]


@pulumi.runtime.test
def test_created_staging_bucket_is_private_and_encrypted() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))

    def check(_: Any) -> None:
        (block,) = mocks.by_type("s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
        assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
        (sse,) = mocks.by_type("BucketServerSideEncryptionConfiguration")
        assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
        (owner,) = mocks.by_type("s3/bucketOwnershipControls:BucketOwnershipControls")
        assert owner.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
        (policy,) = mocks.by_type("aws:s3/bucketPolicy:BucketPolicy")
        assert json.loads(policy.inputs["policy"])["Statement"] == [tls_only_statement("sales-staging-1a2b3c")]
        assert policy.inputs["bucket"] == "sales-staging-1a2b3c"

    return component.stack.urn.apply(check)


@pulumi.runtime.test
def test_given_staging_bucket_is_used_and_none_created() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    component = QuickSightBundleStack(
        "sales", args(parameters=stage_values(), staging_bucket="team-artifacts", staging_prefix="qs/")
    )

    def check(_: Any) -> None:
        assert mocks.by_type("aws:s3/bucket:Bucket") == []
        inputs = stack_inputs(mocks)
        assert (inputs["staging_bucket"], inputs["staging_prefix"]) == ("team-artifacts", "qs/")

    return component.stack.urn.apply(check)


def test_a_template_that_cannot_be_split_fails_before_any_deploy() -> None:
    huge = oversized_template()
    mocks = install(RecordingMocks(template=huge))

    def program() -> pulumi.Output:
        component = QuickSightBundleStack("sales", args(parameters=stage_values()))
        return component.stack.urn

    error = run_failing_program(program)
    size = deployable(export_outputs(huge)["template_body"], export_outputs(huge)["parameter_catalog"]).size
    assert f"template as deployed is {size:,} bytes compact with " in str(error)
    assert "and it cannot be split into nested stacks: resource 'salesdashboardAB12CD' (AWS::QuickSight::Dashboard)" in str(error)
    assert "nothing was deployed" in str(error)
    assert mocks.by_type(DEPLOYMENT) == []


@pulumi.runtime.test
def test_a_template_over_one_megabyte_is_handed_to_the_deployment_whole() -> pulumi.Output:
    # The deployment splits it into nested stacks (core.nesting) when it stages it: the component
    # hands over the deployable template, which is what the pin, the digests and the review name.
    huge = generate_bundle(scale=14)
    mocks = install(RecordingMocks(template=huge))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))

    def check(_: Any) -> None:
        sent = stack_inputs(mocks)["template_body"]
        assert len(sent.encode("utf-8")) > 1_000_000
        assert sent == deployable(export_outputs(huge)["template_body"], export_outputs(huge)["parameter_catalog"]).body

    return component.stack.urn.apply(check)


@pulumi.runtime.test
def test_credentials_and_the_stack_parameters_stay_secret() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))

    def check(_: Any) -> None:
        parameters = stack_inputs(mocks)["parameters"]
        assert parameters[SECRET_SIG]  # the whole mapping travels as a secret
        assert parameters["value"]
        (export,) = mocks.by_type("quicksight:AssetBundleExport")
        assert SECRET_SIG in export.inputs["parameters"]

    return component.stack.urn.apply(check)


@pulumi.runtime.test
def test_stack_parameters_resolve_friendly_keys_with_defaults_passed_explicitly() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))

    def check(_: Any) -> None:
        values = stack_inputs(mocks)["parameters"]["value"]
        catalog = {e["key"]: e["name"] for e in export_outputs(BIG)["parameter_catalog"]}
        assert values[catalog[f"{REDSHIFT}.Port"]] == "5439"
        assert values[catalog["datasource/82e2e662-f728-44fa-8248-5e3a0a5d2f34.WorkGroup"]] == "analytics-test"
        assert values["ResourceIdPrefixForAllResources"] == "test-"
        # A name left to its default is still passed, so the console never shows "?".
        assert values[catalog["dataset/42af9fc3-8577-4e9a-9d84-f39e71545a13.Name"]] == "Campaigns"
        # One more per source principal, mapped to the test stage's groups.
        assert len(values) == len(catalog) + 2
        assert {v for k, v in values.items() if k.startswith("Principal")} == {
            "arn:aws:quicksight:eu-west-1:999999999999:group/default/bi-admins",
            "arn:aws:quicksight:eu-west-1:999999999999:group/default/sales-analysts-test",
        }

    return component.stack.urn.apply(check)


def test_unknown_stage_key_fails_with_did_you_mean() -> None:
    install(RecordingMocks(template=BIG))
    values = stage_values()
    values[REDSHIFT]["Hots"] = values[REDSHIFT].pop("Host")

    def program() -> pulumi.Output:
        return QuickSightBundleStack("sales", args(parameters=values)).stack.urn

    error = run_failing_program(program)
    assert "unknown property 'Hots'" in str(error) and "did you mean 'Host'" in str(error)
    assert "hunter2-prod" not in str(error)


def test_an_unmapped_source_principal_fails_before_any_deploy_naming_it_and_its_assets() -> None:
    mocks = install(RecordingMocks(template=BIG))

    def program() -> pulumi.Output:
        only_admin = {"user/default/QuickSightAdmin": "group/default/bi-admins"}
        return QuickSightBundleStack("sales", args(parameters=stage_values(), principals=only_admin)).stack.urn

    error = run_failing_program(program)
    assert "user/default/sales-analyst' (held by 12 asset(s): analysis/sales-analysis" in error.message
    assert "has no target: add it under principals" in error.message
    assert "hunter2-prod" not in error.message
    assert not [r for r in mocks.by_type("cloudformation/stack:Stack") if r.inputs.get("parameters")]


@pulumi.runtime.test
def test_grant_on_an_export_without_permissions_adds_the_owner_slot() -> pulumi.Output:
    template = generate_bundle(include_permissions=False)
    mocks = install(RecordingMocks(template=template))
    grant = [{"principal": "arn:aws:quicksight:eu-west-1:999999999999:group/default/bi-admins", "role": "owner"}]
    values = stage_values()
    del values["IdentityRegion"]  # exported with IncludePermissions only
    component = QuickSightBundleStack("sales", args(parameters=values, principals=None, grant=grant))

    def check(_: Any) -> None:
        values = stack_inputs(mocks)["parameters"]["value"]
        assert values["GrantOwnerPrincipal"] == grant[0]["principal"] and values["GrantViewerPrincipal"] == ""

    return component.stack.urn.apply(check)


@pulumi.runtime.test
def test_outputs_asset_ids_with_prefix_and_dashboard_urls() -> pulumi.Output:
    install(RecordingMocks(template=BIG))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))

    def check(values: list[Any]) -> None:
        asset_ids, urls, sha, stack_name = values
        assert asset_ids["dashboard"] == ["test-sales-dashboard"]
        assert "test-sales-analysis" in asset_ids["analysis"]
        assert urls == [f"https://{TARGET_REGION}.quicksight.aws.amazon.com/sn/dashboards/test-sales-dashboard"]
        assert sha == export_outputs(BIG)["template_sha256"]
        assert stack_name == "quicksight-promotion-test-sales"

    return pulumi.Output.all(
        component.asset_ids, component.dashboard_urls, component.template_sha256, component.stack_name
    ).apply(check)


@pulumi.runtime.test
def test_target_provider_and_stack_settings_flow_to_children() -> pulumi.Output:
    mocks = install(RecordingMocks(template=sample_template()))
    target = aws.Provider("prod-account", region="eu-west-1")
    component = QuickSightBundleStack(
        "sales",
        args(
            stack_name="quicksight-sales-prod",
            stack_tags={"stage": "prod"},
            stack_timeout_seconds=30 * 60,
            cloudformation_role_arn="arn:aws:iam::999999999999:role/cfn-quicksight",
            notification_arns=("arn:aws:sns:eu-west-1:999999999999:stack-events",),
            protect=True,
            expected_sha256="AB" * 32,
        ),
        opts=pulumi.ResourceOptions(providers={"aws": target}),
    )

    def check(_: Any) -> None:
        inputs = stack_inputs(mocks)
        # The account guard and the region come from the target provider's own invokes.
        invokes = {i.token: i for i in mocks.invokes}
        for token in ("aws:index/getCallerIdentity:getCallerIdentity", "aws:index/getRegion:getRegion"):
            assert "prod-account" in (invokes[token].provider or ""), token
        (bucket,) = mocks.by_type("aws:s3/bucket:Bucket")
        assert bucket.provider and "prod-account" in bucket.provider
        assert inputs["target_account_id"] == TARGET_ACCOUNT
        assert inputs["target_region"] == TARGET_REGION
        assert inputs["stack_name"] == "quicksight-sales-prod"
        assert inputs["stack_tags"] == {"stage": "prod"}
        assert inputs["stack_timeout_seconds"] == 30 * 60
        assert inputs["cloudformation_role_arn"] == "arn:aws:iam::999999999999:role/cfn-quicksight"
        assert inputs["notification_arns"] == ["arn:aws:sns:eu-west-1:999999999999:stack-events"]
        # Production: Pulumi refuses to delete it, and so does CloudFormation.
        assert inputs["termination_protection"] is True
        assert component.stack._protect is True  # noqa: SLF001  (Pulumi keeps the option here)
        (export,) = mocks.by_type("quicksight:AssetBundleExport")
        assert export.inputs["expected_sha256"] == "AB" * 32
        assert export.inputs["validate_template"] is True

    return component.stack.urn.apply(check)


def test_lint_errors_stop_the_deploy_in_error_mode() -> None:
    finding = {"resource": "salesdashboardAB12CD", "path": "Definition/Bogus", "rule": "E3002", "level": "error", "message": "Additional properties are not allowed"}
    mocks = install(RecordingMocks(template=sample_template(), lint_findings=[finding]))

    def program() -> pulumi.Output:
        return QuickSightBundleStack("sales", args()).stack.urn

    error = run_failing_program(program)
    assert "export job 'sales-release-42' in account 111122223333 cannot be deployed by this stage: 1 error(s): " in str(error)
    assert "salesdashboardAB12CD.Definition/Bogus cfn-lint E3002: Additional properties are not allowed" in str(error)
    assert "set templateValidation: warning to deploy anyway" in str(error)
    assert mocks.by_type("BucketObjectv2") == []


@pulumi.runtime.test
def test_lint_errors_are_warnings_in_warning_mode(monkeypatch: pytest.MonkeyPatch) -> pulumi.Output:
    finding = {"resource": "R", "path": "P", "rule": "E3002", "level": "error", "message": "boom"}
    install(RecordingMocks(template=sample_template(), lint_findings=[finding]))
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warned.append(msg))
    component = QuickSightBundleStack("sales", args(template_validation="warning"))
    lint = "export job 'sales-release-42' in account 111122223333: R.P cfn-lint E3002: boom"
    return component.stack.urn.apply(lambda _: assert_equal([w for w in warned if "cfn-lint" in w], [lint]))


def admin_user_template() -> dict[str, Any]:
    """A hand-edited export whose principal names a parameter, as cid_govcloud_* of the real exports do."""
    template = sample_template()
    template["Parameters"]["AdminUser"] = {"Type": "String", "Default": "quicksight/username"}
    principal = {"Fn::Sub": "arn:${AWS::Partition}:quicksight:${IdentityRegion}:${AWS::AccountId}:user/default/${AdminUser}"}
    dashboard = template["Resources"]["salesdashboardAB12CD"]["Properties"]
    dashboard["Permissions"] = [{"Principal": principal, "Actions": ["quicksight:DescribeDashboard"]}]
    return template


@pulumi.runtime.test
def test_a_principal_parameter_left_to_its_source_default_is_warned_about(monkeypatch: pytest.MonkeyPatch) -> pulumi.Output:
    install(RecordingMocks(template=admin_user_template()))
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warned.append(msg))
    component = QuickSightBundleStack("sales", args(template_validation="off"))

    def check(_: Any) -> None:
        (line,) = warned
        assert "parameter AdminUser is left to its source default 'quicksight/username'" in line
        assert "names the permission principal" in line and "set it for this stage under parameters" in line

    return component.stack.urn.apply(check)


@pulumi.runtime.test
def test_a_principal_parameter_set_for_the_stage_is_not_warned_about(monkeypatch: pytest.MonkeyPatch) -> pulumi.Output:
    mocks = install(RecordingMocks(template=admin_user_template()))
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warned.append(msg))
    component = QuickSightBundleStack("sales", args(template_validation="off", parameters={"AdminUser": "bi/admin"}, principals=None))

    def check(_: Any) -> None:
        assert warned == []
        assert stack_inputs(mocks)["parameters"]["value"]["AdminUser"] == "bi/admin"

    return component.stack.urn.apply(check)


@pulumi.runtime.test
def test_validation_off_asks_the_export_not_to_lint() -> pulumi.Output:
    mocks = install(RecordingMocks(template=sample_template(), lint_findings=None))
    component = QuickSightBundleStack("sales", args(template_validation="off"))

    def check(_: Any) -> None:
        (export,) = mocks.by_type("quicksight:AssetBundleExport")
        assert export.inputs["validate_template"] is False

    return component.stack.urn.apply(check)


def assert_equal(actual: Any, expected: Any) -> None:
    assert actual == expected


# --- the program -----------------------------------------------------------------------------


def load_stage(name: str, secrets: dict[str, Any] | None = None) -> None:
    """Set the stack configuration from an example stage file, as `pulumi up --stack NAME` would.

    The CLI's rules apply first (tests/pulumi_cli.py): declared defaults are merged in, types checked.
    ``secrets`` are added as `pulumi config set --secret --path` would add them (encrypted).
    """
    from pulumi_cli import Secure, load_project, load_stack_config, merge_config, program_config

    project = load_project(ROOT / "Pulumi.yaml")
    stack_config = load_stack_config(ROOT / "examples" / f"Pulumi.{name}.yaml", project["name"])
    plain: dict[Secure, Any] = {}
    if secrets:
        parameters = stack_config["quicksight-promotion:parameters"]
        for asset, values in secrets.items():
            for key, value in values.items():
                cipher = Secure(f"v1:{asset}.{key}")
                plain[cipher] = value
                parameters.setdefault(asset, {})[key] = cipher
    flat, secret_keys = program_config(merge_config(project, name, stack_config), plain)
    pulumi.runtime.set_all_config(flat, secret_keys)


CREDENTIALS = {REDSHIFT: {"Username": "qs_reader", "Password": "hunter2-prod"}}


@pulumi.runtime.test
def test_program_runs_the_test_stage_example() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    load_stage("test", CREDENTIALS)
    program = runpy.run_path(str(ROOT / "__main__.py"))

    def check(_: Any) -> None:
        (export,) = mocks.by_type("quicksight:AssetBundleExport")
        assert export.inputs["source_account_id"] == "111122223333"
        assert export.inputs["source_role_arn"] == "arn:aws:iam::111122223333:role/quicksight-promotion-export-reader"
        assert SECRET_SIG in export.inputs["parameters"]
        stack = stack_inputs(mocks)
        assert stack["stack_name"] == "quicksight-sales-test"
        assert stack["stack_tags"] == {"stage": "test", "owner": "analytics-platform"}
        assert SECRET_SIG in stack["parameters"]
        # The stage's principals setting reached the stack as one parameter per source principal.
        principals = {k: v for k, v in stack["parameters"]["value"].items() if k.startswith("Principal")}
        assert sorted(principals.values()) == [
            "arn:aws:quicksight:eu-west-1:999999999999:group/default/bi-admins",
            "arn:aws:quicksight:eu-west-1:999999999999:group/default/sales-analysts-test",
        ]
        assert stack["termination_protection"] is False

    return program["bundle"].stack.urn.apply(check)


@pulumi.runtime.test
def test_program_prod_stage_pins_the_test_stage_template() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    pinned = export_outputs(BIG)["template_sha256"]
    original = mocks.new_resource

    def with_stack_reference(mock_args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if mock_args.typ == "pulumi:pulumi:StackReference":
            mocks.resources.append(mock_args)
            return mock_args.name, {"name": mock_args.name, "outputs": {"template_sha256": pinned}}
        return original(mock_args)

    mocks.new_resource = with_stack_reference  # type: ignore[method-assign]
    load_stage("prod", CREDENTIALS)
    program = runpy.run_path(str(ROOT / "__main__.py"))

    def check(_: Any) -> None:
        (reference,) = mocks.by_type("pulumi:StackReference")
        assert reference.name == "acme/quicksight-promotion/test"
        (export,) = mocks.by_type("quicksight:AssetBundleExport")
        assert export.inputs["expected_sha256"] == pinned
        assert stack_inputs(mocks)["stack_name"] == "quicksight-sales-prod"
        assert stack_inputs(mocks)["termination_protection"] is True

    return program["bundle"].stack.urn.apply(check)


def test_program_reports_every_bad_setting_in_one_message() -> None:
    install(RecordingMocks(template=BIG))
    pulumi.runtime.set_all_config(
        {
            "quicksight-promotion:sourceAccountId": "12345",
            "quicksight-promotion:exportTimeoutSeconds": "soon",
            "quicksight-promotion:onFailure": "EXPLODE",
            "quicksight-promotion:stackNmae": "typo",
        },
        [],
    )
    from components.program import read_config

    with pytest.raises(InputError) as info:
        read_config(pulumi.Config("quicksight-promotion"))
    message = str(info.value)
    assert message.startswith("invalid stack configuration: ")
    assert "quicksight-promotion:sourceAccountId: String should match pattern" in message
    assert "quicksight-promotion:exportJobId is required (pulumi config set quicksight-promotion:exportJobId <value>)" in message
    assert "quicksight-promotion:exportTimeoutSeconds: Input should be a valid integer" in message
    assert "quicksight-promotion:onFailure" in message
    assert "quicksight-promotion:stackNmae is not a setting of this program: did you mean stackName?" in message
    assert "\n" not in message


def test_program_checks_the_principals_and_grant_settings() -> None:
    from components.program import KNOWN_KEYS, parse_config

    assert {"principals", "grant"} <= set(KNOWN_KEYS)
    base = {"sourceAccountId": "111122223333", "exportJobId": "j"}
    config = parse_config(
        {**base, "principals": {"user/default/a": "group/default/b"}, "grant": [{"principal": "group/default/b", "role": "viewer"}]}
    )
    assert config.principals == {"user/default/a": "group/default/b"} and config.grant[0]["role"] == "viewer"
    with pytest.raises(InputError) as info:
        parse_config({**base, "principals": ["user/default/a"], "grant": {"principal": "x"}})
    message = str(info.value)
    assert "quicksight-promotion:principals: Input should be a valid dictionary" in message
    assert "quicksight-promotion:grant: Input should be a valid list" in message


def test_parameter_errors_are_the_library_error_type() -> None:
    assert issubclass(ParameterError, InputError)
    # One base class: a caller can catch everything this library raises on purpose.
    for error in (ParameterError, PromotionCheckError):
        assert issubclass(error, QuickSightPromotionError), error


def test_program_refuses_two_pins_at_once() -> None:
    from components.program import parse_config

    with pytest.raises(InputError) as info:
        parse_config(
            {
                "sourceAccountId": "111122223333",
                "exportJobId": "j",
                "expectedSha256": "ab" * 32,
                "pinFromStack": "acme/quicksight-promotion/test",
            }
        )
    assert str(info.value) == (
        "invalid stack configuration: set either quicksight-promotion:expectedSha256 or "
        "quicksight-promotion:pinFromStack, not both"
    )


@pulumi.runtime.test
def test_program_passes_the_deployment_settings_to_the_deployment() -> pulumi.Output:
    from pulumi_cli import load_project, merge_config, program_config

    mocks = install(RecordingMocks(template=sample_template()))
    stage = {
        "quicksight-promotion:sourceAccountId": "111122223333",
        "quicksight-promotion:exportJobId": "sales-release-42",
        "quicksight-promotion:templateValidation": "off",
        "quicksight-promotion:adoptStack": True,
        "quicksight-promotion:adoptIdentity": "0123456789abcdef0123456789abcdef",
        "quicksight-promotion:adoptAllowRemovals": True,
        "quicksight-promotion:executeChangeSet": False,
        "quicksight-promotion:targetRoleArn": "arn:aws:iam::999999999999:role/deployer",
        "quicksight-promotion:stackTimeoutSeconds": 900,
    }
    flat, secret_keys = program_config(merge_config(load_project(ROOT / "Pulumi.yaml"), "test", stage))
    pulumi.runtime.set_all_config(flat, secret_keys)
    program = runpy.run_path(str(ROOT / "__main__.py"))

    def check(_: Any) -> None:
        inputs = stack_inputs(mocks)
        assert inputs["adopt_stack"] is True and inputs["execute_change_set"] is False
        assert inputs["adopt_identity"] == "0123456789abcdef0123456789abcdef" and inputs["adopt_allow_removals"] is True
        # The readable owner tagged beside the deployment's identity: the project and the stack.
        assert inputs["owner"] == f"{pulumi.get_project()}/{pulumi.get_stack()}"
        assert inputs["target_role_arn"] == "arn:aws:iam::999999999999:role/deployer"
        assert inputs["stack_timeout_seconds"] == 900

    return program["bundle"].stack.urn.apply(check)


# --- the judge at preview and up (core.judge; preflight asks the same function) -------------------------


def test_a_stage_pointing_at_dev_is_refused_before_anything_is_deployed() -> None:
    values = stage_values()
    values[REDSHIFT]["Host"] = "finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com"
    mocks = install(RecordingMocks(template=BIG))

    def program() -> pulumi.Output:
        return QuickSightBundleStack("sales", args(parameters=values)).stack.urn

    error = run_failing_program(program)
    assert any(issubclass(t, PromotionCheckError) for t in error.types), error.types
    # The stage values hold credentials, so they are one secret: no value is quoted.
    assert (
        f"{REDSHIFT}.Host is <hidden>, the source's own Host (the export's value): this stage would use the source's "
        "resource: set this stage's own Host"
    ) in str(error)
    assert "nothing was deployed" in str(error)
    assert mocks.by_type(DEPLOYMENT) == []
    # Nothing is written to the target account: the staging bucket waits for the judge too.
    assert mocks.by_type("aws:s3/bucket:Bucket") == [] and mocks.by_type("BucketPolicy") == []


@pulumi.runtime.test
def test_the_staging_bucket_is_versioned_so_a_staged_template_is_named_by_version() -> pulumi.Output:
    mocks = install(RecordingMocks(template=BIG))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))

    def check(_: Any) -> None:
        (versioning,) = mocks.by_type("aws:s3/bucketVersioning:BucketVersioning")
        assert versioning.name == "sales-staging"
        assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"

    return component.stack.urn.apply(check)


@pulumi.runtime.test
def test_the_judges_warnings_are_logged_on_the_component(monkeypatch: pytest.MonkeyPatch) -> pulumi.Output:
    install(RecordingMocks(template=BIG))
    warned: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda msg, *a, **k: warned.append(msg))
    component = QuickSightBundleStack("sales", args(parameters=stage_values()))

    def check(_: Any) -> None:
        who = "export job 'sales-release-42' in account 111122223333: "
        plain = [w for w in warned if "is a credential given in plain text" in w]
        assert sorted(plain) == [
            f"{who}{REDSHIFT}.Password is a credential given in plain text in the stage file: it is kept secret in "
            "state, but readable in the file: store it encrypted: pulumi config set --secret --path "
            f"'quicksight-promotion:parameters.{REDSHIFT}.Password' <value>",
            f"{who}{REDSHIFT}.Username is a credential given in plain text in the stage file: it is kept secret in "
            "state, but readable in the file: store it encrypted: pulumi config set --secret --path "
            f"'quicksight-promotion:parameters.{REDSHIFT}.Username' <value>",
        ]
        assert not any("hunter2-prod" in w or "qs_reader" in w for w in warned)

    return component.stack.urn.apply(check)


FAILED_DASHBOARD = [
    {"logical_id": "salesdash", "kind": "dashboard", "id": "prod-sales", "status": "CREATION_FAILED",
     "errors": ["DATA_SET_NOT_FOUND: Data set prod-sales-ds not found"]},
    {"logical_id": "salesan", "kind": "analysis", "id": "prod-an", "status": "NOT_VERIFIED", "errors": [],
     "reason": "AccessDenied"},
]  # fmt: skip


class VerifiedMocks(RecordingMocks):
    """The deployment reports QuickSight's verification of its dashboards."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        resource_id, outputs = super().new_resource(args)
        if args.typ.endswith(DEPLOYMENT):
            outputs["verification"] = FAILED_DASHBOARD
        return resource_id, outputs


def test_a_failed_dashboard_after_the_deploy_fails_the_up_naming_it_and_its_errors() -> None:
    install(VerifiedMocks(template=BIG))

    def program() -> pulumi.Output:
        return QuickSightBundleStack("sales", args(parameters=stage_values())).verification

    error = run_failing_program(program)

    assert str(error) == (
        "the stack is deployed, but QuickSight reports dashboard 'prod-sales' CREATION_FAILED: DATA_SET_NOT_FOUND: "
        "Data set prod-sales-ds not found. Fix the dashboard or analysis in the source account and promote it again "
        "(or set verifyAssets: warning to go on)"
    )
    assert AssetVerificationError in error.types


@pulumi.runtime.test
def test_a_failed_dashboard_is_a_warning_with_verify_assets_warning() -> pulumi.Output:
    install(VerifiedMocks(template=BIG))
    component = QuickSightBundleStack("sales", args(parameters=stage_values(), verify_assets="warning"))

    def check(statuses: Any) -> None:
        assert [s["status"] for s in statuses] == ["CREATION_FAILED", "NOT_VERIFIED"]

    return component.verification.apply(check)
