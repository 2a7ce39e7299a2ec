"""The release archive: the manifest model (pure core) and the once-only writer against moto's S3.

moto (5.2) implements S3's conditional write: PutObject with ``If-None-Match: *`` answers 412
PreconditionFailed when the key exists. The archive bucket is versioned, so a write that slipped
through would show as a second version: the tests count versions.
"""

from __future__ import annotations

import base64
import io
import json
import threading
from typing import Any

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from components.aws.archive_writer import ArchiveTarget, archive_release
from components.aws.session import BudgetedClients, CallBudget
from components.core.manifest import (
    ArchiveConflictError,
    ArchiveError,
    build_manifest,
    check_name,
    check_template,
    parse_manifest,
    resource_digests,
    sha256_text,
)
from components.errors import ArchiveTimeoutError, AwsAccessError, InputError
from conftest import sample_template
from tools.generator import generate_bundle
from moto_server import MotoServer, moto, moto_env, moto_server  # noqa: F401  (fixtures)

BUCKET = "qs-release-archive"


def template_text(template: dict[str, Any]) -> str:
    return json.dumps(template, ensure_ascii=False, separators=(",", ":"))


def manifest_for(name: str, body: str, **extra: Any) -> Any:
    document = json.loads(body)
    fields: dict[str, Any] = {
        "name": name,
        "template_body": body,
        "export_sha256": "ab" * 32,
        "job_arn": f"arn:aws:quicksight:us-east-1:111122223333:asset-bundle-export-job/{name}",
        "source_account_id": "111122223333",
        "source_region": "us-east-1",
        "created_time": "2026-11-01T10:00:00+00:00",
        "resource_arns": ["arn:aws:quicksight:us-east-1:111122223333:dashboard/d"],
        "catalog": [],
        "assets": {"dashboard": ["d"]},
        "archived_by": "AssetBundleRelease",
    }
    fields.update(extra)
    assert document["Resources"]
    return build_manifest(**fields)


BODY = template_text(sample_template())
OTHER = template_text(sample_template("Autre nom"))


# --- the pure core -------------------------------------------------------------------------------------


def test_a_manifest_round_trips_and_is_content_addressed() -> None:
    manifest = manifest_for("sales-42", BODY)
    assert manifest.sha256 == sha256_text(BODY) and manifest.template_key == f"templates/{manifest.sha256}.json"
    assert manifest.template_size == len(BODY.encode("utf-8"))
    assert parse_manifest(manifest.text(), "s3://b/releases/sales-42.json", "sales-42") == manifest
    assert manifest.text() == manifest_for("sales-42", BODY).text()  # same release, same bytes
    assert manifest.matches(manifest.sha256.upper()) and manifest.matches("AB" * 32) and not manifest.matches("cd" * 32)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("", "the release manifest s3://b/k is empty"),
        ("{nope", "the release manifest s3://b/k is not JSON"),
        ('{"name": "sales-42"}', "is not a release manifest (bad fields: sha256; template_key; template_size; job_arn;"),
    ],
)
def test_what_is_not_a_manifest_is_refused(text: str, said: str) -> None:
    with pytest.raises(ArchiveError) as info:
        parse_manifest(text, "s3://b/k", "sales-42")
    assert said in str(info.value)


def test_a_manifest_of_another_release_or_a_newer_format_is_refused() -> None:
    manifest = manifest_for("sales-41", BODY)
    with pytest.raises(ArchiveError, match="names release 'sales-41', not 'sales-42'"):
        parse_manifest(manifest.text(), "s3://b/releases/sales-42.json", "sales-42")
    newer = json.loads(manifest.text()) | {"version": 2}
    with pytest.raises(ArchiveError, match="is version 2, newer than this library reads .1.: upgrade quicksight-promotion"):
        parse_manifest(json.dumps(newer), "s3://b/k", "sales-41")
    moved = json.loads(manifest.text()) | {"template_key": "templates/elsewhere.json"}
    with pytest.raises(ArchiveError, match="points at templates/elsewhere.json, not templates/<its sha256>.json"):
        parse_manifest(json.dumps(moved), "s3://b/k", "sales-41")


def test_a_template_is_checked_against_its_sha256() -> None:
    assert check_template(BODY, sha256_text(BODY), "s3://b/t") == BODY
    with pytest.raises(ArchiveError) as info:
        check_template(OTHER, sha256_text(BODY), "s3://b/t")
    assert f"hashes to sha256 {sha256_text(OTHER)}, not the {sha256_text(BODY)}" in str(info.value)
    with pytest.raises(ArchiveError, match="is missing or empty"):
        check_template(None, sha256_text(BODY), "s3://b/t")


