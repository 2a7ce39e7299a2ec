"""pydantic models: the QuickSight API shapes we read, and every dynamic provider's inputs and outputs.

Pure core: no I/O, no Pulumi. The inputs of the three providers (``AssetBundleExport``,
``AssetBundleRelease``, ``CloudFormationDeployment``) are named by role: ``source_*`` for the
account that exported, ``target_*`` for the one deployed into (README, the settings reference).
A required input declares an example (``Field(examples=...)``): the provider base
(``components/dynamic.py``) stands it in for a value not known yet at preview.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from ..errors import listing
from .stacks import DEFAULT_TIMEOUT_SECONDS, OWNER_TAG, OWNERSHIP_TAG, parameter_string
from .types import (
    AccountId,
    ExportJobId,
    OptionalAccountId,
    OptionalExternalId,
    OptionalBucketName,
    OptionalIdentity,
    OptionalRegion,
    OptionalRoleArn,
    OptionalSha256,
    Sha256,
    StackName,
)

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


def stand_ins(model: type[BaseModel]) -> dict[str, Any]:
    """A valid value for each required input of a provider's model: its declared example.

    Judged in place of a value not known yet (preview), or of one a caller does not check.
    """
    return {name: field.examples[0] for name, field in model.model_fields.items() if field.is_required() and field.examples}


# How long an export or a release waits for its job by default (Pulumi.yaml's exportTimeoutSeconds).
DEFAULT_EXPORT_TIMEOUT_SECONDS = 1800
# The longest wait an input may ask for: a day.
MAX_TIMEOUT_SECONDS = 24 * 3600


class SourceJobInputs(BaseModel):
    """The inputs the export and the release share: the source account's job, and the release archive."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    source_account_id: AccountId = Field(examples=["000000000000"])
    source_region: OptionalRegion = None
    source_role_arn: OptionalRoleArn = None
    # The ExternalId source_role_arn's trust policy asks for: sent with AssumeRole, never output or quoted.
    source_external_id: OptionalExternalId = None
    # The engine sends numbers as doubles; pydantic accepts 1800.0 for an int.
    export_timeout_seconds: int = Field(default=DEFAULT_EXPORT_TIMEOUT_SECONDS, ge=1, le=MAX_TIMEOUT_SECONDS)
    # The release archive (components/aws/archive_writer.py): archive what was fetched there, once.
    archive_bucket: OptionalBucketName = None
    archive_region: OptionalRegion = None
    archive_role_arn: OptionalRoleArn = None
    archive_external_id: OptionalExternalId = None
    # templateRepair (core.repair): report what CloudFormation's schemas reject, repair it, or neither.
    template_repair: Literal["report", "repair", "off"] = "report"


class ExportInputs(SourceJobInputs):
    """Inputs of the ``AssetBundleExport`` dynamic resource, validated in ``check`` and ``create``."""

    export_job_id: ExportJobId = Field(examples=["unknown"])
    expected_sha256: OptionalSha256 = None
    # The stage's values for the template parameters (see core.stage_values for the forms).
    parameters: Optional[dict[str, Any]] = None
    allow_source_defaults: bool = False
    # Whether `parameters` was a Pulumi secret in the program: the engine unwraps secrets before
    # calling a dynamic provider, so this is how the provider knows to hide every value.
    parameters_secret: bool = False
    # Run cfn-lint on each new template and record its findings (the component enforces them).
    validate_template: bool = False

    @field_validator("parameters", mode="before")
    @classmethod
    def _empty_mapping_is_none(cls, value: Any) -> Any:
        return None if value == {} else value


class JobOutputs(BaseModel):
    """The outputs the export and the release share: a fetched job's template (plain JSON-able; never the URL)."""

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
    # Set when archive_bucket is: releases/<name>.json and the archived template's sha256.
    archive_manifest_key: Optional[str] = None
    archive_sha256: Optional[str] = None
    archive_manifest_version_id: Optional[str] = None
    # What CloudFormation's schemas reject in the template (core.repair.Repair, dumped); each one's
    # `repaired` says whether it was removed. None: templateRepair off (or recorded before 0.2.0).
    template_repairs: Optional[list[dict[str, Any]]] = None


