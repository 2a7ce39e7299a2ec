"""One release to many accounts: the ``CloudFormationStackSetDeployment`` dynamic resource and its provider.

It deploys the deployable template a ``QuickSightBundleStack`` would deploy to one account as a
CloudFormation StackSet, with a stack instance per (account, region): the values every account
shares are the stack set's parameters, each account's own values (hosts, principals...) its
instances' ``ParameterOverrides``; ``max_concurrent`` and ``failure_tolerance`` are CloudFormation's
operation preferences; the permission model is self-managed (an administration role in this
account, an execution role in each target account: ``policies/stackset-administration``,
``policies/stackset-execution``) or service-managed (Organizations OUs). See ``docs/stacksets.md``
and the boundary, ``components/aws/stacksets.py``.

The provider's module and class path (``<package>.stackset.CloudFormationStackSetProvider``) are
written into users' Pulumi state by dill: they are public API and must not move. Like the
deployment's provider it is built with no arguments, holds no client or credential, takes the
provider process's AWS chain (then ``target_role_arn``) with the same account guard, and keeps
``aws:region``/``aws:profile`` from ``configure()`` (the same methods, not a copy).

**Ownership.** As a stack: an identity minted at the first create, kept in state, tagged on the
stack set with the readable owner (``core.stacks.OWNERSHIP_TAG``/``OWNER_TAG``); a stack set this
resource did not create is refused by name, never updated or deleted.

**Secrets and diff.** The shared and per-account values are a secret input; only keyed HMAC
digests are recorded (``core.stacks.parameter_digests``). Diff compares the template's sha256,
the digests, the instances wanted and the settings: an unchanged ``up`` makes no AWS call.
"""

from __future__ import annotations

import secrets
from typing import Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import CheckFailure, ReadResult
from pydantic import ValidationError

from .core import stacks as core
from .core import stacksets as sets
from .core.models import stand_ins
from .core.polling import Deadline
from .deployment import CloudFormationDeploymentProvider
from .dynamic import DynamicProvider, echoed_inputs, has_unknown, is_unknown, known_inputs, secret_input
from .errors import InputError

SECRET_OUTPUTS = ["digest_salt"]
# What identifies the stack set: a change would be another one (refused, as for a stack).
IDENTITY = ("stack_set_name", "target_region", "target_account_id", "permission_model")


# The inputs core.stacksets.plan_problems reads.
PLAN_INPUTS = ("stack_set_accounts", "stack_set_regions", "permission_model", "deployment_targets", "administration_role_arn", "execution_role_name")


def _input_of(problem: str) -> str:
    """The input a plan problem starts with (an account without a region: ``stack_set_regions``)."""
    first = problem.split(" ", 1)[0]
    return first if first in PLAN_INPUTS else "stack_set_regions"


def _digests(values: Mapping[str, Any], name: str, salt: str) -> dict[str, str]:
    strings = {str(k): core.parameter_string(v) for k, v in (values or {}).items()}
    return core.parameter_digests(strings, core.digest_key(name, salt))


def _accounts(raw: Any) -> Optional[list[sets.StackSetAccount]]:
    """The ``stack_set_accounts`` input parsed (None when it is not known yet or not valid)."""
    if raw is None:
        return []
    if has_unknown(raw):
        return None
    try:
        return [sets.StackSetAccount.model_validate(item) for item in raw]
    except (ValidationError, TypeError):
        return None


def _override_digests(accounts: Sequence[sets.StackSetAccount], name: str, salt: str) -> dict[str, dict[str, str]]:
    return {account.account_id: _digests(account.parameters, name, salt) for account in accounts if account.parameters}


