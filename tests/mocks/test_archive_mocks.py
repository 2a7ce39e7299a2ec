"""Deploying an archived release under Pulumi mocks: the aws.s3.getObject invokes answered from a fake archive.

No export job is involved: the program reads ``releases/<name>.json`` and ``templates/<sha256>.json``
(invokes run in preview as in up), checks the sha256, and hands the deployment the template and
one digest per QuickSight resource.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pytest

from components.core.manifest import resource_digests
from components.core.transform import deployable
from components.errors import InputError
from components.program import build, build_archive, build_release, parse_config
from mocks import TARGET_REGION, RecordingMocks, archive_release, install, run_failing_program, tls_only_statement
from test_stack_mocks import BIG, PRINCIPALS, SECRET_SIG, stage_values

BUCKET = "qs-release-archive"
SOURCE = {"sourceAccountId": "111122223333"}
GET_OBJECT = "aws:s3/getObject:getObject"


def settings(**raw: Any) -> Any:
    # The manifest's first version, as the source stage's release_manifest_version_id names it.
    base = {
        **SOURCE,
        "release": "sales-42",
        "releaseVersionId": "1",
        "archiveBucket": BUCKET,
        "templateValidation": "off",
        "principals": PRINCIPALS,
    }
    if raw.get("release", "sales-42") is None:
        base.pop("releaseVersionId")
    return parse_config({k: v for k, v in (base | raw).items() if v is not None})


def renamed_dashboard(description: str) -> dict[str, Any]:
    """The bundle with another dashboard version description: one asset changed."""
    template = copy.deepcopy(BIG)
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::QuickSight::Dashboard":
            resource["Properties"]["VersionDescription"] = description
    return template


SEEN = ("template_sha256", "release_name", "resource_digests", "release_manifest_version_id")


def program(config: Any, seen: dict[str, Any]) -> Any:
    def run() -> pulumi.Output:
        bundle = build("quicksight", config, stage_values())
        return pulumi.Output.all(*(getattr(bundle, name) for name in SEEN)).apply(lambda v: seen.update(zip(SEEN, v)))

    return run


def deployment_inputs(mocks: RecordingMocks) -> dict[str, Any]:
    (stack,) = mocks.by_type("quicksight:CloudFormationDeployment")
    return dict(stack.inputs)


def test_a_release_deploys_from_the_archive_without_an_export_job() -> None:
    mocks = install(RecordingMocks())
    manifest = archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    seen: dict[str, Any] = {}

    pulumi.runtime.test(program(settings(), seen))()

    assert mocks.by_type("quicksight:AssetBundleExport") == []
    reads = [(i.args["bucket"], i.args["key"], i.args.get("versionId")) for i in mocks.invokes if i.token == GET_OBJECT]
    # Each at its pinned version: the manifest's from the stage, the template's from the manifest.
    assert reads == [(BUCKET, "releases/sales-42.json", "1"), (BUCKET, manifest.template_key, "1")]
    sent = deployment_inputs(mocks)
    expected = deployable(json.dumps(BIG, ensure_ascii=False, separators=(",", ":")), manifest.catalog)
    assert sent["template_body"] == expected.body
    digests = sent["resource_digests"]
    assert digests == resource_digests(json.loads(expected.body)) == seen["resource_digests"]
    assert "dashboard/sales-dashboard" in digests and all(len(v) == 64 for v in digests.values())
    assert seen["template_sha256"] == manifest.sha256 and seen["release_name"] == "sales-42"
    assert seen["release_manifest_version_id"] == "1"


def test_a_new_release_changes_exactly_the_digest_of_the_asset_it_changes() -> None:
    runs = []
    for name, template in (("sales-42", BIG), ("sales-43", renamed_dashboard("Sales (v43)"))):
        mocks = install(RecordingMocks())
        archive_release(mocks.archive, BUCKET, name, template)
        pulumi.runtime.test(program(settings(release=name), {}))()
        runs.append(deployment_inputs(mocks)["resource_digests"])
    old, new = runs
    assert set(old) == set(new)
    assert [key for key in old if old[key] != new[key]] == ["dashboard/sales-dashboard"]


def test_a_release_by_sha256_alone_reads_only_the_template() -> None:
    mocks = install(RecordingMocks())
    manifest = archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    pulumi.runtime.test(program(settings(release=None, releaseSha256=manifest.sha256), {}))()
    assert [i.args["key"] for i in mocks.invokes if i.token == GET_OBJECT] == [manifest.template_key]
    assert json.loads(deployment_inputs(mocks)["template_body"])["Resources"].keys() == BIG["Resources"].keys()


def test_versions_written_over_the_manifest_and_the_template_are_never_deployed() -> None:
    # What someone with s3:PutObject on the archive can do despite Object Lock: new versions of
    # both keys, the manifest naming another template the attacker wrote too.
    mocks = install(RecordingMocks())
    manifest = archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    planted = archive_release({}, BUCKET, "sales-42", renamed_dashboard("planted"))
    body = mocks.archive[(BUCKET, manifest.template_key)]
    mocks.archive[(BUCKET, manifest.template_key)] = [body, body.replace("sales-dashboard", "sales-dashboarX", 1)]
    mocks.archive[(BUCKET, "releases/sales-42.json")] = [mocks.archive[(BUCKET, "releases/sales-42.json")], planted.text()]
    seen: dict[str, Any] = {}

    pulumi.runtime.test(program(settings(), seen))()

    assert seen["template_sha256"] == manifest.sha256
    assert json.loads(deployment_inputs(mocks)["template_body"])["Resources"].keys() == BIG["Resources"].keys()


def test_a_manifest_read_at_another_version_than_pinned_is_refused() -> None:
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    original = mocks.get_object
    mocks.get_object = lambda args: {**original({**args, "versionId": None}), "versionId": "7"}  # type: ignore[method-assign]

    failure = run_failing_program(program(settings(), {}))

    assert f"s3://{BUCKET}/releases/sales-42.json was read at version '7', not the pinned '1'" in failure.message
    assert (
        "the archive or its reader did not honour the version; nothing was deployed: check that the aws provider reads "
        "the archive from S3 itself (no S3 endpoint override), then run pulumi up again"
    ) in failure.message
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []


def test_a_changed_archived_template_fails_the_preview_naming_both_sha256() -> None:
    # The version the manifest names itself changed (what Object Lock's retention prevents).
    mocks = install(RecordingMocks())
    manifest = archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    tampered = mocks.archive[(BUCKET, manifest.template_key)].replace("sales-dashboard", "sales-dashboarX", 1)
    mocks.archive[(BUCKET, manifest.template_key)] = tampered

    failure = run_failing_program(program(settings(), {}))

    assert f"the archived template s3://{BUCKET}/{manifest.template_key} hashes to sha256" in failure.message
    assert f"not the {manifest.sha256} its key and manifest name" in failure.message
    assert "restore its first version (the bucket is versioned)" in failure.message
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []


def test_a_release_not_archived_fails_the_preview_naming_the_object() -> None:
    mocks = install(RecordingMocks())
    failure = run_failing_program(program(settings(release="sales-99"), {}))
    assert f"s3://{BUCKET}/releases/sales-99.json" in failure.message and "NoSuchKey" in failure.message
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []


def test_a_manifest_that_is_not_ours_is_refused() -> None:
    mocks = install(RecordingMocks())
    mocks.archive[(BUCKET, "releases/sales-42.json")] = json.dumps({"hello": "world"})
    failure = run_failing_program(program(settings(), {}))
    assert f"the release manifest s3://{BUCKET}/releases/sales-42.json is not a release manifest (bad fields:" in failure.message


def test_release_and_a_mismatching_release_sha256_are_refused() -> None:
    mocks = install(RecordingMocks())
    manifest = archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    failure = run_failing_program(program(settings(releaseSha256="ab" * 32), {}))
    assert f"release 'sales-42' (s3://{BUCKET}/releases/sales-42.json) is template sha256 {manifest.sha256}" in failure.message
    assert f"not the releaseSha256 {'ab' * 32}" in failure.message


def test_a_pinned_stage_refuses_another_release() -> None:
    mocks = install(RecordingMocks())
    tested = archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    archive_release(mocks.archive, BUCKET, "sales-43", renamed_dashboard("Sales (v43)"))

    failure = run_failing_program(program(settings(release="sales-43", expectedSha256=tested.sha256), {}))

    assert "release 'sales-43' cannot be deployed by this stage: 1 error(s): template hashes to sha256 " in failure.message
    assert f"not the pinned {tested.sha256}: this stage deploys only what the pinned stage deployed" in failure.message
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []


def test_a_pin_may_name_the_bytes_the_job_served() -> None:
    # A pinned stage that deployed from the export job recorded the job's download sha256.
    mocks = install(RecordingMocks())
    served = "cd" * 32
    archive_release(mocks.archive, BUCKET, "sales-42", BIG, export_sha256=served)
    pulumi.runtime.test(program(settings(expectedSha256=served.upper()), {}))()
    assert deployment_inputs(mocks)["resource_digests"]


def test_stage_values_are_checked_against_the_release_at_preview() -> None:
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    values = stage_values()
    values["datasource/no-such-source"] = {"Host": "x"}

    def run() -> None:
        build("quicksight", settings(), values)

    failure = run_failing_program(run)
    assert "datasource/no-such-source" in failure.message
    assert mocks.by_type("quicksight:AssetBundleExport") == []


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ({**SOURCE, "release": "r"}, "quicksight-promotion:release is set but quicksight-promotion:archiveBucket is not"),
        ({**SOURCE, "release": "r", "exportJobId": "j", "archiveBucket": BUCKET},
         "cannot be set with quicksight-promotion:exportJobId"),
        ({**SOURCE, "release": "r/x", "archiveBucket": BUCKET}, "quicksight-promotion:release: String should match pattern"),
        ({**SOURCE, "exportJobId": "j", "archiveReaders": ["arn:aws:iam::222222222222:root"]},
         "quicksight-promotion:archiveReaders is only for the source stage"),
        ({**SOURCE, "release": "r", "archiveBucket": BUCKET},
         "quicksight-promotion:release is set with no pin: set quicksight-promotion:pinFromStack to the stage before "
         "(its release_manifest_version_id and template_sha256 outputs), or quicksight-promotion:releaseVersionId "
         "(the source stage's release_manifest_version_id output), or quicksight-promotion:releaseSha256"),
        ({**SOURCE, "releaseSha256": "ab" * 32, "releaseVersionId": "v1", "archiveBucket": BUCKET},
         "quicksight-promotion:releaseVersionId is the version of a release's manifest: set quicksight-promotion:release"),
        ({**SOURCE, "releaseName": "r", "releaseDashboards": ["d"], "archiveRetentionMode": "FOREVER"},
         "quicksight-promotion:archiveRetentionMode: Input should be 'GOVERNANCE' or 'COMPLIANCE'"),
        ({**SOURCE, "releaseName": "r", "releaseDashboards": ["d"], "archiveRetentionDays": 0},
         "quicksight-promotion:archiveRetentionDays: Input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_the_archive_settings_are_checked(raw: dict[str, Any], said: str) -> None:
    with pytest.raises(InputError) as info:
        parse_config(raw)
    assert said in str(info.value)


def test_the_source_stage_creates_a_private_versioned_archive_and_archives_into_it() -> None:
    mocks = install(RecordingMocks())
    readers = ["arn:aws:iam::222222222222:role/deployer", "arn:aws:iam::333333333333:role/deployer"]
    config = parse_config(
        {**SOURCE, "releaseName": "sales-42", "releaseDashboards": ["sales-dashboard"], "archiveReaders": readers}
    )

    def run() -> None:
        build_release("release", config, *build_archive(config))

    # Checked once the whole program has run (the policy waits for the bucket's name).
    pulumi.runtime.test(run)()
    (made,) = mocks.by_type("aws:s3/bucket:Bucket")
    assert made.inputs.get("forceDestroy") in (None, False)
    (block,) = mocks.by_type("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(block.inputs[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    (sse,) = mocks.by_type("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration")
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    (versioning,) = mocks.by_type("aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    # Object Lock, governance mode for a year unless the stage says otherwise, once versioning is on.
    (lock,) = mocks.by_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["objectLockEnabled"] == "Enabled"
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "GOVERNANCE", "days": 365}
    (owner,) = mocks.by_type("aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert owner.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    (policy,) = mocks.by_type("aws:s3/bucketPolicy:BucketPolicy")
    # One policy: TLS only, and the readers (a bucket has one policy).
    deny, statement = json.loads(policy.inputs["policy"])["Statement"]
    assert deny == tls_only_statement("release-archive-1a2b3c")
    assert statement["Principal"] == {"AWS": readers}
    assert statement["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    assert statement["Resource"] == [
        "arn:aws:s3:::release-archive-1a2b3c/releases/*",
        "arn:aws:s3:::release-archive-1a2b3c/templates/*",
    ]
    (cut,) = mocks.by_type("quicksight:AssetBundleRelease")
    assert cut.inputs["archive_bucket"] == "release-archive-1a2b3c"
    # The writer is told the bucket's region (its own AWS chain may name another).
    assert cut.inputs["archive_region"] == TARGET_REGION


def test_an_archive_without_readers_still_denies_non_tls_requests() -> None:
    mocks = install(RecordingMocks())
    config = parse_config({**SOURCE, "releaseName": "sales-42", "releaseDashboards": ["sales-dashboard"]})

    pulumi.runtime.test(lambda: build_release("release", config, *build_archive(config)))()
    (policy,) = mocks.by_type("aws:s3/bucketPolicy:BucketPolicy")
    assert json.loads(policy.inputs["policy"])["Statement"] == [tls_only_statement("release-archive-1a2b3c")]


def linted_program(release: str) -> Any:
    from components.archive import read_archived_release
    from components.stack import QuickSightBundleStack, QuickSightBundleStackArgs

    def run() -> None:
        archived = read_archived_release(BUCKET, release=release)
        QuickSightBundleStack(
            "linted",
            QuickSightBundleStackArgs(
                source_account_id="111122223333", export_job_id="", archived=archived, template_validation="error"
            ),
        )

    return run


def test_cfn_lint_findings_of_an_archived_release_come_from_a_template_lint_at_preview() -> None:
    from conftest import sample_template

    broken = sample_template()
    broken["Resources"]["salesdashboardAB12CD"]["Properties"]["NoSuchProperty"] = 1
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "lint-1", broken)

    failure = run_failing_program(linted_program("lint-1"))

    assert "NoSuchProperty" in failure.message and "release 'lint-1'" in failure.message
    (lint,) = mocks.by_type("quicksight:TemplateLint")
    assert lint.name == "linted-lint"
    assert mocks.by_type("quicksight:CloudFormationDeployment") == []
    # The state keeps the findings and the template's sha256, not a second copy of the template.
    assert "template_body" not in mocks.lint_state["linted-lint"]
    assert mocks.lint_state["linted-lint"]["findings"]


def test_findings_recorded_in_the_manifest_are_never_taken() -> None:
    # Whoever can write the archive can write "no findings" beside a broken template.
    from conftest import sample_template

    broken = sample_template()
    broken["Resources"]["salesdashboardAB12CD"]["Properties"]["NoSuchProperty"] = 1
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "lint-2", broken, lint_findings=[])

    failure = run_failing_program(linted_program("lint-2"))

    assert "salesdashboardAB12CD.Properties/NoSuchProperty cfn-lint E3002: Additional properties" in failure.message


def test_template_validation_off_makes_no_template_lint() -> None:
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    pulumi.runtime.test(program(settings(), {}))()
    assert mocks.by_type("quicksight:TemplateLint") == []


READER_ROLE = "arn:aws:iam::111122223333:role/quicksight-archive-reader"


def archive_reader(**stage: Any) -> tuple[RecordingMocks, Any]:
    """Run the program of a stage reading the archive through ``archiveRoleArn``: (mocks, its aws provider)."""
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    pulumi.runtime.test(program(settings(archiveRoleArn=READER_ROLE, **stage), {}))()
    (reader,) = mocks.by_type("pulumi:providers:aws")
    return mocks, reader


def test_archive_role_arn_reads_through_a_provider_that_assumes_it() -> None:
    role = READER_ROLE
    mocks, reader = archive_reader(archiveRegion="us-east-1")
    assert reader.name == "archive-reader"
    # A provider's nested inputs travel JSON-encoded (as the engine hands them to the aws plugin).
    assume = reader.inputs["assumeRoles"]
    assume = json.loads(assume) if isinstance(assume, str) else assume
    assert assume[0]["roleArn"] == role and reader.inputs["region"] == "us-east-1"
    reads = [i for i in mocks.invokes if i.token == GET_OBJECT]
    assert len(reads) == 2 and all("archive-reader" in (i.provider or "") for i in reads)
    assert all(i.args.get("region") == "us-east-1" for i in reads)
    # The session names the stage that reads (CloudTrail shows it); no ExternalId unless set.
    assert assume[0]["sessionName"] == f"qsp-archive-read-{pulumi.get_project()}-{pulumi.get_stack()}"
    assert not assume[0].get("externalId")


def test_archive_external_id_is_sent_by_the_reader_provider() -> None:
    _, reader = archive_reader(archiveExternalId="Ext-Id-Marker-9b")
    # The whole assumeRoles input is a secret (the engine keeps it encrypted in state).
    secret = reader.inputs["assumeRoles"]
    assert isinstance(secret, dict) and secret.get(SECRET_SIG), secret
    (assume,) = json.loads(secret["value"])
    assert assume["externalId"] == "Ext-Id-Marker-9b" and assume["sessionName"].startswith("qsp-archive-read-")


def with_stage_before(mocks: RecordingMocks, outputs: dict[str, Any]) -> None:
    """The ``pinFromStack`` StackReference answers with the stage before's outputs."""
    original = mocks.new_resource

    def new_resource(mock_args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        if mock_args.typ == "pulumi:pulumi:StackReference":
            mocks.resources.append(mock_args)
            return mock_args.name, {"name": mock_args.name, "outputs": outputs}
        return original(mock_args)

    mocks.new_resource = new_resource  # type: ignore[method-assign]


def test_pin_from_stack_reads_the_manifest_version_the_stage_before_read() -> None:
    mocks = install(RecordingMocks())
    manifest = archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    planted = archive_release({}, BUCKET, "sales-42", BIG, export_sha256="ef" * 32)
    mocks.archive[(BUCKET, "releases/sales-42.json")] = [mocks.archive[(BUCKET, "releases/sales-42.json")], planted.text()]
    before = {"release_name": "sales-42", "release_manifest_version_id": "1", "template_sha256": manifest.sha256}
    with_stage_before(mocks, before)
    seen: dict[str, Any] = {}

    pulumi.runtime.test(program(settings(releaseVersionId=None, pinFromStack="acme/quicksight-promotion/test"), seen))()

    reads = [(i.args["key"], i.args.get("versionId")) for i in mocks.invokes if i.token == GET_OBJECT]
    assert reads[0] == ("releases/sales-42.json", "1")
    assert seen["release_manifest_version_id"] == "1" and seen["template_sha256"] == manifest.sha256


def test_pin_from_stack_of_another_release_pins_by_sha256_alone() -> None:
    # The stage before deployed sales-41: its manifest version names nothing of sales-42, and its
    # template_sha256 refuses sales-42 (the judge's pin).
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "sales-42", BIG)
    with_stage_before(mocks, {"release_name": "sales-41", "release_manifest_version_id": "9", "template_sha256": "ab" * 32})

    failure = run_failing_program(program(settings(releaseVersionId=None, pinFromStack="acme/quicksight-promotion/test"), {}))

    reads = [(i.args["key"], i.args.get("versionId")) for i in mocks.invokes if i.token == GET_OBJECT]
    assert reads[0] == ("releases/sales-42.json", None)
    assert f"not the pinned {'ab' * 32}: this stage deploys only what the pinned stage deployed" in failure.message


