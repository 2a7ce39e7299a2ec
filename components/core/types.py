"""Constrained types shared by every model of inputs and settings: each rule written once.

Pure core: pydantic annotations only. The ``Optional...`` forms read an empty string as unset:
``Pulumi.yaml`` declares optional settings with an empty default (the CLI requires every declared
key without one), and a program may pass ``""`` for an input it does not use.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Optional

from pydantic import BeforeValidator, StringConstraints

ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
# aws-partition regions: us-east-1, eu-central-2, us-gov-west-1, ap-southeast-5...
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
# An IAM role ARN of any partition (aws, aws-cn, aws-us-gov), with a path.
ROLE_ARN_PATTERN = r"^arn:aws[a-z\-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/\-]+$"
# CloudFormation's stack name rule.
STACK_NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,127}$"
# S3's general-purpose bucket name rule (no upper case, no underscores, 3 to 63 characters).
BUCKET_NAME_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
SHA256_PATTERN = r"^[0-9a-fA-F]{64}$"
# A deployment's identity, as its stacks' quicksight-promotion:managed-by tag holds it: the 32 hex
# digits 0.2.0 mints (secrets.token_hex(16)), or the fixed value 0.1.0 wrote on every stack.
LEGACY_IDENTITY = "CloudFormationDeployment"
IDENTITY_PATTERN = rf"^([0-9a-f]{{32}}|{LEGACY_IDENTITY})$"
# S3 Object Lock's retention modes, and S3's longest default retention (100 years).
RetentionMode = Literal["GOVERNANCE", "COMPLIANCE"]
MAX_RETENTION_DAYS = 36500
# The release archive's default: a release deploys (and rolls back) for at least a year after it was cut.
DEFAULT_RETENTION_DAYS = 365
# An S3 object version id: opaque, at most 1,024 bytes; "null" is the version of an object written
# while the bucket was not versioned, which names no version of its own.
VERSION_ID_PATTERN = r"^[\x21-\x7e]{1,1024}$"
# QuickSight's AssetBundleExportJobId rule.
EXPORT_JOB_ID_PATTERN = r"^[\w\-]+$"


def empty_is_none(value: Any) -> Any:
    """``""`` read as unset (see the module docstring)."""
    return None if value == "" else value


def version_or_none(value: Any) -> Optional[str]:
    """An S3 version id as S3 answered it: None for none, or for ``"null"`` (an object written unversioned)."""
    return value if isinstance(value, str) and value and value != "null" else None


def lower(value: Any) -> Any:
    """A hex digest compared case-insensitively: kept lower-case."""
    return value.lower() if isinstance(value, str) else value


# STS AssumeRole's ExternalId: 2 to 1224 characters of [\w+=,.@:/-] (ASCII).
EXTERNAL_ID_PATTERN = r"^[A-Za-z0-9_+=,.@:/-]+$"
# STS AssumeRole's RoleSessionName: 2 to 64 characters of [\w+=,.@-].
_SESSION_NAME_UNSAFE = re.compile(r"[^\w+=,.@-]")


def role_session_name(*parts: str) -> str:
    """An STS RoleSessionName naming the stack or job (CloudTrail shows it): ``parts`` joined by ``-``.

    Any character STS refuses (``[^\\w+=,.@-]``, non-ASCII included) becomes ``-``, and the name
    is cut to STS's 64 characters (padded to its minimum of 2).
    """
    joined = "-".join(part for part in parts if part)
    name = _SESSION_NAME_UNSAFE.sub("-", joined.encode("ascii", "replace").decode("ascii"))
    return name[:64].ljust(2, "-")


AccountId = Annotated[str, StringConstraints(pattern=ACCOUNT_ID_PATTERN)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
RoleArn = Annotated[str, StringConstraints(max_length=2048, pattern=ROLE_ARN_PATTERN)]
StackName = Annotated[str, StringConstraints(pattern=STACK_NAME_PATTERN)]
BucketName = Annotated[str, StringConstraints(pattern=BUCKET_NAME_PATTERN)]
Sha256 = Annotated[str, StringConstraints(pattern=SHA256_PATTERN), BeforeValidator(lower)]
Identity = Annotated[str, StringConstraints(pattern=IDENTITY_PATTERN)]
ExportJobId = Annotated[str, StringConstraints(min_length=1, max_length=512, pattern=EXPORT_JOB_ID_PATTERN)]

OptionalRegion = Annotated[Optional[Region], BeforeValidator(empty_is_none)]
OptionalRoleArn = Annotated[Optional[RoleArn], BeforeValidator(empty_is_none)]
OptionalBucketName = Annotated[Optional[BucketName], BeforeValidator(empty_is_none)]
OptionalSha256 = Annotated[Optional[Sha256], BeforeValidator(empty_is_none)]
OptionalStackName = Annotated[Optional[StackName], BeforeValidator(empty_is_none)]
OptionalAccountId = Annotated[Optional[AccountId], BeforeValidator(empty_is_none)]
OptionalIdentity = Annotated[Optional[Identity], BeforeValidator(empty_is_none)]
ExternalId = Annotated[str, StringConstraints(min_length=2, max_length=1224, pattern=EXTERNAL_ID_PATTERN)]
OptionalExternalId = Annotated[Optional[ExternalId], BeforeValidator(empty_is_none)]
VersionId = Annotated[str, StringConstraints(pattern=VERSION_ID_PATTERN)]
OptionalVersionId = Annotated[Optional[VersionId], BeforeValidator(empty_is_none)]
