"""The export resource under broken networks, broken answers and hostile input, as ``pulumi up`` meets them.

Every test drives the real provider process over gRPC (tests/engine.py) against the loopback
emulator told to misbehave (tests/emulator.py: ``misbehave``, ``describe_overrides``,
``download_faults``). Deadlines are small (3 s), so that "returns within the deadline" is checked
for real, with generous bounds.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import time
import zipfile
from typing import Any, Callable, Iterator

import grpc
import pytest

from conftest import inputs, pretty_bytes, sample_template
from emulator import ACCOUNT, DROP, QuickSightEmulator
from engine import REPO_ROOT, CheckFailedError, EngineHarness, error_text, user_error

# Markers that must never reach a message: the emulator's URLs carry X-Amz-Signature=SECRET<token>.
LEAKS = ("X-Amz-Signature", "SECRET", "/download/", "MARKER")
DEADLINE = 3
# A call ends within the deadline plus one short request timeout (1 s); the rest is slack for a
# loaded machine (the process, botocore, the harness).
BOUND = DEADLINE + 1 + 3


@pytest.fixture(autouse=True)
def well_behaved_again(qs: QuickSightEmulator) -> Iterator[None]:
    """Each test's faults end with it."""
    yield
    qs.call_faults.clear()
    qs.account_error = None
    qs.throttle_next = 0


def assert_no_leak(text: str) -> None:
    for needle in LEAKS:
        assert needle not in text, f"{needle!r} leaked into: {text[:3000]}"


def failing_up(engine: EngineHarness, props: dict[str, Any]) -> tuple[grpc.RpcError, float]:
    """Run ``pulumi up`` expecting the provider to fail; return the error and the seconds it took."""
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as caught:
        engine.up(props)
    return caught.value, time.monotonic() - started


def line_of(exc: grpc.RpcError, kind: str) -> str:
    line = user_error(exc)
    assert line.startswith(f"components.errors.{kind}: "), line
    assert_no_leak(error_text(exc))
    return line


def job(qs: QuickSightEmulator, job_id: str, **extra: Any) -> Any:
    return qs.add_job(job_id, payload=pretty_bytes(sample_template()), **extra)


# --- 1. every wait bounded in wall time -------------------------------------------------------


@pytest.mark.parametrize("fault", ["trickle", "slowheaders", "hang"])
def test_a_stalled_download_ends_at_the_deadline(engine: EngineHarness, qs: QuickSightEmulator, fault: str) -> None:
    job_id = f"stalled-download-{fault}"
    emulated = job(qs, job_id, download_faults=[fault] * 5)
    exc, took = failing_up(engine, inputs(job_id, export_timeout_seconds=DEADLINE))
    line = line_of(exc, "ExportTimeoutError")
    assert took < BOUND, f"a {DEADLINE} s deadline took {took:.1f} s"
    assert f"'{job_id}'" in line and ACCOUNT in line
    assert f"not downloaded within export_timeout_seconds ({DEADLINE} s)" in line and "raise export_timeout_seconds" in line
    assert emulated.downloads == 1, "a download cut at the deadline must not be tried again"


@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_a_stalled_describe_ends_at_the_deadline(engine: EngineHarness, qs: QuickSightEmulator, fault: str) -> None:
    job_id = f"stalled-describe-{fault}"
    job(qs, job_id)
    qs.misbehave(*[fault] * 20)
    exc, took = failing_up(engine, inputs(job_id, export_timeout_seconds=DEADLINE))
    line = line_of(exc, "ExportTimeoutError")
    assert took < BOUND, f"a {DEADLINE} s deadline took {took:.1f} s"
    assert f"'{job_id}'" in line and f"within {DEADLINE} s" in line
    assert "no Describe call was answered" in line and "last fault:" in line and "timeout_seconds" in line