class CloudFormationStackSetProvider(DynamicProvider):
    """Deploys a template as a CloudFormation StackSet with stack instances per (account, region)."""

    LABEL = "CloudFormationStackSetDeployment"
    INPUTS = sets.StackSetInputs
    OUTPUTS = sets.StackSetOutputs
    ID_OUTPUT = "stack_set_id"
    QUOTABLE = frozenset(
        {
            "stack_set_name",
            "stack_set_regions",
            "target_region",
            "target_role_arn",
            "target_account_id",
            "permission_model",
            "administration_role_arn",
            "execution_role_name",
            "deployment_targets",
            "max_concurrent",
            "failure_tolerance",
            "capabilities",
            "stack_timeout_seconds",
            "staging_bucket",
            "owner",
        }
    )
    # Settings that reach the stack set: a change is an UpdateStackSet. max_concurrent,
    # failure_tolerance, the timeout, the role and the staging place only matter while something changes.
    UPDATE_ON = ("administration_role_arn", "execution_role_name", "capabilities", "stack_tags", "deployment_targets")
    EVIDENCE = {"stack": "stack_set_name", "account": "target_account_id", "region": "target_region"}
    REQUIRED_BECAUSE = {
        "target_account_id": (
            "the account guard refuses to act in any other account than the stack set's administrator account "
            "(STS GetCallerIdentity before any other call)"
        )
    }

    # The same credentials and account guard as the deployment's provider (not a copy).
    configure = CloudFormationDeploymentProvider.configure
    _connect = CloudFormationDeploymentProvider._connect
    _config_region: Optional[str] = None
    _config_profile: Optional[str] = None

    def _subject(self, props: Mapping[str, Any]) -> str:
        return f" for StackSet {props.get('stack_set_name')!r}"

    def _check_more(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """The rules across inputs (``core.stacksets.plan_problems``) at preview, once the inputs they read are known."""
        if any(has_unknown(news.get(name)) for name in PLAN_INPUTS):
            return []
        try:
            inputs = self.INPUTS.model_validate({**stand_ins(self.INPUTS), **known_inputs(news, self.input_names())})
        except ValidationError:
            return []  # reported by the model's own check
        return [CheckFailure(_input_of(problem), problem) for problem in sets.plan_problems(inputs)]

    def _validate(self, inputs: sets.StackSetInputs) -> None:
        """The rules across inputs (``core.stacksets.plan_problems``) and per-account values the template lacks.

        Raises:
            InputError: each problem named, no value quoted.
        """
        problems = sets.plan_problems(inputs)
        unknown = sets.unknown_overrides(inputs)
        if unknown:
            problems.append(f"per-account values for parameters the template does not declare: {', '.join(unknown)}")
        if problems:
            raise InputError(
                f"invalid {self.LABEL} inputs{self._subject(inputs.model_dump())}: {'; '.join(problems)}; fix them in the "
                "Pulumi program (or the stage file's stackSet settings)",
                stack=inputs.stack_set_name,
                account=inputs.target_account_id,
            )

    # --- diff (no AWS call) -------------------------------------------------------------------------
    def _changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """The template's sha256, the values' digests, the instances and the settings; no AWS call.

        Raises:
            StackStateError: a changed name, region, administrator account or permission model.
        """
        self._refuse_identity_change(olds, known_inputs(news, self.input_names()))
        _, changed = super()._changes(olds, news)
        changed.extend(self._set_changes(olds, news))
        if self.changed(olds, news, "stack_set_regions"):
            changed.append("stack_set_regions")
        accounts = _accounts(news.get("stack_set_accounts"))
        regions = news.get("stack_set_regions")
        if accounts is None or has_unknown(regions):
            changed.append("stack_set_accounts")
        else:
            if sets.regions_by_account(accounts, list(regions or [])) != (olds.get("instance_plan") or {}):
                changed.append("stack_set_accounts")
            elif self._changed_accounts(olds, accounts):
                changed.append("stack_set_accounts")
        changed.extend(name for name in IDENTITY if is_unknown(news.get(name)))
        return [], sorted(set(changed))

    def _set_changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """What an UpdateStackSet carries that changed: the template and the shared values."""
        changed = []
        body = news.get("template_body")
        if is_unknown(body) or (body is not None and core.template_sha256(body) != olds.get("template_sha256")):
            changed.append("template_body")
        values = news.get("parameters")
        salt = olds.get("digest_salt")
        if has_unknown(values) or salt is None or _digests(values or {}, str(olds.get("stack_set_name")), str(salt)) != (
            olds.get("parameter_digests") or {}
        ):
            changed.append("parameters")
        return changed

    @staticmethod
    def _changed_accounts(olds: Mapping[str, Any], accounts: Sequence[sets.StackSetAccount]) -> list[str]:
        """Accounts whose own values differ from the recorded digests."""
        salt = olds.get("digest_salt")
        if salt is None:
            return [account.account_id for account in accounts]
        now = _override_digests(accounts, str(olds.get("stack_set_name")), str(salt))
        recorded = olds.get("override_digests") or {}
        return sorted(a for a in {*now, *recorded} if now.get(a) != recorded.get(a))

    @staticmethod
    def _refuse_identity_change(olds: Mapping[str, Any], news: Mapping[str, Any]) -> None:
        """Refuse what would make it another stack set (the stack's rule, ``core.stacks.replacement_problems``)."""
        problems = core.replacement_problems(
            {**olds, "stack_name": olds.get("stack_set_name")}, {**news, "stack_name": news.get("stack_set_name")}
        )
        model = news.get("permission_model")
        if model is not None and olds.get("permission_model") not in (None, model):
            problems.append(f"permission_model {olds['permission_model']} -> {model}")
        if problems:
            raise core.refuse_replacement(problems, olds.get("stack_set_name"))

    # --- the engine's calls ----------------------------------------------------------------------------
    def _create(self, inputs: sets.StackSetInputs) -> dict[str, Any]:
        """Create the stack set and its instances; the identity is minted here, once."""
        return self._deploy(inputs, secrets.token_hex(16), None)

    def _update(self, olds: Mapping[str, Any], _news: Mapping[str, Any], inputs: sets.StackSetInputs) -> dict[str, Any]:
        """Update the stack set (if its template, values or settings changed), then its instances."""
        self._refuse_identity_change(olds, inputs.model_dump())
        return self._deploy(inputs, str(olds.get("digest_salt") or secrets.token_hex(16)), olds)

    def _claim(self, inputs_owner: Optional[str], olds: Optional[Mapping[str, Any]]) -> core.Claim:
        return core.Claim(
            identity=str((olds or {}).get("owner_identity") or secrets.token_hex(16)),
            owner=inputs_owner or "",
            recorded_stack_id=(olds or {}).get("stack_set_id"),
        )

    def _deployer(self, props: Mapping[str, Any], timeout: float) -> Any:
        from .aws.stacksets import StackSetDeployer  # noqa: PLC0415  (boto3 only in the provider process)

        name = str(props.get("stack_set_name"))
        # One deadline from before connecting: AssumeRole and the account guard count too.
        deadline = Deadline.after(timeout)
        return StackSetDeployer(self._connect(props, name, deadline), name, deadline)

    def _deploy(self, inputs: sets.StackSetInputs, salt: str, olds: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        """Deploy within ``stack_timeout_seconds``: the outputs."""
        name = inputs.stack_set_name
        deployer = self._deployer(inputs.model_dump(), inputs.stack_timeout_seconds)
        claim = self._claim(inputs.owner, olds)
        news = inputs.model_dump()
        if olds is None:
            changed_values: list[str] = [a.account_id for a in inputs.stack_set_accounts]
            update_set = False
        else:
            changed_values = self._changed_accounts(olds, inputs.stack_set_accounts)
            update_set = bool(self._set_changes(olds, news)) or any(self.changed(olds, news, n) for n in self.UPDATE_ON)
        result = deployer.deploy(inputs, claim, changed_values, update_set)
        outputs = sets.StackSetOutputs(
            stack_set_id=result.stack_set_id,
            account_id=deployer.target.account_id,
            target_region=deployer.target.region,
            template_sha256=core.template_sha256(inputs.template_body),
            parameter_digests=_digests(inputs.parameters, name, salt),
            override_digests=_override_digests(inputs.stack_set_accounts, name, salt),
            digest_salt=salt,
            instance_plan=sets.wanted_instances(inputs),
            instances=result.instances,
            operation_ids=result.operations,
            owner_identity=claim.identity,
        )
        # The settings are echoed (diff compares them), never the template or any value.
        settings = echoed_inputs(inputs, "template_body", "parameters", "stack_set_accounts")
        return {**settings, **outputs.model_dump()}

    def _read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh the instances' status and root cause; a deleted stack set is gone."""
        deployer = self._deployer(props, float(props.get("stack_timeout_seconds") or core.DEFAULT_TIMEOUT_SECONDS))
        if deployer.describe() is None:
            return ReadResult("", {})
        return ReadResult(id_, {**props, "instances": deployer.instances()})

    def _delete(self, _id: str, props: dict[str, Any]) -> None:
        """Delete every stack instance (and its stack), then the stack set: only one this resource created."""
        deployer = self._deployer(props, float(props.get("stack_timeout_seconds") or core.DEFAULT_TIMEOUT_SECONDS))
        preferences = sets.operation_preferences(str(props.get("max_concurrent") or "1"), str(props.get("failure_tolerance") or "0"))
        deployer.delete(self._claim(props.get("owner"), props), preferences)


class CloudFormationStackSetDeployment(pulumi.dynamic.Resource, module="quicksight", name="CloudFormationStackSetDeployment"):
    """A CloudFormation StackSet of a template, with stack instances per (account, region).

    Args:
        resource_name: The Pulumi resource name.
        stack_set_name: The StackSet's name.
        template_body: The template (JSON); over 51,200 bytes it is staged in ``staging_bucket``.
        parameters: The values every account shares (always a secret; only keyed digests are recorded).
        stack_set_accounts: Each target account: ``{"account_id", "regions"?, "parameters"?}``
            (its own values override the shared ones); SELF_MANAGED only.
        stack_set_regions: The regions of every account that names none (and of the OUs).
        target_account_id: The administrator account (required): the account guard acts in no other.
        target_region, target_role_arn, target_external_id: Where and as whom the StackSet API is called.
        permission_model: ``SELF_MANAGED`` (default) or ``SERVICE_MANAGED`` (Organizations).
        administration_role_arn: SELF_MANAGED: the role CloudFormation assumes in this account
            (default: ``AWSCloudFormationStackSetAdministrationRole``).
        execution_role_name: SELF_MANAGED: the role it assumes in each target account
            (default: ``AWSCloudFormationStackSetExecutionRole``).
        deployment_targets: SERVICE_MANAGED: Organizations OU (or root) ids.
        max_concurrent: Accounts deployed at once per region: a count (``"10"``) or a percentage (``"25%"``).
        failure_tolerance: Failed accounts per region before CloudFormation stops: a count or a percentage.
        capabilities, stack_tags: As CreateStackSet takes them.
        stack_timeout_seconds: How long to wait for the operations (default 3600).
        staging_bucket, staging_prefix: Where a template over 51,200 bytes is staged.
        owner: The readable owner ``<project>/<stack>`` tagged beside this resource's identity.
        opts: Resource options (``digest_salt`` is always a secret output).
    """

    stack_set_id: pulumi.Output[str]
    instances: pulumi.Output[list[dict[str, Any]]]
    operation_ids: pulumi.Output[list[str]]
    owner_identity: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        stack_set_name: pulumi.Input[str],
        template_body: pulumi.Input[str],
        target_account_id: pulumi.Input[str],
        parameters: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        stack_set_accounts: Optional[pulumi.Input[Sequence[Any]]] = None,
        stack_set_regions: Optional[pulumi.Input[Sequence[str]]] = None,
        target_region: Optional[pulumi.Input[str]] = None,
        target_role_arn: Optional[pulumi.Input[str]] = None,
        target_external_id: Optional[pulumi.Input[str]] = None,
        permission_model: Optional[pulumi.Input[str]] = None,
        administration_role_arn: Optional[pulumi.Input[str]] = None,
        execution_role_name: Optional[pulumi.Input[str]] = None,
        deployment_targets: Optional[pulumi.Input[Sequence[str]]] = None,
        max_concurrent: Optional[pulumi.Input[str]] = None,
        failure_tolerance: Optional[pulumi.Input[str]] = None,
        capabilities: Optional[pulumi.Input[Sequence[str]]] = None,
        stack_tags: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        stack_timeout_seconds: Optional[pulumi.Input[int]] = None,
        staging_bucket: Optional[pulumi.Input[str]] = None,
        staging_prefix: Optional[pulumi.Input[str]] = None,
        owner: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "stack_set_name": stack_set_name,
            "template_body": template_body,
            "target_account_id": target_account_id,
            # Always secrets: credentials and hosts are among the values, shared and per account.
            "parameters": pulumi.Output.secret(parameters) if parameters is not None else None,
            "stack_set_accounts": pulumi.Output.secret(stack_set_accounts) if stack_set_accounts is not None else None,
            "stack_set_regions": stack_set_regions,
            "target_region": target_region,
            "target_role_arn": target_role_arn,
            "target_external_id": secret_input(target_external_id),
            "permission_model": permission_model,
            "administration_role_arn": administration_role_arn,
            "execution_role_name": execution_role_name,
            "deployment_targets": deployment_targets,
            "max_concurrent": max_concurrent,
            "failure_tolerance": failure_tolerance,
            "capabilities": capabilities,
            "stack_tags": stack_tags,
            "stack_timeout_seconds": stack_timeout_seconds,
            "staging_bucket": staging_bucket,
            "staging_prefix": staging_prefix,
            "owner": owner,
        }
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))
        super().__init__(
            CloudFormationStackSetProvider(),
            resource_name,
            CloudFormationStackSetProvider.resource_props(props),
            opts,
        )
