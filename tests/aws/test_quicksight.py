"""The AWS boundary (components/aws/) against the loopback emulator, with a real boto3 client.

Signing, retries, error parsing and the download are the real ones; only time is faked: every
wait gets an injected ``sleep``/``clock`` pair (``FakeTime``) so nothing here really sleeps on
our side. botocore's own retry backoff is zeroed (and recorded) by the ``instant_botocore_retries``
fixture where a test drives many retries; one test keeps botocore's real backoff for one retry.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import socket
import sys
import time
import traceback
from typing import Any, Iterator

import boto3
import botocore.loaders
import botocore.retries.standard
import pytest

from components.aws import (
    CLIENT_CONFIG,
    CallBudget,
    CallTimeout,
    DownloadLimits,
    FetchedExport,
    JobRef,
    check_download_url,
    describe_export_job,
    download_to,
    fetch_export,
    call_within,
    quicksight_client,
    quicksight_clients,
    wait_for_export_job,
)
from components.aws.download import LOOPBACK_DOWNLOADS_SWITCH
from components.core.bundle import compact_json
from components.core.models import ExportInputs
from components.core.polling import DEFAULT_BACKOFF, Backoff, Deadline, poll_until
from components.errors import (
    AwsAccessError,
    BundleFormatError,
    DownloadError,
    DownloadRefusedError,
    ExportFormatError,
    ExportJobError,
    ExportJobFailedError,
    ExportJobNotFoundError,
    ExportTimeoutError,
    InputError,
    IntegrityError,
    ServiceUnavailableError,
    ThrottledError,
    TransientError,
)
from conftest import CALC_EXPRESSION, FakeTime, pretty_bytes, sample_template, zip_bytes
from emulator import ACCOUNT, ASSUMED_KEY_ID, BASE_KEY_ID, REGION, QuickSightEmulator

DESCRIBE = "DescribeAssetBundleExportJob"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/quicksight-export"
SECRET_MARKERS = ("SECRET", "X-Amz-Signature", "/download/")


# --- helpers -------------------------------------------------------------------------------



@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


def inputs(job_id: str, **kwargs: Any) -> ExportInputs:
    return ExportInputs(source_account_id=ACCOUNT, export_job_id=job_id, **kwargs)


def fetch(fake: FakeTime, job_id: str, *, download_limits: DownloadLimits | None = None, **kwargs: Any) -> FetchedExport:
    """fetch_export on the fake clock, without jitter."""
    extra: dict[str, Any] = {"download_limits": download_limits} if download_limits else {}
    return fetch_export(
        inputs(job_id, **kwargs), sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0, **extra
    )


def ref(job_id: str, region: str | None = REGION) -> JobRef:
    return JobRef(ACCOUNT, job_id, region)


def exception_chain(exc: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def assert_secret_free(exc: BaseException) -> None:
    """The pre-signed URL (a bearer credential) shows in no message, chained message or traceback."""
    texts = [str(e) for e in exception_chain(exc)] + [repr(e) for e in exception_chain(exc)]
    texts.append("".join(traceback.format_exception(exc)))
    for text in texts:
        for marker in SECRET_MARKERS:
            assert marker not in text, f"{marker!r} leaked into: {text}"


def assert_names_job(message: str, job_id: str) -> None:
    assert f"'{job_id}'" in message, message
    assert ACCOUNT in message, message


def describes(emulator: QuickSightEmulator) -> int:
    return len(emulator.calls(DESCRIBE))


class NetworkLog:
    """Host names resolved, addresses connected to and files opened, via an audit hook (installed once)."""

    active: "NetworkLog | None" = None

    def __init__(self) -> None:
        self.events: list[str] = []

    def hosts(self) -> str:
        return " ".join(self.events)


def _audit(event: str, args: tuple[Any, ...]) -> None:
    log = NetworkLog.active
    if log is None:
        return
    if event == "socket.getaddrinfo":
        log.events.append(f"resolve:{args[0]}")
    elif event == "socket.connect":
        log.events.append(f"connect:{args[1]}")
    elif event == "open":
        log.events.append(f"open:{args[0]}")


sys.addaudithook(_audit)


@pytest.fixture
def network() -> Iterator[NetworkLog]:
    log = NetworkLog()
    NetworkLog.active = log
    try:
        yield log
    finally:
        NetworkLog.active = None


@pytest.fixture
def instant_botocore_retries(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Zero botocore's retry delays (standard mode) and record the delays it would have slept."""
    would_sleep: list[float] = []
    original = botocore.retries.standard.ExponentialBackoff.delay_amount

    def delay_amount(self: Any, context: Any) -> float:
        would_sleep.append(original(self, context))
        return 0.0

    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", delay_amount)
    return would_sleep


_PARSED_BOTOCORE_FILES: dict[str, Any] = {}


@pytest.fixture(autouse=True)
def parse_botocore_data_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Speed only: the boundary creates a fresh boto3 session per fetch (as it must: credentials
    come from the calling process), and each session re-parses botocore's ~1 MB QuickSight model
    (~0.3 s). Parse each data file once for this module; botocore already shares the parsed data
    between the clients of one session the same way."""
    original = botocore.loaders.JSONFileLoader.load_file

    def load_file(self: Any, file_path: str) -> Any:
        if file_path not in _PARSED_BOTOCORE_FILES:
            _PARSED_BOTOCORE_FILES[file_path] = original(self, file_path)
        return _PARSED_BOTOCORE_FILES[file_path]

    monkeypatch.setattr(botocore.loaders.JSONFileLoader, "load_file", load_file)


@functools.cache
def botocore_attempts() -> int:
    """Attempts botocore makes per call (first try + retries) with the boundary's CLIENT_CONFIG."""
    client = boto3.session.Session(
        region_name=REGION, aws_access_key_id="unused", aws_secret_access_key="unused"
    ).client("quicksight", config=CLIENT_CONFIG, endpoint_url="http://127.0.0.1:9")
    return int(client.meta.config.retries["total_max_attempts"])


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def minted_download_url(emulator: QuickSightEmulator, job_id: str) -> str:
    """A valid download URL of ``job_id``, minted by describing it inside the emulator."""
    status, body = emulator.describe(ACCOUNT, job_id)
    assert status == 200
    return body["DownloadUrl"]


# --- fetch_export: the happy paths ----------------------------------------------------------


