"""The loopback CloudFormation, taught the StackSet operations the StackSet deployment makes.

A subclass of ``cfn_emulator.CloudFormationEmulator`` (same query protocol, faults and recording),
adding CreateStackSet, UpdateStackSet, DescribeStackSet, DeleteStackSet, Create/Update/
DeleteStackInstances, DescribeStackSetOperation, ListStackInstances and
ListStackSetOperationResults, with the wire shapes of botocore's service model
(``botocore.session.get_session().get_service_model('cloudformation')``; ``tests/harness``'s
test checks every answer against it). An operation runs ``operation_seconds`` of wall time
(RUNNING until then, 0: done at once), then is SUCCEEDED, or FAILED when more accounts failed in a
region than its failure tolerance (``fail_account``), as CloudFormation does.

Typical use::

    with StackSetEmulator() as cfn:
        cfn.fail_account("222222222222", "Role AWSCloudFormationStackSetExecutionRole cannot be assumed")
        ... EngineHarness(env=cfn.env(), provider=CloudFormationStackSetProvider()) ...
"""

from __future__ import annotations

import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from cfn_emulator import CloudFormationEmulator, _Refusal


@dataclass
class Instance:
    account: str
    region: str
    stack_id: str
    overrides: dict[str, str] = field(default_factory=dict)
    status: str = "CURRENT"
    detailed: str = "SUCCEEDED"
    reason: Optional[str] = None
    ou: Optional[str] = None
    operation: Optional[str] = None


@dataclass
class StackSet:
    name: str
    stack_set_id: str
    template: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    permission_model: str
    settings: dict[str, str]
    status: str = "ACTIVE"
    instances: dict[tuple[str, str], Instance] = field(default_factory=dict)


@dataclass
class Operation:
    operation_id: str
    stack_set: StackSet
    action: str
    started: float
    seconds: float
    results: list[dict[str, Any]]
    failed: bool
    preferences: dict[str, str]


