"""The export provider driven the way ``pulumi up`` drives it: a real ``python -m pulumi.dynamic``
process spoken to over gRPC (tests/engine.py), with boto3 inside it pointed at the loopback
QuickSight emulator.

One emulator and one provider process serve the whole module; every test uses its own job ids.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import pickle
import time
from typing import Any, Iterator

import dill
import grpc
import pytest

from conftest import CALC_EXPRESSION, inputs, pretty_bytes, reported_case, sample_template
from emulator import ACCOUNT, ASSUMED_KEY_ID, BASE_KEY_ID, QuickSightEmulator
from engine import (
    DIFF_NONE,
    DIFF_SOME,
    PROVIDER_KEY,
    UNKNOWN,
    CheckFailedError,
    EngineHarness,
    ResourceState,
    StepResult,
    error_text,
    user_error,
)

ROLE = "arn:aws:iam::111111111111:role/quicksight-promotion-reader"
LEAKS = ("X-Amz-Signature", "SECRET", "/download/")


def deploy(engine: EngineHarness, qs: QuickSightEmulator, job_id: str, template: Any = None, **extra: Any) -> StepResult:
    """Script a successful job and run the first ``pulumi up`` on it."""
    qs.add_job(job_id, payload=pretty_bytes(template or sample_template()))
    result = engine.up(inputs(job_id, **extra))
    assert result.action == "create", result
    return result


def requests_since(qs: QuickSightEmulator, mark: int) -> list[dict[str, Any]]:
    return list(qs.requests[mark:])


def assert_no_leak(text: str) -> None:
    for needle in LEAKS:
        assert needle not in text, f"{needle!r} leaked into: {text[:2000]}"


def provider_error(engine: EngineHarness, props: dict[str, Any]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        engine.up(props)
    return caught.value


# --- 1. first up ------------------------------------------------------------------------------


def test_first_up_creates_with_the_template_as_outputs(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    template = sample_template()
    payload = pretty_bytes(template)
    warnings = [{"Arn": "arn:aws:quicksight:us-east-1:111111111111:dataset/sales", "Message": "Lenient validation"}]
    resources = ["arn:aws:quicksight:us-east-1:111111111111:dashboard/sales-dashboard"]
    job = qs.add_job("first-up", payload=payload, warnings=warnings, resource_arns=resources)
    mark = len(qs.requests)

    result = engine.up(inputs("first-up"))

    assert result.action == "create"
    assert result.id == job.arn
    out = result.outputs
    body = out["template_body"]
    assert json.loads(body) == template, "template content must be unchanged"
    assert body == json.dumps(template, ensure_ascii=False, separators=(",", ":")), "template_body must be compact JSON"
    assert "売上" in body and "\\u" not in body, "non-ASCII text must be kept literally"
    assert CALC_EXPRESSION in body and "${salesdashboardAB12CDName}" in body, "literal ${...} must survive"
    assert out["template_sha256"] == hashlib.sha256(payload).hexdigest()
    assert out["template_size"] == len(body.encode("utf-8")) < len(payload)
    assert out["export_job_arn"] == job.arn
    assert out["resource_arns"] == resources
    assert dt.datetime.fromisoformat(out["created_time"]) == dt.datetime.fromtimestamp(job.created_time, dt.timezone.utc)
    assert out["warnings"] == [f"{warnings[0]['Arn']}: Lenient validation"]
    assert out["source_account_id"] == ACCOUNT and out["export_job_id"] == "first-up"
    assert out["export_timeout_seconds"] == 1800
    assert out[PROVIDER_KEY] == engine.provider_string, "__provider must be echoed"

    # The emulator did hand out a signed URL, and it was used; none of it is in the response.
    assert job.downloads == 1
    made = requests_since(qs, mark)
    assert [r["operation"] for r in made] == ["DescribeAssetBundleExportJob", "Download"]
    assert made[0]["access_key"] == BASE_KEY_ID
    assert not any("url" in key.lower() for key in out)
    assert_no_leak(json.dumps(out, ensure_ascii=False))
    wire = result.raw.SerializeToString()
    for needle in LEAKS:
        assert needle.encode() not in wire


def test_read_keeps_state_without_calling_aws(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "read-job")
    mark = len(qs.requests)
    id_, props = engine.read(first.id, first.outputs)
    assert (id_, props) == (first.id, first.outputs)
    assert requests_since(qs, mark) == []


# --- 2. unchanged second up ---------------------------------------------------------------------


def test_unchanged_up_diffs_none_and_calls_nothing(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "steady-job")
    mark = len(qs.requests)

    again = engine.up(inputs("steady-job"), first.state)

    assert again.action == "same"
    assert again.diff is not None and again.diff.changes == DIFF_NONE and again.diff.replaces == []
    assert again.outputs == first.outputs
    assert requests_since(qs, mark) == [], "an unchanged stack must not call AWS"


# --- 3. provider string and export_timeout_seconds never cause a diff ----------------------------------


def test_reserialized_provider_causes_no_diff(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    from components.provider import AssetBundleExportProvider

    first = deploy(engine, qs, "reserialized-job")
    other = base64.b64encode(dill.dumps(AssetBundleExportProvider(), protocol=pickle.HIGHEST_PROTOCOL)).decode()
    assert other != engine.provider_string
    mark = len(qs.requests)

    # A program that serialises the provider differently (another dill/pickle, another SDK).
    again = engine.up({**inputs("reserialized-job"), PROVIDER_KEY: other}, first.state)
    assert again.action == "same" and again.diff.changes == DIFF_NONE
    assert again.state.inputs[PROVIDER_KEY] == other

    # A library upgrade: the state holds the __provider of an older version.
    old = base64.b64encode(b"provider pickled by an older quicksight-promotion").decode()
    upgraded = ResourceState(
        first.id, {**first.state.inputs, PROVIDER_KEY: old}, {**first.outputs, PROVIDER_KEY: old}
    )
    again = engine.up(inputs("reserialized-job"), upgraded)
    assert again.action == "same" and again.diff.changes == DIFF_NONE
    assert requests_since(qs, mark) == []


def test_changing_only_export_timeout_seconds_causes_no_diff(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "timeout-change-job")
    mark = len(qs.requests)
    again = engine.up(inputs("timeout-change-job", export_timeout_seconds=60), first.state)
    assert again.action == "same" and again.diff.changes == DIFF_NONE and again.diff.replaces == []
    assert requests_since(qs, mark) == []


# --- 4. another job replaces ---------------------------------------------------------------------


def test_changed_job_id_replaces_and_delete_is_local(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "replace-old")
    new_job = qs.add_job("replace-new", payload=pretty_bytes(sample_template("Other dashboard")))
    mark = len(qs.requests)

    second = engine.up(inputs("replace-new"), first.state)

    assert second.action == "replace"
    assert "export_job_id" in second.diff.replaces and second.diff.changes == DIFF_SOME
    assert second.diff.delete_before_replace is False
    assert second.id == new_job.arn and second.deleted_id == first.id
    document = json.loads(second.outputs["template_body"])
    assert document["Parameters"]["salesdashboardAB12CDName"]["Default"] == "Other dashboard"
    assert second.outputs["template_sha256"] == hashlib.sha256(new_job.payload).hexdigest()
    made = requests_since(qs, mark)
    assert [r["path"].rsplit("/", 1)[-1] for r in made if r["operation"] != "Download"] == ["replace-new"]

    mark = len(qs.requests)
    engine.delete(first.id, first.outputs)
    assert requests_since(qs, mark) == [], "Delete must not call AWS"


def test_changed_account_or_region_replaces(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "where-job")
    diff = engine.diff(first.id, first.outputs, inputs("where-job", source_region="eu-west-1"))
    assert diff.replaces == ["source_region"]
    diff = engine.diff(first.id, first.outputs, {**inputs("where-job"), "source_account_id": "222222222222"})
    assert diff.replaces == ["source_account_id"]


# --- 5. update in place --------------------------------------------------------------------------


def test_pinning_sha256_updates_in_place_and_reverifies(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "pin-job")
    job = qs.jobs[(ACCOUNT, "pin-job")]
    sha = first.outputs["template_sha256"]
    describes, downloads = job.describes, job.downloads

    pinned = engine.up(inputs("pin-job", expected_sha256=sha.upper()), first.state)

    assert pinned.action == "update"
    assert pinned.diff.changes == DIFF_SOME and pinned.diff.replaces == []
    assert pinned.id == first.id
    assert (job.describes, job.downloads) == (describes + 1, downloads + 1), "update must fetch and verify again"
    assert pinned.outputs["expected_sha256"] == sha
    assert pinned.outputs["template_body"] == first.outputs["template_body"]

    # The upper-case pin is normalised by Check: running again changes nothing.
    mark = len(qs.requests)
    again = engine.up(inputs("pin-job", expected_sha256=sha.upper()), pinned.state)
    assert again.action == "same", again.diff
    assert requests_since(qs, mark) == []


def test_wrong_sha256_names_both_hashes(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "wrong-pin-job")
    wrong = "0" * 64
    with pytest.raises(grpc.RpcError) as caught:
        engine.up(inputs("wrong-pin-job", expected_sha256=wrong), first.state)
    line = user_error(caught.value)
    assert line.startswith("components.errors.IntegrityError: "), line
    assert first.outputs["template_sha256"] in line and wrong in line and "wrong-pin-job" in line
    assert_no_leak(error_text(caught.value))


def test_adding_source_role_arn_updates_in_place(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "role-change-job")
    mark = len(qs.requests)
    changed = engine.up(inputs("role-change-job", source_role_arn=ROLE), first.state)
    assert changed.action == "update" and changed.diff.replaces == []
    assert changed.outputs["source_role_arn"] == ROLE
    assert [r["operation"] for r in requests_since(qs, mark)] == [
        "AssumeRole",
        "DescribeAssetBundleExportJob",
        "Download",
    ]


# --- 6. preview with unknown inputs --------------------------------------------------------------


def test_preview_diff_of_unknown_job_id_replaces_without_calls(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "unknown-diff-job")
    mark = len(qs.requests)
    diff = engine.diff(first.id, first.outputs, {**first.state.inputs, "export_job_id": UNKNOWN})
    assert diff.changes == DIFF_SOME and "export_job_id" in diff.replaces
    diff = engine.diff(first.id, first.outputs, {**first.state.inputs, "source_role_arn": UNKNOWN})
    assert diff.changes == DIFF_SOME and diff.replaces == []
    assert requests_since(qs, mark) == []


def test_preview_with_unknown_job_id(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "unknown-preview-job")
    mark = len(qs.requests)

    check = engine.check(first.state.inputs, inputs(UNKNOWN))
    assert check.failures == [], check.failures
    assert check.inputs["export_job_id"] == UNKNOWN

    preview = engine.preview(inputs(UNKNOWN), first.state)
    assert preview.action == "replace" and "export_job_id" in preview.diff.replaces

    fresh = engine.preview(inputs(UNKNOWN, source_role_arn=UNKNOWN, expected_sha256=UNKNOWN))
    assert fresh.action == "create" and fresh.check.failures == []
    assert requests_since(qs, mark) == []


# --- 7. Check failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "prop", "words"),
    [
        ({"source_account_id": "123", "export_job_id": "check-a"}, "source_account_id", ["[0-9]{12}"]),
        (inputs("check-b", source_region="moon"), "source_region", ["pattern"]),
        ({"source_account_id": ACCOUNT}, "export_job_id", ["required"]),
        (inputs("check-c", source_role_arn="admin"), "source_role_arn", ["pattern"]),
        (inputs("check-d", export_timeout_seconds=0), "export_timeout_seconds", ["greater than or equal to 1"]),
        (inputs("check-e", expected_sha256="abc"), "expected_sha256", ["[0-9a-fA-F]{64}"]),
    ],
)
def test_check_failures_name_the_property(
    engine: EngineHarness, qs: QuickSightEmulator, props: dict[str, Any], prop: str, words: list[str]
) -> None:
    mark = len(qs.requests)
    check = engine.check({}, props)
    assert [name for name, _ in check.failures] == [prop], check.failures
    reason = check.failures[0][1]
    for word in words:
        assert word in reason, reason
    assert "(got" not in reason  # no input's value is quoted
    with pytest.raises(CheckFailedError) as caught:
        engine.up(props)
    assert caught.value.failures == check.failures
    assert requests_since(qs, mark) == []


# --- 8. provider errors as the user sees them ---------------------------------------------------


def test_failed_job_lists_each_error(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    errors = [
        {
            "Arn": "arn:aws:quicksight:us-east-1:111111111111:dataset/sales",
            "Type": "com.amazonaws.services.quicksight.model.InvalidParameterValueException",
            "Message": "Column 'region' is missing",
        },
        {
            "Arn": "arn:aws:quicksight:us-east-1:111111111111:datasource/athena",
            "Type": "UnsupportedDataSourceException",
            "Message": "Data source type not supported",
        },
    ]
    qs.add_job("failed-job", statuses=["FAILED"], errors=errors)
    exc = provider_error(engine, inputs("failed-job"))
    line = user_error(exc)
    assert line.startswith("components.errors.ExportJobFailedError: "), line
    assert "'failed-job'" in line and ACCOUNT in line and "2 error(s)" in line
    assert (
        "arn:aws:quicksight:us-east-1:111111111111:dataset/sales: InvalidParameterValueException: "
        "Column 'region' is missing" in line
    )
    assert (
        "arn:aws:quicksight:us-east-1:111111111111:datasource/athena: UnsupportedDataSourceException: "
        "Data source type not supported" in line
    )
    assert "com.amazonaws" not in line
    assert_no_leak(error_text(exc))


def test_quicksight_json_format_is_refused(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    job = qs.add_job("qs-json-job", export_format="QUICKSIGHT_JSON", payload=pretty_bytes(sample_template()))
    exc = provider_error(engine, inputs("qs-json-job"))
    line = user_error(exc)
    assert line.startswith("components.errors.ExportFormatError: "), line
    assert "'qs-json-job'" in line and "QUICKSIGHT_JSON" in line and "CLOUDFORMATION_JSON" in line
    assert job.describes == 1 and job.downloads == 0, "a wrong format must be refused before downloading"
    assert_no_leak(error_text(exc))


def test_missing_job_names_job_account_and_retention(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    exc = provider_error(engine, inputs("never-started-job"))
    line = user_error(exc)
    assert line.startswith("components.errors.ExportJobNotFoundError: "), line
    assert "'never-started-job'" in line and ACCOUNT in line and "14 days" in line
    assert_no_leak(error_text(exc))


def test_timeout_fails_fast_and_says_what_to_raise(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    qs.add_job("stuck-job", statuses=["IN_PROGRESS"])
    started = time.monotonic()
    exc = provider_error(engine, inputs("stuck-job", export_timeout_seconds=1))
    elapsed = time.monotonic() - started
    assert elapsed < 4, f"a 1 s timeout took {elapsed:.1f} s"
    line = user_error(exc)
    assert line.startswith("components.errors.ExportTimeoutError: "), line
    assert "'stuck-job'" in line and "last status IN_PROGRESS" in line
    assert "within 1 s" in line and "timeout_seconds" in line
    assert_no_leak(error_text(exc))


def test_failed_download_never_shows_the_url(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    job = qs.add_job("broken-download-job", payload=pretty_bytes(sample_template()), download_status=500)
    exc = provider_error(engine, inputs("broken-download-job"))
    line = user_error(exc)
    assert line.startswith("components.errors.DownloadError: "), line
    assert "'broken-download-job'" in line and "HTTP 500" in line
    assert job.downloads == 3
    assert_no_leak(error_text(exc))


def test_error_text_is_a_python_traceback(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    exc = provider_error(engine, inputs("no-such-job-either"))
    assert exc.code() == grpc.StatusCode.UNKNOWN
    text = error_text(exc)
    assert text.startswith("Traceback (most recent call last):")
    assert text.rstrip().splitlines()[-1] == user_error(exc)
    assert engine.alive, "a provider error must not kill the provider process"


# --- 9. source_role_arn ---------------------------------------------------------------------------------


def test_role_arn_signs_quicksight_calls_with_the_assumed_role(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    mark = len(qs.requests)
    result = deploy(engine, qs, "role-job", source_role_arn=ROLE)
    made = requests_since(qs, mark)
    assume = [r for r in made if r["operation"] == "AssumeRole"]
    describes = [r for r in made if r["operation"] == "DescribeAssetBundleExportJob"]
    assert len(assume) == 1 and assume[0]["access_key"] == BASE_KEY_ID
    assert describes and all(r["access_key"] == ASSUMED_KEY_ID for r in describes)
    assert assume[0]["n"] < describes[0]["n"]
    assert result.outputs["source_role_arn"] == ROLE
    # The session names the job (CloudTrail shows it); no ExternalId unless one is set.
    assert assume[0]["sts"]["RoleSessionName"] == "qsp-export-role-job" and "ExternalId" not in assume[0]["sts"]


def test_the_source_external_id_is_sent_with_assume_role_and_never_output(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    marker = "Ext-Id-Marker-7f3a"
    mark = len(qs.requests)
    result = deploy(engine, qs, "ext-id-job", source_role_arn=ROLE, source_external_id=marker)
    [assume] = [r for r in requests_since(qs, mark) if r["operation"] == "AssumeRole"]
    assert assume["sts"]["ExternalId"] == marker and assume["sts"]["RoleSessionName"] == "qsp-export-ext-id-job"
    assert "source_external_id" not in result.outputs and marker not in repr(result.outputs)


def test_create_with_invalid_inputs_names_every_bad_input(engine: EngineHarness) -> None:
    # Check would refuse these first; Create validates again, since it must not trust its caller.
    with pytest.raises(grpc.RpcError) as info:
        engine.create({"source_account_id": "123", "export_job_id": "bad id!", "export_timeout_seconds": 0})
    line = user_error(info.value)
    assert line.startswith("components.errors.InputError: invalid AssetBundleExport inputs: ")
    assert "source_account_id: String should match pattern" in line and "'123'" not in line
    assert "export_job_id: String should match pattern" in line
    assert "export_timeout_seconds: Input should be greater than or equal to 1" in line and "(got" not in line
    assert line.endswith("; fix them in the Pulumi program")


# --- templateRepair ---------------------------------------------------------------------------------


def test_repair_makes_the_repaired_bytes_the_template_its_sha256_and_what_a_pin_names(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    payload = pretty_bytes(reported_case())
    qs.add_job("repair-job", payload=payload)

    reported = engine.up(inputs("repair-job"))  # the default: report
    assert reported.outputs["template_sha256"] == hashlib.sha256(payload).hexdigest()
    assert "ControlTitleFormatText" in reported.outputs["template_body"]
    assert [(r["path"].rsplit("/", 1)[1], r["repairable"], r["repaired"]) for r in reported.outputs["template_repairs"]] == [
        ("Title", True, False),
        ("ControlTitleFormatText", True, False),
    ]

    repaired = engine.up(inputs("repair-job", template_repair="repair"), reported.state)
    assert repaired.action == "update", "another mode fetches the job again"
    body = repaired.outputs["template_body"]
    assert "ControlTitleFormatText" not in body and '"Title":""' not in body
    sha = hashlib.sha256(body.encode("utf-8")).hexdigest()
    assert repaired.outputs["template_sha256"] == sha != reported.outputs["template_sha256"]
    assert [r["repaired"] for r in repaired.outputs["template_repairs"]] == [True, True]

    # A later stage pins the repaired bytes: the same export repaired again is the same bytes.
    pinned = engine.up(inputs("repair-job", template_repair="repair", expected_sha256=sha), repaired.state)
    assert pinned.outputs["template_body"] == body
    with pytest.raises(grpc.RpcError) as caught:
        engine.up(inputs("repair-job", template_repair="repair", expected_sha256=reported.outputs["template_sha256"]), repaired.state)
    line = user_error(caught.value)
    assert line.startswith("components.errors.IntegrityError: ") and sha in line, line
