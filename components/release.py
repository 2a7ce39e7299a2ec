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

import datetime as dt
from typing import Any, Optional, Sequence

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .core.types import AccountId, OptionalBucketName, OptionalRegion, OptionalRoleArn
from .inputs import problems as input_problems, is_unknown, known_inputs, same
from .core.catalog import build_catalog, summarize_resources
from .errors import InputError

_NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"


# Inputs whose given value may be quoted back in a message: identifiers and numbers, never
# anything that may be a secret (the engine unwraps secrets before a dynamic provider sees them).
_QUOTABLE = frozenset(
    {"aws_account_id", "region", "role_arn", "timeout_seconds", "archive_bucket", "archive_region", "archive_role_arn"}
)


class ReleaseInputs(BaseModel):
    """Inputs of ``AssetBundleRelease``, validated in ``check`` and ``create``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    aws_account_id: AccountId
    # The job id derives from it (core.overrides.release_job_id); 256 characters is plenty for a name.
    release_name: str = Field(min_length=1, max_length=256, pattern=_NAME_PATTERN)
    dashboard_ids: list[str] = Field(default_factory=list)
    analysis_ids: list[str] = Field(default_factory=list)
    region: OptionalRegion = None
    role_arn: OptionalRoleArn = None
    include_permissions: bool = False
    include_tags: bool = False
    strict_validation: bool = True
    id_prefix: bool = True
    timeout_seconds: int = Field(default=1800, ge=1, le=24 * 3600)
    # The release archive (components/aws/archive_writer.py): archive the release there, once.
    archive_bucket: OptionalBucketName = None
    archive_region: OptionalRegion = None
    archive_role_arn: OptionalRoleArn = None

    @field_validator("dashboard_ids", "analysis_ids", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value


class ReleaseOutputs(BaseModel):
    """Outputs of ``AssetBundleRelease`` (plain JSON-able; never the download URL)."""

    model_config = ConfigDict(frozen=True)

    export_job_id: str
    export_job_arn: str
    resource_arns: list[str]
    template_body: str
    template_sha256: str
    template_size: int
    created_time: Optional[str]
    warnings: list[str]
    notes: list[str]
    parameter_catalog: list[dict[str, Any]]
    assets: dict[str, list[str]]
    override_configuration: dict[str, Any]
    started: bool
    # Set when archive_bucket is: releases/<export job id>.json and the archived template's sha256.
    archive_manifest_key: Optional[str] = None
    archive_sha256: Optional[str] = None


INPUT_NAMES = tuple(ReleaseInputs.model_fields)
# A release is one export: any change of what or how it exports is another release (and, with the
# same release_name, refused by create with a message asking for a new name).
REPLACE_ON = (
    "aws_account_id",
    "release_name",
    "region",
    "dashboard_ids",
    "analysis_ids",
    "include_permissions",
    "include_tags",
    "strict_validation",
    "id_prefix",
)
# role_arn only changes who calls QuickSight: the recorded release stays. timeout_seconds bounds a wait.
UPDATE_ON = ("role_arn",)
# Where the release is archived: archive the recorded release (no QuickSight call).
ARCHIVE_ON = ("archive_bucket", "archive_region", "archive_role_arn")




def _value(props: dict[str, Any], key: str) -> Any:
    """An input as the provider sees it: an input not given has its default (``strict_validation`` true...)."""
    value = props.get(key)
    return ReleaseInputs.model_fields[key].get_default(call_default_factory=True) if value is None else value


def parse_release_inputs(props: dict[str, Any]) -> ReleaseInputs:
    """Validate the inputs for create, reporting every problem in one message.

    Raises:
        InputError: naming each bad input.
    """
    try:
        inputs = ReleaseInputs.model_validate(known_inputs(props, INPUT_NAMES))
    except ValidationError as exc:
        listed = "; ".join(f"{name}: {reason}" for name, reason in input_problems(exc, _QUOTABLE))
        raise InputError(f"invalid AssetBundleRelease inputs: {listed}; fix them in the Pulumi program") from exc
    if not inputs.dashboard_ids and not inputs.analysis_ids:
        raise InputError(
            f"AssetBundleRelease '{inputs.release_name}' names no dashboard or analysis: set dashboard_ids "
            "and/or analysis_ids"
        )
    return inputs


def _request(inputs: ReleaseInputs) -> Any:
    from .aws.release_cut import ReleaseRequest  # noqa: PLC0415  (boto3 only in the provider process, when it works)

    return ReleaseRequest(
        account=inputs.aws_account_id,
        release_name=inputs.release_name,
        dashboard_ids=tuple(inputs.dashboard_ids),
        analysis_ids=tuple(inputs.analysis_ids),
        region=inputs.region,
        role_arn=inputs.role_arn,
        include_permissions=inputs.include_permissions,
        include_tags=inputs.include_tags,
        strict_validation=inputs.strict_validation,
        id_prefix=inputs.id_prefix,
        timeout_seconds=float(inputs.timeout_seconds),
    )


def _cut(inputs: ReleaseInputs) -> dict[str, Any]:
    from .aws.release_cut import cut_release  # noqa: PLC0415

    cut = cut_release(_request(inputs))
    fetched, prepared = cut.fetched, cut.prepared
    description = fetched.description
    catalog = build_catalog(fetched.template.document)
    outputs = ReleaseOutputs(
        export_job_id=prepared.ref.job_id,
        export_job_arn=description.arn or f"{inputs.aws_account_id}/{prepared.ref.job_id}",
        resource_arns=list(prepared.resource_arns),
        template_body=fetched.template.body,
        template_sha256=fetched.sha256,
        template_size=fetched.template.size,
        created_time=(
            description.created_time.astimezone(dt.timezone.utc).isoformat() if description.created_time else None
        ),
        warnings=[w.describe() for w in description.warnings],
        notes=list(prepared.contents.notes),
        parameter_catalog=[entry.model_dump(exclude_none=True) for entry in catalog],
        assets=summarize_resources(fetched.template.document),
        override_configuration=prepared.overrides,
        started=cut.started,
    )
    recorded = outputs.model_dump()
    recorded.update(_archive(inputs, recorded))
    return {**inputs.model_dump(), **recorded}


def _lint_once(template_body: str, region: Optional[str]) -> Optional[list[dict[str, Any]]]:
    """cfn-lint findings of the release's template, or None where cfn-lint is not installed."""
    from .errors import QuickSightPromotionError  # noqa: PLC0415
    from .validation import lint_template  # noqa: PLC0415  (cfn-lint is slow to import)

    try:
        return [finding.model_dump() for finding in lint_template(template_body, region)]
    except QuickSightPromotionError:
        return None  # not installed: stages then lint the template themselves


