"""The promotion program: stack configuration -> ``QuickSightBundleStack`` -> stack outputs.

``__main__.py`` only calls ``run()``. The settings are declared in ``Pulumi.yaml`` and validated
by ``components/settings.py`` in one message naming every bad key.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional

import pulumi

from .core.types import role_session_name
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


def archive_invoke_options(settings: ProgramConfig) -> Optional[pulumi.InvokeOptions]:
    """How the archive is read: the default aws provider, or one that assumes ``archiveRoleArn``."""
    if not settings.archive_role_arn:
        return None
    import pulumi_aws as aws  # noqa: PLC0415

    # The session names the stage that reads (CloudTrail shows it); the ExternalId stays a secret.
    assume = aws.ProviderAssumeRoleArgs(
        role_arn=settings.archive_role_arn,
        session_name=role_session_name("qsp-archive-read", pulumi.get_project(), pulumi.get_stack()),
        external_id=pulumi.Output.secret(settings.archive_external_id) if settings.archive_external_id else None,
    )
    reader = aws.Provider("archive-reader", assume_roles=[assume], region=settings.archive_region)
    return pulumi.InvokeOptions(provider=reader)


@dataclass(frozen=True)
class Pins:
    """What a stage must deploy, from its settings or the stage before it (``pinFromStack``).

    Attributes:
        sha256: The template sha256 (``expectedSha256``, or the stage before's ``template_sha256``).
        manifest_version_id: The S3 version of the release's manifest to read (``releaseVersionId``,
            or the stage before's ``release_manifest_version_id`` when it deployed or cut the same
            release); None reads the latest, which the sha256 pin then checks.
    """

    sha256: Optional[pulumi.Input[str]]
    manifest_version_id: Optional[pulumi.Input[Optional[str]]]


def pins(settings: ProgramConfig) -> Pins:
    """The stage's pins: deploy exactly the bytes the stage before validated.

    One ``StackReference`` serves both (a second of the same name would clash). With an archived
    release the checks are made at preview: the release must be that template, read at that version.
    """
    if not settings.pin_from_stack:
        return Pins(settings.expected_sha256, settings.release_version_id)
    before = pulumi.StackReference(settings.pin_from_stack)
    version: Optional[pulumi.Input[Optional[str]]] = settings.release_version_id
    if settings.release and not version:
        # The stage before names the version it read (or wrote) of its own release's manifest.
        version = pulumi.Output.all(before.get_output("release_name"), before.get_output("release_manifest_version_id")).apply(
            lambda v: v[1] if v[0] == settings.release and isinstance(v[1], str) else None
        )
    return Pins(before.require_output("template_sha256"), version)


def read_release(settings: ProgramConfig, pinned: Pins) -> Any:
    """The archived release a stage deploys (``release``/``releaseSha256``), read with invokes (known at preview)."""
    from .archive import read_archived_release  # noqa: PLC0415

    return read_archived_release(
        settings.archive_bucket or "",
        release=settings.release,
        sha256=settings.release_sha256,
        manifest_version_id=pinned.manifest_version_id,
        region=settings.archive_region,
        opts=archive_invoke_options(settings),
    )


def stack_args(settings: ProgramConfig, parameters: Any) -> QuickSightBundleStackArgs:
    """The component's arguments: each setting under its one name (README, the settings reference)."""
    pinned = pins(settings)
    archived = read_release(settings, pinned) if (settings.release or settings.release_sha256) else None
    # Only the export path archives what it fetched; an archived release is archived already.
    archive = settings if archived is None else None
    return QuickSightBundleStackArgs(
        source_account_id=settings.source_account_id,
        export_job_id=settings.export_job_id,
        source_region=settings.source_region,
        source_role_arn=settings.source_role_arn,
        source_external_id=settings.source_external_id,
        expected_sha256=pinned.sha256,
        export_timeout_seconds=settings.export_timeout_seconds,
        parameters=parameters,
        allow_source_defaults=settings.allow_source_defaults,
        stack_name=settings.stack_name,
        stack_tags=settings.stack_tags or None,
        stack_timeout_seconds=settings.stack_timeout_seconds,
        on_failure=settings.on_failure,
        on_drift=settings.on_drift,
        verify_assets=settings.verify_assets,
        wait_for_ingestion=settings.wait_for_ingestion,
        cloudformation_role_arn=settings.cloudformation_role_arn,
        notification_arns=tuple(settings.notification_arns),
        protect=settings.protect,
        target_role_arn=settings.target_role_arn,
        target_external_id=settings.target_external_id,
        adopt_stack=settings.adopt_stack,
        adopt_identity=settings.adopt_identity,
        adopt_allow_removals=settings.adopt_allow_removals,
        execute_change_set=settings.execute_change_set,
        staging_bucket=settings.staging_bucket,
        staging_prefix=settings.staging_prefix,
        template_validation=settings.template_validation,
        template_repair=settings.template_repair,
        principals=settings.principals or None,
        grant=settings.grant or None,
        archived=archived,
        archive_bucket=archive.archive_bucket if archive else None,
        archive_region=archive.archive_region if archive else None,
        archive_role_arn=archive.archive_role_arn if archive else None,
        archive_external_id=archive.archive_external_id if archive else None,
    )


