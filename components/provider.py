"""The ``AssetBundleExport`` dynamic resource and its provider (thin Pulumi shell).

The provider's module and class path (``<package>.provider.AssetBundleExportProvider``) are
written into users' Pulumi state by dill: they are public API and must not move.

How the engine runs it: ``pulumi up`` starts ``python -u -m pulumi.dynamic`` in the project
directory and calls Check/Diff/Create/Update/Delete over gRPC, handing over the dill-serialised
provider in the ``__provider`` property. The provider is built with no arguments and holds no
client, session or credential, so it pickles to a few bytes naming this class; each call creates
its AWS client from the provider process's own environment.
"""

from __future__ import annotations

from typing import Any, Mapping, Optional

import pulumi

from .core.catalog import CREDENTIAL_PROPERTIES, CatalogEntry, build_catalog
from .core.models import ExportInputs, ExportOutputs
from .core.stage_values import resolve_parameters
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


class AssetBundleExportProvider(DynamicProvider):
    """Waits on a QuickSight CLOUDFORMATION_JSON export job and exposes its template.

    Constructed with no arguments and stateless: safe to pickle into Pulumi state.
    """

    LABEL = "AssetBundleExport"
    INPUTS = ExportInputs
    OUTPUTS = ExportOutputs
    ID_OUTPUT = "export_job_arn"
    # Identifiers and numbers. Never `parameters`: it may be a secret (the engine unwraps secrets
    # before calling a dynamic provider, so the provider cannot tell), and so may anything unexpected.
    QUOTABLE = SOURCE_JOB_QUOTABLE | {"export_job_id", "expected_sha256"}
    # What identifies the export: a change means another job, so another resource.
    REPLACE_ON = ("source_account_id", "export_job_id", "source_region")
    # How the same job is fetched, verified or repaired: fetch again in place (a repaired template
    # no longer holds what another mode needs).
    REFETCH_ON = ("source_role_arn", "expected_sha256", "template_repair")
    # The stage's values: re-resolved against the recorded catalog, no AWS call (so a stage can
    # still change a value after the job's description expired, 14 days on).
    REVALUE_ON = ("parameters", "allow_source_defaults", "validate_template")
    ARCHIVE_ON = ARCHIVE_INPUTS
    # export_timeout_seconds only bounds a wait: changing it touches nothing.
    UPDATE_ON = REFETCH_ON + REVALUE_ON + ARCHIVE_ON
    LEGACY_NAMES = SOURCE_JOB_LEGACY_NAMES
    EVIDENCE = {"job_id": "export_job_id", "account": "source_account_id", "region": "source_region"}

    def _checked(self, news: dict[str, Any]) -> dict[str, Any]:
        """``expected_sha256`` lower-case, so that diff compares like with like (outputs hold it so)."""
        sha = news.get("expected_sha256")
        if isinstance(sha, str) and not is_unknown(sha):
            return {**news, "expected_sha256": sha.lower()}
        return news

    def _create(self, inputs: ExportInputs) -> dict[str, Any]:
        """Wait for the job, download and unpack its template; the id is the job's ARN."""
        return _fetch(inputs)

    def _update(self, olds: Mapping[str, Any], news: Mapping[str, Any], inputs: ExportInputs) -> dict[str, Any]:
        """Fetch the same job again (a changed role or pinned sha256), or re-check changed stage values.

        When only ``parameters``/``allow_source_defaults`` changed, the recorded template is kept
        and the values are checked against its recorded catalog: no AWS call is made.
        """
        if any(self.changed(olds, news, k) for k in self.REFETCH_ON) or "parameter_catalog" not in olds:
            return _fetch(inputs)
        catalog = [CatalogEntry.model_validate(entry) for entry in olds["parameter_catalog"]]
        _resolve(catalog, inputs)
        kept = {name: olds[name] for name in ExportOutputs.model_fields if name in olds}
        if inputs.validate_template and kept.get("lint_findings") is None:
            kept["lint_findings"] = _lint(olds["template_body"], inputs)
        if any(self.changed(olds, news, k) for k in self.ARCHIVE_ON):
            kept.update(archive_job(inputs, inputs.export_job_id, kept, self.LABEL))
        return {**kept, **echoed_inputs(inputs)}

    # read: the recorded state is kept and `pulumi refresh` makes no AWS call: the template of a
    # finished job never changes, and job descriptions expire after 14 days, so reading it again
    # could only fail for a resource that is still correct.
    # delete: nothing remote; QuickSight deletes export job descriptions on its own after 14 days.


