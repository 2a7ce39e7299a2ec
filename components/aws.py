"""The AWS boundary: the only module that creates boto3 clients or talks to AWS endpoints.

Clients are created lazily, inside calls, from the standard SDK chain of the process that runs
them (for a dynamic provider: the ``python -m pulumi.dynamic`` process the engine starts):
environment variables (including ``AWS_ENDPOINT_URL_QUICKSIGHT``), profiles and shared config.
Throttling is retried by botocore's ``standard`` retry mode; nothing here retries it again.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO, Any, Callable

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from .core.bundle import DEFAULT_LIMITS, BundleLimits, Template, unpack_bundle
from .core.models import CLOUDFORMATION_JSON, ExportInputs, ExportJobDescription
from .core.polling import DEFAULT_BACKOFF, Backoff, poll_until
from .errors import (
    AwsAccessError,
    BundleFormatError,
    DownloadError,
    DownloadRefusedError,
    DownloadUrlExpiredError,
    ExportFormatError,
    ExportJobError,
    ExportJobFailedError,
    ExportJobNotFoundError,
    ExportTimeoutError,
    InputError,
    IntegrityError,
    ThrottledError,
)

USER_AGENT = "quicksight-promotion/0.1"

# botocore's standard mode retries throttling and transient errors with capped exponential
# backoff (base 2 s, cap 20 s). Eight attempts in all ride out most bursts of 429s inside one
# poll; a longer burst surfaces as ThrottledError, which the poll loop treats as a poll that
# learnt nothing.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 8},
    connect_timeout=10,
    read_timeout=30,
    user_agent_extra=USER_AGENT,
)

_ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds on fetching the exported file.

    Attributes:
        max_bytes: Largest download accepted. A zip may carry more than the template itself.
        timeout: Seconds one download may take in all. The pre-signed URL must be *used* within
            5 minutes; S3 does not cut a transfer that started in time, so this bounds a stall.
        read_timeout: Seconds one socket read may block.
        attempts: Downloads tried, each with a freshly described URL, before giving up.
    """

    max_bytes: int = 256 * 1024 * 1024
    timeout: float = 600.0
    read_timeout: float = 60.0
    attempts: int = 3


DEFAULT_DOWNLOAD_LIMITS = DownloadLimits()


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


# --- clients -------------------------------------------------------------------------------


_LOADER: botocore.loaders.Loader | None = None
_LOADER_LOCK = threading.Lock()


def _botocore_session() -> botocore.session.Session:
    """A new botocore session (credentials and configuration resolved afresh, as for any call)
    sharing one data loader per process.

    A dynamic provider process serves every create and update of a `pulumi up`; without a shared
    loader each new client parses the QuickSight service model and endpoint rules again, which
    is most of a create's time (bench/overhead.py).
    """
    global _LOADER
    core = botocore.session.get_session()
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _LOADER)
    return core


def _session(region: str | None, role_arn: str | None, session_name: str) -> boto3.session.Session:
    """A boto3 session from the standard chain, optionally as an assumed role.

    The assumed-role credentials refresh themselves: a wait may outlive one STS session.
    """
    base = boto3.session.Session(botocore_session=_botocore_session(), region_name=region)
    if not role_arn:
        return base
    sts = base.client("sts", config=CLIENT_CONFIG)

    def fetch() -> dict[str, Any]:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    core = _botocore_session()
    # botocore has no public setter for a session's credentials; this is the documented-by-use
    # way to give a session refreshable credentials of our own.
    core._credentials = credentials  # noqa: SLF001
    return boto3.session.Session(botocore_session=core, region_name=base.region_name)


def quicksight_client(ref: JobRef, role_arn: str | None) -> Any:
    """Create a QuickSight client for ``ref``'s region (or the chain's), assuming ``role_arn`` if given."""
    session_name = f"quicksight-promotion-{ref.job_id}"[:64]
    try:
        return _session(ref.region, role_arn, session_name).client("quicksight", config=CLIENT_CONFIG)
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


# --- describe --------------------------------------------------------------------------------


def _error_code(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return str(error.get("Code", "Unknown")), str(error.get("Message", "")).strip()


def _access_error(exc: ClientError, action: str, ref: JobRef) -> AwsAccessError:
    code, message = _error_code(exc)
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
        code, message = _error_code(exc)
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
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in _ACCESS_CODES or status in (401, 403):
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


# --- download --------------------------------------------------------------------------------


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_download_url(url: str) -> None:
    """Refuse any URL but https (plain http is allowed to loopback hosts only, for tests).

    Messages name the scheme and host, never the URL: its query string is a credential.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return
    raise DownloadRefusedError(
        f"refusing to download from a {parts.scheme or 'scheme-less'}:// URL on host {parts.hostname or '?'}: "
        "only https download URLs are followed"
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs that pass ``check_download_url``."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_download_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download_to(
    url: str,
    sink: IO[bytes],
    *,
    limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, int]:
    """Stream ``url`` into ``sink`` within the limits; return (sha256 hex, bytes).

    Raises:
        DownloadUrlExpiredError: S3 answered 400/403 (an expired or otherwise refused signature).
        DownloadRefusedError: the URL's scheme, the size or the time is over a limit.
        DownloadError: any other failure (HTTP errors, broken connections).
    """
    check_download_url(url)
    opener = urllib.request.build_opener(_CheckedRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    deadline = clock() + limits.timeout
    try:
        response = opener.open(request, timeout=limits.read_timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (400, 403):
            raise DownloadUrlExpiredError(
                f"the pre-signed download URL was refused with HTTP {exc.code} (expired or forbidden)"
            ) from exc
        raise DownloadError(f"the download answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"the download failed to connect ({reason})") from exc
    digest = hashlib.sha256()
    total = 0
    with response:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise DownloadRefusedError(
                f"the exported file is {int(declared):,} bytes, more than the {limits.max_bytes:,} accepted"
            )
        try:
            while chunk := response.read(1024 * 1024):
                total += len(chunk)
                if total > limits.max_bytes:
                    raise DownloadRefusedError(f"the exported file is larger than the {limits.max_bytes:,} bytes accepted")
                if clock() > deadline:
                    raise DownloadRefusedError(f"the download took longer than {limits.timeout:.0f} s")
                digest.update(chunk)
                sink.write(chunk)
        except OSError as exc:
            raise DownloadError(f"the download broke off after {total:,} bytes ({exc})") from exc
    if declared and declared.isdigit() and int(declared) != total:
        raise DownloadError(f"the download ended after {total:,} of {int(declared):,} bytes")
    return digest.hexdigest(), total


# --- the whole fetch -------------------------------------------------------------------------


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
        with tempfile.SpooledTemporaryFile(max_size=2 * 1024 * 1024) as spool:
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
            if inputs.expected_sha256 and sha256 != inputs.expected_sha256:
                raise IntegrityError(
                    f"the template of {ref} hashes to sha256 {sha256}, not the expected {inputs.expected_sha256}: "
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
