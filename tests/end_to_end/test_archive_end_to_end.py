"""dev -> test -> prod -> rollback through the release archive, after QuickSight forgot the jobs.

- dev: the real ``AssetBundleRelease`` provider, driven over gRPC by the engine harness, cuts two
  releases against the loopback QuickSight emulator and archives each in a moto S3 bucket
  (``AWS_ENDPOINT_URL_S3`` of the provider process points at moto).
- Then the emulator forgets every job, as QuickSight does 14 days after a job started.
- test and prod: the program (``components.program.build`` with ``release: <name>``) runs under
  Pulumi mocks whose ``aws:s3/getObject:getObject`` invoke reads the real archive objects from moto,
  as pulumi-aws would; the ``CloudFormationDeployment`` inputs it registers are deployed by the real
  deployment provider into each stage's own moto account.
- prod is pinned to what test deployed (``expectedSha256`` = test's ``template_sha256`` output, as
  ``pinFromStack`` would read it) and refuses another release; the rollback names the earlier release.

No QuickSight call is made after dev: a release deploys from the archive alone.
"""

from __future__ import annotations

import json
from typing import Any, Iterator, Optional

import pulumi
import pytest

from components.core.manifest import parse_manifest, sha256_text
from components.deployment import CloudFormationDeploymentProvider
from components.program import build, parse_config
from components.release import AssetBundleReleaseProvider
from emulator import ACCOUNT, QuickSightEmulator
from engine import RELEASE_RESOURCE_TYPE, EngineHarness
from mocks import RecordingMocks, install, run_failing_program
from moto_server import (  # noqa: F401  (fixtures)
    REGION,
    AccountClients,
    MotoServer,
    aws_env,
    ensure_bucket,
    moto,
    moto_server,
    stack_description,
    stack_template,
    unwrap_secrets,
)

BUCKET = "qs-release-archive-dev"
TARGET_ACCOUNTS = {"test": "222222222222", "prod": "333333333333"}
PREFIX = {"test": "test-", "prod": ""}
PASSWORDS = {"test": "T3st-archive-Pa55!", "prod": "Pr0d-archive-Pa55!"}


class ArchiveMocks(RecordingMocks):
    """Mocks whose getObject invoke serves the moto archive's objects, and whose caller identity is the stage's.

    The objects are read from moto when the stage starts (a snapshot: nothing writes the archive
    during a stage), so the invoke answers at once, as the other mocks do.
    """

    def __init__(self, s3: Any, stage: str) -> None:
        super().__init__(template={}, archive=archive_objects(s3))
        self.stage = stage

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            self.invokes.append(args)
            account = TARGET_ACCOUNTS[self.stage]
            return {"accountId": account, "arn": f"arn:aws:iam::{account}:role/deployer", "userId": "AROA", "id": account}
        return super().call(args)


def archive_objects(s3: Any) -> dict[tuple[str, str], dict[str, str]]:
    """Every version of every object of the archive bucket, as the getObject invoke returns its body (UTF-8 text)."""
    listed = s3.list_object_versions(Bucket=BUCKET).get("Versions", [])
    objects: dict[tuple[str, str], dict[str, str]] = {}
    for item in sorted(listed, key=lambda v: v["LastModified"]):
        answer = s3.get_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])
        objects.setdefault((BUCKET, item["Key"]), {})[item["VersionId"]] = answer["Body"].read().decode("utf-8")
    return objects


@pytest.fixture(scope="module")
def source() -> Iterator[QuickSightEmulator]:
    with QuickSightEmulator() as emulator:
        assets = emulator.assets
        assets.job_statuses = ["IN_PROGRESS", "SUCCESSFUL"]
        assets.add_data_source("pg", "POSTGRESQL", {"PostgreSqlParameters": {"Host": "dev-db", "Port": 5432, "Database": "sales"}})
        assets.add_data_set("orders", ("pg",))
        assets.add_dashboard("sales-dashboard", ("orders",))
        assets.add_analysis("sales-analysis", ("orders",))
        yield emulator


def stage_settings(stage: str, release: str, pin: Optional[str] = None, version: Optional[str] = None) -> Any:
    return parse_config(
        {
            "sourceAccountId": ACCOUNT,
            "release": release,
            "archiveBucket": BUCKET,
            "archiveRegion": REGION,
            "stackName": f"quicksight-sales-{stage}",
            "templateValidation": "off",
            "allowSourceDefaults": True,
            **({"expectedSha256": pin} if pin else {}),
            **({"releaseVersionId": version} if version else {}),
        }
    )