def _resolve(catalog: list[CatalogEntry], inputs: ExportInputs) -> None:
    """Check the stage values against the template's parameters (raises ParameterError)."""
    resolve_parameters(
        catalog,
        inputs.parameters,
        allow_source_defaults=inputs.allow_source_defaults,
        hide_values=inputs.parameters_secret,
    )


def _lint(template_body: str, inputs: ExportInputs) -> list[dict[str, Any]]:
    """cfn-lint findings of a template, once per template (they are kept in state)."""
    from .validation import lint_template  # noqa: PLC0415  (cfn-lint is slow to import)

    return [finding.model_dump() for finding in lint_template(template_body, inputs.source_region)]


def _fetch(inputs: ExportInputs) -> dict[str, Any]:
    """Fetch the job, check the stage values against its template, lint and archive it: the outputs."""
    from . import aws  # noqa: PLC0415  (boto3 is imported by the provider process only when it works)

    repair = inputs.template_repair == "repair"
    # A repaired template is pinned by the sha256 of its repaired bytes: checked once repaired.
    fetched, repairs = repaired_job(
        aws.fetch_export(inputs.model_copy(update={"expected_sha256": None}) if repair else inputs),
        inputs.template_repair,
        inputs.source_region,
    )
    if repair:
        aws.check_pin(aws.JobRef(inputs.source_account_id, inputs.export_job_id, inputs.source_region), fetched.sha256, inputs.expected_sha256)
    catalog = build_catalog(fetched.template.document)
    # Checked before anything is deployed: an unknown key or a missing value fails this step.
    _resolve(catalog, inputs)
    outputs = ExportOutputs(
        **job_outputs(fetched, catalog, f"{inputs.source_account_id}/{inputs.export_job_id}"),
        resource_arns=list(fetched.description.resource_arns),
        lint_findings=_lint(fetched.template.body, inputs) if inputs.validate_template else None,
        template_repairs=repairs,
    )
    recorded = outputs.model_dump()
    recorded.update(archive_job(inputs, inputs.export_job_id, recorded, AssetBundleExportProvider.LABEL))
    return {**echoed_inputs(inputs), **recorded}


def _is_credential_key(key: str) -> bool:
    """Whether a parameters key names a credential: ``Password``, ``...Username``, ``x.SecretArn``."""
    return any(key.endswith(prop) for prop in CREDENTIAL_PROPERTIES)


def protect_credentials(values: Any, path: str = "") -> Any:
    """Wrap every credential value of a stage's ``parameters`` as a Pulumi secret.

    A credential given in plain text (not through ``pulumi config set --secret``) is still made
    secret; the judge (``core.judge``) warns about it, named by ``plain_credentials``.
    """
    if isinstance(values, Mapping):
        return {key: protect_credentials(item, f"{path}.{key}" if path else str(key)) for key, item in values.items()}
    if path and _is_credential_key(path.rsplit(".", 1)[-1]) and values is not None:
        return pulumi.Output.secret(values)
    return values


