"""pydantic models: the QuickSight API shapes we read and the export resource's inputs/outputs.

Pure core: no I/O, no Pulumi.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from .types import AccountId, ExportJobId, OptionalBucketName, OptionalRegion, OptionalRoleArn, OptionalSha256

JOB_STATUSES_DONE = frozenset({"SUCCESSFUL", "FAILED"})
CLOUDFORMATION_JSON = "CLOUDFORMATION_JSON"


class JobErrorEntry(BaseModel):
    """One entry of ``Errors`` of a FAILED export job."""

    model_config = ConfigDict(extra="ignore")

    arn: Optional[str] = Field(default=None, alias="Arn")
    type: Optional[str] = Field(default=None, alias="Type")
    message: Optional[str] = Field(default=None, alias="Message")

    def describe(self) -> str:
        """One readable line: ``<Arn>: <short Type>: <Message>``."""
        short_type = (self.type or "UnknownError").rsplit(".", 1)[-1]
        return f"{self.arn or '(no arn)'}: {short_type}: {self.message or '(no message)'}"


class JobWarningEntry(BaseModel):
    """One entry of ``Warnings`` (lenient validation only)."""

    model_config = ConfigDict(extra="ignore")

    arn: Optional[str] = Field(default=None, alias="Arn")
    message: Optional[str] = Field(default=None, alias="Message")

    def describe(self) -> str:
        """One readable line: ``<Arn>: <Message>``."""
        return f"{self.arn or '(no arn)'}: {self.message or '(no message)'}"


class ExportJobDescription(BaseModel):
    """The fields of DescribeAssetBundleExportJob's answer that we use.

    ``download_url`` is a pre-signed S3 URL valid for 5 minutes: a bearer credential, marked
    sensitive in the API model. It is a ``SecretStr`` so it never shows in a repr or a log.
    """

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    job_id: str = Field(alias="AssetBundleExportJobId")
    arn: Optional[str] = Field(default=None, alias="Arn")
    status: str = Field(alias="JobStatus")
    export_format: Optional[str] = Field(default=None, alias="ExportFormat")
    download_url: Optional[SecretStr] = Field(default=None, alias="DownloadUrl", repr=False)
    created_time: Optional[dt.datetime] = Field(default=None, alias="CreatedTime")
    resource_arns: list[str] = Field(default_factory=list, alias="ResourceArns")
    errors: list[JobErrorEntry] = Field(default_factory=list, alias="Errors")
    warnings: list[JobWarningEntry] = Field(default_factory=list, alias="Warnings")
    # The options the job was started with (compared by a release that finds its job id taken).
    include_all_dependencies: Optional[bool] = Field(default=None, alias="IncludeAllDependencies")
    include_permissions: Optional[bool] = Field(default=None, alias="IncludePermissions")
    include_tags: Optional[bool] = Field(default=None, alias="IncludeTags")
    validation_strategy: Optional[dict[str, Any]] = Field(default=None, alias="ValidationStrategy")
    override_configuration: Optional[dict[str, Any]] = Field(
        default=None, alias="CloudFormationOverridePropertyConfiguration"
    )

    @property
    def done(self) -> bool:
        """Whether the job reached a final status."""
        return self.status in JOB_STATUSES_DONE


class ExportInputs(BaseModel):
    """Inputs of the ``AssetBundleExport`` dynamic resource, validated in ``check`` and ``create``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    aws_account_id: AccountId
    export_job_id: ExportJobId
    region: OptionalRegion = None
    role_arn: OptionalRoleArn = None
    # The engine sends numbers as doubles; pydantic accepts 1800.0 for an int.
    timeout_seconds: int = Field(default=1800, ge=1, le=24 * 3600)
    expected_sha256: OptionalSha256 = None
    # The stage's values for the template parameters (see core.stage_values for the forms).
    parameters: Optional[dict[str, Any]] = None
    allow_source_defaults: bool = False
    # Whether `parameters` was a Pulumi secret in the program: the engine unwraps secrets before
    # calling a dynamic provider, so this is how the provider knows to hide every value.
    parameters_secret: bool = False
    # Run cfn-lint on each new template and record its findings (the component enforces them).
    validate_template: bool = False
    # The release archive (components/aws/archive_writer.py): archive the fetched template there, once.
    archive_bucket: OptionalBucketName = None
    archive_region: OptionalRegion = None
    archive_role_arn: OptionalRoleArn = None

    @field_validator("parameters", mode="before")
    @classmethod
    def _empty_mapping_is_none(cls, value: Any) -> Any:
        return None if value == {} else value


class ExportOutputs(BaseModel):
    """Outputs of the ``AssetBundleExport`` dynamic resource (plain JSON-able; never the URL)."""

    model_config = ConfigDict(frozen=True)

    template_body: str
    template_sha256: str
    template_size: int
    export_job_arn: str
    resource_arns: list[str]
    created_time: Optional[str]
    warnings: list[str]
    parameter_catalog: list[dict[str, Any]]
    assets: dict[str, list[str]]
    lint_findings: Optional[list[dict[str, Any]]] = None
    # Set when archive_bucket is: releases/<name>.json and the archived template's sha256.
    archive_manifest_key: Optional[str] = None
    archive_sha256: Optional[str] = None