@pytest.mark.parametrize("name", ["", "a/b", "-x", "x" * 513, "név"])
def test_an_archive_name_is_one_key_segment(name: str) -> None:
    with pytest.raises(InputError, match="is not an archive name"):
        check_name(name)


def test_digests_name_each_quicksight_resource_and_change_with_it() -> None:
    template = generate_bundle()
    digests = resource_digests(template)
    kinds = {key.split("/")[0] for key in digests}
    assert kinds == {"datasource", "dataset", "analysis", "dashboard", "theme", "folder", "vpc-connection", "refresh-schedule"}
    assert "dashboard/sales-dashboard" in digests
    assert len(digests) == sum(1 for r in template["Resources"].values() if r["Type"].startswith("AWS::QuickSight::"))
    changed = json.loads(json.dumps(template))
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::QuickSight::Dashboard":
            resource["Properties"]["VersionDescription"] = "v43"
    assert {key for key in digests if resource_digests(changed)[key] != digests[key]} == {"dashboard/sales-dashboard"}
    # Key order inside a resource is not a change; a parameter's default is not a resource's.
    reordered = json.loads(json.dumps(template))
    for logical_id, resource in template["Resources"].items():
        reordered["Resources"][logical_id] = dict(reversed(list(resource.items())))
    assert resource_digests(reordered) == digests
    assert resource_digests(sample_template()) == resource_digests(sample_template("Autre nom"))


# --- the writer against moto's S3 -----------------------------------------------------------------------


def make_bucket(moto: MotoServer) -> None:
    moto.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": moto.region})
    moto.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def versions(moto: MotoServer, key: str) -> int:
    return len(moto.s3.list_object_versions(Bucket=BUCKET, Prefix=key).get("Versions", []))


def test_a_release_is_archived_once_and_archiving_it_again_is_idempotent(moto_env: MotoServer) -> None:
    make_bucket(moto_env)
    manifest = manifest_for("sales-42", BODY)
    target = ArchiveTarget(BUCKET, region=moto_env.region)

    first = archive_release(target, manifest, BODY)
    again = archive_release(target, manifest, BODY)

    assert (first.written, again.written) == (True, False)
    assert first.manifest_key == again.manifest_key == "releases/sales-42.json"
    assert again.manifest == first.manifest == manifest.model_copy(update={"template_version_id": first.manifest.template_version_id})
    stored = moto_env.s3.get_object(Bucket=BUCKET, Key=manifest.template_key)
    assert stored["Body"].read().decode("utf-8") == BODY and stored["ContentType"] == "application/json"
    # The manifest names the template's version, and the writer the manifest's: what stages pin.
    assert first.manifest.template_version_id == stored["VersionId"]
    recorded = moto_env.s3.get_object(Bucket=BUCKET, Key="releases/sales-42.json")
    assert parse_manifest(recorded["Body"].read().decode(), "m", "sales-42") == first.manifest
    assert recorded["ContentType"] == "application/json"
    assert first.manifest_version_id == again.manifest_version_id == recorded["VersionId"]
    # Written once: the second run's conditional writes were refused (no second version).
    assert versions(moto_env, manifest.template_key) == versions(moto_env, "releases/sales-42.json") == 1


def test_the_same_name_with_another_template_is_refused_naming_both(moto_env: MotoServer) -> None:
    make_bucket(moto_env)
    target = ArchiveTarget(BUCKET, region=moto_env.region)
    archive_release(target, manifest_for("sales-42", BODY), BODY)

    with pytest.raises(ArchiveConflictError) as info:
        archive_release(target, manifest_for("sales-42", OTHER), OTHER)

    message = str(info.value)
    assert f"release 'sales-42' is archived already (s3://{BUCKET}/releases/sales-42.json)" in message
    assert f"with template sha256 {sha256_text(BODY)}, not {sha256_text(OTHER)}" in message
    assert "cut the new template as a new release name" in message
    assert versions(moto_env, "releases/sales-42.json") == 1
    # The other template is content-addressed: it is there, harmlessly, under its own sha256.
    assert versions(moto_env, f"templates/{sha256_text(OTHER)}.json") == 1