def test_a_job_that_stays_in_progress_through_5xx_ends_at_the_deadline(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    job(qs, "busy-and-broken", statuses=["IN_PROGRESS"])
    qs.misbehave(*[500] * 3)
    exc, took = failing_up(engine, inputs("busy-and-broken", export_timeout_seconds=DEADLINE))
    line = line_of(exc, "ExportTimeoutError")
    assert took < BOUND
    assert "last status IN_PROGRESS" in line


# --- 3. transient faults retried, permanent ones at once --------------------------------------


@pytest.mark.parametrize("fault", [500, 503, "reset", "badstatus", "truncated"])
def test_transient_describe_faults_are_retried_within_the_deadline(
    engine: EngineHarness, qs: QuickSightEmulator, fault: Any
) -> None:
    job_id = f"transient-{fault}"
    emulated = job(qs, job_id)
    qs.misbehave(fault, fault)
    result = engine.up(inputs(job_id, export_timeout_seconds=20))
    assert result.action == "create"
    assert json.loads(result.outputs["template_body"]) == sample_template()
    assert emulated.describes == 1 and emulated.downloads == 1


def test_a_permanent_fault_fails_at_once_with_its_own_advice(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    job(qs, "permanent-400")
    qs.fail_account(400, "InvalidParameterValueException", "AwsAccountId is invalid")
    mark = len(qs.calls("DescribeAssetBundleExportJob"))
    exc, took = failing_up(engine, inputs("permanent-400", export_timeout_seconds=60))
    line = line_of(exc, "ExportJobError")
    assert took < 5, "a permanent fault must not be waited on"
    assert len(qs.calls("DescribeAssetBundleExportJob")) == mark + 1
    assert "InvalidParameterValueException: AwsAccountId is invalid" in line
    assert "check the account id, region and job id" in line


@pytest.mark.parametrize("fault", [500, "reset", "badstatus", "midchunk", "truncate", "truncated"])
def test_transient_download_faults_are_retried_with_a_fresh_url(
    engine: EngineHarness, qs: QuickSightEmulator, fault: Any
) -> None:
    job_id = f"download-{fault}"
    emulated = job(qs, job_id, download_faults=[fault])
    result = engine.up(inputs(job_id, export_timeout_seconds=20))
    assert result.action == "create"
    assert result.outputs["template_sha256"] == hashlib.sha256(emulated.payload).hexdigest()
    assert emulated.downloads == 2 and emulated.describes == 2


@pytest.mark.parametrize("fault", ["reset", "badstatus", "midchunk"])
def test_downloads_broken_every_time_name_the_job_and_never_the_url(
    engine: EngineHarness, qs: QuickSightEmulator, fault: str
) -> None:
    job_id = f"always-broken-{fault}"
    emulated = job(qs, job_id, download_faults=[fault] * 3)
    exc, _ = failing_up(engine, inputs(job_id, export_timeout_seconds=20))
    line = line_of(exc, "DownloadError")
    assert f"'{job_id}'" in line and "after 3 attempt(s)" in line and "check network access to S3" in line
    assert emulated.downloads == 3


# --- 2. no URL, no secret ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/download/with space?X-Amz-Signature=MARKERsig&X-Amz-Security-Token=MARKERtoken",
        "/download/x?X-Amz-Signature=MARKER\x01sig",
        "/download/x?X-Amz-Signature=MARKER\r\nX-Injected: 1",
        "/download/x?X-Amz-Signature=MARKER\u00e9sig",
    ],
)
def test_a_url_urllib_cannot_send_never_shows_in_the_error(
    engine: EngineHarness, qs: QuickSightEmulator, path: str
) -> None:
    job_id = f"bad-url-{abs(hash(path)) % 10_000}"
    job(qs, job_id, download_url=f"{qs.url}{path}")
    exc, _ = failing_up(engine, inputs(job_id, export_timeout_seconds=20))
    line = line_of(exc, "DownloadError")
    assert f"'{job_id}'" in line and "after 3 attempt(s)" in line
    assert "the URL QuickSight gave holds spaces, control or non-ASCII characters" in line


