"""One release to many accounts through a CloudFormation StackSet: the inputs and the pure decisions.

Pure core: no I/O, no Pulumi, no boto3. The AWS boundary (``components/aws/stacksets.py``) asks
these functions which stack instances to create, update or delete, how ``maxConcurrent`` and
``failureTolerance`` read as CloudFormation's ``OperationPreferences``, and what an operation's
results say; the provider (``components/stackset.py``) validates its inputs with
``StackSetInputs``. Whose a stack set is is decided as for a stack (``core.stacks.ownership``): the
same two tags, the same identity minted at the first create.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..errors import DeploymentError, StackSetOperationFailedError, StackStateError, clean, listing
from .models import MAX_TIMEOUT_SECONDS, DeploymentInputs
from .stacks import DEFAULT_TIMEOUT_SECONDS, OWNER_TAG, OWNERSHIP_TAG, parameter_string
from .types import AccountId, OptionalBucketName, OptionalExternalId, OptionalRegion, OptionalRoleArn, Region, StackName

# CloudFormation's bounds of an operation's preferences (OperationPreferences).
MAX_PERCENTAGE = 100
# "10" (a count) or "25%" (a percentage of the accounts of a region).
_AMOUNT = re.compile(r"^(?P<number>[0-9]{1,4})(?P<percent>%?)$")
# An Organizations root or OU id (DeploymentTargets.OrganizationalUnitIds).
OU_PATTERN = r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$"
# An IAM role name (ExecutionRoleName).
ROLE_NAME_PATTERN = r"^[A-Za-z0-9+=,.@_-]{1,64}$"
# The stack set operation statuses that end a wait (DescribeStackSetOperation's Status).
OPERATION_DONE = frozenset({"SUCCEEDED", "FAILED", "STOPPED"})
# A stack instance that holds what was last deployed (ListStackInstances' Status).
INSTANCE_CURRENT = "CURRENT"
# The stack set's execution role in each target account, as AWS's documented templates name it.
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"

PermissionModel = Literal["SELF_MANAGED", "SERVICE_MANAGED"]


def _strings(value: Any) -> Any:
    # CloudFormation parameter values are strings; the engine sends numbers as doubles.
    if isinstance(value, Mapping):
        return {str(k): parameter_string(v) for k, v in value.items()}
    return value


class StackSetAccount(BaseModel):
    """One target account of a stack set: its regions (else the stack set's) and its own values.

    ``parameters`` override the shared values for this account only (hosts, principals...):
    CloudFormation's ``ParameterOverrides`` of its stack instances.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    account_id: AccountId = Field(alias="accountId")
    regions: list[Region] = Field(default_factory=list)
    parameters: dict[str, str] = Field(default_factory=dict)

    @field_validator("parameters", mode="before")
    @classmethod
    def _values(cls, value: Any) -> Any:
        return _strings(value)


class StackSetInputs(BaseModel):
    """Inputs of the ``CloudFormationStackSetDeployment`` dynamic resource (``components/stackset.py``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    stack_set_name: StackName = Field(examples=["stand-in"])
    template_body: str = Field(min_length=2, examples=['{"Resources":{}}'])
    # The values every account shares (a secret input: only keyed digests are recorded).
    parameters: dict[str, str] = Field(default_factory=dict)
    stack_set_accounts: list[StackSetAccount] = Field(default_factory=list)
    stack_set_regions: list[Region] = Field(default_factory=list)
    # The administrator account (self-managed) or the organisation's management / delegated
    # administrator account (service-managed): the account guard acts in no other.
    target_account_id: AccountId = Field(examples=["123456789012"])
    target_region: OptionalRegion = None
    target_role_arn: OptionalRoleArn = None
    target_external_id: OptionalExternalId = None
    permission_model: PermissionModel = "SELF_MANAGED"
    administration_role_arn: OptionalRoleArn = None
    execution_role_name: Optional[str] = Field(default=None, pattern=ROLE_NAME_PATTERN)
    deployment_targets: list[str] = Field(default_factory=list)
    max_concurrent: str = "1"
    failure_tolerance: str = "0"
    capabilities: list[Literal["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"]] = Field(
        default_factory=list
    )
    stack_tags: dict[str, str] = Field(default_factory=dict)
    stack_timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=MAX_TIMEOUT_SECONDS)
    staging_bucket: OptionalBucketName = None
    staging_prefix: str = Field(default="quicksight-promotion/", max_length=512)
    owner: Optional[str] = Field(default=None, max_length=256)

    @field_validator("parameters", mode="before")
    @classmethod
    def _values(cls, value: Any) -> Any:
        return _strings(value)

    @field_validator("template_body")
    @classmethod
    def _json_object(cls, value: str) -> str:
        # The deployment's rule, said once (core.models.DeploymentInputs).
        return DeploymentInputs._json_object(value)

    @field_validator("max_concurrent", "failure_tolerance", mode="before")
    @classmethod
    def _amount(cls, value: Any) -> Any:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or amount(value) is None:
            raise ValueError("must be a count (\"10\") or a percentage (\"25%\", at most 100%)")
        return value

    @field_validator("deployment_targets")
    @classmethod
    def _ous(cls, value: list[str]) -> list[str]:
        wrong = [item for item in value if not re.match(OU_PATTERN, item)]
        if wrong:
            raise ValueError(f"{len(wrong)} entr(ies) are no Organizations OU or root id (ou-xxxx-xxxxxxxx, r-xxxx)")
        return value

    @field_validator("stack_tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        if OWNERSHIP_TAG in value or OWNER_TAG in value:
            raise ValueError(f"{OWNERSHIP_TAG} and {OWNER_TAG} are set by this library")
        return value

    @property
    def document(self) -> dict[str, Any]:
        """The template, parsed."""
        return json.loads(self.template_body)


class StackSetOutputs(BaseModel):
    """Outputs of the ``CloudFormationStackSetDeployment`` dynamic resource (plain JSON-able; never a value).

    Its settings are echoed beside these (diff compares them), never the template or any value.
    """

    model_config = ConfigDict(frozen=True)

    stack_set_id: str
    account_id: str
    target_region: str
    template_sha256: str
    # Keyed HMAC-SHA256 digests of the shared values and of each account's own (never a value).
    parameter_digests: dict[str, str]
    override_digests: dict[str, dict[str, str]]
    digest_salt: str
    # Account -> its regions, as deployed (diff compares the wanted ones with it).
    instance_plan: dict[str, list[str]]
    # Each stack instance: account, region, status, detailed status, StatusReason (its root cause), stack id.
    instances: list[dict[str, Any]]
    operation_ids: list[str]
    owner_identity: str


def amount(text: str) -> Optional[tuple[int, bool]]:
    """``"10"`` -> (10, False), ``"25%"`` -> (25, True); None when it is neither (or over 100%)."""
    found = _AMOUNT.match(text.strip())
    if not found:
        return None
    number, percent = int(found["number"]), bool(found["percent"])
    if percent and number > MAX_PERCENTAGE:
        return None
    return number, percent


def operation_preferences(max_concurrent: str, failure_tolerance: str) -> dict[str, Any]:
    """``maxConcurrent`` and ``failureTolerance`` as CloudFormation's ``OperationPreferences``.

    CloudFormation refuses a count of concurrent accounts above the failure tolerance plus one
    (``MaxConcurrentCount`` is at most ``FailureToleranceCount + 1``) only when both are counts;
    that rule is CloudFormation's and is left to it, named in its answer.
    """
    concurrent, concurrent_percent = amount(max_concurrent) or (1, False)
    tolerance, tolerance_percent = amount(failure_tolerance) or (0, False)
    return {
        ("MaxConcurrentPercentage" if concurrent_percent else "MaxConcurrentCount"): max(concurrent, 1),
        ("FailureTolerancePercentage" if tolerance_percent else "FailureToleranceCount"): tolerance,
    }


def plan_problems(inputs: StackSetInputs) -> list[str]:
    """What makes the inputs no stack set CloudFormation could deploy (each problem once)."""
    problems: list[str] = []
    ids = [account.account_id for account in inputs.stack_set_accounts]
    repeated = sorted({account for account in ids if ids.count(account) > 1})
    if repeated:
        problems.append(f"stack_set_accounts lists account(s) {', '.join(repeated)} more than once")
    if inputs.permission_model == "SELF_MANAGED":
        if not inputs.stack_set_accounts:
            problems.append("stack_set_accounts is empty: a SELF_MANAGED stack set deploys to the accounts it lists")
        if inputs.deployment_targets:
            problems.append("deployment_targets (Organizations OUs) need permission_model SERVICE_MANAGED")
        without = sorted({a.account_id for a in inputs.stack_set_accounts if not (a.regions or inputs.stack_set_regions)})
        if without:
            problems.append(f"account(s) {', '.join(without)} have no region: set stack_set_regions or their regions")
    else:
        if not inputs.deployment_targets:
            problems.append("deployment_targets is empty: a SERVICE_MANAGED stack set deploys to Organizations OUs")
        if not inputs.stack_set_regions:
            problems.append("stack_set_regions is empty: a SERVICE_MANAGED stack set deploys to these regions of its OUs")
        if inputs.stack_set_accounts:
            problems.append("stack_set_accounts (per-account values) need permission_model SELF_MANAGED")
        if inputs.administration_role_arn or inputs.execution_role_name:
            problems.append("administration_role_arn and execution_role_name are for SELF_MANAGED only")
    return problems


def unknown_overrides(inputs: StackSetInputs) -> list[str]:
    """``<account>: <parameter>`` for each per-account value the template has no parameter for.

    CloudFormation overrides only parameters the stack set's template declares.
    """
    declared = set((inputs.document.get("Parameters") or {}).keys())
    return [
        f"{account.account_id}: {clean(name)}"
        for account in inputs.stack_set_accounts
        for name in sorted(account.parameters)
        if name not in declared
    ]


# --- stack instances ------------------------------------------------------------------------------


def instance_key(account: str, region: str) -> str:
    """How outputs and plans name a stack instance: ``<account>/<region>``."""
    return f"{account}/{region}"


def wanted_instances(inputs: StackSetInputs) -> dict[str, list[str]]:
    """Account -> its regions (sorted), for a self-managed stack set."""
    return regions_by_account(inputs.stack_set_accounts, inputs.stack_set_regions)


def regions_by_account(accounts: Sequence[StackSetAccount], regions: Sequence[str]) -> dict[str, list[str]]:
    """Account -> its regions (its own, else ``regions``), sorted."""
    return {account.account_id: sorted(set(account.regions or regions)) for account in accounts}


@dataclass(frozen=True)
class Group:
    """Stack instances one call handles: accounts that share regions and values.

    Attributes:
        accounts: The accounts (sorted).
        regions: Their regions (sorted).
        overrides: Their per-account values (parameter -> value).
    """

    accounts: tuple[str, ...]
    regions: tuple[str, ...]
    overrides: tuple[tuple[str, str], ...]


def groups(inputs: StackSetInputs, accounts: Sequence[str], regions_of: Mapping[str, Sequence[str]]) -> list[Group]:
    """``accounts`` in as few calls as CloudFormation allows: one per set of regions and values.

    CreateStackInstances takes accounts x regions with one ``ParameterOverrides``, so accounts
    that share both go together (50 accounts with the same values are one call).

    Args:
        inputs: The parsed inputs (the accounts' values).
        accounts: The accounts to act on.
        regions_of: Account -> the regions to act on there.
    """
    values = {account.account_id: account.parameters for account in inputs.stack_set_accounts}
    found: dict[tuple[tuple[str, ...], tuple[tuple[str, str], ...]], list[str]] = {}
    for account in sorted(accounts):
        regions = tuple(sorted(regions_of.get(account) or ()))
        if not regions:
            continue
        found.setdefault((regions, tuple(sorted((values.get(account) or {}).items()))), []).append(account)
    return [Group(tuple(members), regions, overrides) for (regions, overrides), members in sorted(found.items())]


def region_groups(regions_of: Mapping[str, Sequence[str]]) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(accounts, regions) pairs covering exactly the instances of ``regions_of`` (account -> regions).

    A StackSet call acts on accounts x regions: accounts are grouped by the same set of regions,
    so that no call names an instance that does not exist.
    """
    found: dict[tuple[str, ...], list[str]] = {}
    for account, regions in sorted(regions_of.items()):
        if regions:
            found.setdefault(tuple(sorted(set(regions))), []).append(account)
    return [(tuple(accounts), regions) for regions, accounts in sorted(found.items())]


@dataclass(frozen=True)
class Plan:
    """What one ``up`` does to a self-managed stack set's instances.

    Attributes:
        create: Account -> regions to create instances in.
        delete: Account -> regions whose instances are deleted (no longer wanted).
        override: Accounts whose own values changed (their existing instances are updated).
    """

    create: dict[str, list[str]]
    delete: dict[str, list[str]]
    override: list[str]


def plan(wanted: Mapping[str, Sequence[str]], existing: Sequence[tuple[str, str]], changed_values: Sequence[str]) -> Plan:
    """Instances to create, to delete, and accounts whose values to update.

    Args:
        wanted: Account -> regions (``wanted_instances``).
        existing: The (account, region) of each instance the stack set has (ListStackInstances).
        changed_values: Accounts whose own values changed since the last deployment.
    """
    have: dict[str, set[str]] = {}
    for account, region in existing:
        have.setdefault(account, set()).add(region)
    create = {a: sorted(set(r) - have.get(a, set())) for a, r in wanted.items() if set(r) - have.get(a, set())}
    delete = {a: sorted(r - set(wanted.get(a) or ())) for a, r in have.items() if r - set(wanted.get(a) or ())}
    override = sorted({a for a in changed_values if a in have and a in wanted and a not in create})
    return Plan(create, delete, override)


# --- what an operation left ------------------------------------------------------------------------


def instance_summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A ListStackInstances entry as an output: plain JSON, every text cleaned and bounded."""
    detailed = entry.get("StackInstanceStatus") if isinstance(entry.get("StackInstanceStatus"), Mapping) else {}
    return {
        "account_id": clean(str(entry.get("Account") or "")),
        "region": clean(str(entry.get("Region") or "")),
        "organizational_unit_id": clean(str(entry["OrganizationalUnitId"])) if entry.get("OrganizationalUnitId") else None,
        "status": clean(str(entry.get("Status") or "")),
        "detailed_status": clean(str(detailed.get("DetailedStatus") or "")) or None,
        "status_reason": clean(str(entry["StatusReason"])) if entry.get("StatusReason") else None,
        "stack_id": clean(str(entry["StackId"])) if entry.get("StackId") else None,
    }


def failed_results(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """``<account>/<region>: <StatusReason>`` of each instance an operation failed (ListStackSetOperationResults)."""
    return [
        f"{instance_key(clean(str(r.get('Account') or '?')), clean(str(r.get('Region') or '?')))}: "
        f"{clean(str(r.get('StatusReason') or 'no reason given'))}"
        for r in results
        if r.get("Status") in ("FAILED", "CANCELLED")
    ]


def operation_failed(name: str, operation: Mapping[str, Any], failures: Sequence[str], account: Optional[str]) -> DeploymentError:
    """The error for a stack set operation that ended FAILED or STOPPED: each failed instance and its root cause."""
    action = clean(str(operation.get("Action") or "operation"))
    status = clean(str(operation.get("Status") or "?"))
    reason = operation.get("StatusReason")
    said = f" ({clean(str(reason))})" if reason else ""
    where = f": {listing(failures)}" if failures else ""
    return StackSetOperationFailedError(
        f"CloudFormation StackSet {name!r}: its {action} operation {clean(str(operation.get('OperationId') or ''))} "
        f"ended {status}{said}{where}. Mend the cause in the accounts named (their stack's events tell more), "
        "then run pulumi up again: it carries on from the stack instances' state",
        stack=name,
        account=account,
        operation="cloudformation:DescribeStackSetOperation",
    )


def not_ours(name: str, tags: Mapping[str, str]) -> StackStateError:
    """The refusal of a stack set this resource did not create (another deployment's, or nobody's)."""
    owner = tags.get(OWNER_TAG)
    whose = f"the deployment of {clean(owner)!r} ({OWNERSHIP_TAG} {clean(tags.get(OWNERSHIP_TAG) or '')!r})" if owner else (
        f"another deployment ({OWNERSHIP_TAG} {clean(tags[OWNERSHIP_TAG])!r})" if OWNERSHIP_TAG in tags else "nobody this library knows (no ownership tag)"
    )
    return StackStateError(
        f"CloudFormation StackSet {name!r} already exists and belongs to {whose}, not to this one: nothing was "
        "changed. Choose another stackSetName, or delete that stack set first if it is yours to delete",
        stack=name,
    )
