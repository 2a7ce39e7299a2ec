"""Write a release to the release archive (S3): the template once, content-addressed, then its manifest once.

``templates/<sha256>.json`` and ``releases/<name>.json`` are written with ``PutObject`` and
``IfNoneMatch="*"`` (S3's conditional write, since August 2024): S3 answers 412
PreconditionFailed when the key exists, atomically, so two stages archiving the same release at
once cannot overwrite each other. Each write carries ``ChecksumSHA256``: S3 refuses bytes that
arrive other than they were sent, and a bucket with S3 Object Lock's default retention (the
``ReleaseArchive``) requires a checksum on every write.

A template key that exists is trusted only after its bytes are read back and hash to its name;
the version read is the one recorded. A manifest that exists is read back: the same sha256 is the
same release (idempotent), another is refused, naming both.

The manifest records the template's S3 version id, and the writer returns the manifest's own:
a stage reads exactly those versions, so a later version written over either (which Object Lock
cannot prevent: it protects versions, not keys) is never what a stage deploys. Both objects are
``application/json``, which is what pulumi-aws's ``aws.s3.getObject`` needs to return a body.

Every call goes through the call layer (``calls.Calls``, purpose ``ARCHIVE``): one ``Deadline`` for
the whole write, each call's timeouts and attempts fitted to the time left and abandoned past it,
throttling and 5xx retried by botocore's standard mode within a call and by the deadline beyond it
(then ``ArchiveTimeoutError``), every failure read through S3's (or STS's) table.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ..core.manifest import ReleaseManifest, manifest_key, parse_manifest, same_release, sha256_text
from ..core.polling import DEFAULT_BACKOFF, Backoff, Deadline
from ..core.stacks import checksum_sha256
from ..core.types import role_session_name, version_or_none
from ..errors import ArchiveConflictError, ArchiveError
from .calls import ARCHIVE, MISSING_OBJECT, OBJECT_EXISTS, S3, Calls, Expected
from .session import DEFAULT_CALL_BUDGET, BudgetedClients, CallBudget

CONTENT_TYPE = "application/json"
# A manifest is a few KiB to a few hundred KiB (its catalog); more is not ours. A template that
# CloudFormation deploys from S3 is at most 1 MB; this bound is what the writer ever reads back.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
__all__ = ["ArchiveConflictError", "ArchiveError", "ArchiveTarget", "ArchivedRelease", "archive_release"]




@dataclass(frozen=True)
class ArchiveTarget:
    """Where releases are archived.

    Attributes:
        bucket: The archive bucket.
        region: Its region (else the AWS chain's).
        role_arn: A role to assume for writing it (e.g. in the account that owns it).
        timeout_seconds: Bounds the whole write.
        external_id: The ExternalId ``role_arn``'s trust policy asks for (never shown).
        session_name: The role session name: names the release (``qsp-archive-<release>``).
    """

    bucket: str
    region: Optional[str] = None
    role_arn: Optional[str] = None
    timeout_seconds: float = 120.0
    external_id: Optional[str] = field(default=None, repr=False)
    session_name: str = "qsp-archive"


@dataclass(frozen=True)
class ArchivedRelease:
    """What the archive holds for a release after ``archive_release``.

    Attributes:
        manifest: The archived manifest (the existing one when the release was archived already).
        manifest_key: ``releases/<name>.json``.
        written: Whether this call wrote the manifest (False: it was there, same template).
        manifest_version_id: The S3 version id of the manifest written (or read back): what a
            later stage pins (None in a bucket without versioning).
    """

    manifest: ReleaseManifest
    manifest_key: str
    written: bool
    manifest_version_id: Optional[str] = None


@dataclass(frozen=True)
class _Object:
    """An object read back: its bytes and the version they are."""

    data: bytes
    version_id: Optional[str]


def _clients(target: ArchiveTarget, calls: Calls, budget: CallBudget) -> BudgetedClients:
    """S3 clients for the archive, as ``target.role_arn`` if given (AssumeRole through the call layer)."""
    base = calls.open_session(
        target.region, target.role_arn, target.session_name, budget=budget, external_id=target.external_id
    )
    return BudgetedClients(lambda config: base.client("s3", config=config), budget)


class _Archive:
    """One archive write: every S3 call made through the call layer, within the write's deadline."""

    def __init__(self, target: ArchiveTarget, clients: BudgetedClients, calls: Calls) -> None:
        self.target = target
        self.clients = clients
        self.calls = calls

    def where(self, key: str) -> str:
        return f"s3://{self.target.bucket}/{key}"

    def put_once(self, key: str, body: bytes) -> tuple[bool, Optional[str]]:
        """PutObject with IfNoneMatch="*" and ChecksumSHA256: (written, the version id written).

        S3 refuses (412) a key that exists, atomically: two writers racing cannot both write.
        botocore sends ``IfNoneMatch`` since 1.35.2, this library's floor (tests/project/test_packaging.py).
        """
        put = {"Bucket": self.target.bucket, "Key": key, "Body": body, "ContentType": CONTENT_TYPE}
        checksum = checksum_sha256(body)
        written = self.calls.call(
            self.clients,
            S3,
            "PutObject",
            on=self.where(key),
            expect=(OBJECT_EXISTS,),
            IfNoneMatch="*",
            ChecksumAlgorithm="SHA256",
            ChecksumSHA256=checksum,
            **put,
        )
        if isinstance(written, Expected):
            return False, None
        return True, _version_id(written)

    def put_template(self, key: str, body: bytes) -> Optional[str]:
        """Write the content-addressed template once; the version id that holds exactly ``body``.

        A key that exists is read back and its bytes hashed: its name is not trusted.

        Raises:
            ArchiveError: the key's latest version holds other bytes (someone wrote over it).
        """
        written, version_id = self.put_once(key, body)
        if written:
            return version_id
        found = self.read_object(key)
        if found is None or found.data != body:
            seen = "no object" if found is None else f"bytes of sha256 {hashlib.sha256(found.data).hexdigest()}"
            raise ArchiveError(
                f"{self.where(key)} exists but its latest version holds {seen}, not the bytes its name is the "
                "sha256 of: someone wrote over it; delete the later versions (the first is kept by versioning and "
                "Object Lock) and archive again"
            )
        return found.version_id

    def read(self, key: str) -> tuple[Optional[str], Optional[str]]:
        """The text of ``key`` and its version id (None, None when it is not there)."""
        found = self.read_object(key)
        if found is None:
            return None, None
        try:
            return found.data.decode("utf-8"), found.version_id
        except UnicodeDecodeError:
            raise ArchiveError(f"{self.where(key)} is not UTF-8 text: it is not a release manifest") from None

    def read_object(self, key: str) -> Optional[_Object]:
        """The bytes and version of ``key`` (None when it is not there); a read that breaks off is retried until the deadline."""
        found = self.calls.until_deadline(lambda: self._read_once(key), self.calls.what(S3, "GetObject", self.where(key)))
        if found is not None and len(found.data) > MAX_MANIFEST_BYTES:
            raise ArchiveError(
                f"{self.where(key)} is over {MAX_MANIFEST_BYTES:,} bytes: it is not this program's; delete what was "
                "written there, then archive again"
            )
        return found

    def _read_once(self, key: str) -> Optional[_Object]:
        """GetObject and its body, once (the body is read within the deadline too)."""
        answer = self.calls.once(
            self.clients, S3, "GetObject", on=self.where(key), expect=(MISSING_OBJECT,), Bucket=self.target.bucket, Key=key
        )
        if isinstance(answer, Expected):
            return None
        stream = answer.get("Body")
        if stream is None:
            raise self.calls.malformed(S3, "GetObject", "no Body", on=self.where(key))
        remaining = self.calls.remaining()
        within = None if remaining is None else max(remaining, 0.0) + self.clients.budget.min_timeout
        try:
            data = self.calls.attempt(
                S3, "GetObject", lambda: stream.read(MAX_MANIFEST_BYTES + 1), on=self.where(key), within=within
            )
        finally:
            stream.close()
        return _Object(data, _version_id(answer))  # type: ignore[arg-type]


def _version_id(answer: Any) -> Optional[str]:
    """The ``VersionId`` S3 answered: None in a bucket that was never versioned (or its ``"null"`` version)."""
    return version_or_none(answer.get("VersionId") if isinstance(answer, dict) else None)


def _check_body(manifest: ReleaseManifest, template_body: str) -> None:
    """Refuse a template other than the one ``manifest`` names (before anything is written)."""
    actual = sha256_text(template_body)
    if actual != manifest.sha256:
        raise ArchiveError(
            f"the template handed over to archive release {manifest.name!r} hashes to sha256 {actual}, not the "
            f"{manifest.sha256} its manifest names: nothing was written; archive the template the manifest was built from"
        )


def archive_release(
    target: ArchiveTarget,
    manifest: ReleaseManifest,
    template_body: str,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff = DEFAULT_BACKOFF,
    draw: Callable[[], float] = random.random,
    budget: CallBudget = DEFAULT_CALL_BUDGET,
    clients: Optional[BudgetedClients] = None,
) -> ArchivedRelease:
    """Archive a release: its template (once, by sha256), then its manifest (once, by name).

    Args:
        target: The archive bucket, region and role.
        manifest: The release's manifest (``core.manifest.build_manifest``).
        template_body: The template whose UTF-8 bytes hash to ``manifest.sha256``.
        clock, sleep, backoff, draw: The deadline's clock and the schedule transient faults are
            retried on (tests).
        budget: How each call's timeouts and attempts are fitted.
        clients: S3 clients (tests); else made from the standard chain (or ``target.role_arn``).

    Returns:
        The archived manifest; ``written`` is False when the same release was there already.

    Raises:
        ArchiveConflictError: the name is archived with another template (both sha256 named).
        ArchiveError: the bucket does not exist, S3 refused a call, or the existing manifest is not one.
        AwsAccessError: no credentials, or S3 or STS refused the caller.
        ArchiveTimeoutError: S3 or STS kept failing transiently until the deadline.
        InputError: no region anywhere.
    """
    _check_body(manifest, template_body)
    deadline = Deadline.after(target.timeout_seconds, clock)
    region = target.region or "of the AWS chain"
    subject = f"the archive of release {manifest.name!r} (region {region})"
    calls = Calls(ARCHIVE, subject, {"region": target.region}, deadline, backoff, sleep, draw)
    archive = _Archive(target, clients or _clients(target, calls, budget), calls)
    key = manifest_key(manifest.name)
    # The template first: a manifest never points at a template that is not there.
    template_version = archive.put_template(manifest.template_key, template_body.encode("utf-8"))
    manifest = manifest.model_copy(update={"template_version_id": template_version})
    written, version_id = archive.put_once(key, manifest.text().encode("utf-8"))
    if written:
        return ArchivedRelease(manifest, key, True, version_id)
    text, version_id = archive.read(key)
    existing = parse_manifest(text, archive.where(key), manifest.name)
    return ArchivedRelease(same_release(existing, manifest, archive.where(key)), key, False, version_id)


def archive_outputs(
    *,
    bucket: str,
    region: Optional[str],
    role_arn: Optional[str],
    name: str,
    outputs: dict[str, Any],
    external_id: Optional[str] = None,
    source_account_id: str,
    source_region: Optional[str],
    archived_by: str,
) -> dict[str, Any]:
    """Archive what an export/release resource recorded; returns the outputs it adds.

    Called by the dynamic providers' create/update when their ``archive_bucket`` input is set,
    from the outputs they just fetched (or kept: archiving a recorded release makes no QuickSight
    call, so it works after the job expired).

    Returns:
        ``archive_manifest_key`` (``releases/<name>.json``), ``archive_sha256`` (the archived
        template's sha256) and ``archive_manifest_version_id`` (the manifest's S3 version: what
        later stages pin).
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
        template_repairs=outputs.get("template_repairs"),
    )
    target = ArchiveTarget(
        bucket, region, role_arn, external_id=external_id, session_name=role_session_name("qsp-archive", name)
    )
    archived = archive_release(target, manifest, outputs["template_body"])
    return {
        "archive_manifest_key": archived.manifest_key,
        "archive_sha256": archived.manifest.sha256,
        "archive_manifest_version_id": archived.manifest_version_id,
    }
