"""QuickSight asset-bundle export jobs: describe, wait, download and unpack (the export half)."""

from __future__ import annotations

import random
import tempfile
import time
from dataclasses import dataclass
from typing import Any, Callable

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from ..core.bundle import DEFAULT_LIMITS, BundleLimits, Template, unpack_bundle
from ..core.models import CLOUDFORMATION_JSON, ExportInputs, ExportJobDescription
from ..core.polling import DEFAULT_BACKOFF, Backoff, poll_until
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
    ThrottledError,
)
from .download import DEFAULT_DOWNLOAD_LIMITS, DownloadLimits, download_to
from .session import CLIENT_CONFIG, error_code, is_access_error, session


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
    try:
        return session(ref.region, role_arn, session_name).client("quicksight", config=config)
    except NoRegionError as exc:
        raise InputError(
            f"no AWS region for {ref}: set the resource's region input, or AWS_REGION / a profile region "
            "in the environment that runs pulumi"
        ) from exc
    except ClientError as exc:
        raise _access_error(exc, f"sts:AssumeRole on {role_arn}", ref) from exc
    except (NoCredentialsError, BotoCoreError) as exc:
        raise AwsAccessError(
            f"cannot create AWS credentials for {ref}"
            f"{f' as role {role_arn}' if role_arn else ''} ({type(exc).__name__}: {exc}): "
            "configure AWS credentials (environment, profile or SSO) for the process that runs pulumi"
        ) from exc


def _access_error(exc: ClientError, action: str, ref: JobRef) -> AwsAccessError:
    code, message = error_code(exc)
    return AwsAccessError(
        f"AWS denied {action} for {ref} ({code}: {message}): grant the caller that permission, "
        "or set role_arn to a role in the source account that has it"
    )


def describe_export_job(client: Any, ref: JobRef) -> ExportJobDescription:
    """Call DescribeAssetBundleExportJob once and translate its errors.

    Raises:
        ExportJobNotFoundError, ThrottledError, AwsAccessError, ExportJobError.
    """
    try:
        response = client.describe_asset_bundle_export_job(
            AwsAccountId=ref.account, AssetBundleExportJobId=ref.job_id
        )
    except ClientError as exc:
        code, message = error_code(exc)
        if code == "ResourceNotFoundException":
            raise ExportJobNotFoundError(
                f"{ref} was not found ({message}): QuickSight keeps export job descriptions for only 14 days; "
                "start a new export with ExportFormat=CLOUDFORMATION_JSON and set export_job_id to its id"
            ) from exc
        if code == "ThrottlingException":
            raise ThrottledError(
                f"QuickSight throttled DescribeAssetBundleExportJob for {ref} ({message}) beyond botocore's retries: "
                "wait a minute and re-run; fewer stacks polling the same account at once also helps"
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
        raise ExportJobError(
            f"cannot reach QuickSight to describe {ref} ({type(exc).__name__}: {exc}): check the network "
            "and region, then re-run"
        ) from exc
    return ExportJobDescription.model_validate(response)


def _check_format(description: ExportJobDescription, ref: JobRef) -> None:
    if description.export_format and description.export_format != CLOUDFORMATION_JSON:
        raise ExportFormatError(
            f"{ref} was exported as {description.export_format}, not {CLOUDFORMATION_JSON}: start a new "
            f"StartAssetBundleExportJob with ExportFormat={CLOUDFORMATION_JSON} for the same ResourceArns "
            "and set export_job_id to it"
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
) -> ExportJobDescription:
    """Poll until the job is SUCCESSFUL; refuse other formats as soon as they are seen.

    Raises:
        ExportFormatError, ExportJobFailedError, ExportTimeoutError and describe's errors.
    """

    def poll() -> ExportJobDescription:
        description = describe_export_job(client, ref)
        _check_format(description, ref)
        return description

    outcome = poll_until(
        poll, lambda d: d.done, timeout=timeout, backoff=backoff, sleep=sleep, clock=clock, draw=draw
    )
    description = outcome.value
    if not outcome.done or description is None:
        last = description.status if description else "unknown (every Describe call was throttled)"
        raise ExportTimeoutError(
            f"{ref} did not finish within {outcome.waited:.0f} s (last status {last}, {outcome.polls} polls): "
            "raise timeout_seconds, or check the job in QuickSight"
        )
    if description.status == "FAILED":
        errors = "; ".join(e.describe() for e in description.errors) or "QuickSight reported no Errors"
        raise ExportJobFailedError(
            f"{ref} FAILED with {len(description.errors)} error(s): {errors}; fix the assets (exports fail on "
            "definition errors and unsupported data sources) and start a new export"
        )
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
) -> FetchedExport:
    """Wait for an export job, download its file right away and unpack the template.

    A refused or broken download is retried with a freshly described URL (each Describe signs a
    new one, valid 5 minutes), up to ``download_limits.attempts`` times.
    """
    ref = JobRef(inputs.aws_account_id, inputs.export_job_id, inputs.region)
    client = quicksight_client(ref, inputs.role_arn)
    ref = JobRef(ref.account, ref.job_id, client.meta.region_name)
    description = wait_for_export_job(
        client, ref, timeout=inputs.timeout_seconds, backoff=backoff, sleep=sleep, clock=clock, draw=draw
    )
    return download_export(
        client,
        ref,
        description,
        expected_sha256=inputs.expected_sha256,
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        bundle_limits=bundle_limits,
        download_limits=download_limits,
    )


def download_export(
    client: Any,
    ref: JobRef,
    description: ExportJobDescription,
    *,
    expected_sha256: str | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    bundle_limits: BundleLimits = DEFAULT_LIMITS,
    download_limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
) -> FetchedExport:
    """Download and unpack the file of a SUCCESSFUL job (``description`` from ``wait_for_export_job``).

    Shared by ``fetch_export`` and the release path (``aws.release``). A refused or broken download
    is retried with a freshly described URL (each Describe signs a new one, valid 5 minutes), up
    to ``download_limits.attempts`` times.
    """
    last_error: DownloadError | None = None
    for attempt in range(1, download_limits.attempts + 1):
        if attempt > 1:
            # A short pause so that a failing S3 endpoint is not hammered; the fresh Describe
            # then signs a new URL (each one is valid for 5 minutes).
            sleep(backoff.first)
            try:
                description = describe_export_job(client, ref)
            except ThrottledError as exc:
                last_error = DownloadError(f"no fresh download URL ({exc})")
                continue
        if description.download_url is None:
            raise ExportJobError(
                f"{ref} is {description.status} but QuickSight gave no DownloadUrl: re-run, or start a new export"
            )
        # Spool to memory, then to disk past 2 MiB (a typical template, ~0.5 MB, stays in
        # memory): the file is held once, and a zip is opened from the spool, never copied.
        with _Spool(max_size=SPOOL_MEMORY_BYTES) as spool:
            try:
                sha256, size = download_to(
                    description.download_url.get_secret_value(), spool, limits=download_limits, clock=clock
                )
            except DownloadRefusedError as exc:
                raise DownloadRefusedError(
                    f"cannot download the template of {ref}: {exc}; export fewer assets per bundle or "
                    "check the QuickSight endpoint configuration"
                ) from exc
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
    raise DownloadError(
        f"cannot download the template of {ref} after {download_limits.attempts} attempt(s): {last_error}; "
        "check network access to S3 from the machine that runs pulumi, then re-run"
    ) from last_error
