"""One promotion, test stage then prod, without AWS: emulator -> real provider -> component -> moto.

- The loopback QuickSight emulator serves ``json.dumps(generate_bundle(), indent=2)`` for export job
  ``sales-release-42`` of the source account (and STS AssumeRole for ``sourceRoleArn``).
- Each stage's program (``components.program.build`` with the settings and parameters of
  ``examples/Pulumi.<stage>.yaml`` plus Username/Password given as a secret) runs under Pulumi mocks.
  The mocks answer the ``AssetBundleExport`` by running the real dynamic provider over gRPC
  (``EngineHarness.up``) with exactly the inputs the program registered, and hand its real outputs
  back to the program, as the engine would.
- The recorded ``CloudFormationDeployment`` inputs are then deployed by the real deployment provider
  against moto, each stage in its own target account (the mocks answer ``getCallerIdentity`` with it,
  so the account guard is the one the program would set).

Deviations from the example stage files, on purpose:
- prod pins with ``expectedSha256`` (the test stage's ``template_sha256`` output) instead of
  ``pinFromStack`` (a StackReference to the test stage's state, which needs a Pulumi backend);
- ``templateValidation`` is ``off`` in both stages (the files say ``warning`` and ``error``): cfn-lint
  costs 7-10 s per run of the provider on this bundle (its analyses and dashboards), and with ``error``
  prod would refuse the example bundle anyway (see ``test_prod_example_validation_accepts_the_bundle``).
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Optional

import grpc
import pulumi
import pytest
import yaml

from components.core.bundle import compact_json
from components.core.catalog import build_catalog
from tools.generator import generate_bundle
from components.core.models import ExportOutputs
from components.core.transform import deployable
from components.errors import IntegrityError
from components.program import NAMESPACE, ProgramConfig, build, parse_config
from components.validation import lint_template
from emulator import QuickSightEmulator
from engine import EngineHarness, StepResult, error_text, user_error
from mocks import RecordingMocks, install, run_failing_program
from components.core.stacks import OWNER_TAG, OWNERSHIP_TAG
from components.deployment import CloudFormationDeploymentProvider
from moto_server import (  # noqa: F401  (fixtures)
    AccountClients,
    MotoServer,
    aws_env,
    ensure_bucket,
    is_secret,
    moto,
    moto_server,
    stack_description,
    stack_parameters,
    stack_template,
    unwrap_secrets,
)

ROOT = Path(__file__).resolve().parents[2]
SOURCE_ACCOUNT = "111122223333"
JOB = "sales-release-42"
DOCUMENT = generate_bundle()
PAYLOAD = json.dumps(DOCUMENT, indent=2).encode("utf-8")
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()
# What CloudFormation receives: the exported template with its credential parameters NoEcho.
DEPLOYED = deployable(compact_json(DOCUMENT), [e.model_dump() for e in build_catalog(DOCUMENT)])
DEPLOYED_DOCUMENT = json.loads(DEPLOYED.body)
# The target accounts of the two stages (moto accounts, through its STS AssumeRole).
TARGET_ACCOUNTS = {"test": "222222222222", "prod": "333333333333"}
REDSHIFT = "datasource/e87a1613-e443-4f78-9558-867f5ba91faf"
POSTGRES = "datasource/c8a70639-eb11-47b3-a7a9-c3787c65c1e5"
ATHENA = "datasource/82e2e662-f728-44fa-8248-5e3a0a5d2f34"
CREDENTIALS = {
    "test": {"Username": "qs_reader_test", "Password": "T3st-Pa55word!e2e"},
    "prod": {"Username": "qs_reader_prod", "Password": "Pr0d-Pa55word!e2e"},
}
SECRETS = [value for stage in CREDENTIALS.values() for value in stage.values()]
EXPORT_OUTPUTS = tuple(ExportOutputs.model_fields)


def stage_file(stage: str) -> dict[str, Any]:
    return yaml.safe_load((ROOT / "examples" / f"Pulumi.{stage}.yaml").read_text(encoding="utf-8"))["config"]


def stage_settings(stage: str, **overrides: Any) -> tuple[ProgramConfig, dict[str, Any]]:
    """A stage's validated settings and its parameters (the credentials added as `--secret` would)."""
    config = stage_file(stage)
    prefix = f"{NAMESPACE}:"
    raw = {k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix) and k != f"{prefix}parameters"}
    raw.update(overrides)
    raw = {k: v for k, v in raw.items() if v is not None}
    parameters = copy.deepcopy(config[f"{prefix}parameters"])
    parameters[REDSHIFT].update(CREDENTIALS[stage])
    return parse_config(raw), parameters