class ExportOutputs(JobOutputs):
    """Outputs of the ``AssetBundleExport`` dynamic resource."""

    lint_findings: Optional[list[dict[str, Any]]] = None


# A release name: any printable text (the job id derives from it, core.overrides.release_job_id).
_RELEASE_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


class ReleaseInputs(SourceJobInputs):
    """Inputs of the ``AssetBundleRelease`` dynamic resource, validated in ``check`` and ``create``."""

    # 256 characters is plenty for a name.
    release_name: str = Field(min_length=1, max_length=256, pattern=_RELEASE_NAME_PATTERN, examples=["unknown"])
    dashboard_ids: list[str] = Field(default_factory=list)
    analysis_ids: list[str] = Field(default_factory=list)
    include_permissions: bool = False
    include_tags: bool = False
    strict_validation: bool = True
    id_prefix: bool = True

    @field_validator("dashboard_ids", "analysis_ids", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class ReleaseOutputs(JobOutputs):
    """Outputs of the ``AssetBundleRelease`` dynamic resource (its archive is under its export job id)."""

    export_job_id: str
    notes: list[str]
    override_configuration: dict[str, Any]
    started: bool


class DeploymentInputs(BaseModel):
    """Inputs of the ``CloudFormationDeployment`` dynamic resource, validated in ``check``, ``create`` and ``update``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    stack_name: StackName = Field(examples=["stand-in"])
    template_body: str = Field(min_length=2, examples=['{"Resources":{}}'])
    parameters: dict[str, str] = Field(default_factory=dict)
    staging_bucket: OptionalBucketName = None
    staging_prefix: str = Field(default="quicksight-promotion/", max_length=512)
    target_region: OptionalRegion = None
    target_role_arn: OptionalRoleArn = None
    # The ExternalId target_role_arn's trust policy asks for: sent with AssumeRole, never output or quoted.
    target_external_id: OptionalExternalId = None
    # Required: the account guard (STS GetCallerIdentity before any other call) refuses to act in
    # any other account. A state recorded while it was optional still refreshes and deletes with
    # the account it acted in (the ``account_id`` output).
    target_account_id: AccountId = Field(examples=["123456789012"])
    capabilities: list[Literal["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]] = Field(
        default_factory=list
    )
    stack_tags: dict[str, str] = Field(default_factory=dict)
    # CloudFormation's RoleARN: the service role it assumes to create the assets.
    cloudformation_role_arn: OptionalRoleArn = None
    notification_arns: list[str] = Field(default_factory=list, max_length=5)
    termination_protection: bool = False
    stack_timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=MAX_TIMEOUT_SECONDS)
    execute_change_set: bool = True
    adopt_stack: bool = False
    # The identity (another deployment's ownership tag value) adopt_stack may take a stack from.
    adopt_identity: OptionalIdentity = None
    # Execute an adoption that removes or replaces resources without a review first.
    adopt_allow_removals: bool = False
    # The readable owner "<project>/<stack>" tagged beside the identity (a provider never sees its URN).
    owner: Optional[str] = Field(default=None, max_length=256)
    on_failure: Optional[Literal["ROLLBACK", "DELETE", "DO_NOTHING"]] = None
    # Before an update: refuse, warn about, revert or ignore drift (None: refuse with termination
    # protection on, else warn: core.review.drift_mode).
    on_drift: Optional[Literal["refuse", "warn", "revert", "ignore"]] = None
    # Once the stack completes: describe each dashboard and analysis (core.review.VERIFY_MODES); the
    # component fails the up (error) or warns (warning) on a failed one.
    verify_assets: Literal["error", "warning", "off"] = "error"
    # Once the stack completes: wait for each SPICE data set's first ingestion (aws/verify.py).
    wait_for_ingestion: bool = False
    # One sha256 per QuickSight resource of the template (core.manifest.resource_digests): derived
    # from template_body, given so that `pulumi preview --diff` names the assets that change.
    resource_digests: dict[str, str] = Field(default_factory=dict)

    @field_validator("parameters", mode="before")
    @classmethod
    def _strings(cls, value: Any) -> Any:
        # CloudFormation parameter values are strings; the engine sends numbers as doubles.
        if isinstance(value, Mapping):
            return {str(k): parameter_string(v) for k, v in value.items()}
        return value

    @field_validator("template_body")
    @classmethod
    def _json_object(cls, value: str) -> str:
        try:
            document = json.loads(value)
        except ValueError as exc:
            raise ValueError(f"is not JSON ({exc.__class__.__name__})") from None
        if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
            raise ValueError("is not a CloudFormation template (a JSON object with Resources)")
        return value

    @field_validator("stack_tags")
    @classmethod
    def _no_reserved_tags(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(key for key in value if key.startswith("aws:") or key in (OWNERSHIP_TAG, OWNER_TAG))
        if bad:
            raise ValueError(
                f"tag keys {listing(bad)} are reserved (aws: by AWS, {OWNERSHIP_TAG} and {OWNER_TAG} by this library)"
            )
        return value

    @property
    def document(self) -> dict[str, Any]:
        """The template as parsed JSON."""
        return json.loads(self.template_body)


class DeploymentOutputs(BaseModel):
    """Outputs of the ``CloudFormationDeployment`` dynamic resource (plain JSON-able; never a parameter value).

    Its settings are echoed beside these (diff compares them); ``target_region`` and
    ``termination_protection`` are what the stack has, whatever was asked.
    """

    model_config = ConfigDict(frozen=True)

    stack_id: str
    stack_status: str
    outputs: dict[str, Any]
    template_sha256: str
    change_summary: list[dict[str, Any]]
    # Keyed HMAC-SHA256 digests of the values (never a value), and the salt of their key (a secret output).
    parameter_digests: dict[str, str]
    deployed_digests: dict[str, str]
    digest_salt: str
    # The account the credentials act in, and the region the stack is in.
    account_id: str
    target_region: str
    change_set_id: Optional[str] = None
    executed: bool
    template_url: Optional[str] = None
    termination_protection: bool
    assets: dict[str, Any]
    # The identity minted at this resource's first create: the stack's ownership tag value. States
    # written before 0.2.0 have none (the next update mints it and tags the stack with it).
    owner_identity: str
    # Whether this resource's change set created the stack (termination protection is never turned
    # off on a stack it did not create); False in states written before 0.2.0.
    stack_created: bool = False
    # What drift detection found before the last update (core.review.summarize_drift); None: not checked.
    drift: Optional[dict[str, Any]] = None
    # Each dashboard and analysis as QuickSight described it after the last executed change set
    # (``kind``, ``id``, ``status``, ``errors``; aws/verify.py); None: not verified.
    verification: Optional[list[dict[str, Any]]] = None
    # How long the last executed stack operation took: the next one's wait polls around it.
    stack_seconds: Optional[float] = None


class LintInputs(BaseModel):
    """Inputs of the ``TemplateLint`` dynamic resource: cfn-lint's findings of one template, kept in state.

    ``template_body`` is read by Check and not kept (the state keeps its sha256 and the findings);
    ``findings`` and ``cfn_lint_version`` are what Check computed (or kept from the recorded state
    when the template, the region and cfn-lint are the same).
    """

    model_config = ConfigDict(extra="ignore")

    template_sha256: Sha256 = Field(examples=["0" * 64])
    template_body: Optional[str] = None
    source_region: OptionalRegion = None
    findings: Optional[list[dict[str, Any]]] = None
    cfn_lint_version: Optional[str] = None


class LintOutputs(BaseModel):
    """Outputs of the ``TemplateLint`` dynamic resource."""

    template_sha256: str
    source_region: Optional[str] = None
    findings: list[dict[str, Any]]
    cfn_lint_version: str
