"""``QuickSightBundleStackSet``: one release to many accounts as a CloudFormation StackSet (thin Pulumi shell).

The same component as ``QuickSightBundleStack`` (``components/stack.py``: the template source, the
deployable template, the staging bucket and the outputs are its steps, not copies), but for the
deployment: a ``CloudFormationStackSetDeployment`` (``components/stackset.py``) with a stack
instance per (account, region), and a judge per account.

**Each account is judged as a stage.** Its values are the stage's ``parameters`` with its own
(``stack_set_accounts[].parameters``, the same form) laid over them (``core.fanout.merged``);
``core.fanout.judge_accounts`` checks them with ``core.judge.judge`` for that account in each of
its regions (its principals, its region) exactly as for a single stage, before anything is
deployed; the offline ``preflight`` calls the same function. Any error fails the preview, every
failing account and region named with its findings.
What every account's verdict resolves alike becomes the stack set's parameters; the rest, each
account's ``ParameterOverrides``.

The administrator account (``target_account_id`` of the StackSet) is the component's aws
provider's account, as for a stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Optional, Sequence

import pulumi

from .errors import PromotionCheckError, listing
from .provider import plain_credentials, protected_values
from .core.fanout import Account, judge_accounts
from .stack import QuickSightBundleStack, QuickSightBundleStackArgs, default_stack_name, judge_call, judge_inputs, warn_findings
from .stackset import CloudFormationStackSetDeployment


@dataclass(frozen=True)
class StackSetAccountArgs:
    """One account of a ``QuickSightBundleStackSet``.

    Attributes:
        account_id: The target account (12 digits).
        regions: Its regions (empty: the stack set's ``stack_set_regions``).
        parameters: Its own stage values (as ``parameters`` takes them), laid over the shared ones.
    """

    account_id: str
    regions: Sequence[str] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_setting(cls, entry: Mapping[str, Any]) -> "StackSetAccountArgs":
        """An entry of the ``stackSetAccounts`` setting (``{accountId, regions?, parameters?}``)."""
        account = Account.from_setting(entry)
        return cls(account.account_id, tuple(account.regions), dict(account.values or {}))


@dataclass(frozen=True)
class QuickSightBundleStackSetArgs(QuickSightBundleStackArgs):
    """Arguments of ``QuickSightBundleStackSet``: those of ``QuickSightBundleStackArgs``, and the stack set's.

    Attributes:
        stack_set_name: The StackSet's name (default: ``<project>-<stack>-<name>``).
        stack_set_accounts: The target accounts (SELF_MANAGED), each with its own values.
        stack_set_regions: The regions of every account that names none (and of the OUs).
        permission_model: ``SELF_MANAGED`` or ``SERVICE_MANAGED``.
        administration_role_arn: SELF_MANAGED: the administration role (else CloudFormation's default name).
        execution_role_name: SELF_MANAGED: the execution role's name in each account (else the default name).
        deployment_targets: SERVICE_MANAGED: Organizations OU (or root) ids.
        max_concurrent: Accounts deployed at once per region: a count or a percentage.
        failure_tolerance: Failed accounts per region before CloudFormation stops: a count or a percentage.
    """

    stack_set_name: Optional[str] = None
    stack_set_accounts: Sequence[StackSetAccountArgs] = ()
    stack_set_regions: Sequence[str] = ()
    permission_model: str = "SELF_MANAGED"
    administration_role_arn: Optional[pulumi.Input[str]] = None
    execution_role_name: Optional[str] = None
    deployment_targets: Sequence[str] = ()
    max_concurrent: str = "1"
    failure_tolerance: str = "0"


def split_values(verdicts: Mapping[str, Mapping[str, str]]) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """(the stack set's parameters, each account's overrides) of every account's judged values.

    Every parameter gets a stack-set value, the one most accounts have (the first account's on a
    tie): CloudFormation needs one for each parameter without a default, and an account added later
    then changes no other account's values. An account's overrides are where it differs.
    """
    shared: dict[str, str] = {}
    for found in verdicts.values():
        for key in found:
            if key not in shared:
                values = [other[key] for other in verdicts.values() if key in other]
                shared[key] = max(dict.fromkeys(values), key=values.count)
    own = {account: {k: v for k, v in found.items() if shared.get(k) != v} for account, found in verdicts.items()}
    return shared, own


def judged_accounts(values: list[Any], args: QuickSightBundleStackSetArgs, plain: frozenset[str], resource: pulumi.Resource) -> dict[str, Any]:
    """Each (account, region) judged as a stage (``core.fanout.judge_accounts``); every failing one named.

    Args:
        values: ``stack.judge_inputs``' values (the administrator's target), and each account's own values last.
        args: The component's arguments.
        plain: Keys of credentials given in plain text.
        resource: The component, for the warnings.

    Returns:
        ``{"shared": <parameters>, "accounts": {<account>: <its overrides>}}``.

    Raises:
        PromotionCheckError: every error of every account and region, each named.
    """
    *common, who, own_values = values
    (body, catalog, stage, target), keywords = judge_call(common, args, plain)
    accounts = [
        Account(account.account_id, tuple(account.regions), own)
        for account, own in zip(args.stack_set_accounts, own_values or [{}] * len(args.stack_set_accounts))
    ] or [Account(str(target.account_id))]
    verdict = judge_accounts(body, catalog, stage, target, accounts, tuple(args.stack_set_regions), **keywords)
    warn_findings(verdict.warnings, who, resource)
    if verdict.errors:
        problems = tuple(finding.describe() for finding in verdict.errors)
        raise PromotionCheckError(
            f"{who} cannot be deployed to every account of the StackSet: {len(problems)} error(s): {listing(problems)}; "
            "nothing was deployed to any account: mend the stage's parameters or the account's own in stackSetAccounts "
            "(quicksight-promotion preflight lists the same findings offline)",
            problems,
        )
    shared, overrides = split_values(verdict.values)
    return {"shared": shared, "accounts": overrides}


class QuickSightBundleStackSet(QuickSightBundleStack):
    """Promote an exported QuickSight bundle into many accounts as one CloudFormation StackSet.

    Outputs: those of ``QuickSightBundleStack`` but the stack's (``template_sha256``,
    ``parameter_catalog``, ``asset_ids``, ``resource_digests``...), and ``stack_set_id``,
    ``stack_set_name``, ``instances`` (each instance's status and root cause) and ``operation_ids``.
    """

    TYPE = "quicksight-promotion:quicksight:BundleStackSet"

    stack_set_id: pulumi.Output[str]
    stack_set_name: pulumi.Output[str]
    instances: pulumi.Output[list[dict[str, Any]]]
    operation_ids: pulumi.Output[list[str]]

    def __init__(
        self, name: str, args: QuickSightBundleStackSetArgs, opts: Optional[pulumi.ResourceOptions] = None
    ) -> None:
        self._accounts: Optional[pulumi.Output[dict[str, dict[str, str]]]] = None
        super().__init__(name, args, opts)

    def _parameters(self, args: QuickSightBundleStackArgs, source: Any, target: Any) -> pulumi.Output[dict[str, str]]:
        """The shared parameters, once every account's values passed the judge (each account's own kept aside)."""
        assert isinstance(args, QuickSightBundleStackSetArgs)
        plain = plain_credentials(args.parameters) | frozenset().union(*(plain_credentials(a.parameters) for a in args.stack_set_accounts))
        own = [protected_values(account.parameters)[0] for account in args.stack_set_accounts]
        inputs = pulumi.Output.all(*judge_inputs(args, source, target), pulumi.Output.all(*own))
        verdict = inputs.apply(lambda v: judged_accounts(v, args, plain, self))
        self._accounts = verdict.apply(lambda found: found["accounts"])
        return verdict.apply(lambda found: found["shared"])

    def _deployment(  # type: ignore[override]
        self,
        name: str,
        args: QuickSightBundleStackSetArgs,
        template: Any,
        parameters: pulumi.Output[dict[str, str]],
        target: Any,
    ) -> CloudFormationStackSetDeployment:
        """The ``CloudFormationStackSetDeployment`` of the template: shared parameters, each account's overrides."""
        assert self._accounts is not None
        accounts = self._accounts.apply(
            lambda own: [
                {"accountId": a.account_id, "regions": list(a.regions), "parameters": own.get(a.account_id, {})}
                for a in args.stack_set_accounts
            ]
        )
        return CloudFormationStackSetDeployment(
            f"{name}-stackset",
            stack_set_name=args.stack_set_name or default_stack_name(name),
            template_body=template.body,
            target_account_id=target.account_id,
            parameters=parameters,
            stack_set_accounts=accounts if args.stack_set_accounts else None,
            stack_set_regions=list(args.stack_set_regions) or None,
            target_region=target.region,
            target_role_arn=args.target_role_arn,
            target_external_id=args.target_external_id,
            permission_model=args.permission_model,
            administration_role_arn=args.administration_role_arn,
            execution_role_name=args.execution_role_name,
            deployment_targets=list(args.deployment_targets) or None,
            max_concurrent=args.max_concurrent,
            failure_tolerance=args.failure_tolerance,
            stack_tags=dict(args.stack_tags) if args.stack_tags else None,
            stack_timeout_seconds=args.stack_timeout_seconds,
            staging_bucket=self.staging_bucket_name,
            staging_prefix=args.staging_prefix,
            owner=f"{pulumi.get_project()}/{pulumi.get_stack()}",
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect),
        )

    def _deployment_outputs(self, _verify_mode: str) -> dict[str, pulumi.Output[Any]]:
        """The StackSet's outputs: its id and name, each instance's status and root cause, the operations made.

        No per-asset verification: the assets are in the target accounts, which this program does not read.
        """
        return {
            "stack_set_id": self.deployment.stack_set_id,
            "stack_set_name": self.deployment.stack_set_name,
            "instances": self.deployment.instances,
            "operation_ids": self.deployment.operation_ids,
        }
