"""The promotion program: stack configuration -> ``QuickSightBundleStack`` -> stack outputs.

``__main__.py`` only calls ``run()``. The settings are declared in ``Pulumi.yaml`` and validated
by ``components/settings.py`` in one message naming every bad key.
"""

from __future__ import annotations

from typing import Any, Optional

import pulumi

from .settings import KNOWN_KEYS, NAMESPACE, SCALAR_KEYS, STRUCTURED_KEYS, ProgramConfig, parse_config
from .stack import QuickSightBundleStack, QuickSightBundleStackArgs

__all__ = ["KNOWN_KEYS", "NAMESPACE", "ProgramConfig", "build", "parse_config", "read_config", "run"]


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
        deploy_role_arn=settings.deploy_role_arn,
        adopt=settings.adopt_stack,
        execute=settings.execute_change_set,
        staging_bucket=settings.staging_bucket,
        staging_prefix=settings.staging_prefix,
        template_validation=settings.template_validation,
        principals=settings.principals or None,
        grant=settings.grant or None,
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