def test_raw_json_export_is_fetched_compacted_and_hashed(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    template = sample_template()
    payload = pretty_bytes(template)
    job = emulator.add_job(
        "release-42",
        statuses=["QUEUED_FOR_IMMEDIATE_EXECUTION", "IN_PROGRESS", "SUCCESSFUL"],
        payload=payload,
        resource_arns=[f"arn:aws:quicksight:{REGION}:{ACCOUNT}:dashboard/sales-dashboard"],
    )

    result = fetch(fake, "release-42")

    body = result.template.body
    assert json.loads(body) == template
    assert body == compact_json(template)
    assert "\n" not in body and len(body) < len(payload.decode("utf-8"))
    assert "Ventes 売上" in body and "\\u" not in body
    assert CALC_EXPRESSION in body and "${Region}" in body
    assert result.template.source == "json"
    assert result.template.size == len(body.encode("utf-8"))
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert result.downloaded_bytes == len(payload)
    assert result.description.status == "SUCCESSFUL"
    assert result.description.arn == job.arn
    assert result.description.resource_arns == job.resource_arns
    # Exactly one Describe per status, one download, two poll sleeps of the first (1 s) delay.
    assert job.describes == 3 and describes(emulator) == 3
    assert job.downloads == 1
    assert fake.sleeps == [1.0, 1.0]


def test_zip_holding_one_template_is_unpacked(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = zip_bytes({"assetbundle-release-43.json": pretty_bytes(sample_template())})
    emulator.add_job("release-43", payload=payload)

    result = fetch(fake, "release-43")

    assert result.template.source == "zip:assetbundle-release-43.json"
    assert result.template.document == sample_template()
    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert result.downloaded_bytes == len(payload)
    assert fake.sleeps == []


def test_long_job_polls_with_growing_backoff_capped_at_backoff_cap(
    emulator: QuickSightEmulator, fake: FakeTime
) -> None:
    statuses = ["QUEUED_FOR_IMMEDIATE_EXECUTION"] + ["IN_PROGRESS"] * 40 + ["SUCCESSFUL"]
    job = emulator.add_job("long-job", statuses=statuses, payload=pretty_bytes(sample_template()))

    fetch(fake, "long-job")

    assert job.describes == len(statuses) == describes(emulator)
    assert len(fake.sleeps) == len(statuses) - 1
    # Early polls are quick (the first delay, 1 s), later ones grow with the time waited...
    assert fake.sleeps[:5] == [DEFAULT_BACKOFF.first] * 5
    assert fake.sleeps == sorted(fake.sleeps)
    assert fake.sleeps[-1] > 10 * fake.sleeps[0]
    # ... and never past the cap, which the long tail reaches.
    assert max(fake.sleeps) == DEFAULT_BACKOFF.cap
    assert fake.sleeps.count(DEFAULT_BACKOFF.cap) >= 3


def test_jitter_only_shortens_the_injected_sleeps(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("jittered", statuses=["IN_PROGRESS"] * 30 + ["SUCCESSFUL"], payload=pretty_bytes(sample_template()))
    backoff = Backoff(first=1.0, proportion=0.5, cap=4.0, jitter=0.5)

    fetch_export(inputs("jittered"), backoff=backoff, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.999)

    assert len(fake.sleeps) == 30
    shortest, longest = backoff.first * (1 - 0.5 * 0.999), backoff.cap * (1 - 0.5 * 0.999)
    assert fake.sleeps[0] == pytest.approx(shortest)
    assert all(shortest - 1e-9 <= s <= longest + 1e-9 for s in fake.sleeps), fake.sleeps
    assert max(fake.sleeps) == pytest.approx(longest)


def test_expected_sha256_in_uppercase_is_accepted(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    digest = hashlib.sha256(payload).hexdigest()
    emulator.add_job("pinned", payload=payload)

    result = fetch(fake, "pinned", expected_sha256=digest.upper())

    assert result.sha256 == digest


def test_explicit_region_is_used_and_named(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    with pytest.raises(ExportJobNotFoundError) as caught:
        fetch(fake, "elsewhere", source_region="eu-west-1")
    assert "(eu-west-1)" in str(caught.value)
    assert f"'elsewhere' in account {ACCOUNT} (eu-west-1)" in str(caught.value)


# --- job states that end the wait with an error --------------------------------------------


def test_other_export_format_is_refused_on_the_first_describe(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    job = emulator.add_job(
        "qs-json", export_format="QUICKSIGHT_JSON", statuses=["IN_PROGRESS", "SUCCESSFUL"], payload=b"PK\x03\x04"
    )

    with pytest.raises(ExportFormatError) as caught:
        fetch(fake, "qs-json")

    message = str(caught.value)
    assert_names_job(message, "qs-json")
    assert "QUICKSIGHT_JSON" in message
    assert "ExportFormat=CLOUDFORMATION_JSON" in message
    assert "StartAssetBundleExportJob" in message and "export_job_id" in message
    assert job.describes == 1 and describes(emulator) == 1
    assert fake.sleeps == []
    assert job.downloads == 0 and emulator.calls("Download") == []


def test_failed_job_lists_every_error(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    errors = [
        {
            "Arn": f"arn:aws:quicksight:{REGION}:{ACCOUNT}:analysis/missing",
            "Type": "com.amazonaws.services.quicksight.model.ResourceNotFoundException",
            "Message": "Analysis arn:aws:quicksight:us-east-1:111111111111:analysis/missing is not found",
        },
        {
            "Arn": f"arn:aws:quicksight:{REGION}:{ACCOUNT}:datasource/uploaded",
            "Type": "com.amazonaws.services.quicksight.model.InvalidParameterValueException",
            "Message": "Data sources of type FILE cannot be exported",
        },
    ]
    job = emulator.add_job("broken", statuses=["IN_PROGRESS", "FAILED"], errors=errors)

    with pytest.raises(ExportJobFailedError) as caught:
        fetch(fake, "broken")

    message = str(caught.value)
    assert_names_job(message, "broken")
    assert "FAILED with 2 error(s)" in message
    for entry in errors:
        short_type = entry["Type"].rsplit(".", 1)[-1]
        assert f"{entry['Arn']}: {short_type}: {entry['Message']}" in message
    assert "com.amazonaws" not in message
    assert "start a new export" in message
    assert job.describes == 2 and fake.sleeps == [1.0]
    assert (caught.value.job_id, caught.value.account, caught.value.region) == ("broken", ACCOUNT, REGION)
    assert job.downloads == 0


def test_failed_job_without_errors_says_so(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("silent-failure", statuses=["FAILED"])
    with pytest.raises(ExportJobFailedError, match=r"FAILED with 0 error\(s\): QuickSight reported no Errors"):
        fetch(fake, "silent-failure")


def test_job_not_found_names_job_account_and_retention(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    with pytest.raises(ExportJobNotFoundError) as caught:
        fetch(fake, "gone-42")

    message = str(caught.value)
    assert_names_job(message, "gone-42")
    assert f"({REGION})" in message
    assert "not found" in message and "14 days" in message
    assert "start a new export" in message and "export_job_id" in message
    assert describes(emulator) == 1 and fake.sleeps == []
    assert caught.value.evidence == {
        "job_id": "gone-42", "account": ACCOUNT, "region": REGION,
        "operation": "quicksight:DescribeAssetBundleExportJob", "code": "ResourceNotFoundException",
    }  # fmt: skip


def test_unsupported_edition_is_an_access_error_mentioning_enterprise(
    emulator: QuickSightEmulator, fake: FakeTime
) -> None:
    emulator.add_job("standard-edition")
    emulator.fail_account(403, "UnsupportedUserEditionException", "This operation is not supported in STANDARD edition")

    with pytest.raises(AwsAccessError) as caught:
        fetch(fake, "standard-edition")

    message = str(caught.value)
    assert_names_job(message, "standard-edition")
    assert "UnsupportedUserEditionException" in message and "STANDARD edition" in message
    assert "Enterprise" in message and "upgrade" in message
    assert describes(emulator) == 1 and fake.sleeps == []


def test_access_denied_names_the_permission_and_role_arn_advice(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("denied")
    emulator.fail_account(
        401,
        "AccessDeniedException",
        f"User: arn:aws:iam::{ACCOUNT}:user/ci is not authorized to perform: quicksight:DescribeAssetBundleExportJob",
    )

    with pytest.raises(AwsAccessError) as caught:
        fetch(fake, "denied")

    message = str(caught.value)
    assert_names_job(message, "denied")
    assert "AccessDeniedException" in message and "user/ci is not authorized" in message
    assert "quicksight:DescribeAssetBundleExportJob" in message
    assert "grant the caller that permission" in message and "role_arn" in message
    assert describes(emulator) == 1


def test_any_403_is_an_access_error(emulator: QuickSightEmulator) -> None:
    emulator.fail_account(403, "SomeNewForbiddenException", "nope")
    with pytest.raises(AwsAccessError, match="quicksight:DescribeAssetBundleExportJob") as caught:
        describe_export_job(quicksight_client(ref("forbidden"), None), ref("forbidden"))
    assert "SomeNewForbiddenException: nope" in str(caught.value)


def test_other_client_errors_name_the_code_and_what_to_check(emulator: QuickSightEmulator) -> None:
    emulator.fail_account(400, "InvalidParameterValueException", "AwsAccountId is invalid")
    with pytest.raises(ExportJobError) as caught:
        describe_export_job(quicksight_client(ref("bad-params"), None), ref("bad-params"))
    message = str(caught.value)
    assert type(caught.value) is ExportJobError
    assert_names_job(message, "bad-params")
    assert "InvalidParameterValueException: AwsAccountId is invalid" in message
    assert "check the account id, region and job id" in message


def test_unreachable_endpoint_is_a_transient_fault_not_an_export_job_error(
    emulator: QuickSightEmulator, monkeypatch: pytest.MonkeyPatch, instant_botocore_retries: list[float]
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_QUICKSIGHT", f"http://127.0.0.1:{closed_port()}")
    client = quicksight_client(ref("unreachable"), None)
    with pytest.raises(ServiceUnavailableError) as caught:
        describe_export_job(client, ref("unreachable"))
    message = str(caught.value)
    assert_names_job(message, "unreachable")
    assert "cannot reach QuickSight" in message and "EndpointConnectionError" in message
    assert "check the network and region" in message
    # Connection errors were retried by botocore itself, with its (zeroed) backoff.
    assert len(instant_botocore_retries) >= 2


def test_missing_credentials_is_an_access_error(emulator: QuickSightEmulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    emulator.add_job("anonymous")
    with pytest.raises(AwsAccessError) as caught:
        describe_export_job(quicksight_client(ref("anonymous"), None), ref("anonymous"))
    message = str(caught.value)
    assert_names_job(message, "anonymous")
    assert "no AWS credentials (NoCredentialsError: Unable to locate credentials)" in message
    assert "configure AWS credentials (environment, profile or SSO) for the process that runs pulumi" in message
    assert describes(emulator) == 0


# --- timeout ---------------------------------------------------------------------------------


def test_timeout_names_job_last_status_and_seconds_and_never_oversleeps(
    emulator: QuickSightEmulator, fake: FakeTime
) -> None:
    job = emulator.add_job("stuck", statuses=["QUEUED_FOR_IMMEDIATE_EXECUTION", "IN_PROGRESS"])

    with pytest.raises(ExportTimeoutError) as caught:
        fetch(fake, "stuck", export_timeout_seconds=100)

    message = str(caught.value)
    assert_names_job(message, "stuck")
    assert "last status IN_PROGRESS" in message
    assert "within 100 s" in message
    assert f"{job.describes} polls" in message
    assert "timeout_seconds" in message
    # The last sleep is cut to end at the deadline; the last Describe happens at it, none after.
    assert fake.now == pytest.approx(100.0)
    assert sum(fake.sleeps) == pytest.approx(100.0)
    assert fake.sleeps[-1] < fake.sleeps[-2]
    assert job.describes == len(fake.sleeps) + 1 == describes(emulator)
    assert job.downloads == 0


def test_timeout_while_every_describe_is_throttled(
    emulator: QuickSightEmulator, fake: FakeTime, instant_botocore_retries: list[float]
) -> None:
    job = emulator.add_job("throttled-forever", statuses=["IN_PROGRESS"])
    emulator.throttle(10_000)
    client = quicksight_client(ref("throttled-forever"), None)
    attempts = client.meta.config.retries["total_max_attempts"]

    with pytest.raises(ExportTimeoutError) as caught:
        wait_for_export_job(
            client, ref("throttled-forever"), timeout=3, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0
        )

    message = str(caught.value)
    assert_names_job(message, "throttled-forever")
    assert "every Describe call was throttled" in message and "timeout_seconds" in message
    assert fake.sleeps == [1.0, 1.0, 1.0]
    assert describes(emulator) == 4 * attempts
    assert job.describes == 0


# --- throttling ------------------------------------------------------------------------------


def test_client_uses_standard_retries_and_our_user_agent(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("ua", payload=pretty_bytes(sample_template()))
    client = quicksight_client(ref("ua"), None)
    assert client.meta.config.retries["mode"] == "standard"
    assert client.meta.config.retries["total_max_attempts"] == botocore_attempts() >= 8
    assert "quicksight-promotion/" in client.meta.config.user_agent_extra

    fetch(fake, "ua")

    [describe] = emulator.calls(DESCRIBE)
    assert "quicksight-promotion/" in describe["user_agent"]
    [download] = emulator.calls("Download")
    assert download["user_agent"].startswith("quicksight-promotion/")


def test_short_throttling_burst_is_absorbed_by_botocore_with_real_backoff(
    emulator: QuickSightEmulator, fake: FakeTime
) -> None:
    # botocore really sleeps here: rand(0, 1) s for its one retry.
    job = emulator.add_job("busy", statuses=["IN_PROGRESS", "SUCCESSFUL"], payload=pretty_bytes(sample_template()))
    emulator.throttle(1)
    started = time.monotonic()

    result = fetch(fake, "busy")

    assert result.description.status == "SUCCESSFUL"
    assert time.monotonic() - started < 5
    assert describes(emulator) == 1 + 1 + 1  # throttled + its retry (first poll), second poll
    assert job.describes == 2
    assert fake.sleeps == [1.0]  # one poll-level sleep: the throttling cost no poll


@pytest.mark.parametrize("burst", [2, 5])
def test_throttling_burst_within_botocore_attempts_costs_no_poll(
    emulator: QuickSightEmulator, fake: FakeTime, instant_botocore_retries: list[float], burst: int
) -> None:
    job = emulator.add_job("busy", payload=pretty_bytes(sample_template()))
    emulator.throttle(burst)

    fetch(fake, "busy")

    assert describes(emulator) == burst + 1
    assert job.describes == 1
    assert len(instant_botocore_retries) == burst
    # botocore's own throttling backoff: rand * min(2**i, 20), growing bounds.
    assert all(0 <= d <= min(2**i, 20) for i, d in enumerate(instant_botocore_retries))
    assert fake.sleeps == []


def test_describe_raises_throttled_error_only_once_botocore_attempts_are_spent(
    emulator: QuickSightEmulator, instant_botocore_retries: list[float]
) -> None:
    emulator.add_job("hot", statuses=["IN_PROGRESS"])
    client = quicksight_client(ref("hot"), None)
    attempts = client.meta.config.retries["total_max_attempts"]

    emulator.throttle(attempts - 1)
    assert describe_export_job(client, ref("hot")).status == "IN_PROGRESS"
    assert describes(emulator) == attempts

    emulator.throttle(attempts)
    with pytest.raises(ThrottledError) as caught:
        describe_export_job(client, ref("hot"))
    assert describes(emulator) == 2 * attempts
    message = str(caught.value)
    assert_names_job(message, "hot")
    assert "throttled" in message and "Rate exceeded" in message


def test_throttled_error_message_says_what_to_do_next(
    emulator: QuickSightEmulator, instant_botocore_retries: list[float]
) -> None:
    emulator.add_job("hot")
    client = quicksight_client(ref("hot"), None)
    emulator.throttle(client.meta.config.retries["total_max_attempts"])
    with pytest.raises(ThrottledError) as caught:
        describe_export_job(client, ref("hot"))
    assert "re-run" in str(caught.value)


def test_long_throttling_burst_is_a_poll_that_learnt_nothing(
    emulator: QuickSightEmulator, fake: FakeTime, instant_botocore_retries: list[float]
) -> None:
    job = emulator.add_job("hot", statuses=["SUCCESSFUL"], payload=pretty_bytes(sample_template()))
    attempts = botocore_attempts()
    emulator.throttle(attempts)  # the whole first poll is throttled

    result = fetch(fake, "hot")

    assert result.description.status == "SUCCESSFUL"
    assert describes(emulator) == attempts + 1
    assert job.describes == 1
    assert fake.sleeps == [1.0]  # the throttled poll kept the schedule instead of ending the wait


def test_poll_until_treats_throttled_error_as_no_news() -> None:
    fake = FakeTime()
    answers: list[Any] = [ThrottledError("slow"), "IN_PROGRESS", ThrottledError("slow"), ThrottledError("slow"), "SUCCESSFUL"]
    seen: list[float] = []

    def poll() -> str:
        seen.append(fake.now)
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = poll_until(
        poll, lambda s: s == "SUCCESSFUL", timeout=60, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0
    )

    assert outcome.done and outcome.value == "SUCCESSFUL" and outcome.polls == 5
    assert answers == []
    assert fake.sleeps == [1.0] * 4
    assert seen == [0.0, 1.0, 2.0, 3.0, 4.0]


def test_poll_until_keeps_the_last_real_value_when_the_final_poll_is_throttled() -> None:
    fake = FakeTime()
    answers: list[Any] = ["IN_PROGRESS"] + [ThrottledError("slow")] * 100

    def poll() -> str:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = poll_until(poll, lambda s: False, timeout=5, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0)
    assert not outcome.done and outcome.value == "IN_PROGRESS"
    assert outcome.polls == 6 and fake.now == 5.0


# --- downloads -------------------------------------------------------------------------------


def test_expired_url_is_described_again_and_downloaded_fresh(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    job = emulator.add_job("expired-once", payload=payload, expired_downloads=1)

    result = fetch(fake, "expired-once")

    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert job.downloads == 2 and job.describes == 2
    first, second = emulator.calls("Download")
    assert first["path"] != second["path"]  # a fresh pre-signed URL, not the same one again
    assert_secret_free_repr(result)


def test_every_attempt_expired_is_a_download_error_naming_job_and_attempts(
    emulator: QuickSightEmulator, fake: FakeTime
) -> None:
    job = emulator.add_job("always-expired", payload=b"{}", expired_downloads=99)

    with pytest.raises(DownloadError) as caught:
        fetch(fake, "always-expired")

    error = caught.value
    message = str(error)
    assert type(error) is DownloadError
    assert_names_job(message, "always-expired")
    assert "after 3 attempt(s)" in message
    assert "HTTP 403" in message and "expired" in message
    assert "check network access to S3" in message
    assert job.downloads == 3 and job.describes == 3
    assert_secret_free(error)


def test_download_attempts_follow_the_limits(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    job = emulator.add_job("expired-twice", payload=b"{}", expired_downloads=99)
    with pytest.raises(DownloadError, match=r"after 2 attempt\(s\)"):
        fetch(fake, "expired-twice", download_limits=DownloadLimits(attempts=2))
    assert job.downloads == 2 and job.describes == 2


def test_server_error_on_download_is_retried(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    job = emulator.add_job("flaky-s3", payload=payload, download_faults=[500])

    result = fetch(fake, "flaky-s3")

    assert result.downloaded_bytes == len(payload)
    assert job.downloads == 2 and job.describes == 2


def test_persistent_server_error_gives_up_after_the_attempts(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    job = emulator.add_job("broken-s3", payload=b"{}", download_status=500)
    with pytest.raises(DownloadError) as caught:
        fetch(fake, "broken-s3")
    message = str(caught.value)
    assert_names_job(message, "broken-s3")
    assert "after 3 attempt(s)" in message and "HTTP 500" in message
    assert job.downloads == 3
    assert_secret_free(caught.value)


def test_truncated_download_is_retried(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    job = emulator.add_job("cut-off", payload=payload, download_faults=["truncate"])

    result = fetch(fake, "cut-off")

    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert job.downloads == 2


def test_truncated_every_time_names_the_byte_counts(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    emulator.add_job("cut-off", payload=payload, download_faults=["truncate"] * 3)
    with pytest.raises(DownloadError) as caught:
        fetch(fake, "cut-off")
    assert f"ended after {len(payload) // 2:,} of {len(payload):,} bytes" in str(caught.value)
    assert_secret_free(caught.value)


def test_download_without_content_length_is_read_to_the_end(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    emulator.add_job("streamed", payload=payload, send_content_length=False)
    result = fetch(fake, "streamed")
    assert result.downloaded_bytes == len(payload)
    assert result.template.document == sample_template()


def test_connection_refused_is_retried_then_reported_without_the_url(
    emulator: QuickSightEmulator, fake: FakeTime
) -> None:
    job = emulator.add_job(
        "no-s3", download_url=f"http://127.0.0.1:{closed_port()}/bucket/key?X-Amz-Signature=SECRETrefused"
    )
    with pytest.raises(DownloadError) as caught:
        fetch(fake, "no-s3")
    message = str(caught.value)
    assert_names_job(message, "no-s3")
    assert "failed to connect" in message and "after 3 attempt(s)" in message
    assert job.describes == 3
    assert_secret_free(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x?X-Amz-Signature=SECRETftp",
        "http://example.com/x?X-Amz-Signature=SECREThttp",
        "file:///etc/passwd?X-Amz-Signature=SECRETfile",
        "http://127.0.0.1.example.com/x?X-Amz-Signature=SECRETlookalike",
    ],
)
def test_non_https_url_is_refused_without_any_network_request(
    emulator: QuickSightEmulator, fake: FakeTime, network: NetworkLog, url: str
) -> None:
    job = emulator.add_job("odd-url", download_url=url)

    with pytest.raises(DownloadRefusedError) as caught:
        fetch(fake, "odd-url")

    message = str(caught.value)
    assert_names_job(message, "odd-url")
    scheme = url.split(":", 1)[0]
    assert f"{scheme}://" in message and "only https download URLs to an AWS S3 endpoint of the aws partition are followed" in message
    assert job.describes == 1  # refused, not retried
    assert emulator.calls("Download") == []
    assert "example.com" not in network.hosts() and "/etc/passwd" not in network.hosts()
    assert "resolve:" in network.hosts() or "connect:" in network.hosts()  # the log does see Describe
    assert_secret_free(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "https://bucket.s3.amazonaws.com/key?X-Amz-Signature=x",
        "HTTPS://bucket.s3.amazonaws.com/key",
        "https://s3.amazonaws.com/bucket/key",
        "https://bucket.s3.us-west-2.amazonaws.com/key",
        "https://s3.us-west-2.amazonaws.com/bucket/key",
        "https://my.dotted.bucket.s3-eu-west-1.amazonaws.com/key",
        "https://s3-external-1.amazonaws.com/bucket/key",
        "https://bucket.s3.dualstack.ap-southeast-2.amazonaws.com/key",
        "https://bucket.s3-fips.us-gov-west-1.amazonaws.com/key",
        "https://bucket.s3.cn-north-1.amazonaws.com.cn/key",
    ],
)
def test_https_to_an_s3_endpoint_is_allowed(url: str) -> None:
    check_download_url(url)


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://bucket.s3.us-east-1.amazonaws.com/key", "us-east-1"),
        ("https://bucket.s3.amazonaws.com/key", "eu-central-1"),
        ("https://bucket.s3.us-gov-west-1.amazonaws.com/key", "us-gov-west-1"),
        ("https://bucket.s3.cn-northwest-1.amazonaws.com.cn/key", "cn-north-1"),
    ],
)
def test_https_to_an_s3_endpoint_of_the_regions_partition_is_allowed(url: str, region: str) -> None:
    check_download_url(url, region)


@pytest.mark.parametrize(
    ("url", "region", "partition"),
    [
        ("https://bucket.s3.cn-north-1.amazonaws.com.cn/key", "us-east-1", "aws"),
        ("https://bucket.s3.us-east-1.amazonaws.com/key", "cn-north-1", "aws-cn"),
    ],
)
def test_https_to_another_partitions_s3_is_refused(url: str, region: str, partition: str) -> None:
    with pytest.raises(DownloadRefusedError, match=f"to an AWS S3 endpoint of the {partition} partition are followed"):
        check_download_url(url, region)


def test_loopback_http_is_allowed_only_behind_the_test_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    for url in ("http://127.0.0.1:9/x", "http://localhost/x", "http://[::1]:9/x"):
        monkeypatch.setenv(LOOPBACK_DOWNLOADS_SWITCH, "1")
        check_download_url(url)
        monkeypatch.delenv(LOOPBACK_DOWNLOADS_SWITCH)
        with pytest.raises(DownloadRefusedError, match="only https download URLs to an AWS S3 endpoint are followed"):
            check_download_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest",
        "https://169.254.169.254/latest",
        "https://10.0.0.1/x",
        "https://[fd00::1]/x",
        "https://[::1]/x",
        "https://127.0.0.1/x",
        "https://example.com/x",
        "https://bucket.s3.amazonaws.com.example.com/key",
        "https://s3.amazonaws.com.evil/key",
        "https://amazonaws.com/key",
        "https://ec2.us-east-1.amazonaws.com/x",
        "https://bucket.s3.cn-north-1.amazonaws.com/key",
        "http://bucket.s3.amazonaws.com/key",
        "x-amz://bucket/key",
        "//host/path",
        "",
    ],
)
def test_other_urls_are_refused_by_check(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv(LOOPBACK_DOWNLOADS_SWITCH, "1")  # the switch opens loopback http, nothing else
    with pytest.raises(DownloadRefusedError, match="only https download URLs to an AWS S3 endpoint are followed") as caught:
        check_download_url(url)
    assert "/key" not in str(caught.value) and "/latest" not in str(caught.value)


def test_redirect_to_loopback_http_is_followed(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template("Redirected"))
    target = emulator.add_job("redirect-target", payload=payload)
    job = emulator.add_job("redirecting", download_redirect=minted_download_url(emulator, "redirect-target"))

    result = fetch(fake, "redirecting")

    assert result.template.document == sample_template("Redirected")
    assert job.downloads == 1 and target.downloads == 1


def test_redirect_to_a_non_https_url_is_refused_and_not_retried(
    emulator: QuickSightEmulator, fake: FakeTime, network: NetworkLog
) -> None:
    job = emulator.add_job("redirect-out", download_redirect="http://example.com/x?X-Amz-Signature=SECRETredirect")

    with pytest.raises(DownloadRefusedError) as caught:
        fetch(fake, "redirect-out")

    message = str(caught.value)
    assert_names_job(message, "redirect-out")
    assert "http://" in message and "example.com" in message
    assert job.downloads == 1 and job.describes == 1
    assert "example.com" not in network.hosts()
    assert_secret_free(caught.value)


def test_size_over_the_limit_is_refused_and_not_retried(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    job = emulator.add_job("huge", payload=payload)

    with pytest.raises(DownloadRefusedError) as caught:
        fetch(fake, "huge", download_limits=DownloadLimits(max_bytes=100))

    message = str(caught.value)
    assert_names_job(message, "huge")
    assert f"{len(payload):,} bytes" in message and "100 accepted" in message
    assert "export fewer assets per bundle" in message
    assert job.downloads == 1 and job.describes == 1
    assert_secret_free(caught.value)


def test_size_over_the_limit_without_content_length_is_refused_while_streaming(
    emulator: QuickSightEmulator, fake: FakeTime
) -> None:
    job = emulator.add_job("huge-stream", payload=b"x" * 5000, send_content_length=False)
    with pytest.raises(DownloadRefusedError, match="larger than the 1,000 bytes accepted") as caught:
        fetch(fake, "huge-stream", download_limits=DownloadLimits(max_bytes=1000))
    assert_names_job(str(caught.value), "huge-stream")
    assert job.downloads == 1


def test_download_to_reports_hash_and_size(emulator: QuickSightEmulator) -> None:
    payload = b'{"Resources": {"A": {"Type": "x"}}}'
    emulator.add_job("direct", payload=payload)
    sink = io.BytesIO()
    assert download_to(minted_download_url(emulator, "direct"), sink) == (
        hashlib.sha256(payload).hexdigest(),
        len(payload),
    )
    assert sink.getvalue() == payload


def test_no_download_url_on_a_successful_job(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("no-url", omit_download_url=True)
    with pytest.raises(ExportJobError) as caught:
        fetch(fake, "no-url")
    message = str(caught.value)
    assert_names_job(message, "no-url")
    assert "SUCCESSFUL" in message and "no DownloadUrl" in message and "re-run" in message


def test_unusable_file_names_the_job(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("not-json", payload=b"<html>not a template</html>")
    with pytest.raises(BundleFormatError) as caught:
        fetch(fake, "not-json")
    assert_names_job(str(caught.value), "not-json")


def test_unusable_file_is_a_bundle_format_error(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    job = emulator.add_job("not-json", payload=b"<html>not a template</html>")
    with pytest.raises(BundleFormatError, match="not valid JSON"):
        fetch(fake, "not-json")
    assert job.downloads == 1


def test_throttled_re_describe_counts_as_a_failed_download_attempt(
    emulator: QuickSightEmulator, fake: FakeTime, instant_botocore_retries: list[float]
) -> None:
    payload = pretty_bytes(sample_template())
    job = emulator.add_job("hot-and-expired", payload=payload, expired_downloads=1)
    attempts = botocore_attempts()
    original = emulator.download_plan

    def throttle_after_first_download(token: str) -> dict[str, Any]:
        plan = original(token)
        if job.downloads == 1:
            emulator.throttle(attempts)
        return plan

    emulator.download_plan = throttle_after_first_download  # type: ignore[method-assign]

    result = fetch(fake, "hot-and-expired")

    assert result.sha256 == hashlib.sha256(payload).hexdigest()
    assert job.downloads == 2


# --- integrity and secrecy -------------------------------------------------------------------


def test_sha256_mismatch_names_both_hashes_and_is_not_retried(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    payload = pretty_bytes(sample_template())
    actual = hashlib.sha256(payload).hexdigest()
    expected = "AB" * 32
    job = emulator.add_job("tampered", payload=payload)

    with pytest.raises(IntegrityError) as caught:
        fetch(fake, "tampered", expected_sha256=expected)

    message = str(caught.value)
    assert_names_job(message, "tampered")
    assert actual in message and expected.lower() in message
    assert "expected_sha256" in message
    assert job.downloads == 1 and job.describes == 1
    assert_secret_free(caught.value)


def assert_secret_free_repr(result: FetchedExport) -> None:
    description = result.description
    url = description.download_url
    assert url is not None and "SECRET" in url.get_secret_value()  # the secret is there...
    for text in (repr(description), str(description), repr(result), description.model_dump_json(), repr(url), str(url)):
        for marker in SECRET_MARKERS:  # ... but shows nowhere
            assert marker not in text, text


def test_download_url_is_hidden_in_the_description(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("secretive", payload=pretty_bytes(sample_template()))
    result = fetch(fake, "secretive")
    assert_secret_free_repr(result)
    assert "download_url" not in repr(result.description)


# --- credentials and region ------------------------------------------------------------------


def test_role_arn_is_assumed_once_and_signs_quicksight_calls(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("as-role", statuses=["IN_PROGRESS", "SUCCESSFUL"], payload=pretty_bytes(sample_template()))

    fetch(fake, "as-role", source_role_arn=ROLE_ARN)

    [assume] = emulator.calls("AssumeRole")
    assert assume["access_key"] == BASE_KEY_ID
    assert "quicksight-promotion/" in assume["user_agent"]
    keys = [call["access_key"] for call in emulator.calls(DESCRIBE)]
    assert keys == [ASSUMED_KEY_ID, ASSUMED_KEY_ID]


def test_without_role_arn_the_base_credentials_sign(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("as-self", payload=pretty_bytes(sample_template()))

    fetch(fake, "as-self")

    assert emulator.calls("AssumeRole") == []
    assert [call["access_key"] for call in emulator.calls(DESCRIBE)] == [BASE_KEY_ID]


def test_refused_assume_role_is_an_access_error(emulator: QuickSightEmulator, fake: FakeTime) -> None:
    emulator.add_job("no-trust")
    emulator.assume_role_error = (
        403,
        "AccessDenied",
        f"User: arn:aws:iam::{ACCOUNT}:user/ci is not authorized to perform: sts:AssumeRole",
    )

    with pytest.raises(AwsAccessError) as caught:
        fetch(fake, "no-trust", source_role_arn=ROLE_ARN)

    message = str(caught.value)
    assert_names_job(message, "no-trust")
    assert f"sts:AssumeRole on {ROLE_ARN}" in message
    assert "AWS denied the call (AccessDenied: " in message and "not authorized" in message
    assert "grant the caller sts:AssumeRole on the role, and let the role's trust policy trust the caller" in message
    assert len(emulator.calls("AssumeRole")) == 1
    assert describes(emulator) == 0


@pytest.mark.parametrize("role_arn", [None, ROLE_ARN])
def test_no_region_anywhere_is_an_input_error(
    emulator: QuickSightEmulator, fake: FakeTime, monkeypatch: pytest.MonkeyPatch, role_arn: str | None
) -> None:
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    emulator.add_job("nowhere")

    with pytest.raises(InputError) as caught:
        fetch(fake, "nowhere", source_role_arn=role_arn)

    message = str(caught.value)
    assert_names_job(message, "nowhere")
    assert "no AWS region" in message
    assert "region input" in message and "AWS_REGION" in message
    assert emulator.requests == []


def test_region_comes_from_the_environment_when_not_given(emulator: QuickSightEmulator) -> None:
    client = quicksight_client(ref("env-region", region=None), None)
    assert client.meta.region_name == REGION



# --- deadlines: every call fitted to the time left ----------------------------------------------


@pytest.mark.parametrize("remaining", [0.2, 1, 2, 3, 5, 10, 30, 60, 100, 300, 1800, 86400])
def test_a_fitted_call_cannot_outlive_the_time_left(remaining: float) -> None:
    budget = CallBudget()
    connect, read, attempts = budget.fit(remaining)
    worst = CallBudget.worst_case(connect, read, attempts)
    # Every attempt hanging to both timeouts, every botocore backoff at its maximum: still within
    # the time left, or within two of the shortest timeouts when less than that is left.
    assert worst <= max(remaining, 2 * budget.min_timeout) + 1e-6, (connect, read, attempts)
    assert 1 <= attempts <= budget.max_attempts
    assert connect <= budget.connect_timeout and read <= budget.read_timeout


def test_no_deadline_keeps_the_full_client_config() -> None:
    assert CallBudget().fit(None) == (10.0, 30.0, 8)
    assert CallBudget().fit(1800) == (10.0, 30.0, 8)


def test_clients_are_fitted_to_the_deadline(emulator: QuickSightEmulator) -> None:
    fake = FakeTime()
    deadline = Deadline.after(1800, fake.clock)
    clients = quicksight_clients(ref("fitted"), None, deadline)
    long_wait = clients.within(deadline.remaining())
    assert long_wait.meta.config.retries["total_max_attempts"] == 8
    assert clients.within(deadline.remaining()) is long_wait, "an unchanged fit reuses the client"
    fake.now = 1797.0
    short = clients.within(deadline.remaining())
    assert short is not long_wait
    assert short.meta.config.retries["total_max_attempts"] == 1
    assert short.meta.config.connect_timeout + short.meta.config.read_timeout <= 3


def test_call_within_returns_raises_or_gives_up() -> None:
    assert call_within(lambda: 42, 1.0) == 42
    assert call_within(lambda: 43, None) == 43
    with pytest.raises(KeyError):
        call_within(lambda: {}["missing"], 1.0)
    started = time.monotonic()
    with pytest.raises(CallTimeout) as caught:
        call_within(lambda: time.sleep(5), 0.2)
    assert time.monotonic() - started < 2 and caught.value.seconds == 0.2


def test_poll_until_retries_transient_faults_and_reports_the_last() -> None:
    fake = FakeTime()
    answers: list[Any] = [ServiceUnavailableError("HTTP 500"), ThrottledError("slow"), "IN_PROGRESS"]

    def poll() -> str:
        answer = answers.pop(0) if answers else ServiceUnavailableError("reset")
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = poll_until(poll, lambda s: False, timeout=5, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0)
    assert not outcome.done and outcome.value == "IN_PROGRESS"
    assert isinstance(outcome.last_error, ServiceUnavailableError) and str(outcome.last_error) == "reset"


def test_poll_until_lets_a_permanent_fault_through_at_once() -> None:
    fake = FakeTime()

    def poll() -> str:
        raise ExportJobError("permanent")

    with pytest.raises(ExportJobError, match="permanent"):
        poll_until(poll, lambda s: False, timeout=60, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == []


# --- transient and permanent faults of Describe ---------------------------------------------------


def test_5xx_beyond_botocore_is_a_transient_error_naming_the_status(
    emulator: QuickSightEmulator, instant_botocore_retries: list[float]
) -> None:
    emulator.add_job("five-hundred")
    client = quicksight_client(ref("five-hundred"), None)
    emulator.misbehave(*[503] * botocore_attempts())
    with pytest.raises(ServiceUnavailableError) as caught:
        describe_export_job(client, ref("five-hundred"))
    # A fault of the service, not of the job: retried until the deadline, never an ExportJobError.
    assert isinstance(caught.value, TransientError) and not isinstance(caught.value, ExportJobError)
    message = str(caught.value)
    assert_names_job(message, "five-hundred")
    assert "HTTP 503 (InternalFailure: Scripted fault 503)" in message and "re-run later" in message
    assert len(instant_botocore_retries) == botocore_attempts() - 1, "botocore retries 5xx itself first"


def test_a_5xx_burst_longer_than_one_poll_costs_polls_not_the_wait(
    emulator: QuickSightEmulator, fake: FakeTime, instant_botocore_retries: list[float]
) -> None:
    job = emulator.add_job("flaky-quicksight", payload=pretty_bytes(sample_template()))
    emulator.misbehave(*[500] * (botocore_attempts() + 2))
    result = fetch(fake, "flaky-quicksight")
    assert result.description.status == "SUCCESSFUL"
    assert fake.sleeps == [1.0]
    assert describes(emulator) == botocore_attempts() + 3 and job.describes == 1


def test_a_reset_mid_answer_is_transient(emulator: QuickSightEmulator, instant_botocore_retries: list[float]) -> None:
    emulator.add_job("reset")
    client = quicksight_client(ref("reset"), None)
    emulator.misbehave(*["reset"] * botocore_attempts())
    with pytest.raises(ServiceUnavailableError) as caught:
        describe_export_job(client, ref("reset"))
    assert "cannot reach QuickSight" in str(caught.value)


def test_a_truncated_answer_is_transient_not_empty(emulator: QuickSightEmulator, instant_botocore_retries: list[float]) -> None:
    emulator.add_job("cut-answer")
    client = quicksight_client(ref("cut-answer"), None)
    emulator.misbehave("truncated")
    # botocore reads answers without checking Content-Length (it would parse half an object as an
    # empty answer); the hardened client refuses it as a broken connection, which polls retry.
    with pytest.raises(ServiceUnavailableError) as caught:
        describe_export_job(client, ref("cut-answer"))
    assert "the answer ended after" in str(caught.value) and "bytes" in str(caught.value)
    assert describes(emulator) == 1
    assert describe_export_job(client, ref("cut-answer")).status == "SUCCESSFUL"


def test_a_trickled_answer_is_cut_by_the_wall_time_bound(emulator: QuickSightEmulator) -> None:
    emulator.add_job("trickled-answer")
    client = quicksight_client(ref("trickled-answer"), None)
    emulator.misbehave("trickle")
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError) as caught:
        describe_export_job(client, ref("trickled-answer"), within=1.0)
    assert time.monotonic() - started < 3
    assert "quicksight:DescribeAssetBundleExportJob for export job 'trickled-answer'" in str(caught.value)
    assert "QuickSight did not answer within 1 s (an answer that hangs or trickles)" in str(caught.value)


# --- downloads: deadlines, encodings, URLs --------------------------------------------------------


def test_a_trickling_download_ends_at_its_time_limit(emulator: QuickSightEmulator) -> None:
    emulator.add_job("trickled", payload=pretty_bytes(sample_template()), download_faults=["trickle"])
    started = time.monotonic()
    with pytest.raises(DownloadRefusedError) as caught:
        download_to(minted_download_url(emulator, "trickled"), io.BytesIO(), limits=DownloadLimits(timeout=1.0))
    assert time.monotonic() - started < 3
    assert "did not finish within 1 s" in str(caught.value) and "bytes received" in str(caught.value)
    assert_secret_free(caught.value)


def test_no_time_left_downloads_nothing(emulator: QuickSightEmulator) -> None:
    fake = FakeTime()
    emulator.add_job("late", payload=b"{}")
    deadline = Deadline.after(5, fake.clock)
    fake.now = 6.0
    with pytest.raises(DownloadRefusedError, match="no time was left"):
        download_to(minted_download_url(emulator, "late"), io.BytesIO(), clock=fake.clock, deadline=deadline)
    assert emulator.calls("Download") == []


def test_gzip_decoding_is_bounded_by_max_bytes(emulator: QuickSightEmulator) -> None:
    bomb = b"{" + b" " * 5_000_000 + b"}"
    emulator.add_job("gzip-bomb", payload=bomb, download_faults=["gzip"])
    sink = io.BytesIO()
    with pytest.raises(DownloadRefusedError, match="larger than the 100,000 bytes accepted"):
        download_to(minted_download_url(emulator, "gzip-bomb"), sink, limits=DownloadLimits(max_bytes=100_000))
    assert len(sink.getvalue()) <= 100_001


def test_a_corrupt_gzip_encoding_is_a_download_error(emulator: QuickSightEmulator) -> None:
    emulator.add_job("bad-gzip", payload=b"this is not gzip at all", download_faults=[("encoding", "gzip")])
    with pytest.raises(DownloadError, match="gzip Content-Encoding is corrupt"):
        download_to(minted_download_url(emulator, "bad-gzip"), io.BytesIO())


def test_a_download_url_that_cannot_be_parsed_is_never_quoted() -> None:
    url = "http://[::1/x?X-Amz-Signature=" + "SEC" + "RETipv6"  # not literal: the traceback shows this line
    with pytest.raises(DownloadError) as caught:
        check_download_url(url)
    assert "cannot be parsed" in str(caught.value)
    assert_secret_free(caught.value)


def test_assume_role_5xx_is_retried_until_it_answers(
    emulator: QuickSightEmulator, fake: FakeTime, instant_botocore_retries: list[float]
) -> None:
    emulator.add_job("role-flaky", payload=pretty_bytes(sample_template()))
    emulator.assume_role_error = (503, "ServiceUnavailable", "Try again")
    answered: list[int] = []

    def recover(seconds: float) -> None:
        fake.sleep(seconds)
        emulator.assume_role_error = None
        answered.append(len(emulator.calls("AssumeRole")))

    result = fetch_export(inputs("role-flaky", source_role_arn=ROLE_ARN), sleep=recover, clock=fake.clock, draw=lambda: 0.0)
    assert result.description.status == "SUCCESSFUL"
    assert answered and answered[0] >= 2, "botocore retried the 503 itself before the poll schedule did"
    assert fake.sleeps[0] == 1.0


def test_assume_role_5xx_until_the_deadline_is_a_timeout_naming_the_fault(
    emulator: QuickSightEmulator, fake: FakeTime, instant_botocore_retries: list[float]
) -> None:
    emulator.add_job("role-down")
    emulator.assume_role_error = (503, "ServiceUnavailable", "Try again")
    with pytest.raises(ExportTimeoutError) as caught:
        fetch(fake, "role-down", source_role_arn=ROLE_ARN, export_timeout_seconds=5)
    message = str(caught.value)
    assert_names_job(message, "role-down")
    assert f"sts:AssumeRole on {ROLE_ARN} for export job 'role-down'" in message
    assert "no usable answer within export_timeout_seconds (5 s)" in message
    assert "STS answered HTTP 503 (ServiceUnavailable: Try again) beyond botocore's retries" in message
    assert "raise export_timeout_seconds" in message
    assert fake.now == pytest.approx(5.0)


def test_a_multi_member_gzip_encoding_is_decoded_whole(emulator: QuickSightEmulator) -> None:
    import gzip

    payload = pretty_bytes(sample_template())
    job = emulator.add_job("two-members", payload=b"", download_faults=[("encoding", "gzip")])
    job.payload = gzip.compress(payload[:100]) + gzip.compress(payload[100:])
    sink = io.BytesIO()
    digest, size = download_to(minted_download_url(emulator, "two-members"), sink)
    assert sink.getvalue() == payload and size == len(payload)
    assert digest == hashlib.sha256(payload).hexdigest()


def test_a_truncated_gzip_encoding_is_a_download_error(emulator: QuickSightEmulator) -> None:
    import gzip

    job = emulator.add_job("cut-gzip", payload=b"", download_faults=[("encoding", "gzip")])
    job.payload = gzip.compress(pretty_bytes(sample_template()))[:-12]
    with pytest.raises(DownloadError, match="ended before its end marker"):
        download_to(minted_download_url(emulator, "cut-gzip"), io.BytesIO())


@pytest.mark.parametrize(("errno", "transient"), [(socket.EAI_NONAME, False), (socket.EAI_AGAIN, True)])
def test_a_host_that_does_not_exist_fails_at_once_a_dns_hiccup_is_retried(
    emulator: QuickSightEmulator,
    monkeypatch: pytest.MonkeyPatch,
    instant_botocore_retries: list[float],
    errno: int,
    transient: bool,
) -> None:
    # A region without QuickSight, or a mistyped endpoint, is a host DNS says does not exist.
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "quicksight.nowhere.example":
            raise socket.gaierror(errno, "scripted resolver answer")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.setenv("AWS_ENDPOINT_URL_QUICKSIGHT", "http://quicksight.nowhere.example")
    client = quicksight_client(ref("nowhere"), None)
    with pytest.raises((ExportJobError, TransientError)) as caught:
        describe_export_job(client, ref("nowhere"))
    assert isinstance(caught.value, TransientError) is transient
    assert "cannot reach QuickSight" in str(caught.value) and "check the network and region" in str(caught.value)
    assert ("cannot reach QuickSight: the endpoint's host does not exist" in str(caught.value)) is not transient
    assert ("QuickSight is not offered in every region" in str(caught.value)) is not transient