def plain_credentials(values: Any, path: str = "") -> frozenset[str]:
    """The keys (``datasource/<id>.Password``, a raw parameter name...) of credentials given in plain text.

    Values the program computes (Outputs) cannot be told apart: none of them is named.
    """
    if isinstance(values, Mapping):
        found: set[str] = set()
        for key, item in values.items():
            found |= plain_credentials(item, f"{path}.{key}" if path else str(key))
        return frozenset(found)
    if path and _is_credential_key(path.rsplit(".", 1)[-1]) and values is not None and not isinstance(values, pulumi.Output):
        return frozenset({path})
    return frozenset()


class AssetBundleExport(pulumi.dynamic.Resource, module="quicksight", name="AssetBundleExport"):
    """A finished QuickSight CLOUDFORMATION_JSON export job and its template.

    ``pulumi up`` waits for the job, refuses any other export format, downloads the template
    right after the job succeeds, unpacks it (raw JSON, or a zip holding one template) and
    exposes it as outputs. The pre-signed download URL is never stored.

    ``cfn_parameters`` (the stage's values resolved to CloudFormation parameter names, defaults
    included) is computed in the program from the recorded catalog, never by the provider, so it
    is a secret exactly when any value given for it is: a provider output under another name
    than its input would be stored in plain text.

    Args:
        resource_name: The Pulumi resource name.
        source_account_id: The source account (12 digits) that ran the export.
        export_job_id: The ``AssetBundleExportJobId``.
        source_region: The source QuickSight region; else the standard AWS chain's.
        source_role_arn: A role in the source account to assume before calling QuickSight.
        source_external_id: The ExternalId ``source_role_arn``'s trust policy asks for (a secret;
            never in an output or a message).
        export_timeout_seconds: How long to wait for the job (default 1800).
        expected_sha256: Refuse a download whose bytes hash differently.
        parameters: The stage's values for the template's parameters (friendly nested form, see
            docs/stages.md); credentials are made secret.
        allow_source_defaults: Let data source connection properties keep the source's values.
        validate_template: Run cfn-lint once on each new template and record ``lint_findings``.
        template_repair: ``report`` (default), ``repair`` or ``off``: what CloudFormation's resource
            schemas reject in the template is listed in ``template_repairs``, and with ``repair``
            removed (``core.repair``); the repaired bytes are then ``template_body`` and
            ``template_sha256``.
        archive_bucket: Archive the template and its manifest in this release archive bucket
            (``templates/<sha256>.json``, ``releases/<export_job_id>.json``, written once).
        archive_region: The archive bucket's region (else the AWS chain's).
        archive_role_arn: A role to assume for writing the archive.
        archive_external_id: The ExternalId ``archive_role_arn``'s trust policy asks for (a secret).
        opts: Resource options.
    """

    source_account_id: pulumi.Output[str]
    export_job_id: pulumi.Output[str]
    source_region: pulumi.Output[Optional[str]]
    source_role_arn: pulumi.Output[Optional[str]]
    export_timeout_seconds: pulumi.Output[int]
    expected_sha256: pulumi.Output[Optional[str]]
    parameters: pulumi.Output[Optional[dict[str, Any]]]
    parameters_secret: pulumi.Output[bool]
    allow_source_defaults: pulumi.Output[bool]
    template_body: pulumi.Output[str]
    template_sha256: pulumi.Output[str]
    template_size: pulumi.Output[int]
    export_job_arn: pulumi.Output[str]
    resource_arns: pulumi.Output[list[str]]
    created_time: pulumi.Output[Optional[str]]
    warnings: pulumi.Output[list[str]]
    parameter_catalog: pulumi.Output[list[dict[str, Any]]]
    assets: pulumi.Output[dict[str, list[str]]]
    validate_template: pulumi.Output[bool]
    lint_findings: pulumi.Output[Optional[list[dict[str, Any]]]]
    template_repair: pulumi.Output[str]
    template_repairs: pulumi.Output[Optional[list[dict[str, Any]]]]
    archive_bucket: pulumi.Output[Optional[str]]
    archive_manifest_key: pulumi.Output[Optional[str]]
    archive_sha256: pulumi.Output[Optional[str]]
    archive_manifest_version_id: pulumi.Output[Optional[str]]
    cfn_parameters: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        *,
        source_account_id: pulumi.Input[str],
        export_job_id: pulumi.Input[str],
        source_region: Optional[pulumi.Input[str]] = None,
        source_role_arn: Optional[pulumi.Input[str]] = None,
        source_external_id: Optional[pulumi.Input[str]] = None,
        export_timeout_seconds: Optional[pulumi.Input[int]] = None,
        expected_sha256: Optional[pulumi.Input[str]] = None,
        parameters: Optional[pulumi.Input[Mapping[str, Any]]] = None,
        allow_source_defaults: Optional[pulumi.Input[bool]] = None,
        validate_template: Optional[pulumi.Input[bool]] = None,
        template_repair: Optional[pulumi.Input[str]] = None,
        archive_bucket: Optional[pulumi.Input[str]] = None,
        archive_region: Optional[pulumi.Input[str]] = None,
        archive_role_arn: Optional[pulumi.Input[str]] = None,
        archive_external_id: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        # A mapping with a secret anywhere inside becomes one secret Output, so the engine keeps
        # the whole `parameters` input and its echo in the outputs encrypted.
        values, secret = protected_values(parameters)
        props: dict[str, Any] = {
            "source_account_id": source_account_id,
            "export_job_id": export_job_id,
            "source_region": source_region,
            "source_role_arn": source_role_arn,
            "source_external_id": secret_input(source_external_id),
            "export_timeout_seconds": export_timeout_seconds,
            "expected_sha256": expected_sha256,
            "parameters": values if parameters is not None else None,
            "parameters_secret": secret,
            "allow_source_defaults": allow_source_defaults,
            "validate_template": validate_template,
            "template_repair": template_repair,
        }
        # None is not sent: a stack recorded before the archive existed sees no new input.
        props.update(archive_bucket=archive_bucket, archive_region=archive_region, archive_role_arn=archive_role_arn)
        props.update(archive_external_id=secret_input(archive_external_id))
        super().__init__(
            AssetBundleExportProvider(), resource_name, AssetBundleExportProvider.resource_props(props), opts
        )
        allow = pulumi.Output.from_input(allow_source_defaults if allow_source_defaults is not None else False)
        # Output.all carries secrecy: the result is secret when any given value is.
        self.cfn_parameters = pulumi.Output.all(self.parameter_catalog, values, allow, secret).apply(
            lambda v: resolve_catalog_values(v[0], v[1], bool(v[2]), bool(v[3]))
        )


