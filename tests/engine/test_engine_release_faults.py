"""The release resource under broken networks, broken answers and hostile text, as ``pulumi up`` meets them (issue 10).

The real provider process over gRPC (tests/engine.py) against the loopback QuickSight emulator
told to misbehave (``misbehave``: 5xx, resets, hangs, HTML bodies) during pre-flight, the start,
the wait and the download. Deadlines are small (3 s), so that "returns within the deadline" is
checked for real, with generous bounds.
"""

from __future__ import annotations

import time
from typing import Any, Iterator

import boto3
import grpc
import pytest
from botocore.config import Config
from botocore.stub import Stubber

from conftest import FakeTime
from emulator import ACCOUNT, QuickSightEmulator
from engine import EngineHarness, error_text, user_error

DEADLINE = 3
BOUND = DEADLINE + 1 + 4
LEAKS = ("X-Amz-Signature", "SECRET", "/download/")


@pytest.fixture(autouse=True)
def well_behaved_again(qs: QuickSightEmulator) -> Iterator[None]:
    yield
    qs.call_faults.clear()


def release(name: str, **extra: Any) -> dict[str, Any]:
    return {"source_account_id": ACCOUNT, "release_name": name, "dashboard_ids": ["sales-dashboard"], **extra}


def failing_up(engine: EngineHarness, props: dict[str, Any]) -> tuple[str, float]:
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        engine.up(props)
    took = time.monotonic() - started
    text = error_text(caught.value)
    for needle in LEAKS:
        assert needle not in text, f"{needle!r} leaked into: {text[-3000:]}"
    return user_error(caught.value), took


@pytest.mark.parametrize("fault", [500, "reset", "truncated"])
def test_transient_faults_of_the_preflight_are_retried_within_the_deadline(
    release_engine: EngineHarness, qs: QuickSightEmulator, fault: Any
) -> None:
    name = f"faulty-preflight-{fault}"
    qs.misbehave(fault, fault, fault)
    result = release_engine.up(release(name, export_timeout_seconds=60))
    assert result.action == "create" and result.outputs["export_job_id"] == name
    assert qs.call_faults == []
    assert [b["AssetBundleExportJobId"] for b in qs.assets.started].count(name) == 1


@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_a_stalled_preflight_answer_ends_at_the_deadline(
    release_engine: EngineHarness, qs: QuickSightEmulator, fault: str
) -> None:
    name = f"stalled-preflight-{fault}"
    qs.misbehave(*[fault] * 40)
    line, took = failing_up(release_engine, release(name, export_timeout_seconds=DEADLINE))
    assert took < BOUND, f"a {DEADLINE} s deadline took {took:.1f} s"
    assert line.startswith(
        f"components.errors.ExportTimeoutError: quicksight:DescribeDashboard on dashboard 'sales-dashboard' for export "
        f"job '{name}' in account {ACCOUNT} (us-east-1): no usable answer within export_timeout_seconds ({DEADLINE} s) ("
    ), line
    assert "last fault:" in line and "raise export_timeout_seconds" in line
    assert not [b for b in qs.assets.started if b["AssetBundleExportJobId"] == name]


def test_an_html_answer_to_a_describe_is_one_of_our_errors(release_engine: EngineHarness, qs: QuickSightEmulator) -> None:
    qs.misbehave(("body", 200, "application/json", b"<html><body>Sign in to the proxy</body></html>"))
    line, took = failing_up(release_engine, release("html-preflight"))
    assert line.startswith(
        "components.errors.MalformedAnswerError: quicksight:DescribeDashboard on dashboard 'sales-dashboard' for export "
        f"job 'html-preflight' in account {ACCOUNT} (us-east-1): QuickSight's answer is not of the documented shape (no "
        "Dashboard object): this is not the documented answer"
    ), line
    assert "check AWS_ENDPOINT_URL_QUICKSIGHT, proxies (HTTPS_PROXY) and the region" in line and took < BOUND


def test_thousands_of_definition_errors_give_a_bounded_escaped_line(release_engine: EngineHarness, qs: QuickSightEmulator) -> None:
    errors = [{"Type": "PARAMETER_NOT_FOUND", "Message": f"\x1b[31mparameter p{i} not found\x1b[0m\n"} for i in range(3000)]
    qs.assets.add_dashboard("noisy", ("orders",), errors=errors)
    line, _ = failing_up(release_engine, release("noisy-release", dashboard_ids=["noisy"]))
    assert line.startswith("components.errors.ReleasePreflightError: release 'noisy-release'"), line
    assert "dashboard 'noisy' has 3,000 definition error(s): PARAMETER_NOT_FOUND: \\x1b[31mparameter p0 not found" in line
    assert "and 2,997 more: fix them in QuickSight" in line
    assert "\x1b" not in line and len(line) < 2000


def test_many_hostile_warnings_of_a_release_are_kept_bounded_and_escaped(
    release_engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    # A lenient release of a big bundle can carry many warnings, each outside text a terminal interprets:
    # kept as the export keeps them (issue 16: the release kept them all, raw).
    qs.assets.job_warnings = [
        {"Arn": f"arn:aws:quicksight:us-east-1:111111111111:dataset/w{i}", "Message": "\x1b[2Jgone"} for i in range(250)
    ]
    try:
        result = release_engine.up(release("noisy-warnings", strict_validation=False))
    finally:
        qs.assets.job_warnings = []
    kept = result.outputs["warnings"]
    assert len(kept) == 101 and kept[-1] == "... and 150 more warnings"
    assert kept[0] == "arn:aws:quicksight:us-east-1:111111111111:dataset/w0: \\x1b[2Jgone"
    assert not any("\x1b" in entry for entry in kept)


def test_a_5xx_start_is_retried_then_started() -> None:
    from components.aws.release_cut import PreparedRelease, start_release
    from components.aws.quicksight import JobRef

    def client() -> tuple[Any, Stubber]:
        made = boto3.client(
            "quicksight", region_name="us-east-1", aws_access_key_id="AKIA0", aws_secret_access_key="s",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )  # fmt: skip
        return made, Stubber(made)

    ref = JobRef(ACCOUNT, "retried-start", "us-east-1")
    body = {"AwsAccountId": ACCOUNT, "AssetBundleExportJobId": "retried-start", "ResourceArns": ["arn:aws:quicksight:us-east-1:111111111111:dashboard/d"], "ExportFormat": "CLOUDFORMATION_JSON"}
    prepared = PreparedRelease(ref=ref, resource_arns=tuple(body["ResourceArns"]), contents=None, overrides={}, body=body)  # type: ignore[arg-type]
    describer, describe_stub = client()
    for _ in range(2):
        describe_stub.add_client_error("describe_asset_bundle_export_job", "ResourceNotFoundException", "no such job", 404)
    starter, start_stub = client()
    start_stub.add_client_error("start_asset_bundle_export_job", "InternalFailureException", "try again", 500)
    start_stub.add_response(
        "start_asset_bundle_export_job",
        {"Arn": "arn:aws:quicksight:us-east-1:111111111111:asset-bundle-export-job/retried-start",
         "AssetBundleExportJobId": "retried-start", "RequestId": "r", "Status": 202},
        body,
    )  # fmt: skip
    fake = FakeTime()
    with describe_stub, start_stub:
        assert start_release(describer, prepared, timeout=60, sleep=fake.sleep, clock=fake.clock, starter=starter, draw=lambda: 0.0)
    start_stub.assert_no_pending_responses()
    assert fake.sleeps == [1.0]