def build(name: str, settings: ProgramConfig, parameters: Any) -> QuickSightBundleStack:
    """Create the promotion component for one stage."""
    return QuickSightBundleStack(name, stack_args(settings, parameters))


def build_archive(settings: ProgramConfig) -> tuple[pulumi.Output[str], pulumi.Output[Optional[str]]]:
    """The source stage's archive bucket and region: ``archiveBucket``, or a ``ReleaseArchive`` it creates."""
    if settings.archive_bucket:
        return pulumi.Output.from_input(settings.archive_bucket), pulumi.Output.from_input(settings.archive_region)
    from .archive import ReleaseArchive  # noqa: PLC0415

    archive = ReleaseArchive(
        "release-archive",
        reader_arns=tuple(settings.archive_readers),
        retention_mode=settings.archive_retention_mode,
        retention_days=settings.archive_retention_days,
    )
    region = archive.region.apply(lambda created: settings.archive_region or created or None)
    return archive.bucket_name, region


def build_release(
    name: str,
    settings: ProgramConfig,
    archive_bucket: Optional[pulumi.Input[str]] = None,
    archive_region: Optional[pulumi.Input[str]] = None,
) -> Any:
    """The source-stage mode: one ``AssetBundleRelease`` of the configured dashboards and analyses.

    The ``release*`` settings map to the release's inputs without their prefix (``releaseDashboards``
    -> ``dashboard_ids``...), the one documented exception to one name per setting: the stage's
    configuration is one flat namespace.
    """
    from .release import AssetBundleRelease  # noqa: PLC0415

    return AssetBundleRelease(
        name,
        source_account_id=settings.source_account_id,
        release_name=settings.release_name or "",
        dashboard_ids=list(settings.release_dashboards),
        analysis_ids=list(settings.release_analyses),
        source_region=settings.source_region,
        source_role_arn=settings.source_role_arn,
        source_external_id=settings.source_external_id,
        include_permissions=settings.release_include_permissions,
        include_tags=settings.release_include_tags,
        strict_validation=settings.release_strict_validation,
        id_prefix=settings.release_id_prefix,
        export_timeout_seconds=settings.export_timeout_seconds,
        template_repair=settings.template_repair,
        archive_bucket=archive_bucket,
        archive_region=archive_region if archive_region is not None else settings.archive_region,
        archive_role_arn=settings.archive_role_arn if archive_bucket is not None else None,
        archive_external_id=settings.archive_external_id if archive_bucket is not None else None,
    )


