"""QuickSight asset-bundle export jobs: describe, wait, download and unpack (the export half).

Every QuickSight and STS call goes through the call layer (``calls.Calls``): fitted to the time
left, bounded in wall time, its failures read through QuickSight's (or STS's) table.
"""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Optional, Union

from pydantic import ValidationError

from ..core.bundle import DEFAULT_LIMITS, BundleLimits, Template, unpack_bundle
from ..core.models import CLOUDFORMATION_JSON, ExportInputs, ExportJobDescription
from ..core.polling import DEFAULT_BACKOFF, Backoff, Deadline, poll_until
from ..core.types import role_session_name
from ..errors import (
    BundleFormatError,
    DownloadError,
    DownloadRefusedError,
    ExportFormatError,
    ExportJobError,
    ExportJobFailedError,
    ExportJobNotFoundError,
    IntegrityError,
    ThrottledError,
    TransientError,
    clean,
    listing,
)
from .calls import EXPORT, NOT_FOUND, QUICKSIGHT, Calls, Expected, Purpose
from .download import DEFAULT_DOWNLOAD_LIMITS, DownloadLimits, download_to
from .session import CLIENT_CONFIG, DEFAULT_CALL_BUDGET, BudgetedClients, CallBudget, harden

DESCRIBE = "DescribeAssetBundleExportJob"

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

    @property
    def evidence(self) -> dict[str, Optional[str]]:
        """The evidence an error about this job carries."""
        return {"job_id": self.job_id, "account": self.account, "region": self.region}

    @property
    def session_name(self) -> str:
        """The STS role session name of calls for this job (shown in CloudTrail)."""
        return role_session_name("qsp-export", self.job_id)


def job_calls(
    ref: JobRef,
    purpose: Purpose = EXPORT,
    *,
    deadline: Optional[Deadline] = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> Calls:
    """The calls made for an export job (or a release's job), within ``deadline``, retried on ``backoff``."""
    return Calls(purpose, str(ref), ref.evidence, deadline, backoff, sleep, draw)


def quicksight_client(
    ref: JobRef, role_arn: str | None, config: Any = CLIENT_CONFIG, external_id: str | None = None
) -> Any:
    """A QuickSight client for ``ref``'s region (or the chain's), assuming ``role_arn`` if given (no deadline).

    Raises:
        InputError: no region anywhere.
        AwsAccessError: no credentials, or AssumeRole refused.
        ServiceUnavailableError, MalformedAnswerError: STS could not be reached, or answered wrong.
    """
    base = job_calls(ref).open_session(ref.region, role_arn, ref.session_name, external_id=external_id)
    return harden(base.client("quicksight", config=config))


def quicksight_clients(
    ref: JobRef,
    role_arn: str | None,
    deadline: Deadline,
    budget: CallBudget = DEFAULT_CALL_BUDGET,
    *,
    calls: Optional[Calls] = None,
    external_id: Optional[str] = None,
) -> BudgetedClients:
    """QuickSight clients whose every call fits the time left before ``deadline`` (AssumeRole included).

    AssumeRole's transient faults are retried until the deadline (on ``calls``' schedule).

    Raises:
        InputError: no region anywhere.
        AwsAccessError: no credentials, or AssumeRole refused.
        ExportTimeoutError: STS kept failing transiently until the deadline.
        MalformedAnswerError: STS's answer could not be read.
    """
    calls = replace(calls or job_calls(ref), deadline=deadline)
    base = calls.open_session(ref.region, role_arn, ref.session_name, budget=budget, external_id=external_id)
    return BudgetedClients(lambda config: base.client("quicksight", config=config), budget)


def describe_export_job(
    client: Any, ref: JobRef, *, within: float | None = None, calls: Optional[Calls] = None
) -> ExportJobDescription:
    """Call DescribeAssetBundleExportJob once (``calls.Calls.call``) and check its answer's shape.

    Transient faults (throttling, 5xx, resets, timeouts, a body cut mid-way) that outlast
    botocore's attempts raise a ``TransientError``, which the poll loop retries until its
    deadline; anything else fails at once with its own advice.

    Args:
        client: A QuickSight client, or ``BudgetedClients`` (fitted to ``calls``' deadline).
        ref: The job.
        within: Wall-time bound of the call, seconds (None: the deadline's, or the client's timeouts only).
        calls: The calls of the operation this describe is part of (its deadline, its purpose).

    Raises:
        ExportJobNotFoundError, AwsAccessError, ExportJobError: permanent faults.
        ThrottledError, ServiceUnavailableError: transient faults (both are ``TransientError``).
        MalformedAnswerError: the answer is not of the documented shape.
    """
    calls = calls or job_calls(ref)
    answer = calls.call(
        client,
        QUICKSIGHT,
        DESCRIBE,
        expect=(NOT_FOUND,),
        refused="check the account id, region and job id, then re-run",
        retry=False,
        within=within,
        AwsAccountId=ref.account,
        AssetBundleExportJobId=ref.job_id,
    )
    if isinstance(answer, Expected):
        raise ExportJobNotFoundError(
            f"{ref} was not found ({answer.message}): QuickSight keeps export job descriptions for only 14 days; "
            "start a new export with ExportFormat=CLOUDFORMATION_JSON and set export_job_id to its id",
            **ref.evidence,
            operation=f"quicksight:{DESCRIBE}",
            code=answer.code,
        )
    try:
        return ExportJobDescription.model_validate(answer)
    except ValidationError as exc:
        # The problems name fields, never values (a value could be the download URL).
        problems = [_field_problem(item) for item in exc.errors()]
        raise calls.malformed(QUICKSIGHT, DESCRIBE, listing(problems, limit=5)) from None


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
            f"export with ExportFormat={CLOUDFORMATION_JSON} and set export_job_id to it",
            **ref.evidence,
        )
    if description.export_format != CLOUDFORMATION_JSON:
        raise ExportFormatError(
            f"{ref} was exported as {clean(description.export_format, 100)}, not {CLOUDFORMATION_JSON}: start a new "
            f"StartAssetBundleExportJob with ExportFormat={CLOUDFORMATION_JSON} for the same ResourceArns "
            "and set export_job_id to it",
            **ref.evidence,
        )