def settings_of_test_stage() -> tuple[ProgramConfig, dict[str, Any]]:
    return stage_settings("test", templateValidation="off")


def prod_settings(expected_sha256: str) -> tuple[ProgramConfig, dict[str, Any]]:
    return stage_settings("prod", pinFromStack=None, expectedSha256=expected_sha256, templateValidation="off")


class EngineMocks(RecordingMocks):
    """Mocks whose AssetBundleExport is the real provider, run over gRPC by the engine harness."""

    def __init__(self, engine: EngineHarness, stage: str) -> None:
        super().__init__(template={})  # never used: the export's outputs come from the provider
        self.engine = engine
        self.stage = stage
        self.step: Optional[StepResult] = None
        self.sent: Optional[dict[str, Any]] = None
        self.engine_error: Optional[grpc.RpcError] = None

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if args.typ.endswith("quicksight:AssetBundleExport"):
            self.resources.append(args)
            # The engine strips secretness before calling a provider that does not accept secrets.
            self.sent = unwrap_secrets(dict(args.inputs))
            try:
                self.step = self.engine.up(self.sent)
            except grpc.RpcError as exc:
                self.engine_error = exc
                raise
            # The engine keeps an output secret when the input of the same name was: so the echoed
            # inputs are returned as the program sent them, and only the provider's own outputs are new.
            outputs = dict(args.inputs)
            outputs.update({name: self.step.outputs[name] for name in EXPORT_OUTPUTS if name in self.step.outputs})
            return self.step.id, outputs
        if args.typ == "aws:s3/bucket:Bucket":
            # Pulumi auto-names buckets with a random suffix: two stages never share a name.
            self.resources.append(args)
            bucket = f"{args.name}-{self.stage}-5e7a1c"
            return bucket, {**args.inputs, "bucket": bucket}
        return super().new_resource(args)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            self.invokes.append(args)
            account = TARGET_ACCOUNTS[self.stage]
            return {"accountId": account, "arn": f"arn:aws:iam::{account}:role/deployer", "userId": "AROA", "id": account}
        return super().call(args)


@dataclass
class StageRun:
    """One stage's `pulumi up` as far as the program goes, and what it would send to AWS."""

    stage: str
    mocks: EngineMocks
    outputs: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)  # what the emulator served this stage

    deployed: dict[str, Any] = field(default_factory=dict)  # the deployment provider's outputs
    termination_protection: Optional[bool] = None  # what the program asked the deployment for

    @property
    def stack(self) -> dict[str, Any]:
        (stack,) = self.mocks.by_type("quicksight:CloudFormationDeployment")
        return dict(stack.inputs)

    @property
    def parameters(self) -> dict[str, str]:
        return unwrap_secrets(self.stack["parameters"])


def program_for(settings: ProgramConfig, parameters: dict[str, Any], outputs: dict[str, Any]) -> Any:
    def program() -> pulumi.Output:
        # Pulumi.<stage>.yaml holds an encrypted value inside `parameters`: the program reads it as a secret.
        bundle = build("quicksight", settings, pulumi.Output.secret(parameters))
        return pulumi.Output.all(
            bundle.stack.urn, bundle.template_sha256, bundle.asset_ids, bundle.dashboard_urls, bundle.stack_name
        ).apply(lambda v: outputs.update(zip(("urn", "template_sha256", "asset_ids", "dashboard_urls", "stack_name"), v)))

    return program


def run_stage(
    engine: EngineHarness, stage: str, settings: ProgramConfig, parameters: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> StageRun:
    run = StageRun(stage, install(EngineMocks(engine, stage)))
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *a, **k: run.warnings.append(str(message)))
    pulumi.runtime.test(program_for(settings, parameters, run.outputs))()
    return run


def deploy(clients: AccountClients, run: StageRun) -> dict[str, Any]:
    """Deploy what the stage's program registered into its target account with the real provider.

    Returns the provider's outputs ({} when the program registered no deployment).
    """
    deployments = run.mocks.by_type("quicksight:CloudFormationDeployment")
    assert len(deployments) <= 1
    if not deployments:
        return {}
    sent = {k: v for k, v in unwrap_secrets(dict(deployments[0].inputs)).items() if v is not None}
    # moto does not implement UpdateTerminationProtection (test_deployment_faults.py covers it with a
    # Stubber): what the program asked for is asserted by the caller, and left out here.
    run.termination_protection = sent.pop("termination_protection", None)
    # The staging bucket is a pulumi-aws resource of the program: it exists before the deployment.
    ensure_bucket(clients.s3, sent["staging_bucket"])
    with pytest.MonkeyPatch.context() as env:
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.delenv(var, raising=False)
        for key, value in aws_env(clients).items():
            env.setenv(key, value)
        run.deployed = CloudFormationDeploymentProvider().create(sent).outs
    return run.deployed


