"""The ``AssetBundleRelease`` dynamic resource and its provider (thin Pulumi shell), for the source (dev) stage.

A release starts a ``CLOUDFORMATION_JSON`` export of dashboards and analyses with
``IncludeAllDependencies`` and an override configuration generated from what the bundle holds
(``core.overrides``), after pre-flight checks (``aws.release_cut``); it then waits, downloads and
unpacks with the same code as ``AssetBundleExport`` and exposes the template, its sha256 and its
parameter catalog.

The provider's module and class path (``<package>.release.AssetBundleReleaseProvider``) are
written into users' state: public API. It is built with no arguments and holds no client or
credential (see ``provider.py`` for how the engine runs it).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure

from .core.catalog import build_catalog
from .core.models import ReleaseInputs, ReleaseOutputs
from .dynamic import (
    ARCHIVE_INPUTS,
    SOURCE_JOB_LEGACY_NAMES,
    SOURCE_JOB_QUOTABLE,
    DynamicProvider,
    archive_job,
    echoed_inputs,
    is_unknown,
    secret_input,
    job_outputs,
    repaired_job,
)
from .errors import InputError, QuickSightPromotionError


class AssetBundleReleaseProvider(DynamicProvider):
    """Starts (after pre-flight) a QuickSight CLOUDFORMATION_JSON export with generated overrides and fetches it.

    Constructed with no arguments and stateless: safe to pickle into Pulumi state.
    """

    LABEL = "AssetBundleRelease"
    INPUTS = ReleaseInputs
    OUTPUTS = ReleaseOutputs
    ID_OUTPUT = "export_job_arn"
    # Identifiers and numbers, never anything that may be a secret (the engine unwraps secrets
    # before a dynamic provider sees them).
    QUOTABLE = SOURCE_JOB_QUOTABLE
    # A release is one export: any change of what or how it exports is another release (and, with
    # the same release_name, refused by create with a message asking for a new name).
    REPLACE_ON = (
        "source_account_id",
        "release_name",
        "source_region",
        "dashboard_ids",
        "analysis_ids",
        "include_permissions",
        "include_tags",
        "strict_validation",
        "id_prefix",
        # The release's template as repaired: other bytes, so another release.
        "template_repair",
    )
    ARCHIVE_ON = ARCHIVE_INPUTS
    # source_role_arn only changes who calls QuickSight: the recorded release stays.
    # export_timeout_seconds bounds a wait: no diff.
    UPDATE_ON = ("source_role_arn", *ARCHIVE_ON)
    LEGACY_NAMES = SOURCE_JOB_LEGACY_NAMES
    EVIDENCE = {"account": "source_account_id", "region": "source_region"}

    def _check_more(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """A release names at least one dashboard or analysis (no AWS call: pre-flight runs in create)."""
        given = [news.get(k) for k in ("dashboard_ids", "analysis_ids")]
        if any(is_unknown(v) or v for v in given):
            return []
        return [CheckFailure("dashboard_ids", "name at least one dashboard (dashboard_ids) or analysis (analysis_ids)")]

    def _validate(self, inputs: ReleaseInputs) -> None:
        if not inputs.dashboard_ids and not inputs.analysis_ids:
            raise InputError(
                f"AssetBundleRelease '{inputs.release_name}' names no dashboard or analysis: set dashboard_ids "
                "and/or analysis_ids"
            )

    def _create(self, inputs: ReleaseInputs) -> dict[str, Any]:
        """Pre-flight, start (or adopt the same release's job), wait, download; the id is the job's ARN."""
        return _cut(inputs)

    def _update(self, olds: Mapping[str, Any], news: Mapping[str, Any], inputs: ReleaseInputs) -> dict[str, Any]:
        """Keep the recorded release (only the role, the timeout or the archive changed): no QuickSight call."""
        kept = {name: olds[name] for name in ReleaseOutputs.model_fields if name in olds}
        if any(self.changed(olds, news, k) for k in self.ARCHIVE_ON) and "template_body" in kept:
            kept.update(_archive(inputs, kept))
        return {**kept, **echoed_inputs(inputs)}

    # read: the recorded state is kept: a release's template never changes, and job descriptions expire.
    # delete: nothing remote; QuickSight forgets export jobs after 14 days, and the dev assets stay.


def _request(inputs: ReleaseInputs) -> Any:
    from .aws.release_cut import ReleaseRequest  # noqa: PLC0415  (boto3 only in the provider process, when it works)

    return ReleaseRequest(
        source_account_id=inputs.source_account_id,
        release_name=inputs.release_name,
        dashboard_ids=tuple(inputs.dashboard_ids),
        analysis_ids=tuple(inputs.analysis_ids),
        source_region=inputs.source_region,
        source_role_arn=inputs.source_role_arn,
        source_external_id=inputs.source_external_id,
        include_permissions=inputs.include_permissions,
        include_tags=inputs.include_tags,
        strict_validation=inputs.strict_validation,
        id_prefix=inputs.id_prefix,
        export_timeout_seconds=float(inputs.export_timeout_seconds),
    )


def _cut(inputs: ReleaseInputs) -> dict[str, Any]:
    """Cut the release and record it (and archive it when ``archive_bucket`` is set): the outputs."""
    from .aws.release_cut import cut_release  # noqa: PLC0415

    cut = cut_release(_request(inputs))
    prepared = cut.prepared
    fetched, repairs = repaired_job(cut.fetched, inputs.template_repair, inputs.source_region)
    catalog = build_catalog(fetched.template.document)
    outputs = ReleaseOutputs(
        **job_outputs(fetched, catalog, f"{inputs.source_account_id}/{prepared.ref.job_id}"),
        export_job_id=prepared.ref.job_id,
        resource_arns=list(prepared.resource_arns),
        notes=list(prepared.contents.notes),
        override_configuration=prepared.overrides,
        started=cut.started,
        template_repairs=repairs,
    )
    recorded = outputs.model_dump()
    recorded.update(_archive(inputs, recorded))
    return {**echoed_inputs(inputs), **recorded}


def _lint_once(template_body: str, region: Optional[str]) -> Optional[list[dict[str, Any]]]:
    """cfn-lint findings of the release's template, or None where cfn-lint is not installed."""
    from .validation import lint_template  # noqa: PLC0415  (cfn-lint is slow to import)

    try:
        return [finding.model_dump() for finding in lint_template(template_body, region)]
    except QuickSightPromotionError:
        return None  # not installed: stages then lint the template themselves


def _archive(inputs: ReleaseInputs, outputs: dict[str, Any]) -> dict[str, Any]:
    """Archive the release under its export job id when ``archive_bucket`` is set (once; see aws/archive_writer.py)."""
    if inputs.archive_bucket and outputs.get("lint_findings") is None:
        # Recorded in the manifest once, so that stages deploying the release never lint it again.
        outputs = {**outputs, "lint_findings": _lint_once(outputs["template_body"], inputs.source_region)}
    return archive_job(inputs, str(outputs["export_job_id"]), outputs, AssetBundleReleaseProvider.LABEL)


class AssetBundleRelease(pulumi.dynamic.Resource, module="quicksight", name="AssetBundleRelease"):
    """A release of dev's QuickSight dashboards/analyses: an export started with generated overrides.

    ``pulumi up`` checks the assets first (not found, definition errors, unsupported data source
    types, more than 100 ARNs: all in one message), starts a ``CLOUDFORMATION_JSON`` export with
    ``IncludeAllDependencies`` and a ``CloudFormationOverridePropertyConfiguration`` generated from
    the data sources' types (see ``core.overrides``), waits out a running job id or the account's
    5 concurrent exports, then waits for the job, downloads and unpacks the template.

    The job id is the release name (made safe if need be). Running the same release again adopts its job (while
    QuickSight keeps it, 14 days); the same name with other assets or options is refused.

    Args:
        resource_name: The Pulumi resource name.
        source_account_id: The source (dev) account, 12 digits.
        release_name: Names the release (and its job id): one name, one export.
        dashboard_ids: Dashboard ids or ARNs.
        analysis_ids: Analysis ids or ARNs.
        source_region: The source QuickSight region; else the standard AWS chain's.
        source_role_arn: A role in the source account to assume first.
        source_external_id: The ExternalId ``source_role_arn``'s trust policy asks for (a secret;
            never in an output or a message).
        include_permissions: Export permissions (adds the ``IdentityRegion`` parameter).
        include_tags: Export tags.
        strict_validation: ``ValidationStrategy.StrictModeForAllResources`` (default true).
        id_prefix: Parameterise every asset id with ``ResourceIdPrefixForAllResources`` (default true).
        export_timeout_seconds: Bounds the whole release (default 1800).
        template_repair: ``report`` (default), ``repair`` or ``off`` (see ``AssetBundleExport``):
            with ``repair``, the release's template, sha256 and archive are the repaired ones.
        archive_bucket: Archive the release in this release archive bucket (``templates/<sha256>.json``
            and ``releases/<export job id>.json``, written once, never overwritten).
        archive_region: The archive bucket's region (else the AWS chain's).
        archive_role_arn: A role to assume for writing the archive.
        archive_external_id: The ExternalId ``archive_role_arn``'s trust policy asks for (a secret).
        opts: Resource options.
    """

    source_account_id: pulumi.Output[str]
    release_name: pulumi.Output[str]
    dashboard_ids: pulumi.Output[list[str]]
    analysis_ids: pulumi.Output[list[str]]
    source_region: pulumi.Output[Optional[str]]
    source_role_arn: pulumi.Output[Optional[str]]
    include_permissions: pulumi.Output[bool]
    include_tags: pulumi.Output[bool]
    strict_validation: pulumi.Output[bool]
    id_prefix: pulumi.Output[bool]
    export_timeout_seconds: pulumi.Output[int]
    export_job_id: pulumi.Output[str]
    export_job_arn: pulumi.Output[str]
    resource_arns: pulumi.Output[list[str]]
    template_body: pulumi.Output[str]
    template_sha256: pulumi.Output[str]
    template_size: pulumi.Output[int]
    created_time: pulumi.Output[Optional[str]]
    warnings: pulumi.Output[list[str]]
    notes: pulumi.Output[list[str]]
    parameter_catalog: pulumi.Output[list[dict[str, Any]]]
    assets: pulumi.Output[dict[str, list[str]]]
    override_configuration: pulumi.Output[dict[str, Any]]
    started: pulumi.Output[bool]
    template_repair: pulumi.Output[str]
    template_repairs: pulumi.Output[Optional[list[dict[str, Any]]]]
    archive_bucket: pulumi.Output[Optional[str]]
    archive_manifest_key: pulumi.Output[Optional[str]]
    archive_sha256: pulumi.Output[Optional[str]]
    archive_manifest_version_id: pulumi.Output[Optional[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        source_account_id: pulumi.Input[str],
        release_name: pulumi.Input[str],
        dashboard_ids: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
        analysis_ids: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
        source_region: Optional[pulumi.Input[str]] = None,
        source_role_arn: Optional[pulumi.Input[str]] = None,
        source_external_id: Optional[pulumi.Input[str]] = None,
        include_permissions: Optional[pulumi.Input[bool]] = None,
        include_tags: Optional[pulumi.Input[bool]] = None,
        strict_validation: Optional[pulumi.Input[bool]] = None,
        id_prefix: Optional[pulumi.Input[bool]] = None,
        export_timeout_seconds: Optional[pulumi.Input[int]] = None,
        template_repair: Optional[pulumi.Input[str]] = None,
        archive_bucket: Optional[pulumi.Input[str]] = None,
        archive_region: Optional[pulumi.Input[str]] = None,
        archive_role_arn: Optional[pulumi.Input[str]] = None,
        archive_external_id: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "source_account_id": source_account_id,
            "release_name": release_name,
            "dashboard_ids": dashboard_ids,
            "analysis_ids": analysis_ids,
            "source_region": source_region,
            "source_role_arn": source_role_arn,
            "source_external_id": secret_input(source_external_id),
            "include_permissions": include_permissions,
            "include_tags": include_tags,
            "strict_validation": strict_validation,
            "id_prefix": id_prefix,
            "export_timeout_seconds": export_timeout_seconds,
            "template_repair": template_repair,
            "archive_bucket": archive_bucket,
            "archive_region": archive_region,
            "archive_role_arn": archive_role_arn,
            "archive_external_id": secret_input(archive_external_id),
        }
        super().__init__(
            AssetBundleReleaseProvider(), resource_name, AssetBundleReleaseProvider.resource_props(props), opts
        )
