"""Write a release to the release archive (S3): the template once, content-addressed, then its manifest once.

``templates/<sha256>.json`` and ``releases/<name>.json`` are written with ``PutObject`` and
``IfNoneMatch="*"`` (S3's conditional write, since August 2024): S3 answers 412
PreconditionFailed when the key exists, atomically, so two stages archiving the same release at
once cannot overwrite each other. A template key that exists holds the same bytes (it is their
sha256). A manifest that exists is read back: the same sha256 is the same release (idempotent),
another is refused, naming both. Both objects are ``application/json``, which is what pulumi-aws's
``aws.s3.getObject`` needs to return an object's body.

Every call is bounded like the rest of the boundary: one ``Deadline`` for the whole write, each
call's timeouts and attempts fitted to the time left (``BudgetedClients``) and abandoned past it
(``call_within``); throttling and 5xx are retried by botocore's standard mode within a call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from ..core.manifest import ReleaseManifest, manifest_key, parse_manifest, same_release
from ..core.polling import Deadline
from ..errors import ArchiveConflictError, ArchiveError, AwsAccessError, ServiceUnavailableError, clean
from .calls import ACCESS_CODES, is_transient, error_code as _error_code
from .session import (
    DEFAULT_CALL_BUDGET,
    BudgetedClients,
    CallBudget,
    CallTimeout,
    call_within,
    session,
)

SESSION_NAME = "quicksight-promotion-archive"
CONTENT_TYPE = "application/json"
# A manifest is a few KiB to a few hundred KiB (its catalog); more is not ours.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
__all__ = ["ArchiveConflictError", "ArchiveError", "ArchiveTarget", "ArchivedRelease", "archive_release"]



def error_code(exc: ClientError) -> tuple[str, str]:  # replaced by the call layer in the next commit
    code, message, _ = _error_code(exc)
    return code, message


def is_access_error(exc: ClientError) -> bool:  # replaced by the call layer in the next commit
    code, _, status = _error_code(exc)
    return code in ACCESS_CODES or status in (401, 403)

@dataclass(frozen=True)
class ArchiveTarget:
    """Where releases are archived.

    Attributes:
        bucket: The archive bucket.
        region: Its region (else the AWS chain's).
        role_arn: A role to assume for writing it (e.g. in the account that owns it).
        timeout_seconds: Bounds the whole write.
    """

    bucket: str
    region: Optional[str] = None
    role_arn: Optional[str] = None
    timeout_seconds: float = 120.0


@dataclass(frozen=True)
class ArchivedRelease:
    """What the archive holds for a release after ``archive_release``.

    Attributes:
        manifest: The archived manifest (the existing one when the release was archived already).
        manifest_key: ``releases/<name>.json``.
        written: Whether this call wrote the manifest (False: it was there, same template).
    """

    manifest: ReleaseManifest
    manifest_key: str
    written: bool


def _clients(target: ArchiveTarget, deadline: Deadline, budget: CallBudget) -> BudgetedClients:
    base = session(target.region, target.role_arn, SESSION_NAME, sts_config=budget.config(deadline.remaining()))
    return BudgetedClients(lambda config: base.client("s3", config=config), budget)


class _Archive:
    """One archive write: every S3 call bounded by the deadline and translated into our errors."""

    def __init__(self, target: ArchiveTarget, clients: BudgetedClients, deadline: Deadline) -> None:
        self.target = target
        self.clients = clients
        self.deadline = deadline

    def where(self, key: str) -> str:
        return f"s3://{self.target.bucket}/{key}"

    def call(self, operation: str, key: str, **kwargs: Any) -> Any:
        """One S3 call; a 412 PreconditionFailed is returned as None (the key exists)."""
        remaining = self.deadline.remaining()
        within = max(remaining, 0.0) + self.clients.budget.min_timeout
        where = self.where(key)
        try:
            client = self.clients.within(remaining)
            return call_within(lambda: getattr(client, operation)(Bucket=self.target.bucket, Key=key, **kwargs), within)
        except CallTimeout:
            raise ServiceUnavailableError(
                f"S3 did not answer {_camel(operation)} of {where} within {within:.0f} s (the archive's "
                f"{self.deadline.seconds:.0f} s budget): check the network to S3, then re-run"
            ) from None
        except ClientError as exc:
            code, message = error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "PreconditionFailed" or status == 412:
                return None
            if code in ("NoSuchKey", "404", "NotFound") and operation in ("get_object", "head_object"):
                return None
            detail = f"{code}: {clean(message, 300)}" if message else code
            if is_access_error(exc):
                raise AwsAccessError(
                    f"S3 refused {_camel(operation)} of {where} ({detail}): the archive writer (the provider's AWS "
                    f"chain{' as ' + self.target.role_arn if self.target.role_arn else ''}) needs s3:PutObject and "
                    "s3:GetObject on releases/* and templates/* of the bucket (see README, the release archive)"
                ) from None
            if code == "NoSuchBucket":
                raise ArchiveError(
                    f"the archive bucket {self.target.bucket!r} does not exist (or not in region "
                    f"{self.target.region or 'of the AWS chain'}): create it (the source stage does, see README) or fix "
                    "archiveBucket/archiveRegion"
                ) from None
            if is_transient(exc):
                raise ServiceUnavailableError(
                    f"S3 failed {_camel(operation)} of {where} after botocore's retries ({detail}): re-run later"
                ) from None
            raise ArchiveError(f"S3 refused {_camel(operation)} of {where} ({detail})") from None
        except (BotoCoreError, ResponseParserError) as exc:
            raise ServiceUnavailableError(
                f"S3 could not be reached for {_camel(operation)} of {where} ({type(exc).__name__}): check the network "
                "and the region, then re-run"
            ) from None

    def put_once(self, key: str, body: bytes) -> bool:
        """PutObject with IfNoneMatch="*": True when written, False when the key existed.

        botocore learnt ``IfNoneMatch`` for PutObject in 1.35 (August 2024); this library's floor
        is older. With an older botocore the key is looked up first (HeadObject) and written only
        if absent: two writers racing between the two calls could both write, the later one
        winning. The bucket is versioned, so both versions remain, and a manifest of another
        template would still be reported by the next archive run. Upgrade boto3 to close it.
        """
        if _conditional_writes(self.clients.within(self.deadline.remaining())):
            answer = self.call("put_object", key, Body=body, ContentType=CONTENT_TYPE, IfNoneMatch="*")
            return answer is not None
        if self.call("head_object", key) is not None:
            return False
        return self.call("put_object", key, Body=body, ContentType=CONTENT_TYPE) is not None

    def read(self, key: str) -> Optional[str]:
        answer = self.call("get_object", key)
        if answer is None:
            return None
        stream = answer["Body"]
        try:
            remaining = max(self.deadline.remaining(), 0.0) + self.clients.budget.min_timeout
            data = call_within(lambda: stream.read(MAX_MANIFEST_BYTES + 1), remaining)
        except (CallTimeout, BotoCoreError) as exc:
            raise ServiceUnavailableError(
                f"S3 did not finish sending {self.where(key)} ({type(exc).__name__}): re-run"
            ) from None
        finally:
            stream.close()
        if len(data) > MAX_MANIFEST_BYTES:
            raise ArchiveError(f"{self.where(key)} is over {MAX_MANIFEST_BYTES:,} bytes: it is not a release manifest")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise ArchiveError(f"{self.where(key)} is not UTF-8 text: it is not a release manifest") from None


def _conditional_writes(client: Any) -> bool:
    """Whether this botocore sends PutObject's ``IfNoneMatch`` (S3 conditional writes)."""
    try:
        return "IfNoneMatch" in client.meta.service_model.operation_model("PutObject").input_shape.members
    except Exception:  # noqa: BLE001  (a client without a service model: a test double)
        return True


def _camel(operation: str) -> str:
    return "".join(part.title() for part in operation.split("_"))


def archive_release(
    target: ArchiveTarget,
    manifest: ReleaseManifest,
    template_body: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    budget: CallBudget = DEFAULT_CALL_BUDGET,
    clients: Optional[BudgetedClients] = None,
) -> ArchivedRelease:
    """Archive a release: its template (once, by sha256), then its manifest (once, by name).

    Args:
        target: The archive bucket, region and role.
        manifest: The release's manifest (``core.manifest.build_manifest``).
        template_body: The template whose UTF-8 bytes hash to ``manifest.sha256``.
        clock: The deadline's clock (tests).
        budget: How each call's timeouts and attempts are fitted.
        clients: S3 clients (tests); else made from the standard chain (or ``target.role_arn``).

    Returns:
        The archived manifest; ``written`` is False when the same release was there already.

    Raises:
        ArchiveConflictError: the name is archived with another template (both sha256 named).
        ArchiveError: the bucket does not exist, or the existing manifest is not one.
        AwsAccessError: S3 or STS refused the caller.
        ServiceUnavailableError: S3 did not answer within the deadline, or kept failing.
    """
    deadline = Deadline.after(target.timeout_seconds, clock)
    key = manifest_key(manifest.name)
    if clients is None:
        try:
            clients = call_within(
                lambda: _clients(target, deadline, budget), max(deadline.remaining(), 0.0) + budget.min_timeout
            )
        except CallTimeout:
            raise ServiceUnavailableError(
                f"STS did not answer AssumeRole of {target.role_arn} for the archive s3://{target.bucket} in time"
            ) from None
        except ClientError as exc:
            code, message = error_code(exc)
            raise AwsAccessError(
                f"STS refused AssumeRole of {target.role_arn} for the archive s3://{target.bucket} "
                f"({code}: {clean(message, 300)}): check the role's trust policy"
            ) from None
    archive = _Archive(target, clients, deadline)
    # The template first: a manifest never points at a template that is not there.
    archive.put_once(manifest.template_key, template_body.encode("utf-8"))
    if archive.put_once(key, manifest.text().encode("utf-8")):
        return ArchivedRelease(manifest, key, True)
    existing = parse_manifest(archive.read(key), archive.where(key), manifest.name)
    return ArchivedRelease(same_release(existing, manifest, archive.where(key)), key, False)


def archive_outputs(
    *,
    bucket: str,
    region: Optional[str],
    role_arn: Optional[str],
    name: str,
    outputs: dict[str, Any],
    source_account_id: str,
    source_region: Optional[str],
    archived_by: str,
) -> dict[str, Any]:
    """Archive what an export/release resource recorded; returns the outputs it adds.

    Called by the dynamic providers' create/update when their ``archive_bucket`` input is set,
    from the outputs they just fetched (or kept: archiving a recorded release makes no QuickSight
    call, so it works after the job expired).

    Returns:
        ``{"archive_manifest_key": "releases/<name>.json", "archive_sha256": <archived template sha256>}``.
    """
    from ..core.manifest import build_manifest  # noqa: PLC0415

    manifest = build_manifest(
        name=name,
        template_body=outputs["template_body"],
        export_sha256=outputs.get("template_sha256"),
        job_arn=outputs.get("export_job_arn") or f"{source_account_id}/{name}",
        source_account_id=source_account_id,
        source_region=source_region,
        created_time=outputs.get("created_time"),
        resource_arns=list(outputs.get("resource_arns") or []),
        catalog=list(outputs.get("parameter_catalog") or []),
        assets=dict(outputs.get("assets") or {}),
        archived_by=archived_by,
        lint_findings=outputs.get("lint_findings"),
    )
    archived = archive_release(ArchiveTarget(bucket, region, role_arn), manifest, outputs["template_body"])
    return {"archive_manifest_key": archived.manifest_key, "archive_sha256": archived.manifest.sha256}
