"""The release archive in the Pulumi program (thin shell): the bucket, and reading a release at preview.

- ``ReleaseArchive``: a private (public access blocked), encrypted (SSE-S3), versioned,
  bucket-owner-enforced S3 bucket (pulumi-aws resources), optionally with a bucket policy that
  lets the stage roles of other accounts read ``releases/*`` and ``templates/*``. The source
  stage's program creates it; the release provider writes into it (``aws/archive_writer.py``).
- ``read_archived_release``: a later stage's program reads ``releases/<name>.json`` and
  ``templates/<sha256>.json`` with pulumi-aws's ``aws.s3.getObject`` invoke, which runs in
  preview as in up, and checks the template's sha256 against the manifest. No export job is
  needed: a release deploys a year after its job expired, and a rollback names an earlier one.
  It reads the manifest at the version the stage pins (the source stage's
  ``release_manifest_version_id`` output, through ``pinFromStack`` or ``releaseVersionId``) and the
  template at the version that manifest records: a version written over either later (S3 Object
  Lock protects versions, not keys) is never what a stage deploys.

No resource is created inside an ``apply``: the graph is the same in every preview.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import pulumi
import pulumi_aws as aws

from .core.manifest import (
    RELEASES_PREFIX,
    TEMPLATES_PREFIX,
    ReleaseManifest,
    checked_document,
    manifest_key,
    parse_manifest,
    sha256_text,
    template_key,
)
from .buckets import Retention, private_bucket
from .core.catalog import build_catalog, summarize_resources
from .core.types import DEFAULT_RETENTION_DAYS, RetentionMode, version_or_none
from .errors import ArchiveError, InputError, clean

__all__ = ["ArchivedTemplate", "ReleaseArchive", "read_archived_release", "reader_policy"]


def reader_policy(bucket: str, reader_arns: Sequence[str]) -> dict[str, Any]:
    """The bucket policy that lets ``reader_arns`` (stage roles or account roots) read the releases.

    Only ``s3:GetObject`` and ``s3:GetObjectVersion`` (a read of a pinned version) on
    ``releases/*`` and ``templates/*``: a stage can read any release, and write none (the writer
    is the source stage, in the bucket's own account).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StagesReadReleases",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(set(reader_arns))},
                "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                "Resource": [
                    f"arn:aws:s3:::{bucket}/{RELEASES_PREFIX}*",
                    f"arn:aws:s3:::{bucket}/{TEMPLATES_PREFIX}*",
                ],
            }
        ],
    }


class ReleaseArchive(pulumi.ComponentResource):
    """The release archive bucket: private, encrypted, versioned, locked, bucket-owner-enforced, TLS only.

    Versioning keeps every object's first version even if someone overwrites or deletes it out of
    band (the writer never does: ``IfNoneMatch="*"``), and S3 Object Lock's default retention
    keeps each version from being deleted or shortened for ``retention_days``: in ``GOVERNANCE``
    mode only a principal with ``s3:BypassGovernanceRetention`` can, in ``COMPLIANCE`` mode nobody,
    not even the account's root user, until the days have passed. Object Lock is enabled on an
    existing archive too (S3 allows it on a versioned bucket) and cannot be turned off again. The
    bucket is not ``force_destroy``: a ``pulumi destroy`` of the source stage fails on a non-empty
    archive rather than forgetting every release.

    Args:
        name: The Pulumi resource name.
        reader_arns: Principals of the stage accounts allowed ``s3:GetObject`` and
            ``s3:GetObjectVersion`` on ``releases/*`` and ``templates/*`` (statements of the
            bucket's one policy, beside the TLS-only one; none: only the bucket's account reads).
        retention_mode: ``GOVERNANCE`` or ``COMPLIANCE`` (Object Lock's default retention).
        retention_days: How long each object version is locked, in days.
        opts: Resource options.

    Outputs: ``bucket_name``, ``bucket_arn``, ``region`` (the bucket's, for the writer).
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    region: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        reader_arns: Sequence[str] = (),
        opts: Optional[pulumi.ResourceOptions] = None,
        *,
        retention_mode: RetentionMode = "GOVERNANCE",
        retention_days: int = DEFAULT_RETENTION_DAYS,
    ) -> None:
        super().__init__("quicksight-promotion:quicksight:ReleaseArchive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        retention = Retention(retention_mode, retention_days)  # refuses a bad mode or days at once
        # A policy naming other accounts is not "public": the access block allows it.
        readers = (lambda bucket_name, _arn: reader_policy(bucket_name, reader_arns)["Statement"]) if reader_arns else None
        bucket, _ = private_bucket(name, force_destroy=False, opts=child, statements=readers, retention=retention)
        self.bucket_name = bucket.bucket
        self.bucket_arn = bucket.arn
        # The writer runs in the provider process, whose AWS chain may name another region than
        # the program's aws provider: it is handed the bucket's own.
        self.region = bucket.bucket_region
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn, "region": self.region})


@dataclass(frozen=True)
class ArchivedTemplate:
    """A release read from the archive by the program (known at preview).

    Attributes:
        name: The release name (None when chosen by sha256 alone).
        sha256: The archived template's sha256 (checked against the bytes read).
        template_body: The template, its sha256 checked.
        catalog: Its parameter catalog (rebuilt from the template with ``build_catalog``).
        assets: Asset ids by kind.
        manifest: The manifest (as dumped), or None when chosen by sha256.
        manifest_version_id: The S3 version of the manifest read (None by sha256 alone, or in a
            bucket without versioning): what the next stage pins.
        subject: How messages name it (``release 'x' of s3://bucket``).
    """

    name: Optional[str]
    sha256: pulumi.Output[str]
    template_body: pulumi.Output[str]
    catalog: pulumi.Output[list[dict[str, Any]]]
    assets: pulumi.Output[dict[str, list[str]]]
    manifest: pulumi.Output[Optional[dict[str, Any]]]
    subject: str
    manifest_version_id: Optional[pulumi.Output[Optional[str]]] = None


def _checked_version(where: str, asked: Optional[str], answered: Optional[str]) -> Optional[str]:
    """The version read, refused when it is not the one asked for."""
    if asked and version_or_none(answered) != asked:
        raise ArchiveError(
            f"{where} was read at version {clean(str(answered), 100)!r}, not the pinned {clean(asked, 100)!r}: "
            "the archive or its reader did not honour the version; nothing was deployed: check that the aws provider "
            "reads the archive from S3 itself (no S3 endpoint override), then run pulumi up again"
        )
    return version_or_none(answered)


def _read_manifest(
    bucket: pulumi.Input[str],
    bucket_out: pulumi.Output[str],
    release: str,
    wanted: Optional[str],
    version_id: Optional[pulumi.Input[Optional[str]]],
    region: Optional[pulumi.Input[str]],
    opts: Optional[pulumi.InvokeOptions],
) -> tuple[pulumi.Output[Optional[dict[str, Any]]], pulumi.Output[Optional[str]]]:
    """``releases/<name>.json`` at the pinned version, parsed, and refused unless it is the ``wanted`` template.

    Returns:
        The manifest (as dumped) and the version read.
    """
    key = manifest_key(release)
    pinned = pulumi.Output.from_input(version_id).apply(version_or_none)
    answer = aws.s3.get_object_output(bucket=bucket, key=key, version_id=pinned, region=region, opts=opts)

    def manifest_of(values: list[Any]) -> dict[str, Any]:
        body, name, asked, answered = values
        where = f"s3://{name}/{key}"
        _checked_version(where, asked, answered)
        parsed: ReleaseManifest = parse_manifest(body, where, release)
        if wanted and wanted != parsed.sha256:
            raise ArchiveError(
                f"release {release!r} ({where}) is template sha256 {parsed.sha256}, not the releaseSha256 "
                f"{wanted} this stage asks for: set only one of release and releaseSha256, or the matching pair"
            )
        return parsed.model_dump()

    manifest = pulumi.Output.all(answer.body, bucket_out, pinned, answer.version_id).apply(manifest_of)
    # The version read, known once the manifest passed its checks.
    read = pulumi.Output.all(manifest, answer.version_id).apply(lambda v: version_or_none(v[1]))
    return manifest, read


def read_archived_release(
    bucket: pulumi.Input[str],
    *,
    release: Optional[str] = None,
    sha256: Optional[str] = None,
    manifest_version_id: Optional[pulumi.Input[Optional[str]]] = None,
    region: Optional[pulumi.Input[str]] = None,
    opts: Optional[pulumi.InvokeOptions] = None,
) -> ArchivedTemplate:
    """Read a release (by name, or by sha256) from the archive with ``aws.s3.getObject`` invokes.

    Invokes run in preview as in up, so the template, its catalog and its per-resource digests are
    known at preview; every check fails the preview with a message naming the object. The
    template is read at the version its manifest records (when it records one).

    Args:
        bucket: The archive bucket.
        release: The release name (``releases/<name>.json``).
        sha256: The template's sha256 (``templates/<sha256>.json``); with ``release`` it must be the
            manifest's.
        manifest_version_id: The manifest's S3 version to read (the source stage's
            ``release_manifest_version_id`` output); None reads the latest.
        region: The bucket's region (else the aws provider's).
        opts: Invoke options (``parent``, and ``provider`` for another account or role).

    Raises:
        InputError: neither or a malformed name/sha256 (at once); ArchiveError inside the outputs.
    """
    if not release and not sha256:
        raise InputError("read_archived_release needs a release name or a template sha256")
    wanted = sha256.lower() if sha256 else None
    if wanted:
        template_key(wanted)  # refuses a malformed sha256 at once
    bucket_out = pulumi.Output.from_input(bucket)
    subject = f"release {release!r}" if release else f"archived template {wanted}"
    manifest: pulumi.Output[Optional[dict[str, Any]]]
    if release:
        manifest, read_version = _read_manifest(bucket, bucket_out, release, wanted, manifest_version_id, region, opts)
        expected: pulumi.Output[str] = manifest.apply(lambda m: str(m["sha256"]))
    else:
        manifest, read_version = pulumi.Output.from_input(None), pulumi.Output.from_input(None)
        expected = pulumi.Output.from_input(str(wanted))
    body, document = _read_template(bucket, bucket_out, expected, manifest, region, opts)
    return ArchivedTemplate(
        name=release,
        sha256=body.apply(sha256_text),
        template_body=body,
        catalog=document.apply(lambda d: [e.model_dump(exclude_none=True) for e in build_catalog(d)]),
        assets=document.apply(summarize_resources),
        manifest=manifest,
        subject=subject,
        manifest_version_id=read_version,
    )


def _read_template(
    bucket: pulumi.Input[str],
    bucket_out: pulumi.Output[str],
    expected: pulumi.Output[str],
    manifest: pulumi.Output[Optional[dict[str, Any]]],
    region: Optional[pulumi.Input[str]],
    opts: Optional[pulumi.InvokeOptions],
) -> tuple[pulumi.Output[str], pulumi.Output[dict[str, Any]]]:
    """``templates/<sha256>.json`` at the version the manifest records, checked and parsed once: (its body, its document)."""
    object_key = expected.apply(template_key)
    template_version = manifest.apply(lambda m: (m or {}).get("template_version_id"))
    template = aws.s3.get_object_output(bucket=bucket, key=object_key, version_id=template_version, region=region, opts=opts)
    checked = pulumi.Output.all(template.body, expected, bucket_out, object_key, template_version, template.version_id).apply(
        lambda v: _checked_template(v[0], v[1], f"s3://{v[2]}/{v[3]}", v[4], v[5])
    )
    return checked.apply(lambda c: c[0]), checked.apply(lambda c: c[1])


def _checked_template(
    body: Optional[str], sha256: str, where: str, asked: Optional[str], answered: Optional[str]
) -> tuple[str, dict[str, Any]]:
    """The archived template and its document, read at the version asked for and hashing to ``sha256``."""
    _checked_version(where, asked, answered)
    return str(body), checked_document(body, sha256, where)