def test_every_write_carries_its_sha256_and_s3_keeps_it(moto_env: MotoServer) -> None:
    make_bucket(moto_env)
    manifest = manifest_for("sales-42", BODY)
    archive_release(ArchiveTarget(BUCKET, region=moto_env.region), manifest, BODY)

    head = moto_env.s3.head_object(Bucket=BUCKET, Key=manifest.template_key, ChecksumMode="ENABLED")
    assert base64.b64decode(head["ChecksumSHA256"]).hex() == sha256_text(BODY)
    head = moto_env.s3.head_object(Bucket=BUCKET, Key="releases/sales-42.json", ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"]


def test_a_template_key_holding_the_same_bytes_is_reused_at_its_version(moto_env: MotoServer) -> None:
    make_bucket(moto_env)
    manifest = manifest_for("sales-42", BODY)
    put = moto_env.s3.put_object(Bucket=BUCKET, Key=manifest.template_key, Body=BODY.encode("utf-8"))

    archived = archive_release(ArchiveTarget(BUCKET, region=moto_env.region), manifest, BODY)

    assert archived.written and archived.manifest.template_version_id == put["VersionId"]
    assert versions(moto_env, manifest.template_key) == 1


def test_a_template_key_written_over_with_other_bytes_is_refused_and_no_manifest_written(moto_env: MotoServer) -> None:
    make_bucket(moto_env)
    manifest = manifest_for("sales-42", BODY)
    # What an attacker with PutObject would do: other bytes under the name of these.
    moto_env.s3.put_object(Bucket=BUCKET, Key=manifest.template_key, Body=OTHER.encode("utf-8"))

    with pytest.raises(ArchiveError) as info:
        archive_release(ArchiveTarget(BUCKET, region=moto_env.region), manifest, BODY)

    message = str(info.value)
    assert message.startswith(f"s3://{BUCKET}/{manifest.template_key} exists but its latest version holds bytes of ")
    assert f"sha256 {sha256_text(OTHER)}, not the bytes its name is the sha256 of: someone wrote over it" in message
    assert versions(moto_env, "releases/sales-42.json") == 0


def test_an_object_lock_bucket_takes_the_writes_and_locks_them(moto_env: MotoServer) -> None:
    moto_env.s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": moto_env.region}, ObjectLockEnabledForBucket=True
    )
    moto_env.s3.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 30}}},
    )
    manifest = manifest_for("sales-42", BODY)
    archived = archive_release(ArchiveTarget(BUCKET, region=moto_env.region), manifest, BODY)

    head = moto_env.s3.head_object(Bucket=BUCKET, Key=manifest.template_key, VersionId=archived.manifest.template_version_id)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    with pytest.raises(Exception, match="AccessDenied"):
        moto_env.s3.delete_object(Bucket=BUCKET, Key=manifest.template_key, VersionId=archived.manifest.template_version_id)


def test_a_missing_bucket_is_named(moto_env: MotoServer) -> None:
    with pytest.raises(ArchiveError) as info:
        archive_release(ArchiveTarget("no-such-archive", region=moto_env.region), manifest_for("s", BODY), BODY)
    message = str(info.value)
    assert message.startswith("s3:PutObject on s3://no-such-archive/templates/")
    assert "for the archive of release 's' (region eu-west-1): S3 refused the call (NoSuchBucket: " in message
    assert message.endswith("create it (the source stage does, see docs/archive.md) or fix archiveBucket/archiveRegion")
    assert (info.value.region, info.value.operation, info.value.code) == ("eu-west-1", "s3:PutObject", "NoSuchBucket")


# --- faults (Stubber, and a client that never answers) --------------------------------------------------


def stubbed(moto_env: MotoServer) -> tuple[Any, Stubber]:
    import boto3

    client = boto3.session.Session().client("s3", region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="y")
    return client, Stubber(client)


def test_access_denied_says_what_the_writer_needs(moto_env: MotoServer) -> None:
    client, stub = stubbed(moto_env)
    stub.add_client_error("put_object", "AccessDenied", "Access Denied", 403)
    with stub:
        with pytest.raises(AwsAccessError) as info:
            archive_release(ArchiveTarget(BUCKET), manifest_for("s", BODY), BODY, clients=BudgetedClients(lambda _c: client))
    message = str(info.value)
    assert message.startswith(f"s3:PutObject on s3://{BUCKET}/templates/")
    assert "AWS denied the call (AccessDenied: Access Denied)" in message
    assert "needs s3:PutObject and s3:GetObject on releases/* and templates/*" in message


