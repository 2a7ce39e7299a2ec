"""The promotion program: stack configuration -> ``QuickSightBundleStack`` -> stack outputs.

``__main__.py`` only calls ``run()``. The configuration schema is declared (with types and
descriptions) in ``Pulumi.yaml`` and validated here with pydantic, so a missing or mistyped
setting is one clear message naming every bad key.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal, Optional, Union

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
)
STRUCTURED_KEYS = ("stackTags", "notificationArns", "principals", "grant")
KNOWN_KEYS = (*SCALAR_KEYS, *STRUCTURED_KEYS, "parameters")


class ProgramConfig(BaseModel):
    """The stack configuration of one stage (keys as in ``Pulumi.<stage>.yaml``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    source_account_id: str = Field(alias="sourceAccountId", pattern=r"^[0-9]{12}$")
    export_job_id: str = Field(alias="exportJobId", min_length=1, max_length=512, pattern=r"^[\w\-]+$")
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
    # Source principal (as `inspect` lists it) -> the target principal that takes its permissions.
    principals: dict[str, Union[str, list[str]]] = Field(default_factory=dict)
    # For exports without permissions: [{principal: <target>, role: owner|viewer}].
    grant: list[dict[str, str]] = Field(default_factory=list)


def parse_config(raw: dict[str, Any]) -> ProgramConfig:
    """Validate raw configuration values, reporting every problem in one message.

    Raises:
        InputError: naming each bad or missing key and what it must be.
    """
    try:
        config = ProgramConfig.model_validate(raw)
    except ValidationError as exc:
        problems = []
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
        export_job_id=settings.export_job_id,
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
        principals=settings.principals or None,
        grant=settings.grant or None,
    )
    return QuickSightBundleStack(name, args)


def run() -> QuickSightBundleStack:
    """The program: read the stage's configuration, build the component, export its outputs."""
    settings, parameters = read_config(pulumi.Config(NAMESPACE))
    bundle = build("quicksight", settings, parameters)
    pulumi.export("stack_id", bundle.stack_id)
    pulumi.export("stack_name", bundle.stack_name)
    pulumi.export("stack_outputs", bundle.stack_outputs)
    pulumi.export("template_sha256", bundle.template_sha256)
    pulumi.export("parameter_catalog", bundle.parameter_catalog)
    pulumi.export("asset_ids", bundle.asset_ids)
    pulumi.export("dashboard_urls", bundle.dashboard_urls)
    return bundle
