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

import datetime as dt
from typing import Any, Mapping, Optional

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
from pydantic import ValidationError

from .inputs import problems as input_problems, is_unknown, known_inputs, same
from .core.catalog import CREDENTIAL_PROPERTIES, CatalogEntry, build_catalog, summarize_resources
from .core.models import ExportInputs, ExportOutputs
from .core.stage_values import resolve_parameters
from .errors import InputError, clean

# The engine marks values that are not known yet (during preview) with this sentinel string;
# the SDK hands them to Check and Diff as ``pulumi.output.Unknown`` objects.

INPUT_NAMES = tuple(ExportInputs.model_fields)
# Inputs that identify the export: a change means another job, so another resource.
REPLACE_ON = ("aws_account_id", "export_job_id", "region")
# Inputs that change how the same job is fetched or verified: fetch again in place.
REFETCH_ON = ("role_arn", "expected_sha256")
# Inputs that only change the stage's values: re-resolve against the recorded catalog, no AWS call
# (so a stage can still change a value after the job's description expired, 14 days on).
REVALUE_ON = ("parameters", "allow_source_defaults", "validate_template")
# Inputs that say where the fetched template is archived: archive the recorded template (no
# QuickSight call, so a release can be archived after its job expired).
ARCHIVE_ON = ("archive_bucket", "archive_region", "archive_role_arn")
UPDATE_ON = REFETCH_ON + REVALUE_ON + ARCHIVE_ON
# timeout_seconds only bounds a wait; changing it must not touch a deployed stack.






# Inputs whose given value may be quoted back in a message: identifiers and numbers, never a
# secret. `parameters` is never quoted: it may be a secret (the engine unwraps secrets before
# calling a dynamic provider, so the provider cannot tell), and so may anything unexpected.
_QUOTABLE = frozenset(
    {
        "aws_account_id",
        "export_job_id",
        "region",
        "role_arn",
        "timeout_seconds",
        "expected_sha256",
        "archive_bucket",
        "archive_region",
        "archive_role_arn",
    }
)




def parse_inputs(props: dict[str, Any]) -> ExportInputs:
    """Validate the inputs for create/update, reporting every problem in one message.

    Raises:
        InputError: naming each bad input and what it must look like.
    """
    try:
        return ExportInputs.model_validate(known_inputs(props, INPUT_NAMES))
    except ValidationError as exc:
        listed = "; ".join(f"{name}: {reason}" for name, reason in input_problems(exc, _QUOTABLE))
        # Not chained: pydantic's own text quotes every input value, secrets included.
        raise InputError(f"invalid AssetBundleExport inputs: {listed}; fix them in the Pulumi program") from None




