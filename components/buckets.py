"""The program's S3 buckets (thin shell): private, encrypted, bucket-owner-enforced, TLS only, one way.

The component's staging bucket (``stack.py``) and the release archive (``archive.py``) are both
such a bucket; pulumi-aws resources, created through the caller's aws provider (``opts``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional, get_args

import pulumi
import pulumi_aws as aws

from .core.types import MAX_RETENTION_DAYS, RetentionMode
from .errors import InputError

# More statements of a bucket's one policy, given the bucket's name and ARN.
Statements = Callable[[str, str], list[dict[str, Any]]]


@dataclass(frozen=True)
class Retention:
    """S3 Object Lock's default retention of a bucket: each new object version locked for ``days``.

    Raises:
        InputError: a mode other than ``GOVERNANCE``/``COMPLIANCE``, or days outside 1 to 36,500.
    """

    mode: RetentionMode
    days: int

    def __post_init__(self) -> None:
        if self.mode not in get_args(RetentionMode):
            raise InputError(f"retention mode {self.mode!r} is not GOVERNANCE or COMPLIANCE (S3 Object Lock's modes)")
        if isinstance(self.days, bool) or not isinstance(self.days, int) or not 1 <= self.days <= MAX_RETENTION_DAYS:
            raise InputError(f"retention of {self.days!r} days is not a whole number from 1 to {MAX_RETENTION_DAYS:,}")


def deny_insecure_transport(bucket_arn: str) -> dict[str, Any]:
    """The statement that refuses every request made without TLS (``aws:SecureTransport`` false), whoever makes it."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, f"{bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def bucket_policy(bucket: str, bucket_arn: str, statements: Optional[Statements] = None) -> dict[str, Any]:
    """A bucket's one policy document: TLS only, then ``statements`` (a bucket has one policy, so they merge here)."""
    return {
        "Version": "2012-10-17",
        "Statement": [deny_insecure_transport(bucket_arn), *(statements(bucket, bucket_arn) if statements else [])],
    }


def _lock_down(name: str, bucket: aws.s3.Bucket, opts: pulumi.ResourceOptions) -> aws.s3.BucketPublicAccessBlock:
    """Public access blocked, SSE-S3 encryption and ACLs disabled on ``bucket``; its public access block."""
    block = aws.s3.BucketPublicAccessBlock(
        name,
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=opts,
    )
    aws.s3.BucketServerSideEncryptionConfiguration(
        name,
        bucket=bucket.id,
        rules=[
            aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                    sse_algorithm="AES256"
                )
            )
        ],
        opts=opts,
    )
    aws.s3.BucketOwnershipControls(
        name,
        bucket=bucket.id,
        rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
        opts=opts,
    )
    return block


def _lock(name: str, bucket: aws.s3.Bucket, retention: Retention, opts: pulumi.ResourceOptions) -> None:
    """S3 Object Lock on ``bucket`` with ``retention`` by default (new or existing: S3 needs versioning first)."""
    aws.s3.BucketObjectLockConfiguration(
        name,
        bucket=bucket.id,
        object_lock_enabled="Enabled",
        rule=aws.s3.BucketObjectLockConfigurationRuleArgs(
            default_retention=aws.s3.BucketObjectLockConfigurationRuleDefaultRetentionArgs(
                mode=retention.mode, days=retention.days
            )
        ),
        opts=opts,
    )


def private_bucket(
    name: str,
    *,
    force_destroy: pulumi.Input[bool],
    opts: pulumi.ResourceOptions,
    statements: Optional[Statements] = None,
    versioned: bool = False,
    retention: Optional[Retention] = None,
) -> tuple[aws.s3.Bucket, aws.s3.BucketPolicy]:
    """A bucket with public access blocked, SSE-S3 encryption, ACLs disabled (bucket owner enforced) and TLS required.

    Args:
        name: The Pulumi name of the bucket and of its settings.
        force_destroy: Let ``pulumi destroy`` delete a bucket that still holds objects.
        opts: Resource options of each resource (``parent``, the aws provider).
        statements: More statements of the bucket's policy (e.g. the archive's readers), given the
            bucket's name and ARN; merged with the TLS-only statement into the one policy.
        versioned: Keep every version of every object (S3 versioning): an overwrite or a delete
            never loses the bytes that were written first, and a version id names them.
        retention: Lock every new object version (S3 Object Lock's default retention); implies
            ``versioned``. Object Lock cannot be turned off again on the bucket.

    Returns:
        The bucket, and its policy (what writes into the bucket should wait for: TLS only then).
    """
    bucket = aws.s3.Bucket(name, force_destroy=force_destroy, opts=opts)
    block = _lock_down(name, bucket, opts)
    if versioned or retention:
        versioning = aws.s3.BucketVersioning(
            name,
            bucket=bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=opts,
        )
        if retention:
            _lock(name, bucket, retention, pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[versioning])))
    # A Deny with Principal "*" does not make a policy public: the access block above allows it,
    # and the policy waits for the block (S3 refuses a policy while it is being applied).
    policy = aws.s3.BucketPolicy(
        name,
        bucket=bucket.id,
        policy=pulumi.Output.all(bucket.bucket, bucket.arn).apply(
            lambda names: json.dumps(bucket_policy(names[0], names[1], statements))
        ),
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=[block])),
    )
    return bucket, policy
