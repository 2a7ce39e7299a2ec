"""The program's S3 buckets (thin shell): private, encrypted, bucket-owner-enforced, one way.

The component's staging bucket (``stack.py``) and the release archive (``archive.py``) are both
such a bucket; pulumi-aws resources, created through the caller's aws provider (``opts``).
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws


def private_bucket(
    name: str, *, force_destroy: bool, opts: pulumi.ResourceOptions
) -> tuple[aws.s3.Bucket, aws.s3.BucketPublicAccessBlock]:
    """A bucket with public access blocked, SSE-S3 encryption and ACLs disabled (bucket owner enforced).

    Args:
        name: The Pulumi name of the bucket and of its settings.
        force_destroy: Let ``pulumi destroy`` delete a bucket that still holds objects.
        opts: Resource options of each resource (``parent``, the aws provider).

    Returns:
        The bucket, and its public access block (a bucket policy must wait for it).
    """
    bucket = aws.s3.Bucket(name, force_destroy=force_destroy, opts=opts)
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
    return bucket, block