def test_a_manifest_conflict_read_back_that_is_not_a_manifest_is_refused(moto_env: MotoServer) -> None:
    client, stub = stubbed(moto_env)
    manifest = manifest_for("s", BODY)
    stub.add_client_error("put_object", "PreconditionFailed", "At least one of the pre-conditions failed", 412)
    data = BODY.encode("utf-8")
    stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(data), len(data)), "VersionId": "v1"})
    stub.add_client_error("put_object", "PreconditionFailed", "At least one of the pre-conditions failed", 412)
    stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(b"<html>"), 6)})
    with stub:
        with pytest.raises(ArchiveError, match=f"the release manifest s3://{BUCKET}/releases/s.json is not JSON"):
            archive_release(ArchiveTarget(BUCKET), manifest, BODY, clients=BudgetedClients(lambda _c: client))
    stub.assert_no_pending_responses()


def test_a_manifest_conflict_read_back_that_is_not_utf8_is_refused(moto_env: MotoServer) -> None:
    client, stub = stubbed(moto_env)
    stub.add_response("put_object", {"VersionId": "v1"})
    stub.add_client_error("put_object", "PreconditionFailed", "At least one of the pre-conditions failed", 412)
    stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(b"\xff\xfe"), 2)})
    with stub:
        with pytest.raises(ArchiveError) as info:
            archive_release(ArchiveTarget(BUCKET), manifest_for("s", BODY), BODY, clients=BudgetedClients(lambda _c: client))
    assert str(info.value) == f"s3://{BUCKET}/releases/s.json is not UTF-8 text: it is not a release manifest"
    stub.assert_no_pending_responses()


def test_an_object_over_the_read_bound_at_the_template_key_is_refused(moto_env: MotoServer) -> None:
    from components.aws.archive_writer import MAX_MANIFEST_BYTES

    client, stub = stubbed(moto_env)
    manifest = manifest_for("s", BODY)
    data = b" " * (MAX_MANIFEST_BYTES + 1)
    stub.add_client_error("put_object", "PreconditionFailed", "At least one of the pre-conditions failed", 412)
    stub.add_response("get_object", {"Body": StreamingBody(io.BytesIO(data), len(data)), "VersionId": "v1"})
    with stub:
        with pytest.raises(ArchiveError) as info:
            archive_release(ArchiveTarget(BUCKET), manifest, BODY, clients=BudgetedClients(lambda _c: client))
    assert str(info.value) == (
        f"s3://{BUCKET}/{manifest.template_key} is over {MAX_MANIFEST_BYTES:,} bytes: it is not this program's; "
        "delete what was written there, then archive again"
    )
    stub.assert_no_pending_responses()


class NeverAnswers:
    """An S3 client whose PutObject hangs (a black-holed connection): the deadline must end it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.meta = type("Meta", (), {"events": type("Events", (), {"register": staticmethod(lambda *a, **k: None)})()})()

    def put_object(self, **_kwargs: Any) -> Any:
        self.release.wait(30)
        raise AssertionError("released")


def test_a_hanging_s3_is_abandoned_at_the_deadline() -> None:
    client = NeverAnswers()
    budget = CallBudget(min_timeout=0.2)
    try:
        with pytest.raises(ArchiveTimeoutError) as info:
            archive_release(
                ArchiveTarget(BUCKET, timeout_seconds=0.5),
                manifest_for("s", BODY),
                BODY,
                budget=budget,
                clients=BudgetedClients(lambda _c: client, budget),
            )
    finally:
        client.release.set()
    message = str(info.value)
    assert message.startswith(f"s3:PutObject on s3://{BUCKET}/templates/")
    assert "no usable answer within 0.5 s (1 attempt(s); last fault: S3 did not answer within 1 s" in message
    assert message.endswith("mend the last fault, then re-run")


def test_a_template_other_than_its_manifest_names_is_never_written(moto_env: MotoServer) -> None:
    make_bucket(moto_env)
    with pytest.raises(ArchiveError) as info:
        archive_release(ArchiveTarget(BUCKET, region=moto_env.region), manifest_for("sales-42", BODY), OTHER)
    assert str(info.value) == (
        f"the template handed over to archive release 'sales-42' hashes to sha256 {sha256_text(OTHER)}, not the "
        f"{sha256_text(BODY)} its manifest names: nothing was written; archive the template the manifest was built from"
    )
    assert moto_env.s3.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0