def assert_no_credentials(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"a credential is in {where} in plain text"


@pytest.fixture(scope="module")
def qs() -> Iterator[QuickSightEmulator]:
    with QuickSightEmulator() as emulator:
        emulator.add_job(JOB, account=SOURCE_ACCOUNT, payload=PAYLOAD)
        yield emulator


@pytest.fixture(scope="module")
def engine(qs: QuickSightEmulator) -> Iterator[EngineHarness]:
    with EngineHarness(env=qs.env()) as harness:
        yield harness


# --- the promotion -------------------------------------------------------------------------------------


def test_promotion_from_test_to_prod(
    moto: MotoServer, qs: QuickSightEmulator, engine: EngineHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = len(qs.requests)
    test = run_stage(engine, "test", *settings_of_test_stage(), monkeypatch)
    test.requests = qs.requests[mark:]
    mark = len(qs.requests)
    prod = run_stage(engine, "prod", *prod_settings(test.outputs["template_sha256"]), monkeypatch)
    prod.requests = qs.requests[mark:]
    accounts = {stage: moto.account(account) for stage, account in TARGET_ACCOUNTS.items()}

    for run in (test, prod):
        deploy(accounts[run.stage], run)

    # Both stacks exist, each in its own account.
    for run in (test, prod):
        cloudformation = accounts[run.stage].cloudformation
        name = f"quicksight-sales-{run.stage}"
        stack = stack_description(cloudformation, name)
        assert stack["StackStatus"] == "CREATE_COMPLETE"
        assert stack["StackId"].split(":")[4] == TARGET_ACCOUNTS[run.stage]
        assert {t["Key"]: t["Value"] for t in stack["Tags"]} == {
            "stage": run.stage,
            "owner": "analytics-platform",
            OWNERSHIP_TAG: run.deployed["owner_identity"],
            OWNER_TAG: run.deployed["owner"],
        }
        assert stack_parameters(cloudformation, name) == run.parameters
        assert stack_template(cloudformation, name) == DEPLOYED_DOCUMENT

    # One template: the bytes the source exported, pinned by prod, staged under the same key.
    assert test.outputs["template_sha256"] == prod.outputs["template_sha256"] == PAYLOAD_SHA256
    assert prod.mocks.sent["expected_sha256"] == PAYLOAD_SHA256
    key = f"quicksight-promotion/{DEPLOYED.sha256}.json"
    assert test.stack["template_body"] == prod.stack["template_body"] == DEPLOYED.body
    assert test.stack["staging_bucket"] != prod.stack["staging_bucket"]
    for run in (test, prod):
        bucket = run.stack["staging_bucket"]
        assert run.deployed["template_url"] == f"https://{bucket}.s3.eu-west-1.amazonaws.com/{key}"
        assert run.stack["target_account_id"] == run.deployed["account_id"] == TARGET_ACCOUNTS[run.stage]
        body = accounts[run.stage].s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert body == DEPLOYED.body.encode("utf-8")
    # prod sets protect: Pulumi and CloudFormation both refuse to delete it.
    assert (test.termination_protection, prod.termination_protection) == (False, True)
    # Each stage fetched the job once (through the source role), and nothing else.
    for run in (test, prod):
        assert [r["operation"] for r in run.requests] == ["AssumeRole", "DescribeAssetBundleExportJob", "Download"]

    # The stages differ exactly where their files do.
    catalog = {e["key"]: e["name"] for e in test.mocks.step.outputs["parameter_catalog"]}
    differs = {key for key, name in catalog.items() if test.parameters[name] != prod.parameters[name]}
    assert {f"{REDSHIFT}.Host", f"{POSTGRES}.Host", f"{ATHENA}.WorkGroup", "ResourceIdPrefixForAllResources"} <= differs
    assert test.parameters[catalog[f"{ATHENA}.WorkGroup"]] == "analytics-test"
    assert prod.parameters[catalog[f"{ATHENA}.WorkGroup"]] == "analytics-prod"
    assert test.parameters[catalog[f"{REDSHIFT}.Host"]].startswith("finance-test.")
    assert prod.parameters[catalog[f"{REDSHIFT}.Host"]].startswith("finance-prod.")
    assert (test.parameters["ResourceIdPrefixForAllResources"], prod.parameters["ResourceIdPrefixForAllResources"]) == ("test-", "")
    assert test.parameters[catalog[f"{REDSHIFT}.Password"]] == CREDENTIALS["test"]["Password"]
    assert prod.parameters[catalog[f"{REDSHIFT}.Password"]] == CREDENTIALS["prod"]["Password"]
    assert test.outputs["asset_ids"]["dashboard"] == ["test-sales-dashboard"]
    assert prod.outputs["asset_ids"]["dashboard"] == ["sales-dashboard"]
    assert prod.outputs["dashboard_urls"] == ["https://eu-west-1.quicksight.aws.amazon.com/sn/dashboards/sales-dashboard"]

    # Validation off: the program asked for no lint, the provider ran none, nothing was reported.
    for run in (test, prod):
        assert run.mocks.sent["validate_template"] is False
        assert "lint_findings" not in run.mocks.step.outputs  # None, dropped on the wire
        # The generated VPC connection's literal subnets and security group, and the databases that
        # keep the source's names (worth a look in every stage, never a stop).
        literals = [w for w in run.warnings if "is a literal, not a parameter" in w]
        names = [w for w in run.warnings if "the same Database as the source's" in w]
        assert len(literals) == 3 and len(names) == len(run.warnings) - 3 and names, run.warnings

    # Credentials: the provider echoes its `parameters` input, which the program sent as a secret, so the
    # engine keeps that output encrypted; no other output, nor the id, carries one. The stack's parameters
    # are one secret mapping; the component's outputs, the warnings and the provider's stderr hold none.
    for run in (test, prod):
        (export,) = run.mocks.by_type("quicksight:AssetBundleExport")
        assert is_secret(export.inputs["parameters"])
        others = {k: v for k, v in run.mocks.step.outputs.items() if k != "parameters"}
        assert_no_credentials(json.dumps(others, ensure_ascii=False), f"the {run.stage} export's outputs")
        assert_no_credentials(run.mocks.step.id, f"the {run.stage} export's id")
        assert is_secret(run.stack["parameters"])
        assert_no_credentials(json.dumps(run.deployed, ensure_ascii=False), f"the {run.stage} deployment's outputs")
        assert_no_credentials(json.dumps(run.outputs, ensure_ascii=False), f"the {run.stage} component's outputs")
        assert_no_credentials("\n".join(run.warnings), f"the {run.stage} warnings")
    assert_no_credentials(engine.stderr_text(), "the provider's stderr")


def test_prod_pinned_to_other_bytes_fails_in_the_provider_and_deploys_nothing(
    moto: MotoServer, engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    # A plausible mistake: pinning the sha256 of the compact template_body instead of the exported bytes.
    wrong = hashlib.sha256(json.dumps(DOCUMENT, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()
    assert wrong != PAYLOAD_SHA256
    settings, parameters = prod_settings(wrong)
    mocks = install(EngineMocks(engine, "prod"))

    failure = run_failing_program(program_for(settings, parameters, {}))

    assert mocks.engine_error is not None, failure
    line = user_error(mocks.engine_error)
    assert line.startswith("components.errors.IntegrityError: "), line
    assert f"hashes to sha256 {PAYLOAD_SHA256}, not the expected {wrong}" in line
    assert "refusing bytes other than the pinned ones" in line
    assert IntegrityError.__name__ in failure.message
    assert_no_credentials(error_text(mocks.engine_error), "the provider's error")
    assert_no_credentials(failure.message, "the program's error")
    assert_no_credentials(engine.stderr_text(), "the provider's stderr")
    # Nothing after the export was registered, so nothing reaches AWS.
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []
    prod = moto.account(TARGET_ACCOUNTS["prod"])
    assert deploy(prod, StageRun("prod", mocks)) == {}
    assert prod.cloudformation.describe_stacks()["Stacks"] == []
    assert prod.s3.list_buckets()["Buckets"] == []


# --- findings, as strict expected failures -------------------------------------------------------------


def test_prod_example_validation_accepts_the_bundle() -> None:
    settings, _ = stage_settings("prod")
    assert settings.template_validation == "error"
    # Linted as the provider does (lint_template on the compact body, the source region). Analyses and
    # dashboards are left out only for speed (7-10 s): the full bundle gives exactly the same 2 errors.
    document = copy.deepcopy(DOCUMENT)
    document["Resources"] = {
        name: resource
        for name, resource in document["Resources"].items()
        if resource["Type"] not in ("AWS::QuickSight::Analysis", "AWS::QuickSight::Dashboard")
    }
    findings = lint_template(json.dumps(document, ensure_ascii=False, separators=(",", ":")), settings.source_region)
    assert [f for f in findings if f.level == "error"] == []
