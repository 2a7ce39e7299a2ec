"""The program's settings: the stack configuration of one stage, validated in one message.

Declared (with types, defaults and descriptions) in ``Pulumi.yaml``; validated here with pydantic,
so a missing, mistyped or misspelt setting is one message naming every bad key. No Pulumi here:
the offline ``preflight`` command uses the same validation.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .core.models import DEFAULT_EXPORT_TIMEOUT_SECONDS, MAX_TIMEOUT_SECONDS
from .core.stacks import DEFAULT_TIMEOUT_SECONDS
from .core.stage_values import PLACEHOLDER_PREFIX
from .core.stacksets import ROLE_NAME_PATTERN
from .core.types import (
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    AccountId,
    ExportJobId,
    OptionalBucketName,
    OptionalIdentity,
    OptionalExternalId,
    OptionalRegion,
    OptionalRoleArn,
    OptionalSha256,
    OptionalStackName,
    OptionalVersionId,
    Region,
    RetentionMode,
)
from .errors import InputError, ProblemsError

NAMESPACE = "quicksight-promotion"

# Scalar settings (read as text, converted by pydantic) and structured ones (read as JSON);
# `parameters` is read on its own (it may hold secrets).
SCALAR_KEYS = (
    "sourceAccountId",
    "exportJobId",
    "sourceRegion",
    "sourceRoleArn",
    "sourceExternalId",
    "expectedSha256",
    "pinFromStack",
    "exportTimeoutSeconds",
    "allowSourceDefaults",
    "stackName",
    "stackTimeoutSeconds",
    "onFailure",
    "onDrift",
    "verifyAssets",
    "waitForIngestion",
    "cloudFormationRoleArn",
    "protect",
    "targetRoleArn",
    "targetExternalId",
    "adoptStack",
    "adoptIdentity",
    "adoptAllowRemovals",
    "executeChangeSet",
    "stagingBucket",
    "stagingPrefix",
    "templateValidation",
    "templateRepair",
    # The source-stage mode: cut a release instead of deploying one.
    "releaseName",
    "releaseIncludePermissions",
    "releaseIncludeTags",
    "releaseStrictValidation",
    "releaseIdPrefix",
    # The release archive: where releases are archived, and which one a stage deploys.
    "archiveBucket",
    "archiveRegion",
    "archiveRoleArn",
    "archiveExternalId",
    "archiveRetentionMode",
    "archiveRetentionDays",
    "release",
    "releaseSha256",
    "releaseVersionId",
    # One release to many accounts (docs/stacksets.md).
    "stackSetName",
    "permissionModel",
    "administrationRoleArn",
    "executionRoleName",
    "maxConcurrent",
    "failureTolerance",
)
STRUCTURED_KEYS = (
    "stackTags",
    "notificationArns",
    "principals",
    "grant",
    "releaseDashboards",
    "releaseAnalyses",
    "archiveReaders",
    "stackSetAccounts",
    "stackSetRegions",
    "deploymentTargets",
)
KNOWN_KEYS = (*SCALAR_KEYS, *STRUCTURED_KEYS, "parameters")
# Settings renamed in 0.2.0 (CHANGELOG.md) -> their name now and how to move a value over.
RENAMED_SETTINGS = {
    "stackTimeoutMinutes": ("stackTimeoutSeconds", "in seconds: 60 minutes is 3600"),
    "deployRoleArn": ("targetRoleArn", "the same role ARN"),
}


class ProgramConfig(BaseModel):
    """The stack configuration of one stage (keys as in ``Pulumi.<stage>.yaml``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    source_account_id: AccountId = Field(alias="sourceAccountId")
    # Required unless releaseName puts the program in the source-stage mode (checked in parse_config).
    export_job_id: Optional[ExportJobId] = Field(default=None, alias="exportJobId")
    source_region: OptionalRegion = Field(default=None, alias="sourceRegion")
    source_role_arn: OptionalRoleArn = Field(default=None, alias="sourceRoleArn")
    # STS ExternalIds the roles' trust policies ask for: sent with AssumeRole, never shown.
    source_external_id: OptionalExternalId = Field(default=None, alias="sourceExternalId")
    expected_sha256: OptionalSha256 = Field(default=None, alias="expectedSha256")
    pin_from_stack: Optional[str] = Field(default=None, alias="pinFromStack")
    export_timeout_seconds: int = Field(
        default=DEFAULT_EXPORT_TIMEOUT_SECONDS, alias="exportTimeoutSeconds", ge=1, le=MAX_TIMEOUT_SECONDS
    )
    allow_source_defaults: bool = Field(default=False, alias="allowSourceDefaults")
    stack_name: OptionalStackName = Field(default=None, alias="stackName")
    stack_timeout_seconds: int = Field(
        default=DEFAULT_TIMEOUT_SECONDS, alias="stackTimeoutSeconds", ge=1, le=MAX_TIMEOUT_SECONDS
    )
    on_failure: Literal["DELETE", "ROLLBACK", "DO_NOTHING"] = Field(default="DELETE", alias="onFailure")
    on_drift: Optional[Literal["refuse", "warn", "revert", "ignore"]] = Field(default=None, alias="onDrift")
    verify_assets: Literal["error", "warning", "off"] = Field(default="error", alias="verifyAssets")
    wait_for_ingestion: bool = Field(default=False, alias="waitForIngestion")
    cloudformation_role_arn: OptionalRoleArn = Field(default=None, alias="cloudFormationRoleArn")
    protect: bool = False
    target_role_arn: OptionalRoleArn = Field(default=None, alias="targetRoleArn")
    target_external_id: OptionalExternalId = Field(default=None, alias="targetExternalId")
    adopt_stack: bool = Field(default=False, alias="adoptStack")
    adopt_identity: OptionalIdentity = Field(default=None, alias="adoptIdentity")
    adopt_allow_removals: bool = Field(default=False, alias="adoptAllowRemovals")
    execute_change_set: bool = Field(default=True, alias="executeChangeSet")
    staging_bucket: OptionalBucketName = Field(default=None, alias="stagingBucket")
    staging_prefix: str = Field(default="quicksight-promotion/", alias="stagingPrefix")
    template_validation: Literal["error", "warning", "off"] = Field(default="error", alias="templateValidation")
    # What CloudFormation's resource schemas reject in the template: reported, removed, or neither (core.repair).
    template_repair: Literal["report", "repair", "off"] = Field(default="report", alias="templateRepair")
    stack_tags: dict[str, str] = Field(default_factory=dict, alias="stackTags")
    notification_arns: list[str] = Field(default_factory=list, alias="notificationArns")
    # Source principal (as `inspect` lists it) -> the target principal that takes its permissions.
    principals: dict[str, Union[str, list[str]]] = Field(default_factory=dict)
    # For exports without permissions: [{principal: <target>, role: owner|viewer}].
    grant: list[dict[str, str]] = Field(default_factory=list)
    release_name: Optional[str] = Field(default=None, alias="releaseName", max_length=256)
    release_dashboards: list[str] = Field(default_factory=list, alias="releaseDashboards")
    release_analyses: list[str] = Field(default_factory=list, alias="releaseAnalyses")
    release_include_permissions: bool = Field(default=False, alias="releaseIncludePermissions")
    release_include_tags: bool = Field(default=False, alias="releaseIncludeTags")
    release_strict_validation: bool = Field(default=True, alias="releaseStrictValidation")
    release_id_prefix: bool = Field(default=True, alias="releaseIdPrefix")
    # The release archive (README, the release archive). The source stage creates the bucket when
    # archiveBucket is empty; a stage deploying `release` reads it.
    archive_bucket: OptionalBucketName = Field(default=None, alias="archiveBucket")
    archive_region: OptionalRegion = Field(default=None, alias="archiveRegion")
    archive_role_arn: OptionalRoleArn = Field(default=None, alias="archiveRoleArn")
    archive_external_id: OptionalExternalId = Field(default=None, alias="archiveExternalId")
    archive_readers: list[str] = Field(default_factory=list, alias="archiveReaders")
    archive_retention_mode: RetentionMode = Field(default="GOVERNANCE", alias="archiveRetentionMode")
    archive_retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS, alias="archiveRetentionDays", ge=1, le=MAX_RETENTION_DAYS
    )
    release: Optional[str] = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,511}$")
    release_sha256: OptionalSha256 = Field(default=None, alias="releaseSha256")
    release_version_id: OptionalVersionId = Field(default=None, alias="releaseVersionId")
    # One release to many accounts (docs/stacksets.md): set, the stage deploys a StackSet.
    stack_set_name: OptionalStackName = Field(default=None, alias="stackSetName")
    # [{accountId, regions?, parameters?}]: an account's parameters are stage values, as `parameters` takes them.
    stack_set_accounts: list[dict[str, Any]] = Field(default_factory=list, alias="stackSetAccounts")
    stack_set_regions: list[Region] = Field(default_factory=list, alias="stackSetRegions")
    permission_model: Literal["SELF_MANAGED", "SERVICE_MANAGED"] = Field(default="SELF_MANAGED", alias="permissionModel")
    administration_role_arn: OptionalRoleArn = Field(default=None, alias="administrationRoleArn")
    execution_role_name: Optional[str] = Field(default=None, alias="executionRoleName", pattern=ROLE_NAME_PATTERN)
    deployment_targets: list[str] = Field(default_factory=list, alias="deploymentTargets")
    max_concurrent: str = Field(default="1", alias="maxConcurrent")
    failure_tolerance: str = Field(default="0", alias="failureTolerance")

    @field_validator(
        "export_job_id",
        "pin_from_stack",
        "release_name",
        "release",
        "execution_role_name",
        "on_drift",
        mode="before",
    )
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # Pulumi.yaml declares these optional settings with an empty default, because the CLI
        # requires every declared key that has no default; the CLI then hands the default over.
        return None if value == "" else value