def protected_values(parameters: Any) -> tuple[pulumi.Output[Any], pulumi.Output[bool]]:
    """The stage's ``parameters`` with every credential a secret, and whether the result is secret.

    A mapping with a secret anywhere inside becomes one secret Output, so the engine keeps it
    encrypted wherever it goes.
    """
    if isinstance(parameters, pulumi.Output):
        # Computed values: protect the credentials inside once they are known.
        values = parameters.apply(lambda given: pulumi.Output.from_input(protect_credentials(given)))
    else:
        values = pulumi.Output.from_input(protect_credentials(parameters))
    return values, pulumi.Output.from_input(values.is_secret())


def resolve_catalog_values(
    catalog: Optional[list[dict[str, Any]]],
    values: Optional[Mapping[str, Any]],
    allow_source_defaults: bool,
    hide_values: bool = False,
) -> dict[str, str]:
    """Every CloudFormation parameter value of a stage, defaults included (raises ParameterError).

    Defaults are passed explicitly because the CloudFormation console shows non-ASCII defaults as ``?``.
    """
    entries = [CatalogEntry.model_validate(entry) for entry in catalog or []]
    resolution = resolve_parameters(
        entries, values, allow_source_defaults=allow_source_defaults, hide_values=hide_values
    )
    return resolution.all_values()