def test_the_source_stage_locks_the_archive_as_configured_and_exports_the_manifest_version() -> None:
    mocks = install(RecordingMocks())
    config = parse_config(
        {
            **SOURCE,
            "releaseName": "sales-42",
            "releaseDashboards": ["sales-dashboard"],
            "archiveRetentionMode": "COMPLIANCE",
            "archiveRetentionDays": 3650,
        }
    )
    from components.program import cut_release

    pulumi.runtime.test(lambda: cut_release(config))()
    (lock,) = mocks.by_type("aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration")
    assert lock.inputs["rule"]["defaultRetention"] == {"mode": "COMPLIANCE", "days": 3650}
    assert mocks.by_type("aws:s3/bucketVersioning:BucketVersioning")


@pytest.mark.parametrize(("mode", "days", "said"), [("FOREVER", 1, "retention mode 'FOREVER' is not GOVERNANCE or COMPLIANCE"),
                                                     ("GOVERNANCE", 0, "retention of 0 days is not a whole number from 1 to 36,500")])  # fmt: skip
def test_a_release_archive_refuses_a_retention_s3_would_refuse(mode: str, days: int, said: str) -> None:
    from components.archive import ReleaseArchive

    install(RecordingMocks())
    with pytest.raises(InputError, match=said):
        ReleaseArchive("archive", retention_mode=mode, retention_days=days)  # type: ignore[arg-type]


def test_the_repairs_the_manifest_records_are_the_stacks_template_repairs_output() -> None:
    # Found (and, with templateRepair: repair, removed) when the release was fetched; a stage reads them from the archive.
    repairs = [{"asset": "dashboard/sales-dashboard", "logical_id": "x", "path": "Properties/Definition/Sheets/0/Title",
                "problem": "empty-string", "repairable": True, "repaired": True, "detail": "an empty string"}]  # fmt: skip
    mocks = install(RecordingMocks())
    archive_release(mocks.archive, BUCKET, "sales-42", BIG, template_repairs=repairs)
    seen: dict[str, Any] = {}

    def run() -> pulumi.Output:
        bundle = build("quicksight", settings(), stage_values())
        return bundle.template_repairs.apply(lambda value: seen.update(repairs=value))

    pulumi.runtime.test(run)()
    assert seen["repairs"] == repairs