def _problem(item: Any) -> str:
    """One setting's problem, as ``parse_config`` lists it."""
    key = ".".join(str(p) for p in item["loc"]) or "config"
    if item["type"] == "missing":
        return f"{NAMESPACE}:{key} is required (pulumi config set {NAMESPACE}:{key} <value>)"
    if item["type"] == "extra_forbidden" and key in RENAMED_SETTINGS:
        new, how = RENAMED_SETTINGS[key]
        return (
            f"{NAMESPACE}:{key} was renamed {NAMESPACE}:{new} in 0.2.0 ({how}): pulumi config rm {NAMESPACE}:{key}, "
            f"then pulumi config set {NAMESPACE}:{new} <value>"
        )
    if item["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
        hint = f": did you mean {close[0]}?" if close else f" (settings: {', '.join(KNOWN_KEYS)})"
        return f"{NAMESPACE}:{key} is not a setting of this program{hint}"
    # The value is not quoted: a setting may hold anything, a secret pasted into the wrong key too.
    return f"{NAMESPACE}:{key}: {item['msg']}"


def parse_config(raw: dict[str, Any]) -> ProgramConfig:
    """Validate raw configuration values, reporting every problem in one message.

    Raises:
        ProblemsError: naming each bad or missing key and what it must be (``problems``: one by
            one, each starting with ``quicksight-promotion:<key>``), never its value.
        InputError: settings that do not go together.
    """
    placeholders = [key for key, value in raw.items() if isinstance(value, str) and value.startswith(PLACEHOLDER_PREFIX)]
    if placeholders:
        listed = "; ".join(
            f"{NAMESPACE}:{key} still holds the skeleton placeholder (<required: ...>): set the stage's value" for key in placeholders
        )
        raise ProblemsError(f"invalid stack configuration: {listed}", tuple(listed.split("; ")))
    # exportJobId is required unless releaseName is set (the source-stage mode): reported with the
    # other problems, in the same words as a missing required setting.
    chosen = ("releaseName", "exportJobId", "release", "releaseSha256")
    missing = [] if any(raw.get(key) for key in chosen) else [
        f"{NAMESPACE}:exportJobId is required (pulumi config set {NAMESPACE}:exportJobId <value>), "
        f"or {NAMESPACE}:releaseName for the source stage"
    ]  # fmt: skip
    try:
        config = ProgramConfig.model_validate(raw)
    except ValidationError as exc:
        problems = [*missing, *(_problem(item) for item in exc.errors())]
    else:
        problems = missing
    if problems:
        # Not chained (and raised outside the except): pydantic's own text quotes every value.
        raise ProblemsError(f"invalid stack configuration: {'; '.join(problems)}", tuple(problems)) from None
    _check_together(config)
    return config


def _check_release_pin(config: ProgramConfig) -> None:
    """A release read by name is pinned: by its manifest's version, its sha256, or the stage before.

    Whoever can write the archive can write a new version of ``releases/<name>.json`` naming
    another template; a pin makes the stage read (or check) exactly what was validated.

    Raises:
        InputError: ``release`` without a pin, or ``releaseVersionId`` without ``release``.
    """
    if config.release_version_id and not config.release:
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:releaseVersionId is the version of a release's manifest: set "
            f"{NAMESPACE}:release to that release's name too"
        )
    pins = (config.release_version_id, config.release_sha256, config.pin_from_stack, config.expected_sha256)
    if config.release and not any(pins):
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:release is set with no pin: set {NAMESPACE}:pinFromStack to the "
            f"stage before (its release_manifest_version_id and template_sha256 outputs), or {NAMESPACE}:releaseVersionId "
            f"(the source stage's release_manifest_version_id output), or {NAMESPACE}:releaseSha256"
        )