def stage_program(settings: Any, stage: str, outputs: dict[str, Any]) -> Any:
    values = {
        "ResourceIdPrefixForAllResources": PREFIX[stage],
        "datasource/pg": {"Host": f"{stage}-db", "Username": "qs_reader", "Password": PASSWORDS[stage]},
    }

    names = ("template_sha256", "release_name", "resource_digests", "release_manifest_version_id")

    def program() -> pulumi.Output:
        # As `pulumi config set --secret --path` makes them: the stage's parameters are one secret.
        bundle = build("quicksight", settings, pulumi.Output.secret(values))
        return pulumi.Output.all(*(getattr(bundle, name) for name in names)).apply(lambda v: outputs.update(zip(names, v)))

    return program


def run_stage(
    moto: MotoServer, stage: str, release: str, pin: Optional[str] = None, version: Optional[str] = None
) -> tuple[ArchiveMocks, dict[str, Any]]:
    mocks = install(ArchiveMocks(moto.s3, stage))
    outputs: dict[str, Any] = {}
    pulumi.runtime.test(stage_program(stage_settings(stage, release, pin, version), stage, outputs))()
    return mocks, outputs


def deployment_inputs(mocks: RecordingMocks) -> dict[str, Any]:
    (deployment,) = mocks.by_type("quicksight:CloudFormationDeployment")
    sent = {k: v for k, v in unwrap_secrets(dict(deployment.inputs)).items() if v is not None}
    sent.pop("termination_protection", None)  # moto lacks UpdateTerminationProtection
    return sent


def deploy(clients: AccountClients, sent: dict[str, Any], olds: Optional[dict[str, Any]] = None) -> dict[str, Any]:
    """Create (or, with ``olds``, update) the stage's stack with the real provider, in its own moto account."""
    ensure_bucket(clients.s3, sent["staging_bucket"])
    with pytest.MonkeyPatch.context() as env:
        for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.delenv(var, raising=False)
        for key, value in aws_env(clients).items():
            env.setenv(key, value)
        provider = CloudFormationDeploymentProvider()
        if olds is None:
            return provider.create(sent).outs
        assert provider.diff(olds["stack_id"], olds, sent).changes
        return provider.update(olds["stack_id"], olds, sent).outs