def _archive(inputs: ReleaseInputs, outputs: dict[str, Any]) -> dict[str, Any]:
    """Archive the release under its export job id when ``archive_bucket`` is set (once; see aws/archive_writer.py)."""
    if not inputs.archive_bucket:
        return {"archive_manifest_key": None, "archive_sha256": None}
    from .aws.archive_writer import archive_outputs  # noqa: PLC0415

    if outputs.get("lint_findings") is None:
        # Recorded in the manifest once, so that stages deploying the release never lint it again.
        outputs = {**outputs, "lint_findings": _lint_once(outputs["template_body"], inputs.region)}

    return archive_outputs(
        bucket=inputs.archive_bucket,
        region=inputs.archive_region,
        role_arn=inputs.archive_role_arn,
        name=str(outputs["export_job_id"]),
        outputs=outputs,
        source_account_id=inputs.aws_account_id,
        source_region=inputs.region,
        archived_by="AssetBundleRelease",
    )


class AssetBundleReleaseProvider(ResourceProvider):
    """Starts (after pre-flight) a QuickSight CLOUDFORMATION_JSON export with generated overrides and fetches it.

    Constructed with no arguments and stateless: safe to pickle into Pulumi state.
    """

    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the known inputs (no AWS call: pre-flight runs in create)."""
        failures: list[CheckFailure] = []
        for name in ("aws_account_id", "release_name"):
            if news.get(name) is None:
                failures.append(CheckFailure(name, f"{name} is required"))
        stand_ins = {"aws_account_id": "000000000000", "release_name": "unknown"}
        try:
            ReleaseInputs.model_validate({**stand_ins, **known_inputs(news, INPUT_NAMES)})
        except ValidationError as exc:
            failures.extend(CheckFailure(name, reason) for name, reason in input_problems(exc, _QUOTABLE))
        given = [news.get(k) for k in ("dashboard_ids", "analysis_ids")]
        if not any(is_unknown(v) or v for v in given):
            failures.append(
                CheckFailure("dashboard_ids", "name at least one dashboard (dashboard_ids) or analysis (analysis_ids)")
            )
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Replace on what identifies the export; update on role_arn; nothing for timeout_seconds or ``__provider``."""
        def changed(key: str) -> bool:
            return is_unknown(news.get(key)) or not same(_value(olds, key), _value(news, key))

        replaces = [k for k in REPLACE_ON if changed(k)]
        updates = [k for k in UPDATE_ON + ARCHIVE_ON if changed(k)]
        return DiffResult(changes=bool(replaces or updates), replaces=replaces, stables=[], delete_before_replace=False)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Pre-flight, start (or adopt the same release's job), wait, download; the id is the job's ARN."""
        outs = _cut(parse_release_inputs(props))
        return CreateResult(outs["export_job_arn"], outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Keep the recorded release (only role_arn or timeout_seconds changed): no AWS call."""
        inputs = parse_release_inputs(news)
        kept = {name: olds[name] for name in ReleaseOutputs.model_fields if name in olds}
        if any(not same(_value(olds, k), _value(news, k)) for k in ARCHIVE_ON) and "template_body" in kept:
            kept.update(_archive(inputs, kept))
        return UpdateResult({**kept, **inputs.model_dump()})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Keep the recorded state: a release's template never changes, and job descriptions expire."""
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Do nothing remote: QuickSight forgets export jobs after 14 days; the dev assets stay."""


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
        aws_account_id: The source (dev) account, 12 digits.
        release_name: Names the release (and its job id): one name, one export.
        dashboard_ids: Dashboard ids or ARNs.
        analysis_ids: Analysis ids or ARNs.
        region: The QuickSight region; else the standard AWS chain's.
        role_arn: A role in the source account to assume first.
        include_permissions: Export permissions (adds the ``IdentityRegion`` parameter).
        include_tags: Export tags.
        strict_validation: ``ValidationStrategy.StrictModeForAllResources`` (default true).
        id_prefix: Parameterise every asset id with ``ResourceIdPrefixForAllResources`` (default true).
        timeout_seconds: Bounds the whole release (default 1800).
        archive_bucket: Archive the release in this release archive bucket (``templates/<sha256>.json``
            and ``releases/<export job id>.json``, written once, never overwritten).
        archive_region: The archive bucket's region (else the AWS chain's).
        archive_role_arn: A role to assume for writing the archive.
        opts: Resource options.
    """

    aws_account_id: pulumi.Output[str]
    release_name: pulumi.Output[str]
    dashboard_ids: pulumi.Output[list[str]]
    analysis_ids: pulumi.Output[list[str]]
    region: pulumi.Output[Optional[str]]
    role_arn: pulumi.Output[Optional[str]]
    include_permissions: pulumi.Output[bool]
    include_tags: pulumi.Output[bool]
    strict_validation: pulumi.Output[bool]
    id_prefix: pulumi.Output[bool]
    timeout_seconds: pulumi.Output[int]
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
    archive_bucket: pulumi.Output[Optional[str]]
    archive_manifest_key: pulumi.Output[Optional[str]]
    archive_sha256: pulumi.Output[Optional[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        aws_account_id: pulumi.Input[str],
        release_name: pulumi.Input[str],
        dashboard_ids: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
        analysis_ids: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
        region: Optional[pulumi.Input[str]] = None,
        role_arn: Optional[pulumi.Input[str]] = None,
        include_permissions: Optional[pulumi.Input[bool]] = None,
        include_tags: Optional[pulumi.Input[bool]] = None,
        strict_validation: Optional[pulumi.Input[bool]] = None,
        id_prefix: Optional[pulumi.Input[bool]] = None,
        timeout_seconds: Optional[pulumi.Input[int]] = None,
        archive_bucket: Optional[pulumi.Input[str]] = None,
        archive_region: Optional[pulumi.Input[str]] = None,
        archive_role_arn: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "aws_account_id": aws_account_id,
            "release_name": release_name,
            "dashboard_ids": dashboard_ids,
            "analysis_ids": analysis_ids,
            "region": region,
            "role_arn": role_arn,
            "include_permissions": include_permissions,
            "include_tags": include_tags,
            "strict_validation": strict_validation,
            "id_prefix": id_prefix,
            "timeout_seconds": timeout_seconds,
            "archive_bucket": archive_bucket,
            "archive_region": archive_region,
            "archive_role_arn": archive_role_arn,
        }
        props.update({name: None for name in ReleaseOutputs.model_fields})
        super().__init__(AssetBundleReleaseProvider(), resource_name, props, opts)
