"""The release archive in the Pulumi program (thin shell): the bucket, and reading a release at preview.

- ``ReleaseArchive``: a private (public access blocked), encrypted (SSE-S3), versioned,
  bucket-owner-enforced S3 bucket (pulumi-aws resources), optionally with a bucket policy that
  lets the stage roles of other accounts read ``releases/*`` and ``templates/*``. The source
  stage's program creates it; the release provider writes into it (``aws/archive_writer.py``).
- ``read_archived_release``: a later stage's program reads ``releases/<name>.json`` and
  ``templates/<sha256>.json`` with pulumi-aws's ``aws.s3.getObject`` invoke, which runs in
  preview as in up, and checks the template's sha256 against the manifest. No export job is
  needed: a release deploys a year after its job expired, and a rollback names an earlier one.

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
    archived_document,
    check_template,
    manifest_key,
    parse_manifest,
    sha256_text,
    template_key,
)
from .buckets import private_bucket
from .core.catalog import build_catalog, summarize_resources
from .errors import ArchiveError, InputError

__all__ = ["ArchivedTemplate", "ReleaseArchive", "read_archived_release", "reader_policy"]


def reader_policy(bucket: str, reader_arns: Sequence[str]) -> dict[str, Any]:
    """The bucket policy that lets ``reader_arns`` (stage roles or account roots) read the releases.

    Only ``s3:GetObject`` on ``releases/*`` and ``templates/*``: a stage can read any release,
    and write none (the writer is the source stage, in the bucket's own account).
    """
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "StagesReadReleases",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(set(reader_arns))},
                "Action": "s3:GetObject",
                "Resource": [
                    f"arn:aws:s3:::{bucket}/{RELEASES_PREFIX}*",
                    f"arn:aws:s3:::{bucket}/{TEMPLATES_PREFIX}*",
                ],
            }
        ],
    }


class ReleaseArchive(pulumi.ComponentResource):
    """The release archive bucket: private, encrypted, versioned, bucket-owner-enforced, TLS only.

    Versioning keeps every object's first version even if someone overwrites or deletes it out of
    band (the writer never does: ``IfNoneMatch="*"``). The bucket is not ``force_destroy``: a
    ``pulumi destroy`` of the source stage fails on a non-empty archive rather than forgetting
    every release.

    Args:
        name: The Pulumi resource name.
        reader_arns: Principals of the stage accounts allowed ``s3:GetObject`` on ``releases/*``
            and ``templates/*`` (statements of the bucket's one policy, beside the TLS-only one;
            none: only the bucket's account reads).
        opts: Resource options.

    Outputs: ``bucket_name``, ``bucket_arn``, ``region`` (the bucket's, for the writer).
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]
    region: pulumi.Output[str]

    def __init__(
        self, name: str, reader_arns: Sequence[str] = (), opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__("quicksight-promotion:quicksight:ReleaseArchive", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        # A policy naming other accounts is not "public": the access block allows it.
        readers = (lambda bucket_name, _arn: reader_policy(bucket_name, reader_arns)["Statement"]) if reader_arns else None
        bucket, _ = private_bucket(name, force_destroy=False, opts=child, statements=readers, versioned=True)
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
        subject: How messages name it (``release 'x' of s3://bucket``).
    """

    name: Optional[str]
    sha256: pulumi.Output[str]
    template_body: pulumi.Output[str]
    catalog: pulumi.Output[list[dict[str, Any]]]
    assets: pulumi.Output[dict[str, list[str]]]
    manifest: pulumi.Output[Optional[dict[str, Any]]]
    subject: str


def _read_manifest(
    bucket: pulumi.Input[str],
    bucket_out: pulumi.Output[str],
    release: str,
    wanted: Optional[str],
    region: Optional[pulumi.Input[str]],
    opts: Optional[pulumi.InvokeOptions],
) -> pulumi.Output[Optional[dict[str, Any]]]:
    """``releases/<name>.json``, parsed, and refused unless it is the ``wanted`` template (when one is)."""
    key = manifest_key(release)
    answer = aws.s3.get_object_output(bucket=bucket, key=key, region=region, opts=opts)

    def manifest_of(values: list[Any]) -> dict[str, Any]:
        body, name = values
        parsed: ReleaseManifest = parse_manifest(body, f"s3://{name}/{key}", release)
        if wanted and wanted != parsed.sha256:
            raise ArchiveError(
                f"release {release!r} (s3://{name}/{key}) is template sha256 {parsed.sha256}, not the releaseSha256 "
                f"{wanted} this stage asks for: set only one of release and releaseSha256, or the matching pair"
            )
        return parsed.model_dump()

    return pulumi.Output.all(answer.body, bucket_out).apply(manifest_of)


def read_archived_release(
    bucket: pulumi.Input[str],
    *,
    release: Optional[str] = None,
    sha256: Optional[str] = None,
    region: Optional[pulumi.Input[str]] = None,
    opts: Optional[pulumi.InvokeOptions] = None,
) -> ArchivedTemplate:
    """Read a release (by name, or by sha256) from the archive with ``aws.s3.getObject`` invokes.

    Invokes run in preview as in up, so the template, its catalog and its per-resource digests are
    known at preview; every check fails the preview with a message naming the object.

    Args:
        bucket: The archive bucket.
        release: The release name (``releases/<name>.json``).
        sha256: The template's sha256 (``templates/<sha256>.json``); with ``release`` it must be the
            manifest's.
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
        manifest = _read_manifest(bucket, bucket_out, release, wanted, region, opts)
        expected: pulumi.Output[str] = manifest.apply(lambda m: str(m["sha256"]))
    else:
        manifest = pulumi.Output.from_input(None)
        expected = pulumi.Output.from_input(str(wanted))
    object_key = expected.apply(template_key)
    template = aws.s3.get_object_output(bucket=bucket, key=object_key, region=region, opts=opts)
    body = pulumi.Output.all(template.body, expected, bucket_out, object_key).apply(
        lambda v: check_template(v[0], v[1], f"s3://{v[2]}/{v[3]}")
    )
    document = pulumi.Output.all(body, bucket_out, object_key).apply(lambda v: archived_document(v[0], f"s3://{v[1]}/{v[2]}"))
    return ArchivedTemplate(
        name=release,
        sha256=body.apply(sha256_text),
        template_body=body,
        catalog=document.apply(lambda d: [e.model_dump(exclude_none=True) for e in build_catalog(d)]),
        assets=document.apply(summarize_resources),
        manifest=manifest,
        subject=subject,
    )