# moto warns that it cannot delete the analysis the rollback removes (it never creates QuickSight resources).
@pytest.mark.filterwarnings("ignore:Unable to delete:UserWarning")
def test_dev_test_prod_and_a_rollback_after_the_jobs_expired(moto: MotoServer, source: QuickSightEmulator) -> None:
    moto.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    moto.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})

    # --- dev: two releases, each archived once -----------------------------------------------------
    env = {**source.env(), "AWS_ENDPOINT_URL_S3": moto.endpoint}
    with EngineHarness(env=env, provider=AssetBundleReleaseProvider(), name="release", resource_type=RELEASE_RESOURCE_TYPE) as dev:
        base = {"source_account_id": ACCOUNT, "archive_bucket": BUCKET, "archive_region": REGION}
        first = dev.up({**base, "release_name": "sales-1", "dashboard_ids": ["sales-dashboard"]})
        second = dev.up(
            {**base, "release_name": "sales-2", "dashboard_ids": ["sales-dashboard"], "analysis_ids": ["sales-analysis"]}
        )
        # The same release again is the same resource: nothing is written twice.
        again = dev.up({**base, "release_name": "sales-1", "dashboard_ids": ["sales-dashboard"]}, first.state)
        assert again.action == "same"
    manifests, versions = {}, {}
    for step in (first, second):
        out = step.outputs
        key = out["archive_manifest_key"]
        stored = moto.s3.get_object(Bucket=BUCKET, Key=key)
        manifest = parse_manifest(stored["Body"].read().decode(), key)
        # What the source stage exports as release_manifest_version_id, and the template's version.
        assert out["archive_manifest_version_id"] == stored["VersionId"]
        assert manifest.template_version_id == moto.s3.head_object(Bucket=BUCKET, Key=manifest.template_key)["VersionId"]
        versions[out["export_job_id"]] = stored["VersionId"]
        assert key == f"releases/{out['export_job_id']}.json"
        assert manifest.sha256 == out["archive_sha256"] == sha256_text(out["template_body"])
        assert manifest.export_sha256 == out["template_sha256"] and manifest.job_arn == out["export_job_arn"]
        assert manifest.source_account_id == ACCOUNT and manifest.archived_by == "AssetBundleRelease"
        assert manifest.catalog == out["parameter_catalog"]
        manifests[out["export_job_id"]] = manifest
    assert manifests["sales-1"].sha256 != manifests["sales-2"].sha256

    # --- 14 days later: QuickSight has forgotten the jobs ----------------------------------------------
    source.jobs.clear()
    mark = len(source.requests)
    accounts = {stage: moto.account(account) for stage, account in TARGET_ACCOUNTS.items()}

    # --- test deploys sales-2 from the archive -----------------------------------------------------------
    test_mocks, test_out = run_stage(moto, "test", "sales-2", version=versions["sales-2"])
    assert test_mocks.by_type("quicksight:AssetBundleExport") == []
    test_sent = deployment_inputs(test_mocks)
    test_state = deploy(accounts["test"], test_sent)
    assert stack_description(accounts["test"].cloudformation, "quicksight-sales-test")["StackStatus"] == "CREATE_COMPLETE"
    assert test_out["template_sha256"] == manifests["sales-2"].sha256 and test_out["release_name"] == "sales-2"
    assert test_out["release_manifest_version_id"] == versions["sales-2"]
    assert set(test_out["resource_digests"]) >= {"dashboard/sales-dashboard", "analysis/sales-analysis", "datasource/pg"}

    # --- prod, pinned to what test deployed, deploys sales-2 ---------------------------------------------
    pin = test_out["template_sha256"]
    prod_mocks, prod_out = run_stage(moto, "prod", "sales-2", pin, test_out["release_manifest_version_id"])
    prod_sent = deployment_inputs(prod_mocks)
    prod_state = deploy(accounts["prod"], prod_sent)
    prod_cfn = accounts["prod"].cloudformation
    assert stack_template(prod_cfn, "quicksight-sales-prod") == json.loads(prod_sent["template_body"])
    assert prod_sent["template_body"] == test_sent["template_body"]  # the same bytes in both stages
    assert prod_state["account_id"] == TARGET_ACCOUNTS["prod"]

    # --- rollback: prod names the earlier release ----------------------------------------------------
    back_mocks, back_out = run_stage(moto, "prod", "sales-1", version=versions["sales-1"])
    back_sent = deployment_inputs(back_mocks)
    before, after = prod_out["resource_digests"], back_out["resource_digests"]
    # What `pulumi preview --diff` lists: the analysis removed, the others as they were or changed.
    assert set(before) - set(after) == {"analysis/sales-analysis"} and set(after) <= set(before)
    rolled = deploy(accounts["prod"], back_sent, prod_state)
    assert rolled["resource_digests"] == after
    resources = stack_template(prod_cfn, "quicksight-sales-prod")["Resources"]
    assert not any(r["Type"] == "AWS::QuickSight::Analysis" for r in resources.values())
    assert stack_description(prod_cfn, "quicksight-sales-prod")["StackStatus"] == "UPDATE_COMPLETE"

    # After dev, no stage called QuickSight: the archive alone was enough.
    assert source.requests[mark:] == []
    # No credential reached the archive (it holds templates and catalogs only).
    for item in moto.s3.list_objects_v2(Bucket=BUCKET)["Contents"]:
        text = moto.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode("utf-8")
        assert not any(password in text for password in PASSWORDS.values())
    # The archive still holds each object once.
    for manifest in manifests.values():
        for key in (manifest.template_key, f"releases/{manifest.name}.json"):
            assert len(moto.s3.list_object_versions(Bucket=BUCKET, Prefix=key)["Versions"]) == 1

    # --- a pinned prod refuses any other release (before anything is registered) --------------------------
    refused_mocks = install(ArchiveMocks(moto.s3, "prod"))
    failure = run_failing_program(stage_program(stage_settings("prod", "sales-1", pin), "prod", {}))
    assert f"release 'sales-1' cannot be deployed by this stage: 1 error(s): template hashes to sha256 {manifests['sales-1'].sha256}" in failure.message
    assert f"not the pinned {pin}" in failure.message
    assert refused_mocks.by_type("quicksight:CloudFormationDeployment") == []