def _check_not_failed(description: ExportJobDescription, ref: JobRef) -> None:
    """Raise ExportJobFailedError for a FAILED job, listing its first errors and counting the rest."""
    if description.status != "FAILED":
        return
    errors = listing((e.describe() for e in description.errors)) or "QuickSight reported no Errors"
    raise ExportJobFailedError(
        f"{ref} FAILED with {len(description.errors):,} error(s): {errors}; fix the assets (exports fail on "
        "definition errors and unsupported data sources) and start a new export",
        **ref.evidence,
    )


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
    calls: Optional[Calls] = None,
) -> ExportJobDescription:
    """Poll until the job is SUCCESSFUL; refuse other formats as soon as they are seen.

    Args:
        client: A QuickSight client, or ``BudgetedClients`` whose calls are fitted to the time left.
        ref: The job.
        timeout: Seconds to wait (ignored when ``deadline`` is given).
        backoff, sleep, clock, draw: The poll schedule and its injectable time.
        deadline: The bound of the whole operation this wait is part of.
        progress: Told each status seen (``"IN_PROGRESS after 12 s"``), e.g. to show it on stderr.
        calls: The calls of the operation (its purpose); the wait's deadline is set on them.

    Raises:
        ExportFormatError, ExportJobFailedError, ExportTimeoutError and describe's permanent errors.
    """
    deadline = deadline or Deadline.after(timeout, clock)
    calls = replace(calls or job_calls(ref), deadline=deadline)
    started = clock()

    def poll() -> ExportJobDescription:
        description = describe_export_job(client, ref, calls=calls)
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
        setting = calls.purpose.timeout_setting
        raise calls.purpose.deadline(
            f"{ref} did not finish within {deadline.seconds:.0f} s (last status {last}, {outcome.polls} polls"
            f"{fault}): raise {setting}, or check the job in QuickSight",
            **ref.evidence,
            operation=getattr(outcome.last_error, "operation", None),
            code=getattr(outcome.last_error, "code", None),
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

    ``inputs.export_timeout_seconds`` bounds the whole fetch
    (AssumeRole, the wait, the re-describes and the downloads): every call and every socket read is
    fitted to the time left, so the fetch ends within it plus at most one short request timeout
    (``call_budget.min_timeout``).

    A refused or broken download is retried with a freshly described URL (each Describe signs a
    new one, valid 5 minutes), up to ``download_limits.attempts`` times; each fresh answer is
    checked again (format, FAILED) as the first one was.

    Raises:
        ExportTimeoutError: the deadline passed (assuming the role, waiting, or downloading).
        DownloadError, DownloadRefusedError, IntegrityError, BundleFormatError, and the errors of
        ``wait_for_export_job``.
    """
    deadline = Deadline.after(inputs.export_timeout_seconds, clock)
    ref = JobRef(inputs.source_account_id, inputs.export_job_id, inputs.source_region)
    calls = job_calls(ref, deadline=deadline, backoff=backoff, sleep=sleep, draw=draw)
    clients = quicksight_clients(
        ref, inputs.source_role_arn, deadline, call_budget, calls=calls, external_id=inputs.source_external_id
    )
    ref = JobRef(ref.account, ref.job_id, clients.within(deadline.remaining()).meta.region_name)
    calls = calls.about(str(ref), region=ref.region)
    return wait_and_download(
        clients,
        ref,
        deadline,
        calls,
        expected_sha256=inputs.expected_sha256,
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        draw=draw,
        bundle_limits=bundle_limits,
        download_limits=download_limits,
        grace=call_budget.min_timeout,
        progress=progress,
    )


def wait_and_download(
    clients: Any,
    ref: JobRef,
    deadline: Deadline,
    calls: Calls,
    *,
    expected_sha256: str | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
    bundle_limits: BundleLimits = DEFAULT_LIMITS,
    download_limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
    grace: float = DEFAULT_CALL_BUDGET.min_timeout,
    progress: Callable[[str], None] | None = None,
) -> FetchedExport:
    """Wait for a job until ``deadline``, then download and unpack its file (an export's or a release's).

    Raises:
        The errors of ``wait_for_export_job`` and ``download_export``.
    """
    description = wait_for_export_job(
        clients, ref, timeout=max(deadline.remaining(), 0.0), backoff=backoff, sleep=sleep, clock=clock, draw=draw,
        deadline=deadline, progress=progress, calls=calls,
    )  # fmt: skip
    return download_export(
        clients,
        ref,
        description,
        deadline=deadline,
        expected_sha256=expected_sha256,
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        bundle_limits=bundle_limits,
        download_limits=download_limits,
        grace=grace,
        calls=calls,
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
    calls: Optional[Calls] = None,
) -> FetchedExport:
    """Download and unpack the file of a SUCCESSFUL job (``description`` from ``wait_for_export_job``).

    Shared by ``fetch_export`` and the release path (``aws.release_cut``). A refused or broken
    download is tried again with a freshly described URL (each Describe signs a new one, valid 5
    minutes), up to ``download_limits.attempts`` times, all before ``deadline``; each fresh answer
    is checked again (format, FAILED) as the first one was. A Describe that meets a transient fault
    costs one of the attempts.

    Args:
        client: A QuickSight client, or ``BudgetedClients`` whose calls are fitted to the time left.
        ref: The job.
        description: Its SUCCESSFUL description, with a fresh DownloadUrl.
        deadline: The bound of the whole operation.
        expected_sha256: Refuse other bytes.
        backoff, sleep, clock: The pause between attempts and its injectable time.
        bundle_limits, download_limits: Bounds of the download and of unpacking.
        grace: Seconds a job seen SUCCESSFUL at the very deadline still gets to be downloaded.
        calls: The calls of the operation (its purpose); the download's deadline is set on them.
    """
    # A job seen SUCCESSFUL at the very end of the wait still gets one short request timeout to
    # be downloaded: its URL is fresh now, and only now.
    deadline = Deadline(max(deadline.at, clock() + grace), deadline.seconds, clock)
    calls = replace(calls or job_calls(ref), deadline=deadline)
    last_error: DownloadError | TransientError | None = None
    for attempt in range(1, download_limits.attempts + 1):
        if attempt > 1:
            # A short pause so that a failing S3 endpoint is not hammered (cut at the deadline);
            # the fresh Describe then signs a new URL (each one is valid for 5 minutes).
            sleep(max(0.0, min(backoff.first, deadline.remaining())))
            if deadline.passed:
                break
            try:
                description = _described_again(client, ref, calls)
            except TransientError as exc:
                last_error = exc
                continue
        _check_downloadable(description, ref)
        if deadline.passed:
            break
        fetched = _download_once(description, ref, calls, expected_sha256, bundle_limits, download_limits)
        if isinstance(fetched, FetchedExport):
            return fetched
        last_error = fetched
    raise _not_downloaded(ref, calls, download_limits, last_error)


def _check_downloadable(description: ExportJobDescription, ref: JobRef) -> None:
    """Refuse a description that is not SUCCESSFUL with a DownloadUrl.

    Raises:
        ExportJobError: no DownloadUrl to download from.
    """
    if description.status != "SUCCESSFUL" or description.download_url is None:
        raise ExportJobError(
            f"{ref} is {clean(description.status, 100)} but QuickSight gave no DownloadUrl: re-run, or start "
            "a new export",
            **ref.evidence,
        )


def _described_again(client: Any, ref: JobRef, calls: Calls) -> ExportJobDescription:
    """A fresh description (and so a fresh URL), held to the same checks as the first one."""
    description = describe_export_job(client, ref, calls=calls)
    _check_format(description, ref)
    _check_not_failed(description, ref)
    return description


def _download_once(
    description: ExportJobDescription,
    ref: JobRef,
    calls: Calls,
    expected_sha256: Optional[str],
    bundle_limits: BundleLimits,
    download_limits: DownloadLimits,
) -> Union[FetchedExport, DownloadError]:
    """Download, check and unpack the file once: the export, or the ``DownloadError`` worth another attempt.

    Raises:
        ExportTimeoutError, DownloadRefusedError, IntegrityError, BundleFormatError: no attempt would help.
    """
    deadline = calls.deadline
    assert deadline is not None and description.download_url is not None
    # Spool to memory, then to disk past 2 MiB (a typical template, ~0.5 MB, stays in memory):
    # the file is held once, and a zip is opened from the spool, never copied.
    with _Spool(max_size=SPOOL_MEMORY_BYTES) as spool:
        try:
            sha256, size = download_to(
                description.download_url.get_secret_value(),
                spool,
                limits=download_limits,
                clock=deadline.clock,
                deadline=deadline,
                region=ref.region,
            )
        except DownloadRefusedError as exc:
            if deadline.passed:
                raise _not_downloaded(ref, calls, download_limits, exc) from None
            raise DownloadRefusedError(
                f"cannot download the template of {ref}: {exc}; export fewer assets per bundle or "
                "check the QuickSight endpoint configuration",
                **ref.evidence,
            ) from None
        except DownloadError as exc:
            # Expired or refused signatures, 5xx answers and broken connections: a fresh
            # Describe signs a new URL, so the next attempt starts clean.
            return exc
        check_pin(ref, sha256, expected_sha256)
        try:
            template = unpack_bundle(spool, limits=bundle_limits)
        except BundleFormatError as exc:
            raise BundleFormatError(f"the template of {ref}: {exc}", **ref.evidence) from exc
        return FetchedExport(description=description, template=template, sha256=sha256, downloaded_bytes=size)


def check_pin(ref: JobRef, sha256: str, expected_sha256: Optional[str]) -> None:
    """Refuse a template of ``ref`` whose sha256 is not the pinned one (none pinned: any).

    Raises:
        IntegrityError: naming both sha256s.
    """
    if expected_sha256 and sha256 != expected_sha256:
        raise IntegrityError(
            f"the template of {ref} hashes to sha256 {sha256}, not the expected {expected_sha256}: "
            "refusing bytes other than the pinned ones; export the same bundle again or update "
            "expected_sha256",
            **ref.evidence,
        )


def _not_downloaded(
    ref: JobRef, calls: Calls, download_limits: DownloadLimits, last_error: Optional[Exception]
) -> Exception:
    """Why the template of ``ref`` was not downloaded: the deadline passed, or every attempt failed."""
    deadline = calls.deadline
    if deadline is not None and deadline.passed:
        setting = calls.purpose.timeout_setting
        return calls.purpose.deadline(
            f"the template of {ref} was not downloaded within {setting} ({deadline.seconds:.0f} s)"
            f"{f' (last fault: {last_error})' if last_error else ''}: raise {setting}, or check network "
            "access to S3 from the machine that runs pulumi",
            **ref.evidence,
        )
    return DownloadError(
        f"cannot download the template of {ref} after {download_limits.attempts} attempt(s): {last_error}; "
        "check network access to S3 from the machine that runs pulumi, then re-run",
        **ref.evidence,
    )
