"""The promotion program: stack configuration -> ``QuickSightBundleStack`` -> stack outputs.

``__main__.py`` only calls ``run()``. The configuration schema is declared (with types and
descriptions) in ``Pulumi.yaml`` and validated here with pydantic, so a missing or mistyped
setting is one clear message naming every bad key.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal, Optional

import pulumi
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import InputError
from .stack import QuickSightBundleStack, QuickSightBundleStackArgs

NAMESPACE = "quicksight-promotion"

# Scalar settings (read as text, converted by pydantic) and structured ones (read as JSON);
# `parameters` is read on its own (it may hold secrets).
SCALAR_KEYS = (
    "sourceAccountId",
    "exportJobId",
    "sourceRegion",
    "sourceRoleArn",
    "expectedSha256",
    "pinFromStack",
    "exportTimeoutSeconds",
    "allowSourceDefaults",
    "stackName",
    "stackTimeoutMinutes",
    "onFailure",
    "cloudFormationRoleArn",
    "protect",
    "stagingBucket",
    "stagingPrefix",
    "templateValidation",
    # The source-stage mode (issue 12): cut a release instead of deploying one.
    "releaseName",
    "releaseIncludePermissions",
    "releaseIncludeTags",
    "releaseStrictValidation",
    "releaseIdPrefix",
)
STRUCTURED_KEYS = ("stackTags", "notificationArns", "releaseDashboards", "releaseAnalyses")
KNOWN_KEYS = (*SCALAR_KEYS, *STRUCTURED_KEYS, "parameters")


class ProgramConfig(BaseModel):
    """The stack configuration of one stage (keys as in ``Pulumi.<stage>.yaml``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    source_account_id: str = Field(alias="sourceAccountId", pattern=r"^[0-9]{12}$")
    # Required unless releaseName puts the program in the source-stage mode (checked in parse_config).
    export_job_id: Optional[str] = Field(
        default=None, alias="exportJobId", min_length=1, max_length=512, pattern=r"^[\w\-]+$"
    )
    source_region: Optional[str] = Field(default=None, alias="sourceRegion")
    source_role_arn: Optional[str] = Field(default=None, alias="sourceRoleArn")
    expected_sha256: Optional[str] = Field(default=None, alias="expectedSha256", pattern=r"^[0-9a-fA-F]{64}$")
    pin_from_stack: Optional[str] = Field(default=None, alias="pinFromStack")
    export_timeout_seconds: int = Field(default=1800, alias="exportTimeoutSeconds", ge=1)
    allow_source_defaults: bool = Field(default=False, alias="allowSourceDefaults")
    stack_name: Optional[str] = Field(default=None, alias="stackName", pattern=r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
    stack_timeout_minutes: Optional[int] = Field(default=None, alias="stackTimeoutMinutes", ge=1)
    on_failure: Literal["DELETE", "ROLLBACK", "DO_NOTHING"] = Field(default="DELETE", alias="onFailure")
    cloudformation_role_arn: Optional[str] = Field(default=None, alias="cloudFormationRoleArn")
    protect: bool = False
    staging_bucket: Optional[str] = Field(default=None, alias="stagingBucket")
    staging_prefix: str = Field(default="quicksight-promotion/", alias="stagingPrefix")
    template_validation: Literal["error", "warning", "off"] = Field(default="error", alias="templateValidation")
    stack_tags: dict[str, str] = Field(default_factory=dict, alias="stackTags")
    notification_arns: list[str] = Field(default_factory=list, alias="notificationArns")
    release_name: Optional[str] = Field(default=None, alias="releaseName", max_length=256)
    release_dashboards: list[str] = Field(default_factory=list, alias="releaseDashboards")
    release_analyses: list[str] = Field(default_factory=list, alias="releaseAnalyses")
    release_include_permissions: bool = Field(default=False, alias="releaseIncludePermissions")
    release_include_tags: bool = Field(default=False, alias="releaseIncludeTags")
    release_strict_validation: bool = Field(default=True, alias="releaseStrictValidation")
    release_id_prefix: bool = Field(default=True, alias="releaseIdPrefix")


def parse_config(raw: dict[str, Any]) -> ProgramConfig:
    """Validate raw configuration values, reporting every problem in one message.

    Raises:
        InputError: naming each bad or missing key and what it must be.
    """
    # exportJobId is required unless releaseName is set (the source-stage mode): reported with the
    # other problems, in the same words as a missing required setting.
    missing = [] if raw.get("releaseName") or raw.get("exportJobId") else [
        f"{NAMESPACE}:exportJobId is required (pulumi config set {NAMESPACE}:exportJobId <value>), "
        f"or {NAMESPACE}:releaseName for the source stage"
    ]  # fmt: skip
    try:
        config = ProgramConfig.model_validate(raw)
    except ValidationError as exc:
        problems = list(missing)
        for item in exc.errors():
            key = ".".join(str(p) for p in item["loc"]) or "config"
            if item["type"] == "missing":
                problems.append(f"{NAMESPACE}:{key} is required (pulumi config set {NAMESPACE}:{key} <value>)")
            elif item["type"] == "extra_forbidden":
                close = difflib.get_close_matches(key, KNOWN_KEYS, n=1)
                hint = f": did you mean {close[0]}?" if close else f" (settings: {', '.join(KNOWN_KEYS)})"
                problems.append(f"{NAMESPACE}:{key} is not a setting of this program{hint}")
            else:
                problems.append(f"{NAMESPACE}:{key}: {item['msg']} (got {item.get('input')!r})")
        raise InputError(f"invalid stack configuration: {'; '.join(problems)}") from exc
    if missing:
        raise InputError(f"invalid stack configuration: {'; '.join(missing)}")
    if config.release_name and config.export_job_id:
        raise InputError(
            f"invalid stack configuration: set either {NAMESPACE}:releaseName (the source stage cuts a release) "
            f"or {NAMESPACE}:exportJobId (a stage deploys one), not both"
        )
    if config.release_name and not (config.release_dashboards or config.release_analyses):
        raise InputError(
            f"invalid stack configuration: {NAMESPACE}:releaseName is set but neither {NAMESPACE}:releaseDashboards "
            f"nor {NAMESPACE}:releaseAnalyses names an asset (pulumi config set --path "
            f"'{NAMESPACE}:releaseDashboards[0]' <dashboard id>)"
        )
    if config.expected_sha256 and config.pin_from_stack:
        raise InputError(
            f"invalid stack configuration: set either {NAMESPACE}:expectedSha256 or {NAMESPACE}:pinFromStack, not both"
        )
    return config


def _namespace_keys() -> list[str]:
    """The keys this project's namespace has in the stack configuration."""
    # The SDK keeps the stack's configuration in pulumi.runtime.config (set from PULUMI_CONFIG).
    from pulumi.runtime.config import CONFIG, get_config_env  # noqa: PLC0415

    names = set(CONFIG.get()) | set(get_config_env())
    prefix = f"{NAMESPACE}:"
    return sorted(name[len(prefix) :] for name in names if name.startswith(prefix))


def read_config(config: pulumi.Config) -> tuple[ProgramConfig, Any]:
    """Read this project's settings from the stack configuration.

    Returns:
        The validated settings, and the stage's ``parameters`` (a secret Output when the stack
        holds any of them encrypted, else plain data).
    """
    raw: dict[str, Any] = {}
    # Pulumi ignores unknown keys; a misspelt setting would silently fall back to its default.
    for key in _namespace_keys():
        if key not in KNOWN_KEYS:
            raw[key] = "?"
    for key in SCALAR_KEYS:
        value = config.get(key)
        if value is not None:
            raw[key] = value
    for key in STRUCTURED_KEYS:
        value = config.get_object(key)
        if value is not None:
            raw[key] = value
    # Any encrypted value inside `parameters` makes Pulumi treat the whole key as secret:
    # read it as a secret Output then, so that it never becomes plain text in the program.
    if pulumi.runtime.is_config_secret(config.full_key("parameters")):
        parameters: Any = config.get_secret_object("parameters")
    else:
        parameters = config.get_object("parameters")
    return parse_config(raw), parameters


def build(name: str, settings: ProgramConfig, parameters: Any) -> QuickSightBundleStack:
    """Create the promotion component for one stage."""
    expected: Optional[pulumi.Input[str]] = settings.expected_sha256
    if settings.pin_from_stack:
        # Deploy exactly the bytes another stage tested: its template_sha256 output.
        expected = pulumi.StackReference(settings.pin_from_stack).require_output("template_sha256")
    args = QuickSightBundleStackArgs(
        aws_account_id=settings.source_account_id,
        export_job_id=settings.export_job_id or "",
        region=settings.source_region,
        role_arn=settings.source_role_arn,
        expected_sha256=expected,
        export_timeout_seconds=settings.export_timeout_seconds,
        parameters=parameters,
        allow_source_defaults=settings.allow_source_defaults,
        stack_name=settings.stack_name,
        tags=settings.stack_tags or None,
        timeout_in_minutes=settings.stack_timeout_minutes,
        on_failure=settings.on_failure,
        iam_role_arn=settings.cloudformation_role_arn,
        notification_arns=tuple(settings.notification_arns),
        protect=settings.protect,
        staging_bucket=settings.staging_bucket,
        staging_prefix=settings.staging_prefix,
        template_validation=settings.template_validation,
    )
    return QuickSightBundleStack(name, args)


def build_release(name: str, settings: ProgramConfig) -> Any:
    """The source-stage mode: one ``AssetBundleRelease`` of the configured dashboards and analyses."""
    from .release import AssetBundleRelease  # noqa: PLC0415

    return AssetBundleRelease(
        name,
        aws_account_id=settings.source_account_id,
        release_name=settings.release_name or "",
        dashboard_ids=list(settings.release_dashboards),
        analysis_ids=list(settings.release_analyses),
        region=settings.source_region,
        role_arn=settings.source_role_arn,
        include_permissions=settings.release_include_permissions,
        include_tags=settings.release_include_tags,
        strict_validation=settings.release_strict_validation,
        id_prefix=settings.release_id_prefix,
        timeout_seconds=settings.export_timeout_seconds,
    )


def run() -> Any:
    """The program: read the stage's configuration, build the component, export its outputs.

    With ``releaseName`` set (the source stage), it cuts a release instead and exports its job id,
    template_sha256 and override configuration: the next stage sets ``exportJobId`` to that job id.
    """
    settings, parameters = read_config(pulumi.Config(NAMESPACE))
    if settings.release_name:
        release = build_release("release", settings)
        pulumi.export("export_job_id", release.export_job_id)
        pulumi.export("template_sha256", release.template_sha256)
        pulumi.export("parameter_catalog", release.parameter_catalog)
        pulumi.export("override_configuration", release.override_configuration)
        pulumi.export("release_notes", release.notes)
        return release
    bundle = build("quicksight", settings, parameters)
    pulumi.export("stack_id", bundle.stack_id)
    pulumi.export("stack_name", bundle.stack_name)
    pulumi.export("stack_outputs", bundle.stack_outputs)
    pulumi.export("template_sha256", bundle.template_sha256)
    pulumi.export("parameter_catalog", bundle.parameter_catalog)
    pulumi.export("asset_ids", bundle.asset_ids)
    pulumi.export("dashboard_urls", bundle.dashboard_urls)
    return bundle