def _check_stack_set(config: ProgramConfig) -> None:
    """The StackSet settings go with ``stackSetName``, in a stage that deploys (not the source stage).

    Raises:
        InputError: naming the settings given without it, or with releaseName.
    """
    given = [
        key
        for key, value in (
            ("stackSetAccounts", config.stack_set_accounts),
            ("stackSetRegions", config.stack_set_regions),
            ("deploymentTargets", config.deployment_targets),
            ("administrationRoleArn", config.administration_role_arn),
            ("executionRoleName", config.execution_role_name),
        )
        if value
    ]
    if given and not config.stack_set_name:
        raise InputError(
            f"invalid stack configuration: {', '.join(f'{NAMESPACE}:{key}' for key in given)} set without "
            f"{NAMESPACE}:stackSetName: name the StackSet to deploy the release as (docs/stacksets.md), or remove them"
        )
    if config.stack_set_name and config.release_name:
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:stackSetName deploys a release to many accounts; the source stage "
            f"({NAMESPACE}:releaseName) cuts one: set one of them"
        )


def _check_together(config: ProgramConfig) -> None:
    """The rules across settings: one mode per stage (cut a release, deploy a job, deploy an archived release).

    Raises:
        InputError: naming the settings that do not go together, and what to set.
    """
    if config.release_name and config.export_job_id:
        raise InputError(
            f"invalid stack configuration: set either {NAMESPACE}:releaseName (the source stage cuts a release) "
            f"or {NAMESPACE}:exportJobId (a stage deploys one), not both"
        )
    archived = config.release or config.release_sha256
    if archived and (config.release_name or config.export_job_id):
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:release/{NAMESPACE}:releaseSha256 (deploy an archived release) "
            f"cannot be set with {NAMESPACE}:{'releaseName' if config.release_name else 'exportJobId'}: a stage "
            "deploys one release, from the archive or from an export job"
        )
    if archived and not config.archive_bucket:
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:{'release' if config.release else 'releaseSha256'} is set but "
            f"{NAMESPACE}:archiveBucket is not: name the release archive bucket (the source stage's archive_bucket "
            f"output): pulumi config set {NAMESPACE}:archiveBucket <bucket>"
        )
    if config.archive_readers and (not config.release_name or config.archive_bucket):
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:archiveReaders is only for the source stage "
            f"({NAMESPACE}:releaseName) when it creates the archive bucket ({NAMESPACE}:archiveBucket empty): grant "
            "the readers of an existing bucket with its own bucket policy (see docs/archive.md)"
        )
    if config.release_name and not (config.release_dashboards or config.release_analyses):
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:releaseName is set but neither {NAMESPACE}:releaseDashboards "
            f"nor {NAMESPACE}:releaseAnalyses names an asset (pulumi config set --path "
            f"'{NAMESPACE}:releaseDashboards[0]' <dashboard id>)"
        )
    _check_stack_set(config)
    _check_release_pin(config)
    if config.expected_sha256 and config.pin_from_stack:
        raise InputError(
            f"invalid stack configuration: set either {NAMESPACE}:expectedSha256 or {NAMESPACE}:pinFromStack, not both"
        )