# What each stage exports: stack output -> the attribute of the release or of the component.
RELEASE_OUTPUTS = {
    "release_name": "export_job_id",
    "archive_manifest_key": "archive_manifest_key",
    "archive_sha256": "archive_sha256",
    "release_manifest_version_id": "archive_manifest_version_id",
    "export_job_id": "export_job_id",
    "template_sha256": "template_sha256",
    "parameter_catalog": "parameter_catalog",
    "override_configuration": "override_configuration",
    "release_notes": "notes",
    "template_repairs": "template_repairs",
}
# What a stage exports of the release it deployed, one stack or a StackSet.
DEPLOYED_OUTPUTS = ("template_sha256", "parameter_catalog", "asset_ids", "resource_digests", "template_repairs")
STACK_OUTPUTS = {name: name for name in ("stack_id", "stack_name", "stack_outputs", "dashboard_urls", *DEPLOYED_OUTPUTS)}


def export_outputs(resource: Any, outputs: dict[str, str]) -> None:
    """``pulumi.export`` each output of ``outputs`` (stack output -> the resource's attribute)."""
    for name, attribute in outputs.items():
        pulumi.export(name, getattr(resource, attribute))


def cut_release(settings: ProgramConfig) -> Any:
    """The source stage: cut the release, archive it, and export what the next stage names it by."""
    archive_bucket, archive_region = build_archive(settings)
    release = build_release("release", settings, archive_bucket, archive_region)
    pulumi.export("archive_bucket", archive_bucket)
    export_outputs(release, RELEASE_OUTPUTS)
    return release


def deploy_release(settings: ProgramConfig, parameters: Any) -> QuickSightBundleStack:
    """A later stage: deploy a release (an export job or an archived release), and export the stack's outputs."""
    bundle = build("quicksight", settings, parameters)
    export_outputs(bundle, STACK_OUTPUTS)
    if settings.release or settings.release_sha256:
        pulumi.export("release_name", bundle.release_name)
        # The next stage's pinFromStack reads the manifest at this version.
        pulumi.export("release_manifest_version_id", bundle.release_manifest_version_id)
    return bundle


STACK_SET_OUTPUTS = {name: name for name in ("stack_set_id", "stack_set_name", "instances", "operation_ids", *DEPLOYED_OUTPUTS)}


STACK_SET_SETTINGS = (
    "stack_set_name",
    "permission_model",
    "administration_role_arn",
    "execution_role_name",
    "max_concurrent",
    "failure_tolerance",
)


def stack_set_args(settings: ProgramConfig, parameters: Any) -> Any:
    """The StackSet component's arguments: the stage's (``stack_args``) and the ``stackSet*`` settings."""
    from .fanout import QuickSightBundleStackSetArgs, StackSetAccountArgs  # noqa: PLC0415

    base = stack_args(settings, parameters)
    return QuickSightBundleStackSetArgs(
        **{f.name: getattr(base, f.name) for f in fields(base)},
        # One name per setting: each argument is the setting of its name.
        **{name: getattr(settings, name) for name in STACK_SET_SETTINGS},
        stack_set_accounts=tuple(StackSetAccountArgs.from_setting(entry) for entry in settings.stack_set_accounts),
        stack_set_regions=tuple(settings.stack_set_regions),
        deployment_targets=tuple(settings.deployment_targets),
    )


def deploy_stack_set(settings: ProgramConfig, parameters: Any) -> Any:
    """One release to many accounts (``stackSetName`` set): a ``QuickSightBundleStackSet``, and its outputs."""
    from .fanout import QuickSightBundleStackSet  # noqa: PLC0415

    bundle = QuickSightBundleStackSet("quicksight", stack_set_args(settings, parameters))
    export_outputs(bundle, STACK_SET_OUTPUTS)
    return bundle


def run() -> Any:
    """The program: read the stage's configuration, build the component, export its outputs.

    With ``releaseName`` set (the source stage), it cuts a release instead, archives it (in
    ``archiveBucket``, or a ``ReleaseArchive`` bucket it creates) and exports its name, job id,
    template_sha256 and override configuration: the next stage sets ``release`` to that name (or
    ``exportJobId`` to the job id while QuickSight keeps the job, 14 days).
    """
    settings, parameters = read_config(pulumi.Config(NAMESPACE))
    if settings.release_name:
        return cut_release(settings)
    if settings.stack_set_name:
        return deploy_stack_set(settings, parameters)
    return deploy_release(settings, parameters)
