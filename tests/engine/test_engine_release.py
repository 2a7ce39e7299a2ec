"""The release provider driven the way ``pulumi up`` drives it (tests/engine.py), against the emulator.

One emulator and one provider process serve the module; every test uses its own release name.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

import grpc
import pytest

from emulator import ACCOUNT, QuickSightEmulator, arn_of
from engine import PROVIDER_KEY, RELEASE_RESOURCE_TYPE, UNKNOWN, CheckFailedError, EngineHarness, user_error

ROLE = "arn:aws:iam::111111111111:role/quicksight-promotion-release"


@pytest.fixture(scope="module")
def release_engine(qs: QuickSightEmulator) -> Iterator[EngineHarness]:
    from components.release import AssetBundleReleaseProvider

    qs.assets.job_statuses = ["IN_PROGRESS", "SUCCESSFUL"]
    assets = qs.assets
    assets.add_data_source("pg", "POSTGRESQL", {"PostgreSqlParameters": {"Host": "dev-db", "Port": 5432, "Database": "sales"}})
    assets.add_data_source("s3", "S3", {"S3Parameters": {"ManifestFileLocation": {"Bucket": "dev-b", "Key": "m.json"}}})
    assets.add_data_set("orders", ("pg", "s3"))
    assets.add_dashboard("sales-dashboard", ("orders",))
    assets.add_analysis("sales-analysis", ("orders",))
    with EngineHarness(
        env=qs.env(), provider=AssetBundleReleaseProvider(), name="release", resource_type=RELEASE_RESOURCE_TYPE
    ) as harness:
        yield harness


def release(name: str, **extra: Any) -> dict[str, Any]:
    return {"source_account_id": ACCOUNT, "release_name": name, "dashboard_ids": ["sales-dashboard"], **extra}


def since(qs: QuickSightEmulator, mark: int) -> list[str]:
    return [r["operation"] for r in qs.requests[mark:]]


def test_up_cuts_the_release_and_records_the_template(release_engine: EngineHarness, qs: QuickSightEmulator) -> None:
    result = release_engine.up(release("engine-first"))

    assert result.action == "create"
    out = result.outputs
    job = qs.jobs[(ACCOUNT, "engine-first")]
    assert result.id == job.arn == out["export_job_arn"]
    assert out["export_job_id"] == "engine-first"
    assert out["template_sha256"] == hashlib.sha256(job.payload).hexdigest()
    assert json.loads(out["template_body"]) == json.loads(job.payload)
    assert out["resource_arns"] == [arn_of("dashboard", "sales-dashboard")]
    sources = {e["Arn"]: e["Properties"] for e in out["override_configuration"]["DataSources"]}
    assert sources[arn_of("datasource", "s3")] == ["Name", "ManifestFileLocation"]
    keys = {entry["key"] for entry in out["parameter_catalog"]}
    assert {"datasource/pg.Host", "datasource/s3.ManifestFileLocation.Bucket", "dataset/orders.Name"} <= keys
    assert out["assets"]["dashboard"] == ["sales-dashboard"]
    assert out["started"] is True and out["strict_validation"] is True and out["id_prefix"] is True
    # templateRepair's default: the template is looked at through the same step as an export's.
    assert out["template_repair"] == "report" and out["template_repairs"] == []
    assert out[PROVIDER_KEY] == release_engine.provider_string
    text = json.dumps(out)
    assert "X-Amz-Signature" not in text and "/download/" not in text


def test_unchanged_or_timeout_only_is_the_same_and_calls_nothing(release_engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = release_engine.up(release("engine-steady"))
    mark = len(qs.requests)
    again = release_engine.up(release("engine-steady"), first.state)
    longer = release_engine.up(release("engine-steady", export_timeout_seconds=3600), again.state)
    assert (again.action, longer.action) == ("same", "same")
    assert since(qs, mark) == []


def test_a_new_role_updates_in_place_without_exporting_again(release_engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = release_engine.up(release("engine-role"))
    mark = len(qs.requests)
    updated = release_engine.up(release("engine-role", source_role_arn=ROLE), first.state)
    assert updated.action == "update"
    assert updated.outputs["source_role_arn"] == ROLE
    assert updated.outputs["template_sha256"] == first.outputs["template_sha256"]
    assert since(qs, mark) == []


def test_other_assets_preview_as_a_replacement_and_the_same_name_is_refused(
    release_engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    first = release_engine.up(release("engine-change"))
    changed = release("engine-change", analysis_ids=["sales-analysis"])
    preview = release_engine.preview(changed, first.state)
    assert preview.action == "replace" and "analysis_ids" in preview.diff.replaces
    with pytest.raises(grpc.RpcError) as caught:
        release_engine.up(changed, first.state)
    line = user_error(caught.value)
    assert "ReleaseConflictError" in line
    assert "export job 'engine-change'" in line and "ResourceArns differ" in line
    assert "give this release a new release_name" in line
    renamed = release_engine.up(release("engine-change-2", analysis_ids=["sales-analysis"]), first.state)
    assert renamed.action == "replace" and renamed.deleted_id == first.id
    assert renamed.outputs["export_job_id"] == "engine-change-2"


def test_preflight_problems_reach_the_user_in_one_line(release_engine: EngineHarness, qs: QuickSightEmulator) -> None:
    qs.assets.add_dashboard("engine-broken", ("engine-missing-set",), errors=[{"Type": "PARAMETER_NOT_FOUND", "Message": "p"}])
    mark = len(qs.requests)
    with pytest.raises(grpc.RpcError) as caught:
        release_engine.up(release("engine-bad", dashboard_ids=["engine-broken", "engine-nowhere"]))
    line = user_error(caught.value)
    assert line.startswith("components.errors.ReleasePreflightError: release 'engine-bad'")
    assert "3 problem(s)" in line
    assert "dashboard 'engine-broken' has 1 definition error(s): PARAMETER_NOT_FOUND: p" in line
    assert "dashboard 'engine-nowhere' was not found" in line
    assert "data set 'engine-missing-set' (used by the release) was not found" in line
    assert "StartAssetBundleExportJob" not in since(qs, mark)


def test_check_refuses_bad_inputs_and_accepts_unknowns(release_engine: EngineHarness) -> None:
    with pytest.raises(CheckFailedError) as caught:
        release_engine.up({"source_account_id": "12", "release_name": "x"})
    failures = dict(caught.value.failures)
    assert "source_account_id" in failures and "dashboard_ids" in failures
    preview = release_engine.preview(release("engine-unknown", dashboard_ids=UNKNOWN))
    assert preview.action == "create" and preview.check.failures == []


def test_read_and_delete_call_nothing(release_engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = release_engine.up(release("engine-delete"))
    mark = len(qs.requests)
    assert release_engine.read(first.id, first.outputs) == (first.id, first.outputs)
    release_engine.delete(first.id, first.outputs)
    assert since(qs, mark) == []