class StackSetEmulator(CloudFormationEmulator):
    """Loopback CloudFormation with StackSets; ``stack_sets`` by name, ``operations`` by id."""

    def __init__(
        self,
        *args: Any,
        operation_seconds: float = 0.0,
        instance_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.stack_sets: dict[str, StackSet] = {}
        self.operations: dict[str, Operation] = {}
        self.operation_seconds = operation_seconds
        # Seconds one stack instance takes: an operation then lasts that times the rounds its
        # MaxConcurrent allows (50 accounts at 10 at once: 5 rounds), as CloudFormation schedules it.
        self.instance_seconds = instance_seconds
        self.clock = clock
        self._failing: dict[str, str] = {}
        self._lost: list[str] = []
        # The OU -> accounts of the organisation, for SERVICE_MANAGED stack sets.
        self.organization: dict[str, list[str]] = {}

    def __enter__(self) -> "StackSetEmulator":
        # A short poll interval: shutting down takes one interval (0.5 s by default), once per test.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    # --- scripting -------------------------------------------------------------------------------
    def fail_account(self, account: str, reason: str) -> None:
        """Every instance operation in ``account`` fails with ``reason`` (until ``heal``)."""
        self._failing[account] = reason

    def lose_answer(self, action: str) -> None:
        """The next ``action`` is carried out, but its answer is lost (a 500, as a proxy's timeout would give)."""
        self._lost.append(action)

    def handle(self, form: dict[str, str]) -> tuple[int, str]:
        status, body = super().handle(form)
        if form.get("Action") in self._lost:
            self._lost.remove(form["Action"])
            return 500, "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>lost</Message></Error></ErrorResponse>"
        return status, body

    def heal(self) -> None:
        self._failing.clear()

    def stack_set(self, name: str) -> StackSet:
        found = self.stack_sets.get(name)
        assert found is not None and found.status == "ACTIVE", f"no stack set {name}"
        return found

    # --- helpers ---------------------------------------------------------------------------------
    def _live(self, name: str) -> StackSet:
        found = self.stack_sets.get(name)
        if found is None or found.status != "ACTIVE":
            raise _Refusal("StackSetNotFoundException", f"StackSet {name} not found")
        return found

    def _list(self, form: dict[str, str], prefix: str) -> list[str]:
        found = {int(k[len(prefix) + 8 :]): v for k, v in form.items() if k.startswith(f"{prefix}.member.") and k[len(prefix) + 8 :].isdigit()}
        return [found[i] for i in sorted(found)]

    def _pairs(self, form: dict[str, str], prefix: str, key: str, value: str) -> dict[str, str]:
        return {m[key]: m.get(value, "") for m in self._members(form, prefix)}

    @staticmethod
    def _prefs(form: dict[str, str]) -> dict[str, str]:
        return {k.split(".", 1)[1]: v for k, v in form.items() if k.startswith("OperationPreferences.")}

    def _begin(self, stack_set: StackSet, form: dict[str, str], action: str, targets: list[tuple[str, str]], apply: Any) -> dict[str, Any]:
        operation_id = form.get("OperationId") or str(uuid.uuid4())
        if operation_id in self.operations:
            raise _Refusal("OperationIdAlreadyExistsException", f"The operation id {operation_id} already exists")
        if any(op.stack_set is stack_set and self.clock() < op.started + op.seconds for op in self.operations.values()):
            raise _Refusal("OperationInProgressException", f"Another Operation on StackSet [{stack_set.stack_set_id}] is in progress")
        prefs = self._prefs(form)
        results, failed_by_region = [], {}
        for account, region in targets:
            reason = self._failing.get(account)
            if reason is None:
                apply(account, region)
            else:
                failed_by_region[region] = failed_by_region.get(region, 0) + 1
                if action == "CREATE" and (account, region) not in stack_set.instances:
                    # CloudFormation keeps a failed instance (OUTDATED), its stack rolled back or absent.
                    self._instance(stack_set, account, region, operation_id)
                instance = stack_set.instances.get((account, region))
                if instance is not None:
                    instance.status, instance.detailed, instance.reason = "OUTDATED", "FAILED", reason
            results.append(
                {"Account": account, "Region": region, "Status": "FAILED" if reason else "SUCCEEDED", "StatusReason": reason}
            )
        tolerance = int(prefs.get("FailureToleranceCount", "0"))
        if "FailureTolerancePercentage" in prefs:
            tolerance = len({a for a, _ in targets}) * int(prefs["FailureTolerancePercentage"]) // 100
        failed = any(count > tolerance for count in failed_by_region.values())
        seconds = self.operation_seconds + self.instance_seconds * self._rounds(targets, prefs)
        self.operations[operation_id] = Operation(operation_id, stack_set, action, self.clock(), seconds, results, failed, prefs)
        return {"OperationId": operation_id}

    @staticmethod
    def _rounds(targets: list[tuple[str, str]], prefs: dict[str, str]) -> int:
        """How many rounds of MaxConcurrent accounts the largest region needs (regions run one after another)."""
        by_region: dict[str, int] = {}
        for _, region in targets:
            by_region[region] = by_region.get(region, 0) + 1
        rounds = 0
        for count in by_region.values():
            at_once = int(prefs.get("MaxConcurrentCount", "1"))
            if "MaxConcurrentPercentage" in prefs:
                at_once = max(1, count * int(prefs["MaxConcurrentPercentage"]) // 100)
            rounds += math.ceil(count / max(at_once, 1))
        return rounds

    def _instance(self, stack_set: StackSet, account: str, region: str, operation: str, overrides: Optional[dict[str, str]] = None, ou: Optional[str] = None) -> None:
        key = (account, region)
        found = stack_set.instances.get(key)
        if found is None:
            stack_id = f"arn:aws:cloudformation:{region}:{account}:stack/StackSet-{stack_set.name}-{uuid.uuid4()}/{uuid.uuid4()}"
            found = stack_set.instances[key] = Instance(account, region, stack_id, ou=ou)
        if overrides is not None:
            found.overrides = overrides
        found.status, found.detailed, found.reason, found.operation = "CURRENT", "SUCCEEDED", None, operation

    def _targets(self, form: dict[str, str]) -> tuple[list[tuple[str, str]], dict[str, str]]:
        """(account, region) pairs a Create/Update/DeleteStackInstances names, and the OU of each account."""
        regions = self._list(form, "Regions")
        accounts = self._list(form, "Accounts")
        ous = self._list(form, "DeploymentTargets.OrganizationalUnitIds")
        ou_of = {account: ou for ou in ous for account in self.organization.get(ou, [])}
        accounts = accounts or sorted(ou_of)
        return [(a, r) for a in accounts for r in regions], ou_of

    # --- the StackSet API -------------------------------------------------------------------------
    def _CreateStackSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        name = form["StackSetName"]
        if name in self.stack_sets and self.stack_sets[name].status == "ACTIVE":
            raise _Refusal("NameAlreadyExistsException", f"StackSet {name} already exists")
        settings = {k: form[k] for k in ("AdministrationRoleARN", "ExecutionRoleName", "AutoDeployment.Enabled") if k in form}
        stack_set = StackSet(
            name,
            f"{name}:{uuid.uuid4()}",
            self._template(form),
            self._pairs(form, "Parameters", "ParameterKey", "ParameterValue"),
            self._pairs(form, "Tags", "Key", "Value"),
            form.get("PermissionModel", "SELF_MANAGED"),
            settings,
        )
        self.stack_sets[name] = stack_set
        return {"StackSetId": stack_set.stack_set_id}

    def _UpdateStackSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack_set = self._live(form["StackSetName"])
        template = self._template(form) if ("TemplateBody" in form or "TemplateURL" in form) else stack_set.template
        parameters = self._pairs(form, "Parameters", "ParameterKey", "ParameterValue")
        tags = self._pairs(form, "Tags", "Key", "Value")

        def apply(account: str, region: str) -> None:
            self._instance(stack_set, account, region, form.get("OperationId", ""))

        result = self._begin(stack_set, form, "UPDATE", sorted(stack_set.instances), apply)
        stack_set.template, stack_set.parameters, stack_set.tags = template, parameters, tags
        return result

    def _DescribeStackSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack_set = self._live(form["StackSetName"])
        return {
            "StackSet": {
                "StackSetName": stack_set.name,
                "StackSetId": stack_set.stack_set_id,
                "Status": stack_set.status,
                "TemplateBody": json.dumps(stack_set.template),
                "Parameters": [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(stack_set.parameters.items())],
                "Tags": [{"Key": k, "Value": v} for k, v in sorted(stack_set.tags.items())],
                "PermissionModel": stack_set.permission_model,
                "ExecutionRoleName": stack_set.settings.get("ExecutionRoleName"),
                "AdministrationRoleARN": stack_set.settings.get("AdministrationRoleARN"),
            }
        }

    def _CreateStackInstances(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack_set = self._live(form["StackSetName"])
        overrides = self._pairs(form, "ParameterOverrides", "ParameterKey", "ParameterValue")
        unknown = sorted(set(overrides) - set((stack_set.template.get("Parameters") or {})))
        if unknown:
            raise _Refusal("ValidationError", f"Parameters: [{', '.join(unknown)}] do not exist in the template")
        targets, ou_of = self._targets(form)

        def apply(account: str, region: str) -> None:
            self._instance(stack_set, account, region, form.get("OperationId", ""), overrides, ou_of.get(account))

        return self._begin(stack_set, form, "CREATE", targets, apply)

    def _UpdateStackInstances(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack_set = self._live(form["StackSetName"])
        overrides = self._pairs(form, "ParameterOverrides", "ParameterKey", "ParameterValue")
        targets, _ = self._targets(form)
        missing = [f"{a}/{r}" for a, r in targets if (a, r) not in stack_set.instances]
        if missing:
            raise _Refusal("StackInstanceNotFoundException", f"Stack instances {', '.join(missing)} not found")

        def apply(account: str, region: str) -> None:
            self._instance(stack_set, account, region, form.get("OperationId", ""), overrides)

        return self._begin(stack_set, form, "UPDATE", targets, apply)

    def _DeleteStackInstances(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack_set = self._live(form["StackSetName"])
        targets, _ = self._targets(form)

        def apply(account: str, region: str) -> None:
            stack_set.instances.pop((account, region), None)

        return self._begin(stack_set, form, "DELETE", targets, apply)

    def _DescribeStackSetOperation(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        operation = self.operations.get(form["OperationId"])
        if operation is None or operation.stack_set.name != form["StackSetName"]:
            raise _Refusal("OperationNotFoundException", f"Operation {form['OperationId']} not found")
        running = self.clock() < operation.started + operation.seconds
        status = "RUNNING" if running else ("FAILED" if operation.failed else "SUCCEEDED")
        return {
            "StackSetOperation": {
                "OperationId": operation.operation_id,
                "StackSetId": operation.stack_set.stack_set_id,
                "Action": operation.action,
                "Status": status,
                "StatusReason": "The Operation failed: the failure tolerance was exceeded" if status == "FAILED" else None,
            }
        }

    def _ListStackInstances(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack_set = self._live(form["StackSetName"])
        return {
            "Summaries": [
                {
                    "StackSetId": stack_set.stack_set_id,
                    "Region": i.region,
                    "Account": i.account,
                    "StackId": i.stack_id,
                    "Status": i.status,
                    "StatusReason": i.reason,
                    "StackInstanceStatus": {"DetailedStatus": i.detailed},
                    "OrganizationalUnitId": i.ou,
                    "LastOperationId": i.operation,
                }
                for _, i in sorted(stack_set.instances.items())
            ]
        }

    def _ListStackSetOperationResults(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        operation = self.operations.get(form["OperationId"])
        if operation is None:
            raise _Refusal("OperationNotFoundException", f"Operation {form['OperationId']} not found")
        return {"Summaries": operation.results}

    def _DeleteStackSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack_set = self._live(form["StackSetName"])
        if stack_set.instances:
            raise _Refusal("StackSetNotEmptyException", f"StackSet {stack_set.name} has stack instances")
        stack_set.status = "DELETED"
        return {}
