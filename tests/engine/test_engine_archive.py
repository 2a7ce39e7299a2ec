"""Archiving from the export and release providers, driven over gRPC as `pulumi up` drives them.

The provider process talks to the loopback QuickSight emulator and, for S3, to moto
(``AWS_ENDPOINT_URL_S3``). The moto server is reset before every test, so each test makes its bucket.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import grpc
import pytest

from components.core.manifest import parse_manifest, sha256_text
from components.release import AssetBundleReleaseProvider
from conftest import inputs, pretty_bytes, sample_template
from emulator import ACCOUNT, QuickSightEmulator
from engine import RELEASE_RESOURCE_TYPE, EngineHarness, user_error
from moto_server import REGION, MotoServer, moto, moto_server  # noqa: F401  (fixtures)

BUCKET = "qs-archive-engine"


@pytest.fixture(scope="module")
def source() -> Iterator[QuickSightEmulator]:
    with QuickSightEmulator() as emulator:
        yield emulator


@pytest.fixture(scope="module")
def exports(source: QuickSightEmulator, moto_server: MotoServer) -> Iterator[EngineHarness]:
    with EngineHarness(env={**source.env(), "AWS_ENDPOINT_URL_S3": moto_server.endpoint}) as harness:
        yield harness


@pytest.fixture
def bucket(moto: MotoServer) -> MotoServer:
    moto.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    return moto


def archived(moto: MotoServer, key: str) -> Any:
    return parse_manifest(moto.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode("utf-8"), key)


ARCHIVE = {"archive_bucket": BUCKET, "archive_region": REGION}


def test_a_stage_that_fetched_a_job_archives_it(exports: EngineHarness, source: QuickSightEmulator, bucket: MotoServer) -> None:
    job = source.add_job("archive-fetched", account=ACCOUNT, payload=pretty_bytes(sample_template()))
    step = exports.up(inputs("archive-fetched", **ARCHIVE))
    out = step.outputs
    assert out["archive_manifest_key"] == "releases/archive-fetched.json"
    manifest = archived(bucket, out["archive_manifest_key"])
    assert manifest.archived_by == "AssetBundleExport" and manifest.job_arn == job.arn
    assert manifest.sha256 == out["archive_sha256"] == sha256_text(out["template_body"])
    assert manifest.export_sha256 == out["template_sha256"] and manifest.source_account_id == ACCOUNT
    body = bucket.s3.get_object(Bucket=BUCKET, Key=manifest.template_key)["Body"].read().decode("utf-8")
    assert body == out["template_body"]


def test_archiving_a_recorded_export_after_its_job_expired_calls_no_quicksight(
    exports: EngineHarness, source: QuickSightEmulator, bucket: MotoServer
) -> None:
    source.add_job("archive-later", account=ACCOUNT, payload=pretty_bytes(sample_template()))
    first = exports.up(inputs("archive-later"))
    assert first.outputs.get("archive_manifest_key") is None
    del source.jobs[(ACCOUNT, "archive-later")]  # QuickSight forgot the job
    mark = len(source.requests)

    later = exports.up(inputs("archive-later", **ARCHIVE), first.state)

    assert later.action == "update"
    assert source.requests[mark:] == []
    assert archived(bucket, "releases/archive-later.json").sha256 == sha256_text(first.outputs["template_body"])


def test_a_name_archived_with_another_template_fails_naming_both(
    exports: EngineHarness, source: QuickSightEmulator, bucket: MotoServer
) -> None:
    source.add_job("archive-clash", account=ACCOUNT, payload=pretty_bytes(sample_template("Autre")))
    other = json.dumps(sample_template(), ensure_ascii=False, separators=(",", ":"))
    from components.core.manifest import build_manifest

    squatter = build_manifest(
        name="archive-clash", template_body=other, export_sha256=None, job_arn="j", source_account_id=ACCOUNT,
        source_region=None, created_time=None, resource_arns=[], catalog=[], assets={}, archived_by="AssetBundleExport",
    )  # fmt: skip
    bucket.s3.put_object(Bucket=BUCKET, Key="releases/archive-clash.json", Body=squatter.text().encode())

    with pytest.raises(grpc.RpcError) as info:
        exports.up(inputs("archive-clash", **ARCHIVE))

    line = user_error(info.value)
    assert line.startswith("components.errors.ArchiveConflictError: release 'archive-clash' is archived already")
    assert f"with template sha256 {squatter.sha256}, not " in line and "cut the new template as a new release name" in line


def test_the_release_provider_archives_a_recorded_release_without_exporting_again(
    source: QuickSightEmulator, bucket: MotoServer
) -> None:
    assets = source.assets
    assets.job_statuses = ["SUCCESSFUL"]
    assets.add_data_source("pg", "POSTGRESQL", {"PostgreSqlParameters": {"Host": "dev-db", "Port": 5432, "Database": "s"}})
    assets.add_data_set("orders", ("pg",))
    assets.add_dashboard("archive-dashboard", ("orders",))
    env = {**source.env(), "AWS_ENDPOINT_URL_S3": bucket.endpoint}
    release = {"source_account_id": ACCOUNT, "release_name": "archive-rel", "dashboard_ids": ["archive-dashboard"]}
    with EngineHarness(env=env, provider=AssetBundleReleaseProvider(), name="release", resource_type=RELEASE_RESOURCE_TYPE) as engine:
        first = engine.up(release)
        del source.jobs[(ACCOUNT, "archive-rel")]
        mark = len(source.requests)
        later = engine.up({**release, **ARCHIVE}, first.state)
        assert later.action == "update" and source.requests[mark:] == []
        assert later.outputs["archive_manifest_key"] == "releases/archive-rel.json"
        manifest = archived(bucket, "releases/archive-rel.json")
        assert manifest.archived_by == "AssetBundleRelease"
        # Linted once here, so that stages deploying the release never run cfn-lint for it.
        assert isinstance(manifest.lint_findings, list)
        # What templateRepair found is recorded beside them (the default, report: nothing in this template).
        assert manifest.template_repairs == later.outputs["template_repairs"] == []
        # Unchanged afterwards: nothing to do.
        assert engine.up({**release, **ARCHIVE}, later.state).action == "same"
