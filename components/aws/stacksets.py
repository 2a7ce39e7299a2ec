"""Deploy a template as a CloudFormation StackSet with stack instances per (account, region).

The calls, in order (the StackSet API of CloudFormation, made in the administrator account):

- DescribeStackSet: whose the stack set is (``core.stacks.ownership`` on its tags, as for a stack);
  one this resource did not create is refused by name, never updated or deleted;
- CreateStackSet (tagged with the resource's identity) or UpdateStackSet (a new template, shared
  values or settings: CloudFormation rolls it out to every instance);
- ListStackInstances: the instances the stack set has, then DeleteStackInstances (no longer
  wanted), CreateStackInstances (new accounts or regions, grouped by shared regions and values:
  ``core.stacksets.groups``) and UpdateStackInstances (accounts whose own values changed);
- after each operation, DescribeStackSetOperation until it ends (``core.polling.poll_until``,
  within the one deadline); a FAILED or STOPPED operation is read through
  ListStackSetOperationResults and named by account, region and CloudFormation's StatusReason;
- DeleteStackInstances and DeleteStackSet to delete.

Every operation is sent with an ``OperationId`` minted before its first attempt, so a retry of a call
whose answer was lost (the call layer retries transient faults with the same parameters) is the
same operation, never a second one. Stack set operations run one at a time per stack set: the
calls here are sequential. Every call goes through the call layer (``calls.Calls``, purpose
``DEPLOYMENT``, the ``CLOUDFORMATION`` table); no message quotes a parameter value.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional, Sequence

from ..core import stacks as core
from ..core import stacksets as plan_core
from ..core.polling import Backoff, Deadline, poll_until
from ..core.transform import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT
from ..errors import DeploymentError, DeploymentTimeoutError, clean
from .calls import CLOUDFORMATION, DEPLOYMENT, Calls, Expect, Expected
from .cloudformation import DeployRequest, Deployer, Target

# A StackSet operation is stack operations in each account, a round of maxConcurrent accounts after
# another: polled on the stacks' schedule (2 s, then 21 % of the time waited, at most 30 s apart).
# bench/fanout.py (figure 8), 50 accounts: under half the requests of a one-stack-per-account loop
# (a twentieth at maxConcurrent 10) and at most 5 % of its summed detection lag.
OPERATION_BACKOFF = core.STACK_BACKOFF
NO_STACK_SET = Expect("no such stack set", frozenset({"StackSetNotFoundException"}))
# A retried call whose first attempt reached CloudFormation: the operation is ours and running.
OPERATION_EXISTS = Expect("operation already started", frozenset({"OperationIdAlreadyExistsException"}))
# Pages of ListStackInstances / ListStackSetOperationResults read (100 entries each).
MAX_PAGES = 50
NOTHING_DEPLOYED = "; nothing was deployed"


@dataclass(frozen=True)
class StackSetResult:
    """What a deployment of a stack set left.

    Attributes:
        stack_set_id: CloudFormation's StackSetId.
        operations: The ids of the operations made, in order.
        instances: Each stack instance (``core.stacksets.instance_summary``), sorted by account and region.
    """

    stack_set_id: str
    operations: list[str]
    instances: list[dict[str, Any]]


class StackSetDeployer:
    """StackSet deployments and deletions in the administrator account.

    Args:
        target: The administrator account's clients (``cloudformation.connect``).
        name: The stack set.
        deadline: The bound of the whole operation.
        sleep, clock: Injectable for tests.
        backoff: The schedule operations are polled on.
    """

    def __init__(
        self,
        target: Target,
        name: str,
        deadline: Deadline,
        *,
        sleep: Callable[[float], None] = time.sleep,
        backoff: Backoff = OPERATION_BACKOFF,
        hidden: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.target = target
        self.name = name
        self.deadline = deadline
        self.sleep = sleep
        self.backoff = backoff
        self.operations: list[str] = []
        self._hidden = dict(hidden or {})
        self._aws = Calls(
            DEPLOYMENT,
            f"CloudFormation StackSet {name!r}",
            {"stack": name, "account": target.account_id, "region": target.region},
            deadline,
            # Transient faults of one call: retried on the deployment's retry schedule (first retry after 1 s).
            core.RETRY_BACKOFF,
            sleep,
            hide=lambda text: core.redact(str(text), self._hidden),
        )

    # --- calls ---------------------------------------------------------------------------------
    def _call(self, operation: str, *, expect: Sequence[Expect] = (), **params: Any) -> Any:
        return self._aws.call(self.target.cloudformation, CLOUDFORMATION, operation, expect=expect, after=NOTHING_DEPLOYED, **params)

    def describe(self) -> Optional[dict[str, Any]]:
        """DescribeStackSet: the stack set, or None when there is none (or it is deleted).

        Raises:
            MalformedStackAnswerError: no StackSet object, or one without a StackSetId.
        """
        answer = self._call("DescribeStackSet", expect=(NO_STACK_SET,), StackSetName=self.name)
        if isinstance(answer, Expected):
            return None
        found = answer.get("StackSet")
        if not isinstance(found, dict) or not isinstance(found.get("StackSetId"), str):
            raise self._aws.malformed(CLOUDFORMATION, "DescribeStackSet", "StackSet.StackSetId is missing")
        if not isinstance(found.get("Tags", []), list):
            raise self._aws.malformed(CLOUDFORMATION, "DescribeStackSet", "StackSet.Tags is not a list")
        return None if found.get("Status") == "DELETED" else found

    def owned(self, found: Mapping[str, Any], claim: core.Claim) -> bool:
        """Refuse a stack set this resource did not create; whether it must be tagged anew.

        A dynamic provider's failed create leaves no state: the next ``up`` creates again with a new
        identity, and meets the stack set the failed create made, tagged with the same readable
        owner (``Ownership.NAMESAKE``). Only then (no recorded stack set) is it taken, and its
        ownership tag rewritten.

        Raises:
            StackStateError: naming the stack set and whose it is.
        """
        tags = core.stack_tags(found.get("Tags") or [])
        whose = core.ownership(tags, str(found.get("StackSetId")), claim)
        if core.owned(whose):
            return False
        if whose is core.Ownership.NAMESAKE and claim.recorded_stack_id is None:
            return True
        raise plan_core.not_ours(self.name, tags)

    def instances(self) -> list[dict[str, Any]]:
        """ListStackInstances, every page: each instance as an output (sorted by account and region)."""
        entries = self._pages("ListStackInstances", StackSetName=self.name)
        found = [plan_core.instance_summary(entry) for entry in entries]
        return sorted(found, key=lambda item: (item["account_id"], item["region"]))

    def _pages(self, operation: str, **params: Any) -> list[Mapping[str, Any]]:
        entries: list[Mapping[str, Any]] = []
        token: Optional[str] = None
        for _ in range(MAX_PAGES):
            answer = self._call(operation, **params, **({"NextToken": token} if token else {}))
            summaries = answer.get("Summaries", [])
            if not isinstance(summaries, list) or not all(isinstance(item, dict) for item in summaries):
                raise self._aws.malformed(CLOUDFORMATION, operation, "Summaries is not a list of objects")
            entries.extend(summaries)
            token = answer.get("NextToken") if isinstance(answer.get("NextToken"), str) else None
            if not token:
                return entries
        raise self._aws.malformed(CLOUDFORMATION, operation, f"more than {MAX_PAGES} pages")

    # --- operations ------------------------------------------------------------------------------
    def _operation(self, operation: str, **params: Any) -> str:
        """Start one stack set operation with an id minted now, and wait for it to end.

        Raises:
            StackSetOperationFailedError: it ended FAILED or STOPPED (each failed instance named).
            DeploymentTimeoutError: it did not end before the deadline (CloudFormation goes on).
        """
        operation_id = f"qsp-{uuid.uuid4()}"
        answer = self._call(operation, expect=(OPERATION_EXISTS,), OperationId=operation_id, **params)
        if not isinstance(answer, Expected) and answer.get("OperationId") not in (None, operation_id):
            raise self._aws.malformed(CLOUDFORMATION, operation, "OperationId is not the one sent")
        self.operations.append(operation_id)
        self.wait(operation_id)
        return operation_id

    def wait(self, operation_id: str) -> dict[str, Any]:
        """DescribeStackSetOperation until the operation ends, within the deadline; its description."""

        def poll() -> dict[str, Any]:
            answer = self._aws.once(
                self.target.cloudformation, CLOUDFORMATION, "DescribeStackSetOperation",
                StackSetName=self.name, OperationId=operation_id,
            )  # fmt: skip
            found = answer.get("StackSetOperation") if isinstance(answer, dict) else None
            if not isinstance(found, dict) or not isinstance(found.get("Status"), str):
                raise self._aws.malformed(CLOUDFORMATION, "DescribeStackSetOperation", "StackSetOperation.Status is missing")
            return found

        outcome = poll_until(
            poll,
            lambda found: found["Status"] in plan_core.OPERATION_DONE,
            timeout=max(self.deadline.remaining(), 0.0),
            backoff=self.backoff,
            sleep=self.sleep,
            clock=self.deadline.clock,
        )
        if not outcome.done:
            last = outcome.value["Status"] if outcome.value else "unknown"
            raise DeploymentTimeoutError(
                f"CloudFormation StackSet {self.name!r}: operation {operation_id} was still {clean(last)} after "
                f"stack_timeout_seconds ({self.deadline.seconds:g} s); CloudFormation goes on with it. Raise "
                "stack_timeout_seconds, or wait for it (aws cloudformation describe-stack-set-operation), then "
                "run pulumi up again",
                stack=self.name,
                account=self.target.account_id,
                operation="cloudformation:DescribeStackSetOperation",
            )
        found = outcome.value or {}
        if found["Status"] != "SUCCEEDED":
            results = self._pages("ListStackSetOperationResults", StackSetName=self.name, OperationId=operation_id)
            failures = plan_core.failed_results(results)
            first = next((str(r.get("Account")) for r in results if r.get("Status") == "FAILED"), None)
            raise plan_core.operation_failed(self.name, found, failures, first)
        return found

    # --- deploy and delete ---------------------------------------------------------------------------
    def template_source(self, inputs: plan_core.StackSetInputs, timeout: float) -> dict[str, str]:
        """``TemplateBody``, or ``TemplateURL`` of the template staged as the deployment stages one (over 51,200 bytes).

        Raises:
            DeploymentError: the template is over CloudFormation's 1,000,000-byte TemplateURL limit
                (a StackSet's template is not split into nested stacks).
        """
        size = len(inputs.template_body.encode("utf-8"))
        if size > URL_TEMPLATE_LIMIT:
            raise DeploymentError(
                f"the template for CloudFormation StackSet {self.name!r} is {size:,} bytes, over CloudFormation's "
                f"{URL_TEMPLATE_LIMIT:,}-byte TemplateURL limit, and a StackSet's template is not split into nested "
                "stacks: nothing was deployed. Deploy fewer assets per release (releaseDashboards, releaseAnalyses), or "
                "deploy the release to each account as one stack (stackName) where nested stacks apply",
                stack=self.name,
                account=self.target.account_id,
            )
        if size <= INLINE_TEMPLATE_LIMIT:
            return {"TemplateBody": inputs.template_body}
        request = DeployRequest(
            stack_name=self.name,
            template_body=inputs.template_body,
            parameters={},
            staging_bucket=inputs.staging_bucket,
            staging_prefix=inputs.staging_prefix,
            timeout_seconds=timeout,
        )
        deployer = Deployer(self.target, deadline=self.deadline, sleep=self.sleep)
        return {"TemplateURL": deployer.stage(request)}

    def deploy(self, inputs: plan_core.StackSetInputs, claim: core.Claim, changed_values: Sequence[str], update_set: bool) -> StackSetResult:
        """Create or update the stack set, then bring its instances to ``inputs`` (see the module docstring).

        Args:
            inputs: The parsed inputs.
            claim: This resource's identity and readable owner (the stack set's tags).
            changed_values: Accounts whose own values changed since the last deployment.
            update_set: Whether the template, shared values or settings changed (UpdateStackSet).
        """
        self.operations = []
        found = self.describe()
        preferences = plan_core.operation_preferences(inputs.max_concurrent, inputs.failure_tolerance)
        if found is None:
            settings = self._settings(inputs, claim)
            created = self._call("CreateStackSet", ClientRequestToken=f"qsp-{uuid.uuid4()}", **settings)
            stack_set_id = created.get("StackSetId")
            if not isinstance(stack_set_id, str):
                raise self._aws.malformed(CLOUDFORMATION, "CreateStackSet", "StackSetId is missing")
        else:
            retag = self.owned(found, claim)
            stack_set_id = str(found["StackSetId"])
            if update_set or retag:
                # The permission model is never changed here: a change is refused before (it would be another stack set).
                settings = self._settings(inputs, claim)
                settings.pop("PermissionModel")
                self._operation("UpdateStackSet", OperationPreferences=preferences, **settings)
        if inputs.permission_model == "SERVICE_MANAGED":
            self._service_managed(inputs, preferences, found is None)
        else:
            self._self_managed(inputs, preferences, changed_values)
        return StackSetResult(stack_set_id, list(self.operations), self.instances())

    def _settings(self, inputs: plan_core.StackSetInputs, claim: core.Claim) -> dict[str, Any]:
        """What CreateStackSet and UpdateStackSet share: the template, shared values, roles and tags."""
        self._hidden.update(core.hidden_values(inputs.parameters))
        tags = {**inputs.stack_tags, core.OWNERSHIP_TAG: claim.identity, **({core.OWNER_TAG: claim.owner} if claim.owner else {})}
        settings: dict[str, Any] = {
            "StackSetName": self.name,
            **self.template_source(inputs, self.deadline.seconds),
            "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(inputs.parameters.items())],
            "Capabilities": list(inputs.capabilities),
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(tags.items())],
            "PermissionModel": inputs.permission_model,
        }
        if inputs.permission_model == "SERVICE_MANAGED":
            # New accounts of the OUs get the stack, and leaving accounts lose it (AWS's defaults for QuickSight fan-out).
            settings["AutoDeployment"] = {"Enabled": True, "RetainStacksOnAccountRemoval": False}
        else:
            if inputs.administration_role_arn:
                settings["AdministrationRoleARN"] = inputs.administration_role_arn
            settings["ExecutionRoleName"] = inputs.execution_role_name or plan_core.DEFAULT_EXECUTION_ROLE
        return settings

    def _self_managed(self, inputs: plan_core.StackSetInputs, preferences: dict[str, Any], changed_values: Sequence[str]) -> None:
        found = self.instances()
        existing = [(item["account_id"], item["region"]) for item in found]
        # An instance a failed operation left OUTDATED is deployed again, whatever changed.
        stale = [item["account_id"] for item in found if item["status"] != plan_core.INSTANCE_CURRENT]
        wanted = plan_core.wanted_instances(inputs)
        todo = plan_core.plan(wanted, existing, [*changed_values, *stale])
        self._delete_instances(todo.delete, preferences)
        for verb, accounts, regions in (
            ("CreateStackInstances", list(todo.create), todo.create),
            ("UpdateStackInstances", todo.override, {a: wanted[a] for a in todo.override}),
        ):
            for group in plan_core.groups(inputs, accounts, regions):
                self._hidden.update(core.hidden_values(dict(group.overrides)))
                self._operation(
                    verb, StackSetName=self.name, Accounts=list(group.accounts), Regions=list(group.regions),
                    ParameterOverrides=[{"ParameterKey": k, "ParameterValue": v} for k, v in group.overrides],
                    OperationPreferences=preferences,
                )  # fmt: skip

    def _service_managed(self, inputs: plan_core.StackSetInputs, preferences: dict[str, Any], created: bool) -> None:
        """Instances in the OUs' accounts: created once (AutoDeployment keeps them in step with the OUs)."""
        have = {item["organizational_unit_id"] for item in self.instances() if item["organizational_unit_id"]}
        missing = [ou for ou in inputs.deployment_targets if ou not in have]
        if created or missing:
            self._operation(
                "CreateStackInstances", StackSetName=self.name,
                DeploymentTargets={"OrganizationalUnitIds": missing or list(inputs.deployment_targets)},
                Regions=list(inputs.stack_set_regions), OperationPreferences=preferences,
            )  # fmt: skip

    def delete(self, claim: core.Claim, preferences: dict[str, Any]) -> None:
        """Delete every instance (their stacks too), then the stack set; a stack set already gone is deleted.

        Raises:
            StackStateError: the stack set is not this resource's.
        """
        found = self.describe()
        if found is None:
            return
        self.owned(found, claim)
        instances = self.instances()
        by_ou = sorted({item["organizational_unit_id"] for item in instances if item["organizational_unit_id"]})
        regions = sorted({item["region"] for item in instances})
        if by_ou:
            self._operation(
                "DeleteStackInstances", StackSetName=self.name, DeploymentTargets={"OrganizationalUnitIds": by_ou},
                Regions=regions, RetainStacks=False, OperationPreferences=preferences,
            )  # fmt: skip
        else:
            regions_of: dict[str, list[str]] = {}
            for item in instances:
                regions_of.setdefault(item["account_id"], []).append(item["region"])
            self._delete_instances(regions_of, preferences)
        self._call("DeleteStackSet", StackSetName=self.name)

    def _delete_instances(self, regions_of: Mapping[str, Sequence[str]], preferences: dict[str, Any]) -> None:
        """DeleteStackInstances (their stacks too) of exactly these instances (account -> regions)."""
        for accounts, regions in plan_core.region_groups(regions_of):
            self._operation(
                "DeleteStackInstances", StackSetName=self.name, Accounts=list(accounts), Regions=list(regions),
                RetainStacks=False, OperationPreferences=preferences,
            )  # fmt: skip
