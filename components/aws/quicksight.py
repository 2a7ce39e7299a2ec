"""QuickSight asset-bundle export jobs: describe, wait, download and unpack (the export half)."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError
from pydantic import ValidationError

from ..core.bundle import DEFAULT_LIMITS, BundleLimits, Template, unpack_bundle
from ..core.models import CLOUDFORMATION_JSON, ExportInputs, ExportJobDescription
from ..core.polling import DEFAULT_BACKOFF, Backoff, Deadline, poll_until
from ..errors import (
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
    MalformedAnswerError,
    ServiceUnavailableError,
    ThrottledError,
    TransientError,
    clean,
    listing,
)
from .download import DEFAULT_DOWNLOAD_LIMITS, DownloadLimits, download_to
from .session import (
    BROKEN_ANSWER_ERRORS,
    MALFORMED_ANSWER_ERRORS,
    CLIENT_CONFIG,
    DEFAULT_CALL_BUDGET,
    THROTTLING_CODES,
    BudgetedClients,
    CallBudget,
    CallTimeout,
    call_within,
    error_code,
    harden,
    is_access_error,
    is_transient,
    is_unknown_host,
    session,
)

DESCRIBE = "DescribeAssetBundleExportJob"
# What a malformed Describe answer asks of the user: it is not QuickSight's documented shape, so
# something between us and QuickSight (an endpoint override, a proxy) answered instead.
_MALFORMED_ADVICE = (
    "this is not QuickSight's documented answer: check AWS_ENDPOINT_URL_QUICKSIGHT, proxies (HTTPS_PROXY) "
    "and the region, then re-run"
)


# The download is held in memory up to this size, then on disk (a typical template, ~0.5 MB, stays in memory).
SPOOL_MEMORY_BYTES = 2 * 1024 * 1024


class _Spool(tempfile.SpooledTemporaryFile):  # type: ignore[type-arg]
    """A spooled temporary file that says it is seekable (Python 3.10's lacks ``seekable``, which zipfile needs)."""

    def seekable(self) -> bool:
        return True


@dataclass(frozen=True)
class FetchedExport:
    """A finished export job and its unpacked template."""

    description: ExportJobDescription
    template: Template
    sha256: str
    downloaded_bytes: int


@dataclass(frozen=True)
class JobRef:
    """Names an export job in messages: ``export job 'id' in account 123 (us-east-1)``."""

    account: str
    job_id: str
    region: str | None

    def __str__(self) -> str:
        where = f" ({self.region})" if self.region else ""
        return f"export job '{self.job_id}' in account {self.account}{where}"


def quicksight_client(ref: JobRef, role_arn: str | None, config: Any = CLIENT_CONFIG) -> Any:
    """Create a QuickSight client for ``ref``'s region (or the chain's), assuming ``role_arn`` if given."""
    session_name = f"quicksight-promotion-{ref.job_id}"[:64]
    return _translating_client_errors(
        ref, role_arn, lambda: harden(session(ref.region, role_arn, session_name).client("quicksight", config=config))
    )


def quicksight_clients(
    ref: JobRef, role_arn: str | None, deadline: Deadline, budget: CallBudget = DEFAULT_CALL_BUDGET
) -> BudgetedClients:
    """QuickSight clients whose every call fits the time left before ``deadline`` (AssumeRole included).

    Raises:
        InputError: no region anywhere.
        AwsAccessError: no credentials, or AssumeRole refused.
        ServiceUnavailableError: STS could not be reached, or answered 5xx.
        MalformedAnswerError: STS's answer could not be read.
    """
    session_name = f"quicksight-promotion-{ref.job_id}"[:64]

    def make() -> BudgetedClients:
        # With role_arn, session() calls AssumeRole at once: its client is fitted to the time
        # left, and the whole step is bounded in wall time like any call.
        base = session(ref.region, role_arn, session_name, sts_config=budget.config(deadline.remaining()))
        clients = BudgetedClients(lambda config: base.client("quicksight", config=config), budget)
        clients.within(deadline.remaining())  # resolves the region now, so that a missing one fails here
        return clients

    within = max(deadline.remaining(), 0.0) + budget.min_timeout
    try:
        return _translating_client_errors(ref, role_arn, lambda: call_within(make, within))
    except CallTimeout:
        raise ServiceUnavailableError(
            f"STS did not answer AssumeRole of {role_arn} for {ref} within {within:.0f} s: check the network and "
            "proxies between this machine and STS, then re-run"
        ) from None


def _translating_client_errors(ref: JobRef, role_arn: str | None, make: Callable[[], Any]) -> Any:
    """``make()``, with the errors of making a client (region, credentials, AssumeRole) made ours."""
    try:
        return make()
    except NoRegionError as exc:
        raise InputError(
            f"no AWS region for {ref}: set the resource's region input, or AWS_REGION / a profile region "
            "in the environment that runs pulumi"
        ) from exc
    except ClientError as exc:
        if is_transient(exc):
            code, message = error_code(exc)
            raise ServiceUnavailableError(
                f"STS AssumeRole of {role_arn} for {ref} met a transient fault ({code}: {clean(message)}) "
                "beyond botocore's retries: re-run in a few minutes"
            ) from exc
        raise _access_error(exc, f"sts:AssumeRole on {role_arn}", ref) from exc
    except (NoCredentialsError, BotoCoreError) as exc:
        if is_transient(exc):
            raise ServiceUnavailableError(
                f"cannot reach STS to assume {role_arn} for {ref} ({type(exc).__name__}: {clean(exc)}): "
                "check the network, then re-run"
            ) from exc
        raise AwsAccessError(
            f"cannot create AWS credentials for {ref}"
            f"{f' as role {role_arn}' if role_arn else ''} ({type(exc).__name__}: {clean(exc)}): "
            "configure AWS credentials (environment, profile or SSO) for the process that runs pulumi"
        ) from exc
    except (ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
        # A malformed STS answer fails inside botocore's parser with these.
        raise MalformedAnswerError(
            f"STS AssumeRole of {role_arn} for {ref} gave an answer that cannot be read "
            f"({type(exc).__name__}): check AWS_ENDPOINT_URL_STS and proxies, then re-run"
        ) from exc


def _access_error(exc: ClientError, action: str, ref: JobRef) -> AwsAccessError:
    code, message = error_code(exc)
    return AwsAccessError(
        f"AWS denied {action} for {ref} ({code}: {message}): grant the caller that permission, "
        "or set role_arn to a role in the source account that has it"
    )


def describe_export_job(client: Any, ref: JobRef, *, within: float | None = None) -> ExportJobDescription:
    """Call DescribeAssetBundleExportJob once and translate its errors.

    Transient faults (throttling, 5xx, resets, timeouts, a body cut mid-way) that outlast
    botocore's attempts raise a ``TransientError``, which the poll loop retries until its
    deadline; anything else fails at once with its own advice.

    Args:
        client: A QuickSight client.
        ref: The job.
        within: Wall-time bound of the call, seconds (None: the client's own timeouts only).

    Raises:
        ExportJobNotFoundError, AwsAccessError, ExportJobError: permanent faults.
        ThrottledError, ServiceUnavailableError: transient faults (both are ``TransientError``).
        MalformedAnswerError: the answer is not of the documented shape.
    """
    try:
        response = call_within(
            lambda: client.describe_asset_bundle_export_job(AwsAccountId=ref.account, AssetBundleExportJobId=ref.job_id),
            within,
        )
    except CallTimeout as exc:
        raise ServiceUnavailableError(
            f"QuickSight did not answer {DESCRIBE} for {ref} within {exc.seconds:.0f} s (an answer that hangs or "
            "trickles): check the network and proxies between this machine and QuickSight"
        ) from None
    except ClientError as exc:
        code, message = error_code(exc)
        message = clean(message)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in THROTTLING_CODES or status == 429:
            raise ThrottledError(
                f"QuickSight throttled {DESCRIBE} for {ref} ({message}) beyond botocore's retries: "
                "wait a minute and re-run; fewer stacks polling the same account at once also helps"
            ) from exc
        if is_transient(exc):
            raise ServiceUnavailableError(
                f"QuickSight answered {DESCRIBE} for {ref} with HTTP {status} ({code}: {message}) beyond "
                "botocore's retries: a QuickSight-side fault; re-run later, or check the AWS Health Dashboard"
            ) from exc
        if code == "ResourceNotFoundException":
            raise ExportJobNotFoundError(
                f"{ref} was not found ({message}): QuickSight keeps export job descriptions for only 14 days; "
                "start a new export with ExportFormat=CLOUDFORMATION_JSON and set export_job_id to its id"
            ) from exc
        if code == "UnsupportedUserEditionException":
            raise AwsAccessError(
                f"QuickSight in account {ref.account} refused {ref} ({code}: {message}): asset bundle export "
                "jobs need QuickSight Enterprise edition; upgrade the source account's subscription"
            ) from exc
        if is_access_error(exc):
            raise _access_error(exc, "quicksight:DescribeAssetBundleExportJob", ref) from exc
        raise ExportJobError(
            f"DescribeAssetBundleExportJob for {ref} failed ({code}: {message}): check the account id, "
            "region and job id, then re-run"
        ) from exc
    except NoCredentialsError as exc:
        raise AwsAccessError(
            f"no AWS credentials to describe {ref}: configure credentials (environment, profile or SSO) "
            "for the process that runs pulumi"
        ) from exc
    except BotoCoreError as exc:
        if is_transient(exc):
            raise ServiceUnavailableError(
                f"cannot reach QuickSight to describe {ref} ({type(exc).__name__}: {clean(exc)}): check the "
                "network and region, then re-run"
            ) from exc
        unknown = (
            "the endpoint's host does not exist (QuickSight is not offered in every region); " if is_unknown_host(exc) else ""
        )
        raise ExportJobError(
            f"cannot reach QuickSight to describe {ref} ({type(exc).__name__}: {clean(exc)}): {unknown}check the "
            "network and region, then re-run"
        ) from exc
    except BROKEN_ANSWER_ERRORS as exc:
        raise ServiceUnavailableError(
            f"the connection to QuickSight broke while reading its answer to {DESCRIBE} for {ref} "
            f"({type(exc).__name__}): check the network and proxies, then re-run"
        ) from exc
    except MALFORMED_ANSWER_ERRORS as exc:
        raise MalformedAnswerError(
            f"QuickSight's answer to {DESCRIBE} for {ref} cannot be parsed ({type(exc).__name__}: "
            f"{clean(exc, 200)}): {_MALFORMED_ADVICE}"
        ) from exc
    if not isinstance(response, dict):
        raise MalformedAnswerError(f"QuickSight's answer to {DESCRIBE} for {ref} is not an object: {_MALFORMED_ADVICE}")
    try:
        return ExportJobDescription.model_validate(response)
    except ValidationError as exc:
        problems = [_field_problem(item) for item in exc.errors()]
        raise MalformedAnswerError(
            f"QuickSight's answer to {DESCRIBE} for {ref} is not of the documented shape "
            f"({listing(problems, limit=5)}): {_MALFORMED_ADVICE}"
        ) from None


def _field_problem(item: Any) -> str:
    """``Field: what is wrong`` for one pydantic error, without the value (it could hold the URL)."""
    where = ".".join(str(part) for part in item.get("loc", ())) or "answer"
    if item.get("type") == "missing":
        return f"{where} is missing"
    return f"{where}: {item.get('msg', 'invalid')}"


def _check_format(description: ExportJobDescription, ref: JobRef) -> None:
    """Refuse any format but CLOUDFORMATION_JSON, and an answer that names none."""
    if description.export_format is None:
        raise ExportFormatError(
            f"QuickSight's answer for {ref} names no ExportFormat, so it cannot be confirmed to be "
            f"{CLOUDFORMATION_JSON}: check the endpoint (AWS_ENDPOINT_URL_QUICKSIGHT) and re-run, or start a new "
            f"export with ExportFormat={CLOUDFORMATION_JSON} and set export_job_id to it"
        )
    if description.export_format != CLOUDFORMATION_JSON:
        raise ExportFormatError(
            f"{ref} was exported as {clean(description.export_format, 100)}, not {CLOUDFORMATION_JSON}: start a new "
            f"StartAssetBundleExportJob with ExportFormat={CLOUDFORMATION_JSON} for the same ResourceArns "
            "and set export_job_id to it"
        )


def _check_not_failed(description: ExportJobDescription, ref: JobRef) -> None:
    """Raise ExportJobFailedError for a FAILED job, listing its first errors and counting the rest."""
    if description.status != "FAILED":
        return
    errors = listing((e.describe() for e in description.errors)) or "QuickSight reported no Errors"
    raise ExportJobFailedError(
        f"{ref} FAILED with {len(description.errors):,} error(s): {errors}; fix the assets (exports fail on "
        "definition errors and unsupported data sources) and start a new export"
    )


def _client_for(client: Any, deadline: Deadline | None) -> Any:
    """The client to call now: fitted to the time left when ``client`` is a ``BudgetedClients``."""
    if isinstance(client, BudgetedClients):
        return client.within(deadline.remaining() if deadline else None)
    return client


def _within(client: Any, deadline: Deadline) -> float | None:
    """Wall-time bound of one call: the time left plus one short request timeout (None for a plain client)."""
    if not isinstance(client, BudgetedClients):
        return None
    return max(deadline.remaining(), 0.0) + client.budget.min_timeout


def wait_for_export_job(
    client: Any,
    ref: JobRef,
    *,
    timeout: float,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
    deadline: Deadline | None = None,
    progress: Callable[[str], None] | None = None,
) -> ExportJobDescription:
    """Poll until the job is SUCCESSFUL; refuse other formats as soon as they are seen.

    Args:
        client: A QuickSight client, or ``BudgetedClients`` whose calls are fitted to the time left.
        ref: The job.
        timeout: Seconds to wait (ignored when ``deadline`` is given).
        backoff, sleep, clock, draw: The poll schedule and its injectable time.
        deadline: The bound of the whole operation this wait is part of.
        progress: Told each status seen (``"IN_PROGRESS after 12 s"``), e.g. to show it on stderr.

    Raises:
        ExportFormatError, ExportJobFailedError, ExportTimeoutError and describe's permanent errors.
    """
    deadline = deadline or Deadline.after(timeout, clock)
    started = clock()

    def poll() -> ExportJobDescription:
        description = describe_export_job(_client_for(client, deadline), ref, within=_within(client, deadline))
        _check_format(description, ref)
        if progress is not None:
            progress(f"{clean(description.status, 100)} after {clock() - started:.0f} s")
        return description

    outcome = poll_until(
        poll, lambda d: d.done, timeout=deadline.remaining(), backoff=backoff, sleep=sleep, clock=clock, draw=draw
    )
    description = outcome.value
    if not outcome.done or description is None:
        if description:
            last = clean(description.status, 100)
        elif isinstance(outcome.last_error, ThrottledError):
            last = "unknown (every Describe call was throttled)"
        else:
            last = "unknown (no Describe call was answered)"
        fault = f"; last fault: {clean(outcome.last_error, 400)}" if outcome.last_error else ""
        raise ExportTimeoutError(
            f"{ref} did not finish within {deadline.seconds:.0f} s (last status {last}, {outcome.polls} polls"
            f"{fault}): raise timeout_seconds, or check the job in QuickSight"
        )
    _check_not_failed(description, ref)
    return description


def fetch_export(
    inputs: ExportInputs,
    *,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
    bundle_limits: BundleLimits = DEFAULT_LIMITS,
    download_limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
    call_budget: CallBudget = DEFAULT_CALL_BUDGET,
    progress: Callable[[str], None] | None = None,
) -> FetchedExport:
    """Wait for an export job, download its file right away and unpack the template.

    ``progress``, if given, is told each job status seen while waiting.

    ``inputs.timeout_seconds`` bounds the whole fetch (AssumeRole, the wait, the re-describes and
    the downloads): every call and every socket read is fitted to the time left, so the fetch
    ends within it plus at most one short request timeout (``call_budget.min_timeout``).

    A refused or broken download is retried with a freshly described URL (each Describe signs a
    new one, valid 5 minutes), up to ``download_limits.attempts`` times; each fresh answer is
    checked again (format, FAILED) as the first one was.

    Raises:
        ExportTimeoutError: the deadline passed (waiting, or downloading).
        DownloadError, DownloadRefusedError, IntegrityError, BundleFormatError, and the errors of
        ``wait_for_export_job``.
    """
    deadline = Deadline.after(inputs.timeout_seconds, clock)
    ref = JobRef(inputs.aws_account_id, inputs.export_job_id, inputs.region)
    # AssumeRole (with role_arn) is a call like any other: its transient faults are retried on
    # the poll schedule until the deadline.
    made = poll_until(
        lambda: quicksight_clients(ref, inputs.role_arn, deadline, call_budget),
        lambda _clients: True,
        timeout=max(deadline.remaining(), 0.0),
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        draw=draw,
    )
    if not made.done or made.value is None:
        raise ExportTimeoutError(
            f"no QuickSight client for {ref} within timeout_seconds ({deadline.seconds:.0f} s) "
            f"({made.polls} attempts; last fault: {clean(made.last_error, 400)}): raise timeout_seconds, or check "
            "network access to STS"
        )
    clients = made.value
    ref = JobRef(ref.account, ref.job_id, clients.within(deadline.remaining()).meta.region_name)
    description = wait_for_export_job(
        clients, ref, timeout=inputs.timeout_seconds, backoff=backoff, sleep=sleep, clock=clock, draw=draw,
        deadline=deadline, progress=progress,
    )
    return download_export(
        clients,
        ref,
        description,
        deadline=deadline,
        expected_sha256=inputs.expected_sha256,
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        bundle_limits=bundle_limits,
        download_limits=download_limits,
        grace=call_budget.min_timeout,
    )


def download_export(
    client: Any,
    ref: JobRef,
    description: ExportJobDescription,
    *,
    deadline: Deadline,
    expected_sha256: str | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    bundle_limits: BundleLimits = DEFAULT_LIMITS,
    download_limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
    grace: float = DEFAULT_CALL_BUDGET.min_timeout,
) -> FetchedExport:
    """Download and unpack the file of a SUCCESSFUL job (``description`` from ``wait_for_export_job``).

    Shared by ``fetch_export`` and the release path (``aws.release_cut``). A refused or broken download
    is retried with a freshly described URL (each Describe signs a new one, valid 5 minutes), up
    to ``download_limits.attempts`` times, all before ``deadline``; each fresh answer is checked
    again (format, FAILED) as the first one was.

    Args:
        client: A QuickSight client, or ``BudgetedClients`` whose calls are fitted to the time left.
        ref: The job.
        description: Its SUCCESSFUL description, with a fresh DownloadUrl.
        deadline: The bound of the whole operation.
        expected_sha256: Refuse other bytes.
        backoff, sleep, clock: The pause between attempts and its injectable time.
        bundle_limits, download_limits: Bounds of the download and of unpacking.
        grace: Seconds a job seen SUCCESSFUL at the very deadline still gets to be downloaded.
    """
    # A job seen SUCCESSFUL at the very end of the wait still gets one short request timeout to
    # be downloaded: its URL is fresh now, and only now.
    deadline = Deadline(max(deadline.at, clock() + grace), deadline.seconds, clock)
    clients = client
    last_error: DownloadError | TransientError | None = None
    for attempt in range(1, download_limits.attempts + 1):
        if attempt > 1:
            # A short pause so that a failing S3 endpoint is not hammered (cut at the deadline);
            # the fresh Describe then signs a new URL (each one is valid for 5 minutes).
            sleep(max(0.0, min(backoff.first, deadline.remaining())))
            if deadline.passed:
                break
            try:
                description = describe_export_job(
                    _client_for(clients, deadline), ref, within=_within(clients, deadline)
                )
            except TransientError as exc:
                last_error = exc
                continue
            # The fresh answer is held to the same checks as the first one.
            _check_format(description, ref)
            _check_not_failed(description, ref)
        if description.status != "SUCCESSFUL" or description.download_url is None:
            raise ExportJobError(
                f"{ref} is {clean(description.status, 100)} but QuickSight gave no DownloadUrl: re-run, or start "
                "a new export"
            )
        if deadline.passed:
            break
        # Spool to memory, then to disk past 2 MiB (a typical template, ~0.5 MB, stays in
        # memory): the file is held once, and a zip is opened from the spool, never copied.
        with _Spool(max_size=SPOOL_MEMORY_BYTES) as spool:
            try:
                sha256, size = download_to(
                    description.download_url.get_secret_value(),
                    spool,
                    limits=download_limits,
                    clock=clock,
                    deadline=deadline,
                )
            except DownloadRefusedError as exc:
                if deadline.passed:
                    raise ExportTimeoutError(
                        f"the template of {ref} was not downloaded within timeout_seconds ({deadline.seconds:.0f} s): "
                        f"{exc}; raise timeout_seconds, or check network access to S3 from the machine that runs pulumi"
                    ) from None
                raise DownloadRefusedError(
                    f"cannot download the template of {ref}: {exc}; export fewer assets per bundle or "
                    "check the QuickSight endpoint configuration"
                ) from None
            except DownloadError as exc:
                # Expired or refused signatures, 5xx answers and broken connections: a fresh
                # Describe signs a new URL, so the next attempt starts clean.
                last_error = exc
                continue
            if expected_sha256 and sha256 != expected_sha256:
                raise IntegrityError(
                    f"the template of {ref} hashes to sha256 {sha256}, not the expected {expected_sha256}: "
                    "refusing bytes other than the pinned ones; export the same bundle again or update "
                    "expected_sha256"
                )
            try:
                template = unpack_bundle(spool, limits=bundle_limits)
            except BundleFormatError as exc:
                raise BundleFormatError(f"the template of {ref}: {exc}") from exc
            return FetchedExport(description=description, template=template, sha256=sha256, downloaded_bytes=size)
    if deadline.passed:
        raise ExportTimeoutError(
            f"the template of {ref} was not downloaded within timeout_seconds ({deadline.seconds:.0f} s)"
            f"{f' (last fault: {last_error})' if last_error else ''}: raise timeout_seconds, or check network "
            "access to S3 from the machine that runs pulumi"
        ) from None
    raise DownloadError(
        f"cannot download the template of {ref} after {download_limits.attempts} attempt(s): {last_error}; "
        "check network access to S3 from the machine that runs pulumi, then re-run"
    ) from None