class AssetBundleExportProvider(ResourceProvider):
    """Waits on a QuickSight CLOUDFORMATION_JSON export job and exposes its template.

    Constructed with no arguments and stateless: safe to pickle into Pulumi state.
    """

    # The provider captures no secrets, so its serialised form need not be a secret in state.
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the known inputs; unknown ones (preview) are checked later, in create."""
        known = known_inputs(news, INPUT_NAMES)
        failures: list[CheckFailure] = []
        missing = [k for k in ("aws_account_id", "export_job_id") if k not in news or news[k] is None]
        for name in missing:
            failures.append(CheckFailure(name, f"{name} is required"))
        try:
            # Unknown required inputs are stood in for, so only known values are judged.
            stand_ins = {"aws_account_id": "000000000000", "export_job_id": "unknown"}
            ExportInputs.model_validate({**stand_ins, **known})
        except ValidationError as exc:
            failures.extend(CheckFailure(name, reason) for name, reason in input_problems(exc, _QUOTABLE))
        sha = news.get("expected_sha256")
        if isinstance(sha, str) and not is_unknown(sha):
            # Normalised here so that diff compares like with like (outputs hold it lower-case).
            news = {**news, "expected_sha256": sha.lower()}
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare only the inputs that matter; ``__provider`` and ``timeout_seconds`` never cause a change.

        Ignoring the serialised provider means upgrading this library does not touch users' stacks.
        """
        replaces = [k for k in REPLACE_ON if is_unknown(news.get(k)) or not same(olds.get(k), news.get(k))]
        updates = [k for k in UPDATE_ON if is_unknown(news.get(k)) or not same(olds.get(k), news.get(k))]
        return DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            stables=[],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Wait for the job, download and unpack its template; the id is the job's ARN."""
        inputs = parse_inputs(props)
        outs = _fetch(inputs)
        return CreateResult(outs["export_job_arn"], outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Fetch the same job again (a changed role or pinned sha256), or re-check changed stage values.

        When only ``parameters``/``allow_source_defaults`` changed, the recorded template is kept
        and the values are checked against its recorded catalog: no AWS call is made.
        """
        inputs = parse_inputs(news)
        if any(not same(olds.get(k), news.get(k)) for k in REFETCH_ON) or "parameter_catalog" not in olds:
            return UpdateResult(_fetch(inputs))
        catalog = [CatalogEntry.model_validate(entry) for entry in olds["parameter_catalog"]]
        _resolve(catalog, inputs)
        kept = {name: olds[name] for name in ExportOutputs.model_fields if name in olds}
        if inputs.validate_template and kept.get("lint_findings") is None:
            kept["lint_findings"] = _lint(olds["template_body"], inputs)
        if any(not same(olds.get(k), news.get(k)) for k in ARCHIVE_ON):
            kept.update(_archive(inputs, kept))
        return UpdateResult({**kept, **inputs.model_dump()})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Keep the recorded state: ``pulumi refresh`` makes no AWS call.

        The template of a finished job never changes, and job descriptions expire after 14 days,
        so reading it again could only fail for a resource that is still correct.
        """
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Do nothing remote: QuickSight deletes export job descriptions on its own after 14 days.

        Deleting this resource only forgets the downloaded template.
        """


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

    return [finding.model_dump() for finding in lint_template(template_body, inputs.region)]


def _fetch(inputs: ExportInputs) -> dict[str, Any]:
    from . import aws  # noqa: PLC0415  (boto3 is imported by the provider process only when it works)

    fetched = aws.fetch_export(inputs)
    description = fetched.description
    catalog = build_catalog(fetched.template.document)
    # Checked before anything is deployed: an unknown key or a missing value fails this step.
    _resolve(catalog, inputs)
    outputs = ExportOutputs(
        template_body=fetched.template.body,
        template_sha256=fetched.sha256,
        template_size=fetched.template.size,
        export_job_arn=description.arn or f"{inputs.aws_account_id}/{inputs.export_job_id}",
        resource_arns=list(description.resource_arns),
        created_time=(
            description.created_time.astimezone(dt.timezone.utc).isoformat() if description.created_time else None
        ),
        warnings=_warnings(description.warnings),
        parameter_catalog=[entry.model_dump(exclude_none=True) for entry in catalog],
        assets=summarize_resources(fetched.template.document),
        lint_findings=_lint(fetched.template.body, inputs) if inputs.validate_template else None,
    )
    recorded = outputs.model_dump()
    recorded.update(_archive(inputs, recorded))
    return {**inputs.model_dump(), **recorded}


def _archive(inputs: ExportInputs, outputs: dict[str, Any]) -> dict[str, Any]:
    """Archive the fetched template and its manifest when ``archive_bucket`` is set (once; see aws/archive_writer.py)."""
    if not inputs.archive_bucket:
        return {"archive_manifest_key": None, "archive_sha256": None}
    from .aws.archive_writer import archive_outputs  # noqa: PLC0415

    return archive_outputs(
        bucket=inputs.archive_bucket,
        region=inputs.archive_region,
        role_arn=inputs.archive_role_arn,
        name=inputs.export_job_id,
        outputs=outputs,
        source_account_id=inputs.aws_account_id,
        source_region=inputs.region,
        archived_by="AssetBundleExport",
    )


# Warnings kept in outputs (state, `pulumi stack output`): lenient exports of big bundles can carry
# many, and each is outside text that a terminal would interpret.
MAX_WARNINGS = 100


def _warnings(entries: list[Any]) -> list[str]:
    """The job's warnings as outputs: each one clean line, the first ``MAX_WARNINGS`` and a count of the rest."""
    shown = [clean(entry.describe()) for entry in entries[:MAX_WARNINGS]]
    if len(entries) > MAX_WARNINGS:
        shown.append(f"... and {len(entries) - MAX_WARNINGS:,} more warnings")
    return shown


def _is_credential_key(key: str) -> bool:
    """Whether a parameters key names a credential: ``Password``, ``...Username``, ``x.SecretArn``."""
    return any(key.endswith(prop) for prop in CREDENTIAL_PROPERTIES)


def protect_credentials(values: Any, resource: str, path: str = "", warn: bool = True) -> Any:
    """Wrap every credential value of a stage's ``parameters`` as a Pulumi secret.

    A credential given in plain text (not through ``pulumi config set --secret``) is still made
    secret, and the user is warned (unless ``warn`` is off), without the value, to store it as a
    secret.
    """
    if isinstance(values, Mapping):
        return {
            key: protect_credentials(item, resource, f"{path}.{key}" if path else str(key), warn)
            for key, item in values.items()
        }
    if path and _is_credential_key(path.rsplit(".", 1)[-1]) and values is not None:
        if warn and not isinstance(values, pulumi.Output):
            pulumi.log.warn(
                f"parameter {path!r} of {resource} is a credential given in plain text: it is kept secret, but "
                f"store it encrypted with: pulumi config set --secret --path 'quicksight-promotion:parameters.{path}'"
            )
        return pulumi.Output.secret(values)
    return values


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
        aws_account_id: The source account (12 digits) that ran the export.
        export_job_id: The ``AssetBundleExportJobId``.
        region: The QuickSight region; else the standard AWS chain's.
        role_arn: A role in the source account to assume before calling QuickSight.
        timeout_seconds: How long to wait for the job (default 1800).
        expected_sha256: Refuse a download whose bytes hash differently.
        parameters: The stage's values for the template's parameters (friendly nested form, see
            the README); credentials are made secret.
        allow_source_defaults: Let data source connection properties keep the source's values.
        validate_template: Run cfn-lint once on each new template and record ``lint_findings``.
        archive_bucket: Archive the template and its manifest in this release archive bucket
            (``templates/<sha256>.json``, ``releases/<export_job_id>.json``, written once).
        archive_region: The archive bucket's region (else the AWS chain's).
        archive_role_arn: A role to assume for writing the archive.
        opts: Resource options.
    """

    aws_account_id: pulumi.Output[str]
    export_job_id: pulumi.Output[str]
    region: pulumi.Output[Optional[str]]
    role_arn: pulumi.Output[Optional[str]]
    timeout_seconds: pulumi.Output[int]
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
    archive_bucket: pulumi.Output[Optional[str]]
    archive_manifest_key: pulumi.Output[Optional[str]]
    archive_sha256: pulumi.Output[Optional[str]]
    cfn_parameters: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        *,
        aws_account_id: pulumi.Input[str],
        export_job_id: pulumi.Input[str],
        region: Optional[pulumi.Input[str]] = None,
        role_arn: Optional[pulumi.Input[str]] = None,
        timeout_seconds: Optional[pulumi.Input[int]] = None,
        expected_sha256: Optional[pulumi.Input[str]] = None,
        parameters: Optional[pulumi.Input[Mapping[str, Any]]] = None,
        allow_source_defaults: Optional[pulumi.Input[bool]] = None,
        validate_template: Optional[pulumi.Input[bool]] = None,
        archive_bucket: Optional[pulumi.Input[str]] = None,
        archive_region: Optional[pulumi.Input[str]] = None,
        archive_role_arn: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        # A mapping with a secret anywhere inside becomes one secret Output, so the engine keeps
        # the whole `parameters` input and its echo in the outputs encrypted.
        values, secret = protected_values(parameters, f"AssetBundleExport {resource_name!r}")
        props: dict[str, Any] = {
            "aws_account_id": aws_account_id,
            "export_job_id": export_job_id,
            "region": region,
            "role_arn": role_arn,
            "timeout_seconds": timeout_seconds,
            "expected_sha256": expected_sha256,
            "parameters": values if parameters is not None else None,
            "parameters_secret": secret,
            "allow_source_defaults": allow_source_defaults,
            "validate_template": validate_template,
        }
        # None is not sent: a stack recorded before the archive existed sees no new input.
        props.update(archive_bucket=archive_bucket, archive_region=archive_region, archive_role_arn=archive_role_arn)
        # Output-only properties are declared as None so that they become attributes.
        props.update({name: None for name in ExportOutputs.model_fields})
        super().__init__(AssetBundleExportProvider(), resource_name, props, opts)
        allow = pulumi.Output.from_input(allow_source_defaults if allow_source_defaults is not None else False)
        # Output.all carries secrecy: the result is secret when any given value is.
        self.cfn_parameters = pulumi.Output.all(self.parameter_catalog, values, allow, secret).apply(
            lambda v: resolve_catalog_values(v[0], v[1], bool(v[2]), bool(v[3]))
        )


def protected_values(parameters: Any, label: str) -> tuple[pulumi.Output[Any], pulumi.Output[bool]]:
    """The stage's ``parameters`` with every credential a secret, and whether the result is secret.

    A mapping with a secret anywhere inside becomes one secret Output, so the engine keeps it
    encrypted wherever it goes.
    """
    if isinstance(parameters, pulumi.Output):
        # Computed values: protect the credentials inside once they are known (no warning when
        # the whole mapping is already a secret).
        given = parameters
        values = pulumi.Output.all(given, pulumi.Output.from_input(given.is_secret())).apply(
            lambda v: pulumi.Output.from_input(protect_credentials(v[0], label, warn=not v[1]))
        )
    else:
        values = pulumi.Output.from_input(protect_credentials(parameters, label))
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
