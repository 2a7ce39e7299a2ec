"""``QuickSightBundleStack``: deploy an exported bundle as a CloudFormation stack (thin Pulumi shell).

Children (all ``parent=self``, so options such as the target account's ``aws.Provider`` flow down):

- the ``AssetBundleExport`` of the source job (it fetches from the *source* account through the
  provider process's AWS chain or ``source_role_arn``, not through the target's aws provider), unless
  ``archived`` gives a release read from the release archive (``components/archive.py``: pulumi-aws
  ``getObject`` invokes, known at preview; its stage values are then checked in the program and
  cfn-lint runs in the program on every preview and up, there being no export resource to keep
  findings in);
- unless ``staging_bucket`` is given, a private, encrypted, public-access-blocked S3 bucket in
  the target account (a pulumi-aws resource, through the component's aws provider);
- the ``CloudFormationDeployment`` (``components/deployment.py``), which deploys the template
  through change sets and itself stages a template over 51,200 bytes in that bucket
  (``<prefix><sha256>.json``, once).

No resource is created inside an ``apply``: the graph is the same in every preview, whatever the
template's size. The deployment's ``target_account_id`` is set from
``aws.get_caller_identity_output()`` and its ``target_region`` from ``aws.get_region_output()``,
both asked through the component's aws provider, so the dynamic provider (which uses the AWS chain
of the process that runs pulumi) cannot deploy into another account than the program's aws provider.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi
import pulumi_aws as aws

from .archive import ArchivedTemplate
from .buckets import private_bucket
from .core import review
from .core.catalog import CatalogEntry
from .core.judge import Finding, Stage, Target, Verdict, judge
from .core.manifest import resource_digests
from .core.repair import REPAIR_MODES
from .core.transform import deployable
from .deployment import CloudFormationDeployment
from .errors import AssetVerificationError, InputError, PromotionCheckError, QuickSightPromotionError, listing
from .provider import AssetBundleExport, plain_credentials, protected_values
from .validation import VALIDATION_MODES

ON_FAILURE_MODES = ("DELETE", "ROLLBACK", "DO_NOTHING")
# Arguments of the export path only: an archived release is archived already.
_EXPORT_ONLY = ("archive_bucket", "archive_region", "archive_role_arn", "archive_external_id")


@dataclass(frozen=True)
class QuickSightBundleStackArgs:
    """Arguments of ``QuickSightBundleStack``.

    ``source_*`` arguments concern the account that ran the export; ``target_*`` ones the account
    deployed into, whose region and id come from the component's aws provider.

    Attributes:
        source_account_id: The source account that ran the export (the judge tells its values
            from the stage's by it, with ``archived`` too).
        export_job_id: The CLOUDFORMATION_JSON export job: required without ``archived``, refused with it.
        source_region: The source QuickSight region (else the AWS chain's).
        source_role_arn: A role in the source account to assume for reading the export.
        source_external_id: The STS ExternalId ``source_role_arn``'s trust policy asks for (a secret).
        expected_sha256: Pin the template: refuse other bytes (e.g. another stage's
            ``template_sha256`` output through a ``pulumi.StackReference``).
        export_timeout_seconds: How long to wait for the export job (default 1800).
        parameters: The stage's values for the template parameters (docs/stages.md has the form).
        allow_source_defaults: Let data source connection properties fall back to the source
            account's values (off: a stage must set them, so prod never silently reads dev).
        stack_name: The CloudFormation stack name (default: ``<project>-<stack>-<name>``).
        stack_tags: Tags of the stack (CloudFormation propagates them to the QuickSight assets).
        stack_timeout_seconds: How long ``pulumi up`` waits for CloudFormation (default 3600); past
            it CloudFormation goes on and the next ``up`` waits for it.
        on_failure: What CloudFormation does when the *first* create fails. ``DELETE`` (default)
            removes the failed stack; with ``ROLLBACK`` the next ``up`` deletes the empty
            ``ROLLBACK_COMPLETE`` stack itself. Either way the next ``up`` creates it again;
            updates always roll back.
        on_drift: Before an update, ``refuse``, ``warn`` about, ``revert`` or ``ignore`` drift (assets edited
            in the target account); default ``refuse`` with termination protection on, else ``warn``.
        verify_assets: Once the stack completes, each dashboard and analysis is described: ``error``
            (default) fails the ``up`` on a failed version or definition errors, ``warning`` warns, ``off``
            describes none (output ``verification``: per-asset status).
        wait_for_ingestion: Once the stack completes, wait for each SPICE data set's first ingestion
            (output ``verification``); a failed one is judged as ``verify_assets`` says.
        cloudformation_role_arn: The service role CloudFormation assumes to create the assets
            (CloudFormation's ``RoleARN``).
        notification_arns: SNS topics for stack events.
        protect: Guard against deletion: Pulumi refuses to delete the stack (``pulumi destroy``
            or a replacement) until this is turned off. Use it for production.
        staging_bucket: An existing bucket for templates over 51,200 bytes; else one is created.
        staging_prefix: Key prefix of staged templates.
        template_validation: ``error`` (cfn-lint errors stop the deploy), ``warning`` (they are
            reported) or ``off``.
        template_repair: ``report`` (default: what CloudFormation's resource schemas reject is
            reported), ``repair`` (it is removed from the template the export fetches, so the
            repaired bytes are what is pinned, archived and deployed) or ``off`` (see ``core.repair``).
        termination_protection: CloudFormation's termination protection (default: ``protect``).
        execute_change_set: False: create the change set and stop, for review (``change_summary``).
        adopt_stack: Take over an existing stack of that name that this deployment did not create: an
            untagged one, or another deployment's named by ``adopt_identity``. Removals and
            replacements need a review first (``execute_change_set`` false) or ``adopt_allow_removals``.
        adopt_identity: The identity of the deployment a stack is taken from (its
            ``quicksight-promotion:managed-by`` tag, named in the refusal).
        adopt_allow_removals: Execute an adoption that removes or replaces resources without a review.
        target_role_arn: A role in the target account for the deployment to assume (else the
            AWS chain of the process that runs pulumi, which must act in the target account).
        target_external_id: The STS ExternalId ``target_role_arn``'s trust policy asks for (a secret).
        principals: Source principal (as ``inspect`` lists it) -> the target principal that takes
            its permissions in this stage: an ARN, or ``user/<namespace>/<name>`` /
            ``group/<namespace>/<name>`` of the target account (see ``core.principals``).
        grant: For an export without permissions: ``[{"principal": <target>, "role": "owner"|"viewer"}]``,
            at most one per role, made owner or viewer of every asset.
        archived: Deploy this archived release (``archive.read_archived_release``) instead of an
            export job: no ``AssetBundleExport`` is created (give no ``export_job_id`` and no
            ``archive_*``), the template is known at preview, and ``expected_sha256`` must be
            the release's archived or exported sha256.
        archive_bucket: With an export job: archive the fetched release in this bucket.
        archive_region: The archive bucket's region.
        archive_role_arn: A role to assume for writing the archive.
        archive_external_id: The STS ExternalId ``archive_role_arn``'s trust policy asks for (a secret).
    """

    source_account_id: pulumi.Input[str]
    export_job_id: Optional[pulumi.Input[str]] = None
    source_region: Optional[pulumi.Input[str]] = None
    source_role_arn: Optional[pulumi.Input[str]] = None
    source_external_id: Optional[pulumi.Input[str]] = None
    expected_sha256: Optional[pulumi.Input[str]] = None
    export_timeout_seconds: Optional[pulumi.Input[int]] = None
    parameters: Optional[pulumi.Input[Mapping[str, Any]]] = None
    allow_source_defaults: bool = False
    stack_name: Optional[pulumi.Input[str]] = None
    stack_tags: Optional[Mapping[str, pulumi.Input[str]]] = None
    stack_timeout_seconds: Optional[int] = None
    on_failure: str = "DELETE"
    on_drift: Optional[str] = None
    verify_assets: str = "error"
    wait_for_ingestion: bool = False
    cloudformation_role_arn: Optional[pulumi.Input[str]] = None
    notification_arns: Sequence[pulumi.Input[str]] = field(default_factory=tuple)
    protect: bool = False
    staging_bucket: Optional[pulumi.Input[str]] = None
    staging_prefix: str = "quicksight-promotion/"
    template_validation: str = "error"
    template_repair: str = "report"
    termination_protection: Optional[bool] = None
    execute_change_set: bool = True
    adopt_stack: bool = False
    adopt_identity: Optional[str] = None
    adopt_allow_removals: bool = False
    target_role_arn: Optional[pulumi.Input[str]] = None
    target_external_id: Optional[pulumi.Input[str]] = None
    principals: Optional[Mapping[str, Any]] = None
    grant: Optional[Sequence[Mapping[str, Any]]] = None
    archived: Optional[ArchivedTemplate] = None
    archive_bucket: Optional[pulumi.Input[str]] = None
    archive_region: Optional[pulumi.Input[str]] = None
    archive_role_arn: Optional[pulumi.Input[str]] = None
    archive_external_id: Optional[pulumi.Input[str]] = None

    def __post_init__(self) -> None:
        if self.on_failure not in ON_FAILURE_MODES:
            raise QuickSightPromotionError(
                f"on_failure is not one of {', '.join(ON_FAILURE_MODES)}: use DELETE so that a "
                "failed first create leaves no ROLLBACK_COMPLETE stack"
            )
        if self.template_validation not in VALIDATION_MODES:
            raise QuickSightPromotionError(
                f"template_validation is not one of {', '.join(VALIDATION_MODES)}: set one of them"
            )
        if self.template_repair not in REPAIR_MODES:
            raise QuickSightPromotionError(f"template_repair is not one of {', '.join(REPAIR_MODES)}: set one of them")
        self._check_source()

    def _check_source(self) -> None:
        """Exactly one template source: an export job, or an archived release (without the export's arguments)."""
        job = self.export_job_id not in (None, "")
        if self.archived is None and not job:
            raise InputError(
                "QuickSightBundleStackArgs needs export_job_id (the export job to deploy) or archived "
                "(a release read with read_archived_release)",
                parameter="export_job_id",
            )
        if self.archived is not None:
            given = [name for name in ("export_job_id", *_EXPORT_ONLY) if getattr(self, name) not in (None, "")]
            if given:
                raise InputError(
                    f"{', '.join(given)} given with archived: an archived release is deployed as archived, with no "
                    "export job and no archiving; drop them, or drop archived to deploy the export job",
                    parameter=given[0],
                )


@dataclass(frozen=True)
class _Source:
    """The template a stack deploys, from an export job or the release archive (same Outputs either way)."""

    export: Optional[AssetBundleExport]
    template_body: pulumi.Output[str]
    catalog: pulumi.Output[list[dict[str, Any]]]
    lint_findings: pulumi.Output[Any]
    # What CloudFormation's schemas reject (core.repair, dumped), as the export or the archive recorded it.
    repairs: pulumi.Output[Any]
    assets: pulumi.Output[dict[str, list[str]]]
    sha256: pulumi.Output[str]
    subject: pulumi.Output[str]
    release_name: Optional[str]
    # The sha256 the template was exported as (the downloaded bytes'; an archived release's
    # recorded export), which a pin may name besides the archived template's own.
    exported_sha256: pulumi.Output[Optional[str]]
    # The S3 version of the archived release's manifest read (None from an export job).
    manifest_version_id: Optional[pulumi.Output[Optional[str]]] = None


@dataclass(frozen=True)
class _Target:
    """The target account and region, as the component's own aws provider sees them."""

    account_id: pulumi.Output[str]
    region: pulumi.Output[str]
    partition: pulumi.Output[str]


@dataclass(frozen=True)
class _Deployable:
    """The template as deployed: its body, and its per-resource digests (known when the body is)."""

    body: pulumi.Output[str]
    digests: pulumi.Output[dict[str, str]]


def default_stack_name(name: str) -> str:
    """``<project>-<stack>-<name>`` made a valid CloudFormation stack name (letters, digits, hyphens)."""
    raw = re.sub(r"[^A-Za-z0-9-]+", "-", f"{pulumi.get_project()}-{pulumi.get_stack()}-{name}").strip("-")
    if not raw or not raw[0].isalpha():
        raw = f"qs-{raw}"
    return raw[:128].rstrip("-")


def _dashboard_url(region: str, dashboard_id: str) -> str:
    return f"https://{region}.quicksight.aws.amazon.com/sn/dashboards/{dashboard_id}"


def deployed_asset_ids(assets: Mapping[str, list[str]], prefix: str) -> dict[str, list[str]]:
    """Asset ids as deployed: the id prefix applies to every asset id (a refresh schedule's data set id)."""
    return {kind: [f"{prefix}{asset_id}" for asset_id in ids] for kind, ids in assets.items() if kind != "other"}


def staging_bucket(name: str, judged: pulumi.Output[bool], opts: pulumi.ResourceOptions) -> pulumi.Output[str]:
    """A private, encrypted, versioned bucket of the target account for templates over 51,200 bytes (emptied on destroy).

    Versioned, so that a staged template's URL names the version whose checksum was checked.

    Args:
        name: The component's name.
        judged: True once the judge passed the stage (its ``force_destroy``): the bucket is
            created only then, so a refused stage writes nothing to the target account.
        opts: The component's child options.
    """
    bucket, policy = private_bucket(f"{name}-staging", force_destroy=judged, versioned=True, opts=opts)
    # The deployment stages into the bucket only once its policy (TLS only) is in place.
    return pulumi.Output.all(bucket.bucket, policy.id).apply(lambda values: str(values[0]))


def judge_inputs(args: QuickSightBundleStackArgs, source: Any, target: Any) -> list[Any]:
    """What ``judged`` takes, in its order, as Outputs and plain values (for one ``Output.all``)."""
    values, secret = protected_values(args.parameters)
    return [
        source.template_body,
        source.catalog,
        source.lint_findings,
        source.repairs,
        values,
        secret,
        target.account_id,
        target.region,
        target.partition,
        args.source_account_id,
        args.source_region,
        args.expected_sha256,
        source.exported_sha256,
        source.subject,
    ]


def verified(statuses: Optional[list[dict[str, Any]]], mode: str, resource: pulumi.Resource) -> Optional[list[dict[str, Any]]]:
    """The deployment's per-asset verification, once checked (inside an apply: it creates nothing).

    Args:
        statuses: The deployment's ``verification`` output (None: not verified).
        mode: ``verify_assets``: ``error`` raises on a failed asset, ``warning`` warns.
        resource: The component, for the warnings.

    Raises:
        AssetVerificationError: a failed dashboard or analysis under ``error``.
    """
    unverified = [f"{s.get('kind')} {s.get('id')!r}" for s in statuses or [] if s.get("status") == review.NOT_VERIFIED]
    if unverified:
        pulumi.log.warn(f"not verified after the deploy (QuickSight could not describe them): {listing(unverified)}", resource=resource)
    if not review.failed_assets(statuses or []):
        return statuses
    advice = review.verification_advice(statuses or [])
    text = (
        f"the stack is deployed, but QuickSight reports {review.describe_verification(statuses or [])}. "
        f"{advice[0].upper()}{advice[1:]} (or set verifyAssets: warning to go on)"
    )
    if mode == "error":
        raise AssetVerificationError(text)
    pulumi.log.warn(text, resource=resource)
    return statuses


def judge_call(values: list[Any], args: QuickSightBundleStackArgs, plain: frozenset[str]) -> tuple[tuple[str, list[CatalogEntry], Stage, Target], dict[str, Any]]:
    """The judge's arguments (positional, keyword) of ``judge_inputs``' values, the subject left out.

    Args:
        values: The template body, catalog, lint findings, repairs, stage values, whether they are secret,
            the target account, region and partition, the source account and region, the pin and the
            exported sha256 (``judge_inputs``' values but the last).
        args: The component's arguments.
        plain: Keys of credentials given in plain text.
    """
    body, catalog, findings, repairs, stage_values, secret, account, region, partition, source_account, source_region, pin, exported = values
    stage = Stage(
        name=pulumi.get_stack(),
        source_account_id=source_account,
        source_region=source_region,
        values=stage_values,
        allow_source_defaults=bool(args.allow_source_defaults),
        principals=args.principals,
        grant=args.grant,
        template_validation=args.template_validation,
        expected_sha256=pin,
        archived=args.archived is not None,
        plain_credentials=plain,
        hide_values=bool(secret),
    )
    entries = [CatalogEntry.model_validate(entry) for entry in catalog or []]
    target = Target(account_id=account, region=region, partition=partition)
    return (body, entries, stage, target), {"sha256": exported, "lint_findings": findings, "repairs": repairs}


def judged(values: list[Any], args: QuickSightBundleStackArgs, plain: frozenset[str], resource: pulumi.Resource) -> dict[str, str]:
    """The stage's parameter values, once the judge found no error (inside an apply: it creates nothing).

    Its warnings are logged on the component; its errors stop the program before the deployment
    (or anything else of the target) is written.

    Args:
        values: ``judge_inputs``' values: what ``judge_call`` takes, and the subject.
        args: The component's arguments.
        plain: Keys of credentials given in plain text.
        resource: The component, for the warnings.

    Raises:
        PromotionCheckError: every error the judge found.
    """
    *given, who = values
    positional, keywords = judge_call(given, args, plain)
    return _verdict_values(judge(*positional, **keywords), who, resource)


def warn_findings(warnings: Sequence[Finding], who: str, resource: pulumi.Resource) -> None:
    """Log the judge's warnings on the component, each with its subject."""
    for finding in warnings:
        pulumi.log.warn(f"{who}: {finding.describe()}", resource=resource)


def _verdict_values(verdict: Verdict, who: str, resource: pulumi.Resource) -> dict[str, str]:
    warn_findings(verdict.warnings, who, resource)
    if verdict.errors:
        problems = tuple(finding.describe() for finding in verdict.errors)
        raise PromotionCheckError(
            f"{who} cannot be deployed by this stage: {len(problems)} error(s): {listing(problems)}; nothing was "
            "deployed (quicksight-promotion preflight lists the same findings offline)",
            problems,
        )
    return dict(verdict.values)


class QuickSightBundleStack(pulumi.ComponentResource):
    """Promote an exported QuickSight bundle into the target account as a CloudFormation stack.

    Outputs: ``stack_id``, ``stack_name``, ``stack_outputs``, ``template_sha256``,
    ``parameter_catalog``, ``asset_ids`` (deployed ids, prefix applied), ``dashboard_urls``,
    ``change_summary`` (the last change set: logical id, type, action, replacement, asset),
    ``resource_digests`` (``<kind>/<asset id>`` -> sha256, what preview --diff compares),
    ``release_name`` (the archived release deployed, else None), ``release_manifest_version_id``
    (the S3 version of its manifest read: what the next stage pins, else None) and
    ``template_repairs`` (what CloudFormation's schemas reject in the template, and whether
    ``templateRepair`` removed it).
    """

    stack_id: pulumi.Output[str]
    stack_name: pulumi.Output[str]
    stack_outputs: pulumi.Output[Mapping[str, Any]]
    template_sha256: pulumi.Output[str]
    parameter_catalog: pulumi.Output[list[dict[str, Any]]]
    asset_ids: pulumi.Output[dict[str, list[str]]]
    dashboard_urls: pulumi.Output[list[str]]
    change_summary: pulumi.Output[list[dict[str, Any]]]
    verification: pulumi.Output[Optional[list[dict[str, Any]]]]
    resource_digests: pulumi.Output[dict[str, str]]
    release_name: pulumi.Output[Optional[str]]
    release_manifest_version_id: pulumi.Output[Optional[str]]
    template_repairs: pulumi.Output[Optional[list[dict[str, Any]]]]

    # The component's type token (``QuickSightBundleStackSet`` has its own).
    TYPE = "quicksight-promotion:quicksight:BundleStack"

    def __init__(
        self, name: str, args: QuickSightBundleStackArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        super().__init__(self.TYPE, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        source = self._template_source(name, args, child)
        self.export = source.export
        target = self._target()
        template = self._deployable(args, source)
        parameters = self._parameters(args, source, target)
        # The staging bucket waits for the judge: nothing is written to the target before it passes.
        judged = pulumi.Output.unsecret(parameters.apply(lambda _: True))
        self.staging_bucket_name: pulumi.Output[str] = (
            pulumi.Output.from_input(args.staging_bucket)
            if args.staging_bucket is not None
            else staging_bucket(name, judged, child)
        )
        self.deployment = self._deployment(name, args, template, parameters, target)
        self.stack = self.deployment
        self._export_outputs(source, template, target, parameters, args.verify_assets)

    def _target(self) -> _Target:
        """The target account, region and partition, asked through the component's own aws provider.

        The deployment runs in the dynamic provider process with the process's AWS chain, and
        refuses any other account than the one the program's aws provider acts in.
        """
        invoke = pulumi.InvokeOptions(parent=self)
        return _Target(
            account_id=aws.get_caller_identity_output(opts=invoke).account_id,
            region=aws.get_region_output(opts=invoke).region,
            partition=aws.get_partition_output(opts=invoke).partition,
        )

    def _deployable(self, args: QuickSightBundleStackArgs, source: _Source) -> _Deployable:
        """The deployed template and its per-resource digests.

        The source's template, with its principals made parameters and its credential parameters
        marked NoEcho. A plain value, no resource: the deployment stages it in S3 itself when it
        is over 51,200 bytes.
        """
        # Computed here as well as inside the judge: the judge's apply carries the stage values,
        # which are secret, and a body derived there would be secret too (hidden in every preview,
        # its digests with it). ``deployable`` is a pure function of the template, so both agree.
        body = pulumi.Output.all(source.template_body, source.catalog).apply(
            lambda v: deployable(v[0], v[1] or [], grant=bool(args.grant)).body
        )
        # One digest per QuickSight resource of the deployed template: known at preview whenever
        # the template is (always for an archived release), so `pulumi preview --diff` lists the
        # assets that change.
        digests = body.apply(lambda text: resource_digests(json.loads(text)))
        return _Deployable(body=body, digests=digests)

    def _parameters(self, args: QuickSightBundleStackArgs, source: _Source, target: _Target) -> pulumi.Output[dict[str, str]]:
        """The stack's parameters (the stage's values, principals and grant slots), once the judge allows them.

        One apply over everything the judge needs: ``core.judge`` is the only place the rules are
        said, and ``preflight`` asks the same function offline.
        """
        inputs = pulumi.Output.all(*judge_inputs(args, source, target))
        plain = plain_credentials(args.parameters)
        # Output.all carries secrecy: the parameters stay secret when any stage value is.
        return inputs.apply(lambda v: judged(v, args, plain, self))

    def _deployment(
        self,
        name: str,
        args: QuickSightBundleStackArgs,
        template: _Deployable,
        parameters: pulumi.Output[dict[str, str]],
        target: _Target,
    ) -> CloudFormationDeployment:
        """The ``CloudFormationDeployment`` of the template, with the stage's settings."""
        termination_protection = args.protect if args.termination_protection is None else args.termination_protection
        return CloudFormationDeployment(
            f"{name}-stack",
            stack_name=args.stack_name if args.stack_name is not None else default_stack_name(name),
            template_body=template.body,
            parameters=parameters,
            staging_bucket=self.staging_bucket_name,
            staging_prefix=args.staging_prefix,
            target_region=target.region,
            target_role_arn=args.target_role_arn,
            target_external_id=args.target_external_id,
            target_account_id=target.account_id,
            stack_tags=dict(args.stack_tags) if args.stack_tags else None,
            cloudformation_role_arn=args.cloudformation_role_arn,
            notification_arns=list(args.notification_arns) or None,
            termination_protection=termination_protection,
            stack_timeout_seconds=args.stack_timeout_seconds,
            execute_change_set=args.execute_change_set,
            adopt_stack=args.adopt_stack,
            adopt_identity=args.adopt_identity,
            adopt_allow_removals=args.adopt_allow_removals,
            # Readable beside the stack's identity tag: a dynamic provider never sees its URN.
            owner=f"{pulumi.get_project()}/{pulumi.get_stack()}",
            on_failure=args.on_failure,
            on_drift=args.on_drift,
            verify_assets=args.verify_assets,
            wait_for_ingestion=args.wait_for_ingestion,
            resource_digests=template.digests,
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

    def _export_outputs(
        self,
        source: _Source,
        template: _Deployable,
        target: _Target,
        parameters: pulumi.Output[dict[str, str]],
        verify_mode: str,
    ) -> None:
        """Set and register the component's outputs (``verify_mode``: ``verify_assets``, see ``verified``)."""
        prefix = parameters.apply(lambda values: (values or {}).get("ResourceIdPrefixForAllResources", ""))
        deployed = self._deployment_outputs(verify_mode)
        for key, value in deployed.items():
            setattr(self, key, value)
        self.template_sha256 = source.sha256
        self.parameter_catalog = source.catalog
        self.resource_digests = template.digests
        self.release_name = pulumi.Output.from_input(source.release_name)
        self.release_manifest_version_id = pulumi.Output.from_input(source.manifest_version_id)
        self.template_repairs = source.repairs
        self.asset_ids = pulumi.Output.all(source.assets, pulumi.Output.unsecret(prefix)).apply(
            lambda v: deployed_asset_ids(v[0] or {}, v[1])
        )
        self.dashboard_urls = pulumi.Output.all(self.asset_ids, target.region).apply(
            lambda v: [_dashboard_url(v[1], d) for d in v[0].get("dashboard", [])]
        )
        self.register_outputs(
            {
                **deployed,
                "template_sha256": self.template_sha256,
                "parameter_catalog": self.parameter_catalog,
                "asset_ids": self.asset_ids,
                "dashboard_urls": self.dashboard_urls,
                "resource_digests": self.resource_digests,
                "release_name": self.release_name,
                "release_manifest_version_id": self.release_manifest_version_id,
                "template_repairs": self.template_repairs,
            }
        )

    def _deployment_outputs(self, verify_mode: str) -> dict[str, pulumi.Output[Any]]:
        """The outputs of what deployed the template (attribute -> Output; ``verify_mode``: see ``verified``)."""
        return {
            "stack_id": self.deployment.stack_id,
            "stack_name": self.deployment.stack_name,
            "stack_outputs": self.deployment.outputs,
            "change_summary": self.deployment.change_summary,
            # Checked inside an apply (it creates nothing): a failed dashboard or analysis fails the up
            # after the deployment's state is recorded, so the next up finds the stack its own.
            "verification": self.deployment.verification.apply(lambda statuses: verified(statuses, verify_mode, self)),
        }

    def _template_source(self, name: str, args: QuickSightBundleStackArgs, child: pulumi.ResourceOptions) -> _Source:
        """Where the template comes from: the export job (``AssetBundleExport``), or an archived release.

        Both give the same Outputs; an archived release's are known at preview (pulumi-aws invokes),
        so its stage values, principals and limits are checked, and its digests shown, before ``up``.
        """
        if args.archived is None:
            return self._export_source(name, args, child)
        return self._archived_source(name, args, args.archived, child)

    def _export_source(self, name: str, args: QuickSightBundleStackArgs, child: pulumi.ResourceOptions) -> _Source:
        """The template of an export job: an ``AssetBundleExport`` child."""
        export = AssetBundleExport(
            f"{name}-export",
            source_account_id=args.source_account_id,
            export_job_id=args.export_job_id,
            source_region=args.source_region,
            source_role_arn=args.source_role_arn,
            source_external_id=args.source_external_id,
            export_timeout_seconds=args.export_timeout_seconds,
            expected_sha256=args.expected_sha256,
            parameters=args.parameters,
            allow_source_defaults=args.allow_source_defaults,
            validate_template=args.template_validation != "off",
            template_repair=args.template_repair,
            archive_bucket=args.archive_bucket,
            archive_region=args.archive_region,
            archive_role_arn=args.archive_role_arn,
            archive_external_id=args.archive_external_id,
            opts=child,
        )
        return _Source(
            export=export,
            template_body=export.template_body,
            catalog=export.parameter_catalog,
            lint_findings=export.lint_findings,
            repairs=export.template_repairs,
            assets=export.assets,
            sha256=export.template_sha256,
            # From the arguments, not the export's echo of them: a state written before 0.2.0
            # holds that echo under the old input names until the export next changes.
            subject=pulumi.Output.concat(
                "export job '", pulumi.Output.from_input(args.export_job_id), "' in account ",
                pulumi.Output.from_input(args.source_account_id),
            ),  # fmt: skip
            release_name=None,
            exported_sha256=export.template_sha256,
        )

    def _archived_lint(
        self, name: str, args: QuickSightBundleStackArgs, archived: ArchivedTemplate, child: pulumi.ResourceOptions
    ) -> pulumi.Output[Any]:
        """cfn-lint's findings of an archived release: a ``TemplateLint`` (once per sha256, kept in state).

        Never the findings the manifest recorded: whoever can write the archive could write none.
        """
        if args.template_validation == "off":
            return pulumi.Output.from_input([])
        from .lint import TemplateLint  # noqa: PLC0415

        lint = TemplateLint(
            f"{name}-lint",
            template_body=archived.template_body,
            template_sha256=archived.sha256,
            source_region=args.source_region,
            opts=child,
        )
        return lint.findings

    def _archived_source(
        self, name: str, args: QuickSightBundleStackArgs, archived: ArchivedTemplate, child: pulumi.ResourceOptions
    ) -> _Source:
        """The template of an archived release, read at preview; its stage values checked in the program."""
        return _Source(
            export=None,
            template_body=archived.template_body,
            catalog=archived.catalog,
            lint_findings=self._archived_lint(name, args, archived, child),
            # Found (and, with repair, removed) when the release was fetched: the archive holds the result.
            repairs=archived.manifest.apply(lambda m: (m or {}).get("template_repairs")),
            assets=archived.assets,
            sha256=archived.sha256,
            subject=pulumi.Output.from_input(archived.subject),
            release_name=archived.name,
            exported_sha256=archived.manifest.apply(lambda m: (m or {}).get("export_sha256")),
            manifest_version_id=archived.manifest_version_id,
        )