def test_a_secret_parameters_input_is_never_echoed_by_check(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    props = inputs("secret-check", parameters="MARKER-password-value", parameters_secret=True)
    check = engine.check({}, props)
    assert [name for name, _ in check.failures] == ["parameters"], check.failures
    assert "valid dictionary" in check.failures[0][1]
    assert_no_leak(json.dumps(check.failures))
    with pytest.raises(CheckFailedError) as caught:
        engine.up(props)
    assert_no_leak(str(caught.value))
    # Create validates again (it must not trust its caller): the same holds there.
    with pytest.raises(grpc.RpcError) as created:
        engine.create(props)
    line = line_of(created.value, "InputError")
    assert "parameters: Input should be a valid dictionary" in line


# --- 4. malformed answers ------------------------------------------------------------------------


MALFORMED: dict[str, tuple[Callable[[QuickSightEmulator, Any], None], str]] = {
    "html": (
        lambda qs, _job: qs.misbehave(("body", 200, "text/html", b"<html><body>Proxy login</body></html>")),
        "JobStatus is missing",
    ),
    "cut-json": (
        lambda qs, _job: qs.misbehave(("body", 200, "application/json", b'{"JobStatus": "SUCCESS')),
        "JobStatus is missing",
    ),
    "json-list": (
        lambda qs, _job: qs.misbehave(("body", 200, "application/json", b"[1, 2]")),
        "QuickSight's answer is not of the documented shape (AttributeError",
    ),
    "no-job-status": (lambda _qs, job: job.describe_overrides.append({"JobStatus": DROP}), "JobStatus is missing"),
    "job-status-object": (
        lambda _qs, job: job.describe_overrides.append({"JobStatus": {"a": 1}}),
        "JobStatus: Input should be a valid string",
    ),
    "errors-not-a-list": (
        lambda _qs, job: job.describe_overrides.append({"JobStatus": "FAILED", "Errors": "boom"}),
        "QuickSight's answer is not of the documented shape (AttributeError",
    ),
    "bad-timestamp": (
        lambda _qs, job: job.describe_overrides.append({"CreatedTime": "yesterday"}),
        'Invalid timestamp "yesterday"',
    ),
    "absurd-timestamp": (
        lambda _qs, job: job.describe_overrides.append({"CreatedTime": 1e300}),
        "QuickSight's answer is not of the documented shape (RuntimeError",
    ),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_describe_answers_are_one_of_our_errors(
    engine: EngineHarness, qs: QuickSightEmulator, case: str
) -> None:
    setup, words = MALFORMED[case]
    job_id = f"malformed-{case}"
    emulated = job(qs, job_id)
    setup(qs, emulated)
    exc, took = failing_up(engine, inputs(job_id, export_timeout_seconds=20))
    line = line_of(exc, "MalformedAnswerError")
    assert took < 5, "a malformed answer is not waited on"
    assert f"'{job_id}'" in line and "DescribeAssetBundleExportJob" in line
    assert words in line, line
    assert "AWS_ENDPOINT_URL_QUICKSIGHT" in line and "re-run" in line
    assert emulated.downloads == 0


# --- 7. format checks without holes --------------------------------------------------------------


def test_an_answer_without_export_format_is_refused(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    emulated = job(qs, "no-format", describe_overrides=[{"ExportFormat": DROP}])
    exc, _ = failing_up(engine, inputs("no-format"))
    line = line_of(exc, "ExportFormatError")
    assert "'no-format'" in line and "names no ExportFormat" in line
    assert "ExportFormat=CLOUDFORMATION_JSON" in line and "export_job_id" in line
    assert emulated.downloads == 0


def test_the_describe_for_a_fresh_url_checks_the_format_again(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    emulated = job(qs, "format-flip", expired_downloads=1, describe_overrides=[{}, {"ExportFormat": "QUICKSIGHT_JSON"}])
    exc, _ = failing_up(engine, inputs("format-flip"))
    line = line_of(exc, "ExportFormatError")
    assert "QUICKSIGHT_JSON" in line and "'format-flip'" in line
    assert emulated.describes == 2 and emulated.downloads == 1


def test_the_describe_for_a_fresh_url_checks_for_failure_again(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    emulated = job(
        qs,
        "fails-late",
        expired_downloads=1,
        errors=[{"Arn": "arn:aws:quicksight:us-east-1:111111111111:dataset/x", "Type": "T", "Message": "gone"}],
        describe_overrides=[{}, {"JobStatus": "FAILED", "DownloadUrl": DROP}],
    )
    # The emulator adds Errors only for a scripted FAILED status; the override carries them instead.
    emulated.describe_overrides[1]["Errors"] = emulated.errors
    exc, _ = failing_up(engine, inputs("fails-late"))
    line = line_of(exc, "ExportJobFailedError")
    assert "'fails-late' in account" in line and "FAILED with 1 error(s)" in line and "dataset/x: T: gone" in line
    assert emulated.downloads == 1


# --- 6. bounded, escaped messages ------------------------------------------------------------------


def test_thousands_of_hostile_errors_make_one_bounded_escaped_message(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    errors = [
        {
            "Arn": f"arn:aws:quicksight:us-east-1:111111111111:dataset/d{i}",
            "Type": "com.amazonaws.services.quicksight.model.InvalidParameterValueException",
            "Message": f"bad \x1b[31mred\x1b[0m\nERROR forged log line {i}\u2028" + "x" * 2000,
        }
        for i in range(5000)
    ]
    qs.add_job("hostile-errors", statuses=["FAILED"], errors=errors)
    exc, _ = failing_up(engine, inputs("hostile-errors"))
    text = error_text(exc)
    line = line_of(exc, "ExportJobFailedError")
    # The whole message reached the harness (the engine accepts 16 MiB of metadata) as one line.
    assert line.endswith("and start a new export"), line[-200:]
    assert "FAILED with 5,000 error(s)" in line and "and 4,990 more" in line
    assert "dataset/d9: InvalidParameterValueException: bad \\x1b[31mred\\x1b[0m\\x0aERROR forged" in line
    assert "dataset/d10:" not in line
    assert len(line) < 9000
    assert "\x1b" not in text and "\u2028" not in text and "\nERROR forged" not in text


# --- 5, 8. the template never changed silently; limits before work ----------------------------


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"Resources": {"A": {"Type": "X"}, "A": {"Type": "Y"}}}', "the key 'A' appears twice in one object"),
        (b'{"Resources": {"A": {"Type": "X", "Properties": {"N": NaN}}}}', "holds NaN"),
        (b'{"Resources": {"A": {"Type": "X", "Properties": {"N": -Infinity}}}}', "holds -Infinity"),
        (b'{"Resources": {"A": {"Type": "X", "Properties": {"N": 1e999}}}}', "too large for a double"),
        (b'{"Resources": {"A": {"Type": "X", "Properties": {"N": ' + b"9" * 5000 + b"}}}}", "5,000 digits"),
        (b'{"Resources": {"A": ' + b"[" * 300 + b"]" * 300 + b"}}", "deeper than 200 levels"),
        (b'{"Resources": {"A": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}", "deeper than 200 levels"),
    ],
    ids=["duplicate", "nan", "infinity", "overflow", "huge-int", "deep", "very-deep"],
)
def test_templates_that_cannot_round_trip_are_refused(
    engine: EngineHarness, qs: QuickSightEmulator, payload: bytes, words: str
) -> None:
    job_id = f"template-{hashlib.sha256(payload).hexdigest()[:10]}"
    qs.add_job(job_id, payload=payload)
    exc, _ = failing_up(engine, inputs(job_id))
    line = line_of(exc, "BundleFormatError")
    assert f"'{job_id}'" in line and words in line and "re-export" in line


def zip_with_claimed_directory(entries: int, directory_bytes: int) -> bytes:
    """A small zip whose end record claims a huge central directory (what zipfile would read whole)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("t.json", b"{}")
    data = bytearray(buffer.getvalue())
    at = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HHL", data, at + 8, entries, entries, directory_bytes)
    return bytes(data)


@pytest.mark.parametrize(
    ("entries", "directory_bytes", "words"),
    [(60_000, 2_000, "lists 60,000 members, more than the 1,000 accepted"),
     (1, 30_000_000, "has a 30,000,000-byte directory, more than the 1,048,576 bytes accepted")],
)
def test_a_zip_directory_over_the_limits_is_refused_before_it_is_read(
    engine: EngineHarness, qs: QuickSightEmulator, entries: int, directory_bytes: int, words: str
) -> None:
    job_id = f"zip-directory-{entries}"
    qs.add_job(job_id, payload=zip_with_claimed_directory(entries, directory_bytes))
    exc, _ = failing_up(engine, inputs(job_id))
    line = line_of(exc, "BundleFormatError")
    assert words in line and "before parsing the directory" in line and f"'{job_id}'" in line


# --- 9. Content-Encoding --------------------------------------------------------------------------


def test_a_gzip_encoded_download_is_decoded(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    emulated = job(qs, "gzipped", download_faults=["gzip"])
    result = engine.up(inputs("gzipped"))
    assert json.loads(result.outputs["template_body"]) == sample_template()
    # The hash is the template's own bytes', whatever encoding carried them.
    assert result.outputs["template_sha256"] == hashlib.sha256(emulated.payload).hexdigest()
    assert emulated.downloads == 1
    # It was asked for unencoded: S3 encodes only objects stored with a Content-Encoding.
    assert qs.calls("Download")[-1]["accept_encoding"] == "identity"


def test_an_encoding_that_cannot_be_decoded_is_refused_once(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    emulated = job(qs, "brotli", download_faults=[("encoding", "br")])
    exc, _ = failing_up(engine, inputs("brotli"))
    line = line_of(exc, "DownloadRefusedError")
    assert "Content-Encoding 'br'" in line and "only gzip" in line and "'brotli'" in line
    assert emulated.downloads == 1


# --- the harness sees long messages as users do ---------------------------------------------------


def test_the_harness_accepts_error_metadata_as_large_as_the_engine_does(qs: QuickSightEmulator) -> None:
    from loud_provider import LOUD_CHARS, LoudProvider

    tests_dir = str(REPO_ROOT / "tests" / "harness")
    with EngineHarness(env={**qs.env(), "PYTHONPATH": tests_dir}, provider=LoudProvider()) as loud:
        with pytest.raises(grpc.RpcError) as caught:
            loud.create({"anything": 1})
    line = user_error(caught.value)
    assert line.endswith(" END-OF-MESSAGE") and line.count("x") >= LOUD_CHARS, line[-200:]


def test_many_hostile_warnings_are_kept_bounded_and_escaped(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    warnings = [{"Arn": f"arn:aws:quicksight:us-east-1:111111111111:dataset/w{i}", "Message": "\x1b[2Jgone"} for i in range(250)]
    job(qs, "noisy-warnings", warnings=warnings)
    result = engine.up(inputs("noisy-warnings"))
    kept = result.outputs["warnings"]
    assert len(kept) == 101 and kept[-1] == "... and 150 more warnings"
    assert kept[0] == "arn:aws:quicksight:us-east-1:111111111111:dataset/w0: \\x1b[2Jgone"
    assert not any("\x1b" in entry for entry in kept)
